#include "runtime/program_validation.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>

#include "schema/kiln_enums.h"

namespace kiln::runtime::validation {

namespace {

Status Invalid(const std::string& msg) { return Status::InvalidProgram(msg); }
std::string Str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }
std::string N(uint64_t v) { return std::to_string(v); }
std::string G(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4g", v);
  return buf;
}
std::string Range(uint64_t offset, uint64_t size) { return "[" + N(offset) + ", " + N(offset + size) + ")"; }

// FlatBuffers checks only 4-byte alignment of a vector's elements; 8-byte elements are copied out.
std::vector<int64_t> ReadLongs(const flatbuffers::Vector<int64_t>* v) {
  std::vector<int64_t> out(v ? v->size() : 0);
  if (!out.empty()) std::memcpy(out.data(), v->Data(), out.size() * sizeof(int64_t));
  return out;
}

std::string RegionName(const std::vector<RegionInfo>& regions, int32_t r) {
  return "region " + std::to_string(r) + " '" + regions[r].name + "'";
}

}  // namespace

int64_t Extent(const ops::Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= std::max<int64_t>(d, 1);
  return n;
}

Status ValidateHeader(const ExtendedHeader& h, uint64_t file_size) {
  const uint64_t min_size = kExtendedHeaderOffset + kExtendedHeaderSize;
  if (h.program_size < min_size || h.program_size > file_size)
    return Invalid("header: program size " + N(h.program_size) + " outside [" + N(min_size) + ", " + N(file_size) +
                   "] (the file's size)");
  if (h.segment_data_size == 0) {
    if (h.segment_base_offset != 0) return Invalid("header: segment base offset " + N(h.segment_base_offset) + " but no segment data");
    if (file_size != h.program_size)
      return Invalid("header: the file has " + N(file_size) + " bytes but the program ends at byte " + N(h.program_size));
    return Status::Ok();
  }
  const uint64_t expect_base = (h.program_size + kSegmentAlignment - 1) / kSegmentAlignment * kSegmentAlignment;
  if (h.segment_base_offset != expect_base)
    return Invalid("header: segment base offset " + N(h.segment_base_offset) + ", expected " + N(expect_base) +
                   " (the program's end rounded up to " + N(kSegmentAlignment) + ")");
  if (h.segment_data_size > file_size - std::min(file_size, h.segment_base_offset) ||
      h.segment_base_offset + h.segment_data_size != file_size)
    return Invalid("header: segment data " + Range(h.segment_base_offset, h.segment_data_size) +
                   " does not end at the end of the file (" + N(file_size) + " bytes; truncated?)");
  return Status::Ok();
}

Status ValidateRegion(const fb::MemoryRegion* r, uint32_t index, const Limits& limits, RegionInfo* out) {
  out->name = Str(r->name());
  const std::string where = "region " + std::to_string(index) + " '" + out->name + "'";
  if (!fb::InRange(r->kind()))
    return Invalid(where + ": unknown kind " + std::to_string(static_cast<int>(r->kind())));
  out->kind = static_cast<RegionKind>(r->kind());
  out->size_bytes = r->size_bytes();
  out->shares = r->shares();
  if (out->shares < -1) return Invalid(where + ": shares region " + std::to_string(out->shares) + " (-1 or an index)");
  if (out->shares >= 0 && out->kind != RegionKind::kDeviceDram && out->kind != RegionKind::kDeviceSram)
    return Invalid(where + ": a " + RegionKindName(out->kind) +
                   " region cannot share an owner's constants (only device DRAM or SRAM regions hold them)");
  if (out->size_bytes > limits.max_region_bytes)
    return Status::OutOfMemory(where + " (" + RegionKindName(out->kind) + ") needs " + N(out->size_bytes) +
                               " bytes, above the limit of " + N(limits.max_region_bytes) +
                               " bytes per region (Limits::max_region_bytes)");
  return Status::Ok();
}

Status ValidateSegment(const fb::DataSegment* s, uint32_t index, const ExtendedHeader& h, Segment* out) {
  const std::string where = "segment " + std::to_string(index);
  if (s->offset() > h.segment_data_size || s->size() > h.segment_data_size - s->offset())
    return Invalid(where + ": bytes " + Range(s->offset(), s->size()) + " lie outside the " + N(h.segment_data_size) +
                   " bytes of segment data");
  if (s->offset() % kDeviceAlignment != 0)
    return Invalid(where + ": offset " + N(s->offset()) + " is not " + N(kDeviceAlignment) + "-byte aligned");
  *out = {h.segment_base_offset + s->offset(), s->size()};
  return Status::Ok();
}

Status ValidateTensor(const fb::Tensor* t, uint32_t index, const std::vector<RegionInfo>& regions,
                      const std::vector<Segment>& segments, TensorInfo* out, Segment* data) {
  out->name = Str(t->name());
  const std::string where = "tensor " + std::to_string(index) + " '" + out->name + "'";
  if (!t->shape() || t->shape()->size() > kMaxRank)
    return Invalid(where + ": missing shape or rank above " + std::to_string(kMaxRank));
  out->shape = ReadLongs(t->shape());
  // Every dim is bounded, and so is the extent, so no product below can overflow.
  int64_t extent = 1;
  for (int64_t d : out->shape) {
    if (d < 0 || d > kMaxElements)
      return Invalid(where + ": bad dimension " + std::to_string(d) + " in shape " + ops::ShapeToString(out->shape));
    if (std::max<int64_t>(d, 1) > kMaxElements / extent)
      return Invalid(where + ": shape " + ops::ShapeToString(out->shape) + " spans more than " + N(kMaxElements) +
                     " elements (zero dims counted as one)");
    extent *= std::max<int64_t>(d, 1);
  }
  if (!fb::InRange(t->dtype())) return Invalid(where + ": unknown dtype " + std::to_string(int(t->dtype())));
  if (!fb::InRange(t->layout())) return Invalid(where + ": unknown layout " + std::to_string(int(t->layout())));
  out->dtype = static_cast<ops::DType>(t->dtype());
  out->layout = static_cast<ops::Layout>(t->layout());
  if (out->dtype == ops::DType::kC64 && (out->shape.empty() || out->shape.back() != 2))
    return Invalid(where + ": a c64 tensor's shape ends in 2 (real, imaginary), not " + ops::ShapeToString(out->shape));
  out->size_bytes = t->size_bytes();
  const uint64_t expect = static_cast<uint64_t>(ops::StoredBytes(out->shape, out->dtype, out->layout));
  if (out->size_bytes != expect)
    return Invalid(where + ": size_bytes " + N(out->size_bytes) + " but shape " + ops::ShapeToString(out->shape) +
                   " needs " + N(expect));

  out->alias_of = t->alias_of();
  if (out->alias_of >= 0) {  // placed at its target's bytes by ValidateAliases
    if (t->placement() || t->data())
      return Invalid(where + ": an alias (of tensor " + std::to_string(out->alias_of) +
                     ") has no placement or data of its own");
    return Status::Ok();
  }
  if (t->alias_of() != -1) return Invalid(where + ": alias_of " + std::to_string(t->alias_of()) + " (-1 or a tensor index)");
  if (const fb::Placement* p = t->placement()) {
    if (!ops::IsDeviceDType(out->dtype))
      return Invalid(where + ": dtype " + ops::DTypeName(out->dtype) +
                     " exists only in the caller's buffers; device tensors are f32, bf16 or i32");
    if (p->region() >= regions.size())
      return Invalid(where + ": region index " + N(p->region()) + " out of range (" + N(regions.size()) + " regions)");
    out->region = static_cast<int32_t>(p->region());
    out->offset = p->offset();
    const RegionInfo& region = regions[out->region];
    if (out->offset > region.size_bytes || out->size_bytes > region.size_bytes - out->offset)
      return Invalid(where + ": bytes " + Range(out->offset, out->size_bytes) + " lie outside " +
                     RegionName(regions, out->region) + " of " + N(region.size_bytes) + " bytes");
    if (out->offset % kDeviceAlignment != 0)
      return Invalid(where + ": offset " + N(out->offset) + " in " + RegionName(regions, out->region) + " is not " +
                     N(kDeviceAlignment) + "-byte aligned");
  } else if (out->layout != ops::Layout::kRowMajor) {
    return Invalid(where + ": tensors in the caller's buffers (no region) are row-major");
  }

  const bool in_state = !out->in_caller_buffer() && regions[out->region].kind == RegionKind::kDeviceState;
  if (in_state && !t->data())
    return Invalid(where + ": a state tensor (in " + RegionName(regions, out->region) +
                   ") has no initial data; the executor would start from undefined bytes");
  if (const fb::DataRef* d = t->data()) {
    if (out->in_caller_buffer()) return Invalid(where + ": a constant must be placed in a region");
    if (d->segment() >= segments.size())
      return Invalid(where + ": segment index " + N(d->segment()) + " out of range (" + N(segments.size()) + " segments)");
    const Segment& s = segments[d->segment()];
    if (d->offset() > s.size || d->size() > s.size - d->offset())
      return Invalid(where + ": data " + Range(d->offset(), d->size()) + " lies outside segment " + N(d->segment()) +
                     " of " + N(s.size) + " bytes");
    if (d->offset() % kDeviceAlignment != 0)
      return Invalid(where + ": data offset " + N(d->offset()) + " in segment " + N(d->segment()) + " is not " +
                     N(kDeviceAlignment) + "-byte aligned");
    if (d->size() != out->size_bytes)
      return Invalid(where + ": data holds " + N(d->size()) + " bytes but the tensor stores " + N(out->size_bytes));
    (in_state ? out->state : out->constant) = true;
    *data = {s.offset + d->offset(), d->size()};
  }
  if (!out->in_caller_buffer() && regions[out->region].shares >= 0 && !out->constant)
    return Invalid(where + ": " + RegionName(regions, out->region) +
                   " shares an owner program's constants, but this tensor is not a constant");
  return Status::Ok();
}

Status ValidateAliases(std::vector<TensorInfo>* tensors) {
  for (size_t i = 0; i < tensors->size(); ++i) {
    TensorInfo& alias = (*tensors)[i];
    if (alias.alias_of < 0) continue;
    const std::string where = "tensor " + std::to_string(i) + " '" + alias.name + "'";
    if (static_cast<size_t>(alias.alias_of) >= tensors->size())
      return Invalid(where + ": alias of tensor " + N(alias.alias_of) + ", out of range (" + N(tensors->size()) +
                     " tensors)");
    const TensorInfo& target = (*tensors)[alias.alias_of];
    const std::string of = "tensor " + N(alias.alias_of) + " '" + target.name + "'";
    if (target.alias_of >= 0 || target.in_caller_buffer())
      return Invalid(where + ": alias of " + of + ", which is " +
                     (target.alias_of >= 0 ? "an alias itself" : "in the caller's buffers") +
                     "; an alias names a tensor placed on the device");
    if (alias.dtype != target.dtype || alias.layout != target.layout || alias.size_bytes != target.size_bytes ||
        !ops::SameStoredBytes(target.shape, alias.shape, target.layout))
      return Invalid(where + ": " + ops::DTypeName(alias.dtype) + ops::ShapeToString(alias.shape) +
                     (alias.layout == ops::Layout::kTile ? " tile" : " row-major") + " cannot alias " + of + " " +
                     ops::DTypeName(target.dtype) + ops::ShapeToString(target.shape) +
                     (target.layout == ops::Layout::kTile ? " tile" : " row-major") +
                     ": its stored bytes are not the same");
    alias.region = target.region;
    alias.offset = target.offset;
  }
  return Status::Ok();
}

Status ValidateInstruction(const fb::Program* prog, uint32_t i, const std::vector<RegionInfo>& regions,
                           const std::vector<TensorInfo>& tensors, std::vector<bool>* written, Instruction* out) {
  const std::string where = "instruction " + std::to_string(i);
  const uint32_t num_tensors = static_cast<uint32_t>(tensors.size());
  auto check_index = [&](uint32_t index, const std::string& at) -> Status {
    if (index >= num_tensors)
      return Invalid(at + ": tensor index " + N(index) + " out of range (" + N(num_tensors) + " tensors)");
    return Status::Ok();
  };
  // Host memory is the caller's buffers and the HOST_SCRATCH regions (eviction's spills); ops and
  // transfers to the device work in the device's regions (DRAM, state and SRAM).
  auto in_host = [&](const TensorInfo& t) {
    return t.in_caller_buffer() || regions[t.region].kind == RegionKind::kHostScratch;
  };
  auto in_device = [&](const TensorInfo& t) { return !in_host(t); };
  const auto type = prog->instructions_type()->Get(i);
  if (type == fb::Instruction::DeviceOp) {
    const auto* op = static_cast<const fb::DeviceOp*>(prog->instructions()->Get(i));
    out->kind = Instruction::Kind::kOp;
    out->source = Str(op->source());
    const auto* operators = prog->operators();
    if (!operators || op->op() >= operators->size())
      return Invalid(where + (out->source.empty() ? "" : " (from " + out->source + ")") + ": operator index " +
                     N(op->op()) + " out of range (" + N(operators ? operators->size() : 0) + " operators)");
    const std::string opname = Str(operators->Get(op->op())->name());
    const std::string at = where + " (" + opname + (out->source.empty() ? "" : ", from " + out->source) + ")";
    out->op = ops::FindOp(opname);
    if (!out->op) return Invalid(at + ": unknown op '" + opname + "' (operator " + N(op->op()) + ")");
    if (op->attrs()) {
      for (const fb::Attribute* a : *op->attrs()) {
        if (!fb::InRange(a->kind())) return Invalid(at + ": attribute '" + Str(a->name()) + "' of unknown kind");
        ops::AttrValue v;
        v.kind = static_cast<ops::AttrKind>(a->kind());
        v.ints = ReadLongs(a->ints());
        v.f = a->f();
        out->attrs.Set(Str(a->name()), std::move(v));
      }
    }
    std::vector<ops::Shape> shapes;
    double work = 0;
    if (op->inputs()) {
      for (uint32_t idx : *op->inputs()) {
        KILN_RETURN_IF_ERROR(check_index(idx, at));
        const TensorInfo& t = tensors[idx];
        if (!in_device(t)) return Invalid(at + ": operand '" + t.name + "' is in host memory");
        if (!(*written)[t.alias_of >= 0 ? t.alias_of : idx])
          return Invalid(at + ": operand '" + t.name + "' is read before it is written");
        out->inputs.push_back(idx);
        shapes.push_back(t.shape);
        work += static_cast<double>(Extent(t.shape));
      }
    }
    KILN_RETURN_IF_ERROR(check_index(op->output(), at));
    const TensorInfo& result = tensors[op->output()];
    if (!in_device(result)) return Invalid(at + ": result '" + result.name + "' is in host memory");
    if (result.constant)
      return Invalid(at + ": result '" + result.name + "' is a constant; ops write only non-constant device tensors");
    // Kernels do not work in place: an op writing a state tensor reads other tensors.
    for (uint32_t idx : out->inputs)
      if (idx == op->output())
        return Invalid(at + ": reads its own result '" + result.name + "'; ops do not work in place");
    ops::Shape inferred;
    if (std::string err = ops::InferOutputShape(*out->op, shapes, out->attrs, &inferred); !err.empty())
      return Invalid(at + ": " + err);
    if (inferred != result.shape)
      return Invalid(at + ": result '" + result.name + "' has shape " + ops::ShapeToString(result.shape) +
                     " but the op produces " + ops::ShapeToString(inferred));
    out->output = op->output();
    work += static_cast<double>(Extent(result.shape));
    if (out->op->work) work += out->op->work(shapes, result.shape, out->attrs);
    out->work = work;
  } else if (type == fb::Instruction::Transfer) {
    const auto* tr = static_cast<const fb::Transfer*>(prog->instructions()->Get(i));
    KILN_RETURN_IF_ERROR(check_index(tr->src(), where));
    KILN_RETURN_IF_ERROR(check_index(tr->dst(), where));
    const TensorInfo& src = tensors[tr->src()];
    const TensorInfo& dst = tensors[tr->dst()];
    if (!fb::InRange(tr->direction())) return Invalid(where + ": unknown transfer direction");
    const bool to_device = tr->direction() == fb::Direction::HOST_TO_DEVICE;
    out->kind = to_device ? Instruction::Kind::kHostToDevice : Instruction::Kind::kDeviceToHost;
    const bool src_ok = to_device ? in_host(src) : in_device(src);
    const bool dst_ok = !dst.has_initial_data() && (to_device ? in_device(dst) : in_host(dst));
    if (!src_ok || !dst_ok)
      return Invalid(where + ": transfer from '" + src.name + "' to '" + dst.name +
                     "' does not go between host and device as its direction says");
    if (src.shape != dst.shape)
      return Invalid(where + ": transfer from '" + src.name + "' " + ops::ShapeToString(src.shape) + " to '" +
                     dst.name + "' " + ops::ShapeToString(dst.shape) + " changes the shape");
    if (!(*written)[src.alias_of >= 0 ? src.alias_of : tr->src()])
      return Invalid(where + ": transfer reads '" + src.name + "' before it is written");
    out->inputs = {tr->src()};
    out->output = tr->dst();
    out->work = static_cast<double>(Extent(src.shape)) + static_cast<double>(Extent(dst.shape));
  } else {
    return Invalid(where + ": unknown instruction type " + std::to_string(static_cast<int>(type)));
  }
  if (tensors[out->output].alias_of >= 0)
    return Invalid(where + ": writes '" + tensors[out->output].name + "', an alias of tensor " +
                   N(tensors[out->output].alias_of) + "; aliases are only read");
  (*written)[out->output] = true;
  return Status::Ok();
}

Status ValidateMemoryPlan(const std::vector<RegionInfo>& regions, const std::vector<TensorInfo>& tensors,
                          const std::vector<Instruction>& instructions) {
  // Lifetimes: from the instruction that writes a tensor to the last one that reads it; constants
  // and state are alive throughout. Tensors no instruction touches need no bytes of their own.
  const size_t n = tensors.size();
  const int64_t end = static_cast<int64_t>(instructions.size());
  std::vector<int64_t> first(n, -1), last(n, -1);
  for (size_t i = 0; i < instructions.size(); ++i) {
    const Instruction& inst = instructions[i];
    for (uint32_t t : inst.inputs) last[tensors[t].alias_of >= 0 ? tensors[t].alias_of : t] = static_cast<int64_t>(i);
    if (first[inst.output] < 0) first[inst.output] = static_cast<int64_t>(i);
    last[inst.output] = std::max<int64_t>(last[inst.output], static_cast<int64_t>(i));
  }
  for (size_t t = 0; t < n; ++t)
    if (tensors[t].has_initial_data()) first[t] = -1, last[t] = end;

  // Per region, sweep over time: tensors become live in order of their first instruction, and the
  // bytes of the tensors live at any moment never overlap (else the program is rejected), so a new
  // tensor need only be checked against its neighbours in address order. O(n log n), so no crafted
  // program can make the check itself slow. Zero-byte tensors occupy nothing and never overlap.
  std::vector<std::vector<uint32_t>> by_region(regions.size());
  for (uint32_t t = 0; t < n; ++t) {
    const TensorInfo& info = tensors[t];
    if (info.in_caller_buffer() || info.size_bytes == 0 || info.alias_of >= 0) continue;  // an alias is its target's bytes
    if (!info.has_initial_data() && first[t] < 0) continue;
    by_region[info.region].push_back(t);
  }
  auto overlap = [&](uint32_t ta, uint32_t tb, size_t r) {
    const TensorInfo& a = tensors[ta];
    const TensorInfo& b = tensors[tb];
    const uint64_t lo = std::max(a.offset, b.offset), hi = std::min(a.offset + a.size_bytes, b.offset + b.size_bytes);
    return Invalid("tensors '" + a.name + "' " + Range(a.offset, a.size_bytes) + " and '" + b.name + "' " +
                   Range(b.offset, b.size_bytes) + " share bytes [" + N(lo) + ", " + N(hi) + ") of " +
                   RegionName(regions, static_cast<int32_t>(r)) + " while both are alive");
  };
  for (size_t r = 0; r < regions.size(); ++r) {
    std::vector<uint32_t> by_first = by_region[r], by_last = by_region[r];
    std::sort(by_first.begin(), by_first.end(), [&](uint32_t a, uint32_t b) { return first[a] < first[b]; });
    std::sort(by_last.begin(), by_last.end(), [&](uint32_t a, uint32_t b) { return last[a] < last[b]; });
    std::map<uint64_t, uint32_t> live;  // offset -> tensor
    size_t ended = 0;
    for (uint32_t t : by_first) {
      for (; ended < by_last.size() && last[by_last[ended]] < first[t]; ++ended) {
        auto it = live.find(tensors[by_last[ended]].offset);
        if (it != live.end() && it->second == by_last[ended]) live.erase(it);
      }
      const TensorInfo& info = tensors[t];
      auto next = live.lower_bound(info.offset);
      if (next != live.end() && next->first < info.offset + info.size_bytes) return overlap(next->second, t, r);
      if (next != live.begin()) {
        auto prev = std::prev(next);
        if (prev->first + tensors[prev->second].size_bytes > info.offset) return overlap(prev->second, t, r);
      }
      live.emplace(info.offset, t);
    }
  }
  return Status::Ok();
}

Status ValidateLimits(const std::vector<RegionInfo>& regions, double total_work, const Limits& limits,
                      uint64_t* device_dram_bytes) {
  uint64_t dram = 0;
  for (size_t r = 0; r < regions.size(); ++r) {
    if (regions[r].kind != RegionKind::kDeviceDram && regions[r].kind != RegionKind::kDeviceState) continue;
    if (regions[r].size_bytes > std::numeric_limits<uint64_t>::max() - dram)
      return Invalid("the device regions' sizes add up to more than 2^64 bytes");
    dram += regions[r].size_bytes;
  }
  if (!(total_work <= limits.max_total_work))
    return Status::OutOfMemory("the program needs " + G(total_work) + " units of work, above the limit of " +
                               G(limits.max_total_work) + " (Limits::max_total_work)");
  *device_dram_bytes = dram;
  return Status::Ok();
}

}  // namespace kiln::runtime::validation

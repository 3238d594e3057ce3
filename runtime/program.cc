#include "runtime/program.h"

#include <algorithm>
#include <fstream>
#include <set>

#include "schema/format_version.h"
#include "schema/kiln_generated.h"

namespace kiln::runtime {
namespace {

constexpr int kMaxRank = 8;

Status Fail(const std::string& what, const std::string& msg) {
  return Status::InvalidProgram(what + ": invalid .kiln program: " + msg);
}

std::string Str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

}  // namespace

Status Program::LoadFile(const std::string& path, std::unique_ptr<Program>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(path + ": cannot open file");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return Load(bytes.data(), bytes.size(), path, out);
}

Status Program::Load(const void* data, size_t size, const std::string& what,
                     std::unique_ptr<Program>* out) {
  auto program = std::unique_ptr<Program>(new Program());
  const uint8_t* p = static_cast<const uint8_t*>(data);
  program->buffer_.assign(p, p + size);
  KILN_RETURN_IF_ERROR(program->Verify(what));
  *out = std::move(program);
  return Status::Ok();
}

Status Program::Verify(const std::string& what) {
  const uint8_t* buf = buffer_.data();
  const size_t size = buffer_.size();
  if (size < 8) return Fail(what, "file is " + std::to_string(size) + " bytes, too short for a header");
  if (!fb::ProgramBufferHasIdentifier(buf)) {
    return Fail(what, "bad file identifier at offset 4 (expected \"KILN\", found \"" +
                          std::string(reinterpret_cast<const char*>(buf + 4), 4) + "\")");
  }
  flatbuffers::Verifier verifier(buf, size, /*max_depth=*/64, /*max_tables=*/50'000'000);
  if (!fb::VerifyProgramBuffer(verifier))
    return Fail(what, "FlatBuffers structure check failed (truncated or corrupt; " +
                          std::to_string(size) + " bytes)");
  const fb::Program* prog = fb::GetProgram(buf);
  if (prog->format_version() != kFormatVersion)
    return Fail(what, "format version " + std::to_string(prog->format_version()) +
                          ", this runtime reads version " + std::to_string(kFormatVersion));
  producer_ = Str(prog->producer());

  // Memory plan.
  const fb::MemoryPlan* plan = prog->memory_plan();
  if (!plan) return Fail(what, "missing memory plan");
  arena_bytes_ = plan->arena_bytes();
  constant_bytes_ = plan->constant_bytes();
  peak_device_bytes_ = plan->peak_device_bytes();
  const uint64_t constants_size = prog->constants() ? prog->constants()->size() : 0;
  if (constants_size != constant_bytes_)
    return Fail(what, "memory plan says " + std::to_string(constant_bytes_) +
                          " constant bytes but the constant segment holds " +
                          std::to_string(constants_size));
  if (peak_device_bytes_ < arena_bytes_ + constant_bytes_)
    return Fail(what, "peak device bytes " + std::to_string(peak_device_bytes_) +
                          " is below arena + constants");
  constants_ = prog->constants() ? prog->constants()->data() : nullptr;

  // Tensors.
  if (!prog->tensors()) return Fail(what, "missing tensor table");
  for (uint32_t i = 0; i < prog->tensors()->size(); ++i) {
    const fb::Tensor* t = prog->tensors()->Get(i);
    const std::string where = "tensor " + std::to_string(i) + " '" + Str(t->name()) + "'";
    TensorInfo info;
    info.name = Str(t->name());
    if (!t->shape() || t->shape()->size() > kMaxRank)
      return Fail(what, where + ": missing shape or rank above " + std::to_string(kMaxRank));
    int64_t numel = 1;
    for (int64_t d : *t->shape()) {
      if (d < 0 || d > (int64_t{1} << 40) || (d > 0 && numel > (int64_t{1} << 40) / d))
        return Fail(what, where + ": bad dimension " + std::to_string(d));
      numel *= d;
      info.shape.push_back(d);
    }
    const auto dtype = static_cast<uint8_t>(t->dtype());
    const auto layout = static_cast<uint8_t>(t->layout());
    const auto space = static_cast<uint8_t>(t->space());
    if (dtype > 2) return Fail(what, where + ": unknown dtype " + std::to_string(dtype));
    if (layout > 1) return Fail(what, where + ": unknown layout " + std::to_string(layout));
    if (space > 2) return Fail(what, where + ": unknown memory space " + std::to_string(space));
    info.dtype = static_cast<ops::DType>(dtype);
    info.layout = static_cast<ops::Layout>(layout);
    info.space = static_cast<MemSpace>(space);
    info.offset = t->offset();
    info.size_bytes = t->size_bytes();
    const uint64_t expect = ops::StoredBytes(info.shape, info.dtype, info.layout);
    if (info.size_bytes != expect)
      return Fail(what, where + ": size_bytes " + std::to_string(info.size_bytes) + " but shape " +
                            ops::ShapeToString(info.shape) + " needs " + std::to_string(expect));
    if (info.space == MemSpace::kHost) {
      if (info.layout != ops::Layout::kRowMajor) return Fail(what, where + ": host tensors are row-major");
    } else {
      const uint64_t region = info.space == MemSpace::kDeviceArena ? arena_bytes_ : constant_bytes_;
      if (info.offset > region || info.size_bytes > region - info.offset)
        return Fail(what, where + ": bytes [" + std::to_string(info.offset) + ", " +
                              std::to_string(info.offset + info.size_bytes) + ") lie outside the " +
                              (info.space == MemSpace::kDeviceArena ? "arena" : "constant region") +
                              " of " + std::to_string(region) + " bytes");
    }
    tensors_.push_back(std::move(info));
  }
  const uint32_t num_tensors = static_cast<uint32_t>(tensors_.size());
  auto check_index = [&](uint32_t index, const std::string& where) -> Status {
    if (index >= num_tensors)
      return Fail(what, where + ": tensor index " + std::to_string(index) + " out of range (" +
                            std::to_string(num_tensors) + " tensors)");
    return Status::Ok();
  };

  // Inputs and outputs: host tensors with unique names.
  std::set<uint32_t> host_inputs, host_outputs;
  for (auto [list, dst, label] :
       {std::tuple{prog->inputs(), &inputs_, "input"}, std::tuple{prog->outputs(), &outputs_, "output"}}) {
    if (!list) return Fail(what, std::string("missing ") + label + " list");
    std::set<std::string> names;
    for (uint32_t i = 0; i < list->size(); ++i) {
      const fb::IoBinding* io = list->Get(i);
      const std::string where = std::string(label) + " " + std::to_string(i);
      KILN_RETURN_IF_ERROR(check_index(io->tensor(), where));
      if (tensors_[io->tensor()].space != MemSpace::kHost)
        return Fail(what, where + ": must be bound to a host tensor");
      if (!names.insert(Str(io->name())).second)
        return Fail(what, where + ": duplicate name '" + Str(io->name()) + "'");
      dst->push_back({Str(io->name()), io->tensor()});
      (dst == &inputs_ ? host_inputs : host_outputs).insert(io->tensor());
    }
  }

  // Instructions: decode, check operands and shapes, and check dataflow (nothing is read before it
  // is written, every output is produced).
  if (!prog->instructions() || !prog->instructions_type())
    return Fail(what, "missing instruction list");
  std::vector<bool> written(num_tensors, false);
  for (uint32_t t : host_inputs) written[t] = true;
  for (uint32_t i = 0; i < num_tensors; ++i)
    if (tensors_[i].space == MemSpace::kDeviceConstant) written[i] = true;
  const auto* types = prog->instructions_type();
  const auto* insts = prog->instructions();
  if (types->size() != insts->size()) return Fail(what, "instruction type and value lists differ in length");
  for (uint32_t i = 0; i < insts->size(); ++i) {
    const std::string where = "instruction " + std::to_string(i);
    Instruction inst;
    if (types->Get(i) == fb::Instruction::DeviceOp) {
      const auto* op = static_cast<const fb::DeviceOp*>(insts->Get(i));
      inst.kind = Instruction::Kind::kOp;
      inst.source = Str(op->source());
      const std::string opname = Str(op->op());
      const std::string at = where + " (" + opname + (inst.source.empty() ? "" : ", from " + inst.source) + ")";
      inst.op = ops::FindOp(opname);
      if (!inst.op) return Fail(what, at + ": unknown op '" + opname + "'");
      if (op->attrs()) {
        for (const fb::Attribute* a : *op->attrs()) {
          ops::AttrValue v;
          const auto kind = static_cast<uint8_t>(a->kind());
          if (kind > 2) return Fail(what, at + ": attribute of unknown kind");
          v.kind = static_cast<ops::AttrKind>(kind);
          if (a->ints()) v.ints.assign(a->ints()->begin(), a->ints()->end());
          v.f = a->f();
          inst.attrs.Set(Str(a->name()), std::move(v));
        }
      }
      std::vector<ops::Shape> shapes;
      if (op->inputs()) {
        for (uint32_t idx : *op->inputs()) {
          KILN_RETURN_IF_ERROR(check_index(idx, at));
          if (tensors_[idx].space == MemSpace::kHost)
            return Fail(what, at + ": operand '" + tensors_[idx].name + "' is in host memory");
          if (!written[idx])
            return Fail(what, at + ": operand '" + tensors_[idx].name + "' is read before it is written");
          inst.inputs.push_back(idx);
          shapes.push_back(tensors_[idx].shape);
        }
      }
      KILN_RETURN_IF_ERROR(check_index(op->output(), at));
      const TensorInfo& out = tensors_[op->output()];
      if (out.space != MemSpace::kDeviceArena)
        return Fail(what, at + ": result '" + out.name + "' must be in the device arena");
      ops::Shape inferred;
      if (std::string err = ops::InferOutputShape(*inst.op, shapes, inst.attrs, &inferred); !err.empty())
        return Fail(what, at + ": " + err);
      if (inferred != out.shape)
        return Fail(what, at + ": result '" + out.name + "' has shape " + ops::ShapeToString(out.shape) +
                              " but the op produces " + ops::ShapeToString(inferred));
      inst.output = op->output();
      if (inst.op->flops) workload_.matrix_flops += inst.op->flops(shapes, out.shape, inst.attrs);
    } else if (types->Get(i) == fb::Instruction::Transfer) {
      const auto* tr = static_cast<const fb::Transfer*>(insts->Get(i));
      KILN_RETURN_IF_ERROR(check_index(tr->src(), where));
      KILN_RETURN_IF_ERROR(check_index(tr->dst(), where));
      const TensorInfo& src = tensors_[tr->src()];
      const TensorInfo& dst = tensors_[tr->dst()];
      const bool to_device = tr->direction() == fb::Direction::HOST_TO_DEVICE;
      if (!to_device && tr->direction() != fb::Direction::DEVICE_TO_HOST)
        return Fail(what, where + ": unknown transfer direction");
      inst.kind = to_device ? Instruction::Kind::kHostToDevice : Instruction::Kind::kDeviceToHost;
      const bool src_ok = to_device ? src.space == MemSpace::kHost : src.space != MemSpace::kHost;
      const bool dst_ok = to_device ? dst.space == MemSpace::kDeviceArena : dst.space == MemSpace::kHost;
      if (!src_ok || !dst_ok)
        return Fail(what, where + ": transfer from '" + src.name + "' to '" + dst.name +
                              "' does not go between host and device as its direction says");
      if (src.shape != dst.shape)
        return Fail(what, where + ": transfer between shapes " + ops::ShapeToString(src.shape) + " and " +
                              ops::ShapeToString(dst.shape));
      if (!written[tr->src()])
        return Fail(what, where + ": transfer reads '" + src.name + "' before it is written");
      inst.inputs = {tr->src()};
      inst.output = tr->dst();
    } else {
      return Fail(what, where + ": unknown instruction type");
    }
    written[inst.output] = true;
    instructions_.push_back(std::move(inst));
  }
  for (uint32_t t : host_outputs)
    if (!written[t]) return Fail(what, "output '" + tensors_[t].name + "' is never written");
  for (const TensorInfo& t : tensors_) {
    const int64_t bytes = ops::NumElements(t.shape) * ops::DTypeSize(t.dtype);
    if (t.space == MemSpace::kDeviceConstant) workload_.weight_bytes += bytes;
  }
  for (const auto* io : {&inputs_, &outputs_})
    for (const IoInfo& b : *io) {
      const TensorInfo& t = tensors_[b.tensor];
      workload_.io_bytes += ops::NumElements(t.shape) * ops::DTypeSize(t.dtype);
      workload_.io_tensors += 1;
    }
  return VerifyArenaPlan(what);
}

Status Program::VerifyArenaPlan(const std::string& what) const {
  // Arena tensors alive at the same time (from the instruction that writes them to the last one that
  // reads them) must not share bytes, or one would silently overwrite the other.
  const size_t n = tensors_.size();
  std::vector<int64_t> first(n, -1), last(n, -1);
  for (size_t i = 0; i < instructions_.size(); ++i) {
    const Instruction& inst = instructions_[i];
    for (uint32_t t : inst.inputs) last[t] = static_cast<int64_t>(i);
    if (first[inst.output] < 0) first[inst.output] = static_cast<int64_t>(i);
    last[inst.output] = std::max<int64_t>(last[inst.output], static_cast<int64_t>(i));
  }
  std::vector<uint32_t> arena;
  for (uint32_t t = 0; t < n; ++t) {
    if (tensors_[t].space == MemSpace::kHost) continue;
    if (tensors_[t].offset % kDeviceAlignment != 0)
      return Fail(what, "tensor " + std::to_string(t) + " '" + tensors_[t].name + "': offset " +
                            std::to_string(tensors_[t].offset) + " is not " + std::to_string(kDeviceAlignment) +
                            "-byte aligned");
    if (tensors_[t].space == MemSpace::kDeviceArena && first[t] >= 0) arena.push_back(t);
  }
  // Sweep in address order; only neighbours whose byte ranges overlap need a lifetime check.
  std::sort(arena.begin(), arena.end(), [&](uint32_t a, uint32_t b) { return tensors_[a].offset < tensors_[b].offset; });
  for (size_t i = 0; i < arena.size(); ++i) {
    const TensorInfo& a = tensors_[arena[i]];
    for (size_t j = i + 1; j < arena.size(); ++j) {
      const TensorInfo& b = tensors_[arena[j]];
      if (b.offset >= a.offset + a.size_bytes) break;
      if (first[arena[i]] <= last[arena[j]] && first[arena[j]] <= last[arena[i]])
        return Fail(what, "tensors '" + a.name + "' and '" + b.name +
                              "' share arena bytes while both are alive");
    }
  }
  return Status::Ok();
}

}  // namespace kiln::runtime

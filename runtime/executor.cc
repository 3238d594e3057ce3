#include "runtime/executor.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string_view>

namespace kiln::runtime {

HostTensor HostTensor::FromFloats(ops::Shape shape, const std::vector<float>& values) {
  HostTensor t{std::move(shape), ops::DType::kF32, {}};
  t.bytes.resize(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

namespace {

// The program's one DEVICE_STATE region (the compiler makes at most one), or -1.
int StateRegion(const Program& program) {
  for (size_t r = 0; r < program.regions().size(); ++r)
    if (program.regions()[r].kind == RegionKind::kDeviceState) return static_cast<int>(r);
  return -1;
}

// Region r's tensors by offset: what two programs must agree on to share the region.
std::vector<const TensorInfo*> Layout(const Program& program, int r) {
  std::vector<const TensorInfo*> out;
  for (const TensorInfo& t : program.tensors())
    if (t.region == r) out.push_back(&t);
  std::sort(out.begin(), out.end(), [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  return out;
}

// Joins a message's parts in one out-of-line call: `+` chains are inlined at every error site, and
// the runtime core's size is budgeted (runtime/BUILD.bazel).
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out += p;
  return out;
}

std::string Describe(const TensorInfo& t) {
  return Cat({"'", t.name, "' ", ops::DTypeName(t.dtype), " ", ops::ShapeToString(t.shape), " ",
              t.layout == ops::Layout::kTile ? "tile" : "row-major", " at offset ", std::to_string(t.offset)});
}

Status CheckSameState(const Program& mine, const Program& theirs) {
  const int r = StateRegion(mine), o = StateRegion(theirs);
  if (o < 0) return Status::InvalidArgument("cannot share state: the owner's program has no DEVICE_STATE region");
  const std::vector<const TensorInfo*> a = Layout(mine, r), b = Layout(theirs, o);
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i >= a.size() || i >= b.size())
      return Status::InvalidArgument(Cat({"cannot share state: this program has ", std::to_string(a.size()),
                                          " state tensors, the owner's ", std::to_string(b.size())}));
    if (a[i]->name != b[i]->name || a[i]->shape != b[i]->shape || a[i]->dtype != b[i]->dtype ||
        a[i]->layout != b[i]->layout || a[i]->offset != b[i]->offset)
      return Status::InvalidArgument(Cat({"cannot share state: state tensor ", std::to_string(i), " is ",
                                          Describe(*a[i]), " here but ", Describe(*b[i]), " in the owner's program"}));
  }
  if (mine.regions()[r].size_bytes != theirs.regions()[o].size_bytes)
    return Status::InvalidArgument(Cat({"cannot share state: the state region holds ",
                                        std::to_string(mine.regions()[r].size_bytes), " bytes here, ",
                                        std::to_string(theirs.regions()[o].size_bytes), " in the owner's program"}));
  return Status::Ok();
}

std::string RegionLabel(const Program& p, int r) {
  const RegionInfo& region = p.regions()[r];
  return Cat({"region ", std::to_string(r), " '", region.name, "' (", RegionKindName(region.kind), ", ",
              std::to_string(region.size_bytes), " bytes)"});
}

// Region `r` of `mine` stands in for the owner's region `shares`: the same kind and size, the owner's
// holds only constants, and each of ours is the owner's tensor at its offset, with the same bytes.
Status CheckSharedConstants(const Program& mine, int r, const Program& theirs) {
  const RegionInfo& here = mine.regions()[r];
  const int o = here.shares;
  const std::string what = Cat({"cannot share ", RegionLabel(mine, r), " with the owner: "});
  auto fail = [&](std::initializer_list<std::string_view> parts) {
    return Status::InvalidArgument(what + Cat(parts));
  };
  if (o >= static_cast<int>(theirs.regions().size()))
    return fail({"it is laid out like the owner's region ", std::to_string(o), ", but the owner's program has ",
                 std::to_string(theirs.regions().size()), " regions"});
  const RegionInfo& there = theirs.regions()[o];
  if (here.kind != there.kind || here.size_bytes != there.size_bytes)
    return fail({"the owner's is ", RegionLabel(theirs, o)});
  const std::vector<const TensorInfo*> owners = Layout(theirs, o);
  for (const TensorInfo* t : owners)
    if (!t->constant) return fail({"the owner's ", RegionLabel(theirs, o), " holds '", t->name, "', which is not a constant"});
  auto next = owners.begin();  // both by offset: a merge
  for (const TensorInfo* mine_t : Layout(mine, r)) {
    const TensorInfo& t = *mine_t;
    while (next != owners.end() && (*next)->offset < t.offset) ++next;
    if (next == owners.end() || (*next)->offset != t.offset)
      return fail({Describe(t), " here, but no tensor starts there in the owner's ", RegionLabel(theirs, o)});
    const TensorInfo& u = **next;
    if (t.name != u.name || t.shape != u.shape || t.dtype != u.dtype || t.layout != u.layout)
      return fail({Describe(t), " here but ", Describe(u), " in the owner's program"});
    const uint8_t *a = nullptr, *b = nullptr;
    KILN_RETURN_IF_ERROR(mine.InitialData(t, &a));
    KILN_RETURN_IF_ERROR(theirs.InitialData(u, &b));
    const auto diff = std::mismatch(a, a + t.size_bytes, b).first - a;
    if (diff < static_cast<int64_t>(t.size_bytes))
      return fail({"the bytes of '", t.name, "' differ from the owner's (first at byte ", std::to_string(diff), " of ",
                   std::to_string(t.size_bytes), ")"});
  }
  return Status::Ok();
}

// Device regions that take DRAM (what Program::device_dram_bytes counts).
bool TakesDram(RegionKind kind) { return kind == RegionKind::kDeviceDram || kind == RegionKind::kDeviceState; }

}  // namespace

Status Executor::Create(const Program& program, Device* device, std::unique_ptr<Executor>* out) {
  return CreateImpl(program, device, nullptr, std::vector<int>(program.regions().size(), -1), out);
}

Status Executor::CreateSharing(const Program& program, Device* device, const Executor& owner,
                               std::unique_ptr<Executor>* out) {
  if (device != owner.device_)
    return Status::InvalidArgument("cannot share the owner's regions: the owner runs on another device");
  const Program& theirs = *owner.program_;
  std::vector<int> owner_region(program.regions().size(), -1);
  bool shares = false;
  if (const int r = StateRegion(program); r >= 0) {
    KILN_RETURN_IF_ERROR(CheckSameState(program, theirs));
    owner_region[r] = StateRegion(theirs);
    shares = true;
  }
  for (size_t r = 0; r < program.regions().size(); ++r) {
    if (program.regions()[r].shares < 0) continue;
    KILN_RETURN_IF_ERROR(CheckSharedConstants(program, static_cast<int>(r), theirs));
    owner_region[r] = program.regions()[r].shares;
    shares = true;
  }
  if (!shares)
    return Status::InvalidArgument(
        "nothing to share with the owner: this program has no DEVICE_STATE region and no region laid out like one "
        "of the owner's (compile it with share_from the owner's program)");
  return CreateImpl(program, device, &owner, owner_region, out);
}

Status Executor::CreateImpl(const Program& program, Device* device, const Executor* owner,
                            const std::vector<int>& owner_region, std::unique_ptr<Executor>* out) {
  if (device == nullptr) return Status::InvalidArgument("Executor::Create: no device");
  const auto& regions = program.regions();
  const int64_t free_bytes = device->free_bytes();
  uint64_t needed = program.device_dram_bytes();
  for (size_t r = 0; r < regions.size(); ++r)
    if (TakesDram(regions[r].kind) && owner_region[r] >= 0) needed -= regions[r].size_bytes;  // the owner's
  if (needed > static_cast<uint64_t>(std::max<int64_t>(free_bytes, 0))) {
    std::string parts;
    for (size_t r = 0; r < regions.size(); ++r)
      if (TakesDram(regions[r].kind) && owner_region[r] < 0)
        parts += (parts.empty() ? "" : " + ") + regions[r].name + " " + std::to_string(regions[r].size_bytes);
    return Status::OutOfMemory("device memory too small: the program needs " + std::to_string(needed) +
                               " bytes of device DRAM (" + parts + "), the device has " + std::to_string(free_bytes) +
                               " free");
  }
  auto exec = std::unique_ptr<Executor>(new Executor(program, device));
  exec->region_addr_.assign(regions.size(), 0);
  exec->owns_region_.assign(regions.size(), true);
  exec->scratch_.resize(regions.size());
  device->Synchronize();
  const DeviceCounters before = device->counters();
  for (size_t r = 0; r < regions.size(); ++r) {
    if (regions[r].kind == RegionKind::kHostScratch) {
      // Bounded by Limits::max_region_bytes at load; a host that cannot provide it is out of memory.
      try {
        exec->scratch_[r].resize(regions[r].size_bytes);
      } catch (const std::bad_alloc&) {
        return Status::OutOfMemory("host memory too small for region '" + regions[r].name + "' (" +
                                   std::to_string(regions[r].size_bytes) + " bytes of host scratch)");
      }
      continue;
    }
    if (owner_region[r] >= 0) {
      exec->region_addr_[r] = owner->region_addr_[owner_region[r]];
      exec->owns_region_[r] = false;
      continue;
    }
    // SRAM regions go to the cores' SRAM, which fails naming the region when they overfill it.
    const std::string what = "region '" + regions[r].name + "'";
    const auto bytes = static_cast<int64_t>(regions[r].size_bytes);
    KILN_RETURN_IF_ERROR(regions[r].kind == RegionKind::kDeviceSram
                             ? device->AllocateSram(bytes, what, &exec->region_addr_[r])
                             : device->Allocate(bytes, what, &exec->region_addr_[r]));
  }
  // Constants and initial state go from the loader's memory (a file mapping) straight to the device
  // (or, for weights the compiler streams from host memory, into this executor's host region).
  for (const ConstantUpload& u : program.constant_uploads()) {
    if (owner_region[u.region] >= 0) continue;  // the owner's weights, or its state as it is now
    if (regions[u.region].kind == RegionKind::kHostScratch) {
      std::memcpy(exec->scratch_[u.region].data() + u.offset, u.data, u.size);
      continue;
    }
    KILN_RETURN_IF_ERROR(device->WriteRaw(exec->region_addr_[u.region] + u.offset, u.data, static_cast<int64_t>(u.size)));
  }
  exec->load_stats_.counters = device->counters().Since(before);
  exec->load_stats_.latency_us = device->CyclesToMicros(exec->load_stats_.counters.cycles);
  exec->load_stats_.device_bytes_in_use = device->bytes_in_use();
  *out = std::move(exec);
  return Status::Ok();
}

Status Executor::ResetState() {
  const auto& regions = program_->regions();
  for (const ConstantUpload& u : program_->constant_uploads())
    if (regions[u.region].kind == RegionKind::kDeviceState)
      KILN_RETURN_IF_ERROR(device_->WriteRaw(region_addr_[u.region] + u.offset, u.data, static_cast<int64_t>(u.size)));
  return Status::Ok();
}

Executor::~Executor() {
  // Frees are best-effort: the addresses came from this executor's own allocations.
  for (size_t r = 0; r < region_addr_.size(); ++r)
    if (region_addr_[r] && owns_region_[r]) (void)device_->Free(region_addr_[r]);
}

DeviceTensor Executor::DeviceView(uint32_t tensor) const {
  const TensorInfo& t = program_->tensors()[tensor];
  return {region_addr_[t.region] + t.offset, t.shape, t.dtype, t.layout};
}

// A tensor in a HOST_SCRATCH region: its bytes (row-major, its dtype) in this executor's memory, or
// null for a tensor in the caller's buffers. Offsets and sizes were checked against the region at load.
uint8_t* Executor::ScratchBytes(uint32_t tensor) {
  const TensorInfo& t = program_->tensors()[tensor];
  if (t.in_caller_buffer() || program_->regions()[t.region].kind != RegionKind::kHostScratch) return nullptr;
  return scratch_[t.region].data() + t.offset;
}

Status Executor::Run(const std::vector<HostTensor>& inputs, std::vector<HostTensor>* outputs, RunStats* stats) {
  std::vector<HostTensorView> views;
  views.reserve(inputs.size());
  for (const HostTensor& t : inputs) views.push_back(HostTensorView::Of(t));
  return RunViews(views, outputs, stats);
}

Status Executor::RunViews(const std::vector<HostTensorView>& inputs, std::vector<HostTensor>* outputs, RunStats* stats) {
  const Program& program = *program_;
  const auto& specs = program.inputs();
  if (inputs.size() != specs.size())
    return Status::InvalidArgument("program takes " + std::to_string(specs.size()) + " inputs, got " +
                                   std::to_string(inputs.size()));
  // Host tensors live in caller memory: inputs point at the caller's buffers, outputs at ours.
  std::vector<const void*> host_src(program.tensors().size(), nullptr);
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorInfo& t = program.tensors()[specs[i].tensor];
    const HostTensorView& in = inputs[i];
    if (in.shape != t.shape || in.dtype != t.dtype)
      return Status::InvalidArgument("input '" + specs[i].name + "': expected " + ops::DTypeName(t.dtype) + " " +
                                     ops::ShapeToString(t.shape) + ", got " + ops::DTypeName(in.dtype) + " " +
                                     ops::ShapeToString(in.shape));
    const int64_t need = ops::NumElements(t.shape) * ops::DTypeSize(t.dtype);
    if (in.size_bytes != static_cast<size_t>(need))
      return Status::InvalidArgument("input '" + specs[i].name + "': buffer holds " + std::to_string(in.size_bytes) +
                                     " bytes, shape needs " + std::to_string(need));
    // The device holds an int64 input as int32 (ops/dtype.h): a value beyond it is the caller's error.
    if (in.dtype == ops::DType::kI64) {
      const auto* values = static_cast<const int64_t*>(in.data);
      const int64_t bad = ops::FirstOutsideInt32(values, ops::NumElements(in.shape));
      if (bad >= 0)
        return Status::InvalidArgument("input '" + specs[i].name + "': element " + std::to_string(bad) + " is " +
                                       std::to_string(values[bad]) +
                                       ", outside int32; the device holds int64 inputs as int32");
    }
    if (in.data == nullptr && need > 0)
      return Status::InvalidArgument("input '" + specs[i].name + "': no buffer for " + std::to_string(need) + " bytes");
    host_src[specs[i].tensor] = in.data;
  }
  outputs->clear();
  std::vector<int> output_slot(program.tensors().size(), -1);
  for (const IoInfo& o : program.outputs()) {
    const TensorInfo& t = program.tensors()[o.tensor];
    output_slot[o.tensor] = static_cast<int>(outputs->size());
    HostTensor h{t.shape, t.dtype, {}};
    h.bytes.resize(ops::NumElements(t.shape) * ops::DTypeSize(t.dtype));
    outputs->push_back(std::move(h));
  }

  device_->Synchronize();  // a run starts when the device is idle
  const DeviceCounters before = device_->counters();
  std::vector<InstructionTiming> timings;
  timings.reserve(program.instructions().size());
  int64_t spill_bytes = 0, reload_bytes = 0;
  double eviction_cycles = 0;
  for (const Instruction& inst : program.instructions()) {
    Status s;
    bool eviction = false;
    switch (inst.kind) {
      case Instruction::Kind::kHostToDevice: {
        const TensorInfo& src = program.tensors()[inst.inputs[0]];
        const uint8_t* scratch = ScratchBytes(inst.inputs[0]);
        const void* from = scratch ? scratch : host_src[inst.inputs[0]];
        s = device_->CopyToDevice({from, src.shape, src.dtype}, DeviceView(inst.output));
        if (scratch) reload_bytes += static_cast<int64_t>(src.size_bytes), eviction = true;
        break;
      }
      case Instruction::Kind::kDeviceToHost: {
        const TensorInfo& dst_info = program.tensors()[inst.output];
        if (uint8_t* scratch = ScratchBytes(inst.output)) {
          s = device_->CopyToHost(DeviceView(inst.inputs[0]), scratch, dst_info.dtype);
          spill_bytes += static_cast<int64_t>(dst_info.size_bytes);
          eviction = true;
          break;
        }
        const int slot = output_slot[inst.output];
        if (slot < 0) return Status::Internal("device-to-host transfer into a host tensor that is not an output");
        HostTensor& dst = (*outputs)[slot];
        s = device_->CopyToHost(DeviceView(inst.inputs[0]), dst.bytes.data(), dst.dtype);
        break;
      }
      case Instruction::Kind::kOp: {
        std::vector<DeviceTensor> operands;
        for (uint32_t idx : inst.inputs) operands.push_back(DeviceView(idx));
        s = device_->Launch(*inst.op, operands, inst.attrs, DeviceView(inst.output));
        break;
      }
    }
    if (!s.ok()) return s.WithPrefix(inst.source.empty() ? "" : inst.source + ": ");
    const CommandTiming& t = device_->last_command();
    if (eviction) eviction_cycles += t.end_cycles - t.start_cycles;
    timings.push_back({t.engine, device_->CyclesToMicros(t.start_cycles - before.cycles),
                       device_->CyclesToMicros(t.end_cycles - before.cycles), t.cores_used, t.bytes});
  }

  if (stats) {
    const DeviceCounters d = device_->counters().Since(before);
    stats->counters = d;
    stats->instructions = std::move(timings);
    stats->latency_us = device_->CyclesToMicros(d.cycles);
    stats->roofline_us = device_->RooflineMicros(program.workload());
    stats->device_bytes_in_use = device_->bytes_in_use();
    stats->spill_bytes = spill_bytes;
    stats->reload_bytes = reload_bytes;
    stats->eviction_us = device_->CyclesToMicros(eviction_cycles);
  }
  return Status::Ok();
}

}  // namespace kiln::runtime

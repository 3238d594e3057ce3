#include "runtime/executor.h"

#include <cstring>

namespace kiln::runtime {

HostTensor HostTensor::FromFloats(ops::Shape shape, const std::vector<float>& values) {
  HostTensor t{std::move(shape), ops::DType::kF32, {}};
  t.bytes.resize(values.size() * sizeof(float));
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

Status Executor::Create(const Program& program, sim::Device* device, std::unique_ptr<Executor>* out) {
  const int64_t free_bytes = device->memory().capacity() - device->memory().in_use();
  if (static_cast<int64_t>(program.peak_device_bytes()) > free_bytes)
    return Status::OutOfMemory("device memory too small: the program needs " +
                         std::to_string(program.peak_device_bytes()) + " bytes of device DRAM (arena " +
                         std::to_string(program.arena_bytes()) + " + constants " +
                         std::to_string(program.constant_bytes()) + "), the device has " +
                         std::to_string(free_bytes) + " free");
  auto exec = std::unique_ptr<Executor>(new Executor(program, device));
  const sim::Counters before = device->counters();
  KILN_RETURN_IF_ERROR(device->Allocate(program.arena_bytes(), "activation arena", &exec->arena_addr_));
  KILN_RETURN_IF_ERROR(device->Allocate(program.constant_bytes(), "constants", &exec->constants_addr_));
  KILN_RETURN_IF_ERROR(device->WriteRaw(exec->constants_addr_, program.constants(),
                                        static_cast<int64_t>(program.constant_bytes())));
  exec->load_stats_.counters = device->counters().Since(before);
  exec->load_stats_.latency_us = device->CyclesToMicros(exec->load_stats_.counters.cycles);
  exec->load_stats_.device_bytes_in_use = device->memory().in_use();
  *out = std::move(exec);
  return Status::Ok();
}

Executor::~Executor() {
  // Frees are best-effort: the addresses came from this executor's own allocations.
  if (arena_addr_) (void)device_->Free(arena_addr_);
  if (constants_addr_) (void)device_->Free(constants_addr_);
}

sim::DeviceTensor Executor::DeviceView(uint32_t tensor) const {
  const TensorInfo& t = program_.tensors()[tensor];
  const uint64_t base = t.space == MemSpace::kDeviceArena ? arena_addr_ : constants_addr_;
  return {base + t.offset, t.shape, t.dtype, t.layout};
}

Status Executor::Run(const std::vector<HostTensor>& inputs, std::vector<HostTensor>* outputs,
                     RunStats* stats) {
  const auto& specs = program_.inputs();
  if (inputs.size() != specs.size())
    return Status::InvalidArgument("program takes " + std::to_string(specs.size()) + " inputs, got " +
                         std::to_string(inputs.size()));
  // Host tensors live in caller memory: inputs point at the caller's buffers, outputs at ours.
  std::vector<const void*> host_src(program_.tensors().size(), nullptr);
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorInfo& t = program_.tensors()[specs[i].tensor];
    const HostTensor& in = inputs[i];
    if (in.shape != t.shape || in.dtype != t.dtype)
      return Status::InvalidArgument("input '" + specs[i].name + "': expected " + ops::DTypeName(t.dtype) + " " +
                           ops::ShapeToString(t.shape) + ", got " + ops::DTypeName(in.dtype) + " " +
                           ops::ShapeToString(in.shape));
    if (in.bytes.size() != static_cast<size_t>(ops::NumElements(t.shape) * ops::DTypeSize(t.dtype)))
      return Status::InvalidArgument("input '" + specs[i].name + "': buffer holds " + std::to_string(in.bytes.size()) +
                           " bytes, shape needs " +
                           std::to_string(ops::NumElements(t.shape) * ops::DTypeSize(t.dtype)));
    host_src[specs[i].tensor] = in.bytes.data();
  }
  outputs->clear();
  std::vector<int> output_slot(program_.tensors().size(), -1);
  for (const IoInfo& o : program_.outputs()) {
    const TensorInfo& t = program_.tensors()[o.tensor];
    output_slot[o.tensor] = static_cast<int>(outputs->size());
    HostTensor h{t.shape, t.dtype, {}};
    h.bytes.resize(ops::NumElements(t.shape) * ops::DTypeSize(t.dtype));
    outputs->push_back(std::move(h));
  }

  const sim::Counters before = device_->counters();
  std::vector<double> instruction_us;
  instruction_us.reserve(program_.instructions().size());
  for (const Instruction& inst : program_.instructions()) {
    const double start = device_->counters().cycles;
    Status s;
    switch (inst.kind) {
      case Instruction::Kind::kHostToDevice: {
        const TensorInfo& src = program_.tensors()[inst.inputs[0]];
        s = device_->CopyToDevice({host_src[inst.inputs[0]], src.shape, src.dtype}, DeviceView(inst.output));
        break;
      }
      case Instruction::Kind::kDeviceToHost: {
        const int slot = output_slot[inst.output];
        if (slot < 0) return Status::Internal("device-to-host transfer into a host tensor that is not an output");
        HostTensor& dst = (*outputs)[slot];
        s = device_->CopyToHost(DeviceView(inst.inputs[0]), dst.bytes.data(), dst.dtype);
        break;
      }
      case Instruction::Kind::kOp: {
        std::vector<sim::DeviceTensor> operands;
        for (uint32_t idx : inst.inputs) operands.push_back(DeviceView(idx));
        s = device_->Launch(*inst.op, operands, inst.attrs, DeviceView(inst.output));
        break;
      }
    }
    if (!s.ok())
      return s.WithPrefix(inst.source.empty() ? "" : inst.source + ": ");
    instruction_us.push_back(device_->CyclesToMicros(device_->counters().cycles - start));
  }

  if (stats) {
    const sim::Counters d = device_->counters().Since(before);
    stats->counters = d;
    stats->instruction_us = std::move(instruction_us);
    stats->latency_us = device_->CyclesToMicros(d.cycles);
    const Workload& w = program_.workload();
    stats->roofline_us = device_->CyclesToMicros(device_->cost_model().RooflineCycles(
        w.matrix_flops, w.weight_bytes + w.io_bytes, w.io_bytes, w.io_tensors));
    stats->device_bytes_in_use = device_->memory().in_use();
  }
  return Status::Ok();
}

}  // namespace kiln::runtime

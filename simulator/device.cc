#include "simulator/device.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>

#include "ops/kernels.h"

namespace kiln::sim {

Device::Device(const target::ChipConfig& config)
    : config_(config), memory_(config.dram_bytes), sram_(config.sram_usable_bytes(), kSramBase), cost_(config_) {}

Status Device::Free(uint64_t addr) {
  if (!InSram(addr)) return memory_.Free(addr);
  KILN_RETURN_IF_ERROR(sram_.Free(addr));
  sram_per_core_in_use_ -= sram_per_core_[addr];
  sram_per_core_.erase(addr);
  return Status::Ok();
}

Status Device::AllocateSram(int64_t bytes, const std::string& what, uint64_t* addr) {
  if (bytes < 0) return Status::Internal("SRAM allocation of negative size for " + what);
  const int64_t per_core = config_.SramBytesPerCore(static_cast<uint64_t>(bytes));
  const int64_t capacity = config_.sram_usable_bytes_per_core();
  if (per_core > capacity - sram_per_core_in_use_)
    return Status::OutOfMemory(
        "SRAM too small: " + what + " needs " + std::to_string(per_core) + " bytes per core (" +
        std::to_string(bytes) + " bytes interleaved over " + std::to_string(config_.cores) + " cores), " +
        std::to_string(capacity - sram_per_core_in_use_) + " of " + std::to_string(capacity) +
        " bytes per core are free (" + std::to_string(config_.sram_bytes_per_core) + " per core minus " +
        std::to_string(config_.sram_reserved_bytes_per_core) + " reserved for the op library's streaming buffers)");
  // Per core it fits, so in all it fits the SRAM memory's capacity (usable bytes per core x cores).
  KILN_RETURN_IF_ERROR(sram_.Allocate(bytes, what, addr));
  sram_per_core_[*addr] = per_core;
  sram_per_core_in_use_ += per_core;
  return Status::Ok();
}

double Device::RooflineMicros(const runtime::Workload& w) const {
  return cost_.CyclesToMicros(cost_.RooflineCycles(w.matrix_flops, w.weight_bytes, w.io_bytes, w.io_tensors));
}

Status Device::ReadAsFloat(const DeviceTensor& t, std::vector<float>* row_major) {
  uint8_t* p = nullptr;
  KILN_RETURN_IF_ERROR(MemoryAt(t.addr).Access(t.addr, t.stored_bytes(), &p));
  const int64_t stored = ops::StoredElements(t.shape, t.layout);
  row_major->resize(ops::NumElements(t.shape));
  if (t.layout == ops::Layout::kRowMajor) {
    ops::LoadAsFloat(p, t.dtype, stored, row_major->data());
    return Status::Ok();
  }
  if (t.dtype == ops::DType::kF32 && reinterpret_cast<uintptr_t>(p) % alignof(float) == 0) {
    ops::Untilize(reinterpret_cast<const float*>(p), t.shape, row_major->data());  // no staging copy
    return Status::Ok();
  }
  std::vector<float> tiled(stored);
  ops::LoadAsFloat(p, t.dtype, stored, tiled.data());
  ops::Untilize(tiled.data(), t.shape, row_major->data());
  return Status::Ok();
}

const float* Device::KernelFormat(const DeviceTensor& t) {
  if (t.dtype != ops::DType::kF32 || t.layout != ops::Layout::kRowMajor) return nullptr;
  uint8_t* p = nullptr;
  if (!MemoryAt(t.addr).Access(t.addr, t.stored_bytes(), &p).ok() || p == nullptr) return nullptr;
  if (reinterpret_cast<uintptr_t>(p) % alignof(float) != 0) return nullptr;
  return reinterpret_cast<const float*>(p);
}

Status Device::WriteFromFloat(const std::vector<float>& row_major, const DeviceTensor& t) {
  uint8_t* p = nullptr;
  KILN_RETURN_IF_ERROR(MemoryAt(t.addr).Access(t.addr, t.stored_bytes(), &p));
  if (t.layout == ops::Layout::kRowMajor) {
    ops::StoreFromFloat(row_major.data(), static_cast<int64_t>(row_major.size()), t.dtype, p);
    return Status::Ok();
  }
  std::vector<float> tiled(ops::StoredElements(t.shape, t.layout));
  ops::Tilize(row_major.data(), t.shape, tiled.data());
  ops::StoreFromFloat(tiled.data(), static_cast<int64_t>(tiled.size()), t.dtype, p);
  return Status::Ok();
}

void Device::ResetCounters() {
  counters_ = Counters();
  std::fill(std::begin(engine_free_), std::end(engine_free_), 0.0);
  dram_free_ = fence_ = 0;
  device_bytes_.Clear();
  host_bytes_.Clear();
  last_ = runtime::CommandTiming();
}

void Device::Synchronize() {
  fence_ = counters_.cycles;
  // Every access so far ends by the fence, so no later command can wait on one.
  device_bytes_.Clear();
  host_bytes_.Clear();
}

void Device::Schedule(runtime::Engine engine, const std::vector<Range>& device_reads, Range host_read,
                      Range device_write, Range host_write, double launch_cycles, double busy_cycles,
                      double dram_cycles, int64_t cores_used, int64_t bytes) {
  double& engine_free = engine_free_[static_cast<int>(engine)];
  double start = std::max(fence_, engine_free);
  for (const Range& r : device_reads) start = std::max(start, device_bytes_.WriteReady(r.addr, r.bytes));
  start = std::max(start, host_bytes_.WriteReady(host_read.addr, host_read.bytes));
  start = std::max(start, device_bytes_.AccessDone(device_write.addr, device_write.bytes));
  start = std::max(start, host_bytes_.AccessDone(host_write.addr, host_write.bytes));
  const double work_start = start + launch_cycles;
  double end = work_start + busy_cycles;
  if (dram_cycles > 0) {
    // The DRAM serves one op's traffic at a time at full bandwidth, so overlapping engines never
    // move more bytes per cycle than the chip was measured to.
    const double dram_start = std::max(work_start, dram_free_);
    dram_free_ = dram_start + dram_cycles;
    end = std::max(end, dram_free_);
  }
  engine_free = end;
  for (const Range& r : device_reads) device_bytes_.RecordRead(r.addr, r.bytes, end);
  host_bytes_.RecordRead(host_read.addr, host_read.bytes, end);
  device_bytes_.RecordWrite(device_write.addr, device_write.bytes, end);
  host_bytes_.RecordWrite(host_write.addr, host_write.bytes, end);
  counters_.cycles = std::max(counters_.cycles, end);
  last_ = {engine, start, end, cores_used, bytes};
}

void Device::ChargeTransfer(Range host_read, Range device_write, Range device_read, Range host_write,
                            int64_t bytes) {
  const double cycles = cost_.Transfer(bytes);
  std::vector<Range> device_reads;
  if (device_read.bytes > 0) device_reads.push_back(device_read);
  Schedule(runtime::Engine::kHostLink, device_reads, host_read, device_write, host_write, 0, cycles, 0, 0, bytes);
  counters_.transfer_cycles += cycles;
  counters_.transfers += 1;
}

Status Device::CopyToDevice(const HostTensorRef& src, const DeviceTensor& dst) {
  if (src.shape != dst.shape)
    return Status::Internal("host-to-device copy: host shape " + ops::ShapeToString(src.shape) +
                         " differs from device shape " + ops::ShapeToString(dst.shape));
  if (src.data == nullptr && ops::NumElements(src.shape) > 0)
    return Status::Internal("host-to-device copy: null host buffer");
  std::vector<float> values(ops::NumElements(src.shape));
  ops::LoadAsFloat(src.data, src.dtype, static_cast<int64_t>(values.size()), values.data());
  KILN_RETURN_IF_ERROR(WriteFromFloat(values, dst));
  // The link carries the host's bytes; the DMA engine tilizes on the way in.
  const int64_t bytes = ops::NumElements(src.shape) * ops::DTypeSize(src.dtype);
  counters_.host_to_device_bytes += bytes;
  (InSram(dst.addr) ? counters_.sram_write_bytes : counters_.dram_write_bytes) += dst.stored_bytes();
  ChargeTransfer(HostRange(src.data, bytes), {dst.addr, dst.stored_bytes()}, {}, {}, bytes);
  return Status::Ok();
}

Status Device::CopyToHost(const DeviceTensor& src, void* dst, ops::DType dst_dtype) {
  std::vector<float> values;
  KILN_RETURN_IF_ERROR(ReadAsFloat(src, &values));
  ops::StoreFromFloat(values.data(), static_cast<int64_t>(values.size()), dst_dtype, dst);
  const int64_t bytes = static_cast<int64_t>(values.size()) * ops::DTypeSize(dst_dtype);
  counters_.device_to_host_bytes += bytes;
  (InSram(src.addr) ? counters_.sram_read_bytes : counters_.dram_read_bytes) += src.stored_bytes();
  ChargeTransfer({}, {}, {src.addr, src.stored_bytes()}, HostRange(dst, bytes), bytes);
  return Status::Ok();
}

Status Device::WriteRaw(uint64_t addr, const void* data, int64_t bytes) {
  uint8_t* p = nullptr;
  KILN_RETURN_IF_ERROR(MemoryAt(addr).Access(addr, bytes, &p));
  if (bytes > 0) std::memcpy(p, data, static_cast<size_t>(bytes));
  counters_.host_to_device_bytes += bytes;
  (InSram(addr) ? counters_.sram_write_bytes : counters_.dram_write_bytes) += bytes;
  ChargeTransfer(HostRange(data, bytes), {addr, bytes}, {}, {}, bytes);
  return Status::Ok();
}

Status Device::Launch(const ops::OpDef& op, const std::vector<DeviceTensor>& inputs,
                      const ops::Attrs& attrs, const DeviceTensor& output) {
  std::vector<ops::Shape> shapes;
  for (const DeviceTensor& t : inputs) shapes.push_back(t.shape);
  ops::Shape inferred;
  if (std::string err = ops::InferOutputShape(op, shapes, attrs, &inferred); !err.empty())
    return Status::Internal(std::string(op.name) + ": " + err);
  if (inferred != output.shape)
    return Status::Internal(std::string(op.name) + ": output buffer has shape " +
                         ops::ShapeToString(output.shape) + " but the op produces " +
                         ops::ShapeToString(inferred));
  const ops::KernelFn kernel = ops::FindKernel(op);
  if (!kernel) return Status::Internal(std::string(op.name) + ": no kernel is registered for this op");

  std::vector<std::vector<float>> values(inputs.size());
  std::vector<ops::ConstView> views;
  // Operands resident in SRAM cost no DRAM traffic: only DRAM-resident bytes are charged. A gather
  // reads only the rows it selects (its read share, rounded up to whole bytes).
  const std::vector<double> read_shares = ops::ReadSharesOf(op, shapes, output.shape, attrs);
  int64_t dram_read = 0, sram_read = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    // An operand stored as f32 in row-major order is already what kernels read: no copy (the
    // functional simulator's own speed; most of a CNN's weights and activations are stored so).
    if (const float* in_place = KernelFormat(inputs[i])) {
      views.push_back({in_place, inputs[i].shape});
    } else {
      KILN_RETURN_IF_ERROR(ReadAsFloat(inputs[i], &values[i]));
      views.push_back({values[i].data(), inputs[i].shape});
    }
    const auto read = static_cast<int64_t>(std::ceil(static_cast<double>(inputs[i].stored_bytes()) * read_shares[i]));
    (InSram(inputs[i].addr) ? sram_read : dram_read) += read;
  }
  const int64_t dram_written = InSram(output.addr) ? 0 : output.stored_bytes();
  // The kernel writes the device bytes directly when they are in its format and no operand shares
  // them; kernels get a zeroed output either way.
  float* out_in_place = const_cast<float*>(KernelFormat(output));
  for (const DeviceTensor& t : inputs)
    if (out_in_place != nullptr && t.addr < output.addr + output.stored_bytes() && output.addr < t.addr + t.stored_bytes())
      out_in_place = nullptr;
  if (out_in_place != nullptr) {
    std::fill_n(out_in_place, ops::NumElements(output.shape), 0.0f);
    kernel(views, attrs, {out_in_place, output.shape});
  } else {
    std::vector<float> result(ops::NumElements(output.shape));
    kernel(views, attrs, {result.data(), output.shape});
    KILN_RETURN_IF_ERROR(WriteFromFloat(result, output));
  }

  const double work = op.work(shapes, output.shape, attrs);
  // The matrix engine runs bf16 operands at bf16's fidelity and anything else as f32.
  const bool all_bf16 = std::all_of(inputs.begin(), inputs.end(),
                                    [](const DeviceTensor& t) { return t.dtype == ops::DType::kBF16; });
  const ops::Unit unit = ops::UnitOf(op, shapes, output.shape, attrs);
  const OpCost cost = cost_.Op(unit, all_bf16 ? ops::DType::kBF16 : ops::DType::kF32, work,
                               ops::SplitOf(op, shapes, output.shape, attrs), dram_read, dram_written);
  std::vector<Range> reads;
  for (const DeviceTensor& t : inputs) reads.push_back({t.addr, t.stored_bytes()});
  const runtime::Engine engine = unit == ops::Unit::kMatrix   ? runtime::Engine::kMatrix
                                 : unit == ops::Unit::kVector ? runtime::Engine::kVector
                                                                 : runtime::Engine::kDramDma;
  Schedule(engine, reads, {}, {output.addr, output.stored_bytes()}, {}, cost.launch_cycles, cost.compute_cycles,
           cost.memory_cycles, cost.cores_used, dram_read + dram_written);
  const double cycles = last_.end_cycles - last_.start_cycles;
  counters_.compute_cycles += cycles;
  counters_.ops_executed += 1;
  counters_.dram_read_bytes += dram_read;
  counters_.dram_write_bytes += dram_written;
  counters_.sram_read_bytes += sram_read;
  counters_.sram_write_bytes += output.stored_bytes() - dram_written;
  if (unit == ops::Unit::kMatrix) counters_.flops += work;
  counters_.op_cycles[std::string(op.name)] += cycles;
  counters_.op_core_cycles[std::string(op.name)] +=
      cycles * static_cast<double>(cost.cores_used) / static_cast<double>(config_.cores);
  return Status::Ok();
}

}  // namespace kiln::sim

#include "simulator/device.h"

#include <cstring>

#include "ops/kernels.h"

namespace kiln::sim {

Device::Device(const target::ChipConfig& config)
    : config_(config), memory_(config.dram_bytes), cost_(config_) {}

double Device::RooflineMicros(const runtime::Workload& w) const {
  return cost_.CyclesToMicros(
      cost_.RooflineCycles(w.matrix_flops, w.weight_bytes + w.io_bytes, w.io_bytes, w.io_tensors));
}

Status Device::ReadAsFloat(const DeviceTensor& t, std::vector<float>* row_major) {
  uint8_t* p = nullptr;
  KILN_RETURN_IF_ERROR(memory_.Access(t.addr, t.stored_bytes(), &p));
  const int64_t stored = ops::StoredElements(t.shape, t.layout);
  row_major->resize(ops::NumElements(t.shape));
  if (t.layout == ops::Layout::kRowMajor) {
    ops::LoadAsFloat(p, t.dtype, stored, row_major->data());
    return Status::Ok();
  }
  std::vector<float> tiled(stored);
  ops::LoadAsFloat(p, t.dtype, stored, tiled.data());
  ops::Untilize(tiled.data(), t.shape, row_major->data());
  return Status::Ok();
}

Status Device::WriteFromFloat(const std::vector<float>& row_major, const DeviceTensor& t) {
  uint8_t* p = nullptr;
  KILN_RETURN_IF_ERROR(memory_.Access(t.addr, t.stored_bytes(), &p));
  if (t.layout == ops::Layout::kRowMajor) {
    ops::StoreFromFloat(row_major.data(), static_cast<int64_t>(row_major.size()), t.dtype, p);
    return Status::Ok();
  }
  std::vector<float> tiled(ops::StoredElements(t.shape, t.layout));
  ops::Tilize(row_major.data(), t.shape, tiled.data());
  ops::StoreFromFloat(tiled.data(), static_cast<int64_t>(tiled.size()), t.dtype, p);
  return Status::Ok();
}

void Device::ChargeTransfer(int64_t bytes) {
  const double cycles = cost_.Transfer(bytes);
  counters_.cycles += cycles;
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
  counters_.dram_write_bytes += dst.stored_bytes();
  ChargeTransfer(bytes);
  return Status::Ok();
}

Status Device::CopyToHost(const DeviceTensor& src, void* dst, ops::DType dst_dtype) {
  std::vector<float> values;
  KILN_RETURN_IF_ERROR(ReadAsFloat(src, &values));
  ops::StoreFromFloat(values.data(), static_cast<int64_t>(values.size()), dst_dtype, dst);
  const int64_t bytes = static_cast<int64_t>(values.size()) * ops::DTypeSize(dst_dtype);
  counters_.device_to_host_bytes += bytes;
  counters_.dram_read_bytes += src.stored_bytes();
  ChargeTransfer(bytes);
  return Status::Ok();
}

Status Device::WriteRaw(uint64_t addr, const void* data, int64_t bytes) {
  uint8_t* p = nullptr;
  KILN_RETURN_IF_ERROR(memory_.Access(addr, bytes, &p));
  if (bytes > 0) std::memcpy(p, data, static_cast<size_t>(bytes));
  counters_.host_to_device_bytes += bytes;
  counters_.dram_write_bytes += bytes;
  ChargeTransfer(bytes);
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
  int64_t bytes_read = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    KILN_RETURN_IF_ERROR(ReadAsFloat(inputs[i], &values[i]));
    views.push_back({values[i].data(), inputs[i].shape});
    bytes_read += inputs[i].stored_bytes();
  }
  std::vector<float> result(ops::NumElements(output.shape));
  kernel(views, attrs, {result.data(), output.shape});
  KILN_RETURN_IF_ERROR(WriteFromFloat(result, output));

  const double work = op.work(shapes, output.shape, attrs);
  const OpCost cost = cost_.Op(op.unit, work, bytes_read, output.stored_bytes());
  counters_.cycles += cost.total_cycles;
  counters_.compute_cycles += cost.total_cycles;
  counters_.ops_executed += 1;
  counters_.dram_read_bytes += bytes_read;
  counters_.dram_write_bytes += output.stored_bytes();
  if (op.unit == ops::Unit::kMatrix) counters_.flops += work;
  counters_.op_cycles[std::string(op.name)] += cost.total_cycles;
  return Status::Ok();
}

}  // namespace kiln::sim

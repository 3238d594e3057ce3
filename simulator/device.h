// The simulated accelerator: device DRAM, a DMA engine to and from the host, and the matrix and
// vector units that run op-library kernels. Results are computed for real (by ops/ kernels on the
// stored bits); time is accounted by the cost model, cycle by cycle, into Counters.
#ifndef KILN_SIMULATOR_DEVICE_H_
#define KILN_SIMULATOR_DEVICE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ops/op_def.h"
#include "runtime/device.h"
#include "ops/tile_layout.h"
#include "target/chip_config.h"
#include "simulator/cost_model.h"
#include "simulator/device_memory.h"
#include "base/status.h"

namespace kiln::sim {

// The simulator speaks the runtime's device interface (runtime/device.h).
using DeviceTensor = runtime::DeviceTensor;
using HostTensorRef = runtime::HostTensorRef;
using Counters = runtime::DeviceCounters;

class Device final : public runtime::Device {
 public:
  explicit Device(const target::ChipConfig& config);

  const target::ChipConfig& config() const { return config_; }
  const Counters& counters() const override { return counters_; }
  void ResetCounters() { counters_ = Counters(); }
  DeviceMemory& memory() { return memory_; }
  double CyclesToMicros(double cycles) const override { return cost_.CyclesToMicros(cycles); }
  const CostModel& cost_model() const { return cost_; }
  // The chip's roofline (CostModel::RooflineCycles) for a program's workload.
  double RooflineMicros(const runtime::Workload& w) const override;

  Status Allocate(int64_t bytes, const std::string& what, uint64_t* addr) override {
    return memory_.Allocate(bytes, what, addr);
  }
  Status Free(uint64_t addr) override { return memory_.Free(addr); }
  int64_t free_bytes() const override { return memory_.capacity() - memory_.in_use(); }
  int64_t bytes_in_use() const override { return memory_.in_use(); }

  // DMA: host row-major -> device (converting dtype and layout), and back.
  Status CopyToDevice(const HostTensorRef& src, const DeviceTensor& dst) override;
  Status CopyToHost(const DeviceTensor& src, void* dst, ops::DType dst_dtype) override;
  // Raw bytes already in device format (a program's constants), one DMA.
  Status WriteRaw(uint64_t addr, const void* data, int64_t bytes) override;

  // Runs one op-library kernel on the matrix or vector unit.
  Status Launch(const ops::OpDef& op, const std::vector<DeviceTensor>& inputs, const ops::Attrs& attrs,
                const DeviceTensor& output) override;

 private:
  Status ReadAsFloat(const DeviceTensor& t, std::vector<float>* row_major);
  Status WriteFromFloat(const std::vector<float>& row_major, const DeviceTensor& t);
  void ChargeTransfer(int64_t bytes);

  target::ChipConfig config_;
  DeviceMemory memory_;
  CostModel cost_;
  Counters counters_;
};

}  // namespace kiln::sim

#endif  // KILN_SIMULATOR_DEVICE_H_

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
#include "ops/tile_layout.h"
#include "target/chip_config.h"
#include "simulator/cost_model.h"
#include "simulator/device_memory.h"
#include "base/status.h"

namespace kiln::sim {

// A tensor in device DRAM.
struct DeviceTensor {
  uint64_t addr = 0;
  ops::Shape shape;
  ops::DType dtype = ops::DType::kF32;
  ops::Layout layout = ops::Layout::kTile;

  int64_t stored_bytes() const { return ops::StoredBytes(shape, dtype, layout); }
};

// A tensor in host memory, always row-major.
struct HostTensorRef {
  const void* data = nullptr;
  ops::Shape shape;
  ops::DType dtype = ops::DType::kF32;
};

struct Counters {
  double cycles = 0;           // on the device's single in-order timeline
  double compute_cycles = 0;   // spent in ops (including their DRAM-bound time)
  double transfer_cycles = 0;  // spent in host-link DMAs
  int64_t ops_executed = 0;
  int64_t transfers = 0;
  int64_t host_to_device_bytes = 0;
  int64_t device_to_host_bytes = 0;
  int64_t dram_read_bytes = 0;
  int64_t dram_write_bytes = 0;
  double flops = 0;                         // matrix-unit work (tile-padded)
  std::map<std::string, double> op_cycles;  // by op name

  // What happened between `before` and this snapshot.
  Counters Since(const Counters& before) const;
};

class Device {
 public:
  explicit Device(const target::ChipConfig& config);

  const target::ChipConfig& config() const { return config_; }
  const Counters& counters() const { return counters_; }
  void ResetCounters() { counters_ = Counters(); }
  DeviceMemory& memory() { return memory_; }
  double CyclesToMicros(double cycles) const { return cost_.CyclesToMicros(cycles); }
  const CostModel& cost_model() const { return cost_; }

  Status Allocate(int64_t bytes, const std::string& what, uint64_t* addr) {
    return memory_.Allocate(bytes, what, addr);
  }
  Status Free(uint64_t addr) { return memory_.Free(addr); }

  // DMA: host row-major -> device (converting dtype and layout), and back.
  Status CopyToDevice(const HostTensorRef& src, const DeviceTensor& dst);
  Status CopyToHost(const DeviceTensor& src, void* dst, ops::DType dst_dtype);
  // Raw bytes already in device format (a program's constant segment), one DMA.
  Status WriteRaw(uint64_t addr, const void* data, int64_t bytes);

  // Runs one op-library kernel on the matrix or vector unit.
  Status Launch(const ops::OpDef& op, const std::vector<DeviceTensor>& inputs, const ops::Attrs& attrs,
                const DeviceTensor& output);

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

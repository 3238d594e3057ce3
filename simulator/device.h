// The simulated accelerator: device DRAM, the cores' SRAM (for tensors the compiler keeps resident;
// its own address range, interleaved over all cores, less the op library's reserve), a DMA engine to and from the host, and the matrix and
// vector units that run op-library kernels. Results are computed for real (by ops/ kernels on the
// stored bits) in the order commands arrive; time is modelled apart from that: each engine (host
// link, DRAM DMA, matrix, vector) has its own timeline, and a command starts when its engine is free
// and the bytes it reads (and overwrites) are ready, so transfers overlap compute where the data
// allows. The cost of each command comes from the cost model.
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
#include "simulator/range_times.h"
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
  // Zeroes the counters; the device is idle from then on (its timelines restart at cycle 0).
  void ResetCounters();
  void Synchronize() override;
  const runtime::CommandTiming& last_command() const override { return last_; }
  DeviceMemory& memory() { return memory_; }
  double CyclesToMicros(double cycles) const override { return cost_.CyclesToMicros(cycles); }
  const CostModel& cost_model() const { return cost_; }
  // The chip's roofline (CostModel::RooflineCycles) for a program's workload.
  double RooflineMicros(const runtime::Workload& w) const override;

  Status Allocate(int64_t bytes, const std::string& what, uint64_t* addr) override {
    return memory_.Allocate(bytes, what, addr);
  }
  Status Free(uint64_t addr) override;
  int64_t free_bytes() const override { return memory_.capacity() - memory_.in_use(); }
  int64_t bytes_in_use() const override { return memory_.in_use(); }
  Status AllocateSram(int64_t bytes, const std::string& what, uint64_t* addr) override;
  // SRAM allocated on each core (every SRAM allocation is interleaved over all of them).
  int64_t sram_bytes_per_core_in_use() const { return sram_per_core_in_use_; }

  // DMA: host row-major -> device (converting dtype and layout), and back.
  Status CopyToDevice(const HostTensorRef& src, const DeviceTensor& dst) override;
  Status CopyToHost(const DeviceTensor& src, void* dst, ops::DType dst_dtype) override;
  // Raw bytes already in device format (a program's constants), one DMA.
  Status WriteRaw(uint64_t addr, const void* data, int64_t bytes) override;

  // Runs one op-library kernel on the matrix or vector unit.
  Status Launch(const ops::OpDef& op, const std::vector<DeviceTensor>& inputs, const ops::Attrs& attrs,
                const DeviceTensor& output) override;

 private:
  // SRAM addresses start far above any DRAM address (DRAM capacity is at most 2^50 bytes).
  static constexpr uint64_t kSramBase = uint64_t{1} << 60;
  static bool InSram(uint64_t addr) { return addr >= kSramBase; }
  DeviceMemory& MemoryAt(uint64_t addr) { return InSram(addr) ? sram_ : memory_; }
  Status ReadAsFloat(const DeviceTensor& t, std::vector<float>* row_major);
  Status WriteFromFloat(const std::vector<float>& row_major, const DeviceTensor& t);
  // `t`'s device bytes as the floats a kernel reads (f32, row-major, aligned), or null when they are
  // stored otherwise (or out of range: ReadAsFloat then reports it).
  const float* KernelFormat(const DeviceTensor& t);
  // A byte range in device memory or in host memory (a transfer's host side).
  struct Range {
    uint64_t addr = 0;
    int64_t bytes = 0;
  };
  static Range HostRange(const void* p, int64_t bytes) { return {reinterpret_cast<uintptr_t>(p), bytes}; }
  // Places a command on `engine`'s timeline after its inputs are written and its output's earlier
  // readers and writers are done; `dram_cycles` of it also hold the DRAM (one op's traffic at a
  // time, at full bandwidth). Sets last_ and advances counters_.cycles.
  void Schedule(runtime::Engine engine, const std::vector<Range>& device_reads, Range host_read, Range device_write,
                Range host_write, double launch_cycles, double busy_cycles, double dram_cycles, int64_t cores_used,
                int64_t bytes);
  void ChargeTransfer(Range host_read, Range device_write, Range device_read, Range host_write, int64_t bytes);

  target::ChipConfig config_;
  DeviceMemory memory_;
  DeviceMemory sram_;
  std::map<uint64_t, int64_t> sram_per_core_;  // by SRAM allocation: its bytes on each core
  int64_t sram_per_core_in_use_ = 0;
  CostModel cost_;
  Counters counters_;
  // The timing model: when each engine and the DRAM are next free, the earliest any command may start
  // (the last Synchronize), and when each byte was last written and read.
  double engine_free_[runtime::kNumEngines] = {};
  double dram_free_ = 0;
  double fence_ = 0;
  RangeTimes device_bytes_;
  RangeTimes host_bytes_;
  runtime::CommandTiming last_;
};

}  // namespace kiln::sim

#endif  // KILN_SIMULATOR_DEVICE_H_

// The device the executor drives: memory, DMA to and from the host, kernel launches and counters.
// The simulator (simulator/device.h) is one implementation; a real back end would be another, and the
// runtime core (loader, verifier, executor) knows only this interface.
#ifndef KILN_RUNTIME_DEVICE_H_
#define KILN_RUNTIME_DEVICE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "ops/attrs.h"
#include "ops/dtype.h"
#include "ops/op_def.h"
#include "ops/tile_layout.h"

namespace kiln::runtime {

// A tensor in device memory.
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

// The device's engines, each with its own timeline: commands on different engines overlap when
// their data allows it.
enum class Engine : uint8_t { kHostLink = 0, kDramDma = 1, kMatrix = 2, kVector = 3 };
inline constexpr int kNumEngines = 4;
const char* EngineName(Engine engine);

// When one command ran, in device cycles since the device was created.
struct CommandTiming {
  Engine engine = Engine::kHostLink;
  double start_cycles = 0;
  double end_cycles = 0;
  int64_t cores_used = 0;  // ops: cores that got tiles of its work (ops::SplitOf); transfers: 0
  int64_t bytes = 0;       // bytes moved: over the host link, or the op's DRAM reads and writes (not SRAM's)
};

struct DeviceCounters {
  double cycles = 0;           // when the last command issued so far finishes
  double compute_cycles = 0;   // busy time of ops (including their DRAM-bound time), summed over engines
  double transfer_cycles = 0;  // busy time of the host link
  int64_t ops_executed = 0;
  int64_t transfers = 0;
  int64_t host_to_device_bytes = 0;
  int64_t device_to_host_bytes = 0;
  int64_t dram_read_bytes = 0;
  int64_t dram_write_bytes = 0;
  // Bytes ops and transfers read from and wrote to tensors resident in on-chip SRAM (no DRAM traffic).
  int64_t sram_read_bytes = 0;
  int64_t sram_write_bytes = 0;
  double flops = 0;                         // matrix-unit work (tile-padded)
  std::map<std::string, double> op_cycles;  // by op name
  // By op name: cycles weighted by the share of the chip's cores the op used; with op_cycles, its
  // utilisation (op_core_cycles / op_cycles, 1.0 when every launch kept every core busy).
  std::map<std::string, double> op_core_cycles;

  // What happened between `before` and this snapshot.
  DeviceCounters Since(const DeviceCounters& before) const;
};

// What a program must do, whatever the schedule: the inputs of the device's roofline.
struct Workload {
  double matrix_flops = 0;   // useful FLOPs of matrix ops (no tile padding)
  int64_t weight_bytes = 0;  // constants as stored, without padding: the share of each its ops read (a gather: its rows)
  int64_t io_bytes = 0;      // program inputs and outputs (host side)
  int64_t io_tensors = 0;    // one host-link transfer each
};

class Device {
 public:
  virtual ~Device() = default;

  // Device memory: allocations are zero-filled and addressed by a nonzero base address.
  virtual Status Allocate(int64_t bytes, const std::string& what, uint64_t* addr) = 0;
  virtual Status Free(uint64_t addr) = 0;
  virtual int64_t free_bytes() const = 0;
  virtual int64_t bytes_in_use() const = 0;
  // On-chip SRAM (a DEVICE_SRAM region): `bytes` interleaved over all the cores, zero-filled, at an
  // address no DRAM allocation has; Free() releases it. Fails (OutOfMemory), naming `what`, its bytes
  // per core and the cores' capacity, when it does not fit beside the SRAM already allocated. Tensors
  // in it are operands like any other, but reading and writing them costs no DRAM traffic.
  virtual Status AllocateSram(int64_t bytes, const std::string& what, uint64_t* addr) = 0;

  // DMA: host row-major -> device (converting dtype and layout), and back.
  virtual Status CopyToDevice(const HostTensorRef& src, const DeviceTensor& dst) = 0;
  virtual Status CopyToHost(const DeviceTensor& src, void* dst, ops::DType dst_dtype) = 0;
  // Raw bytes already in device format (a program's constants), one DMA.
  virtual Status WriteRaw(uint64_t addr, const void* data, int64_t bytes) = 0;

  // Runs one op-library kernel.
  virtual Status Launch(const ops::OpDef& op, const std::vector<DeviceTensor>& inputs, const ops::Attrs& attrs,
                        const DeviceTensor& output) = 0;

  // The host waits for every command issued so far: later commands start no earlier than the last
  // one ends (a synchronous run starts here).
  virtual void Synchronize() = 0;
  // The timing of the most recent command (copy, write or launch).
  virtual const CommandTiming& last_command() const = 0;

  // Time and traffic so far, and the device's lower bound for a workload.
  virtual const DeviceCounters& counters() const = 0;
  virtual double CyclesToMicros(double cycles) const = 0;
  virtual double RooflineMicros(const Workload& workload) const = 0;
};

}  // namespace kiln::runtime

#endif  // KILN_RUNTIME_DEVICE_H_

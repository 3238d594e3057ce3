// Runs a verified Program on a Device: allocates the program's device regions, copies the constants
// and the initial state in once, then executes the instruction list per call to Run(). State (tensors
// in DEVICE_STATE regions) keeps what a run wrote for the next run, until ResetState().
//
// Lifetimes: the Program and the Device must outlive the Executor. It keeps pointers to both, reads
// the program's instructions on every Run, and frees its allocations through the device when
// destroyed (so declare the device first and the executor after it). Several executors may share one
// Program; one Executor is not safe to Run from two threads at once.
#ifndef KILN_RUNTIME_EXECUTOR_H_
#define KILN_RUNTIME_EXECUTOR_H_

#include <memory>
#include <vector>

#include "base/status.h"
#include "runtime/device.h"
#include "runtime/program.h"

namespace kiln::runtime {

// A row-major host tensor owned by the caller (inputs) or by the result (outputs).
struct HostTensor {
  ops::Shape shape;
  ops::DType dtype = ops::DType::kF32;
  std::vector<uint8_t> bytes;

  const float* f32() const { return reinterpret_cast<const float*>(bytes.data()); }
  static HostTensor FromFloats(ops::Shape shape, const std::vector<float>& values);
};

// A caller's row-major input read in place (no copy): it must stay alive and unchanged during Run.
struct HostTensorView {
  ops::Shape shape;
  ops::DType dtype = ops::DType::kF32;
  const void* data = nullptr;
  size_t size_bytes = 0;

  static HostTensorView Of(const HostTensor& t) { return {t.shape, t.dtype, t.bytes.data(), t.bytes.size()}; }
};

// One instruction's place on the device's engine timelines, in microseconds from the start of the run.
struct InstructionTiming {
  Engine engine = Engine::kHostLink;
  double start_us = 0;
  double end_us = 0;
  int64_t cores_used = 0;  // ops: cores with output tiles
  int64_t bytes = 0;       // host-link bytes of a transfer; DRAM bytes an op reads and writes
  double us() const { return end_us - start_us; }
};

struct RunStats {
  double latency_us = 0;   // device time of this run: when its last instruction ends
  double roofline_us = 0;  // the device's lower bound for this program (Device::RooflineMicros)
  DeviceCounters counters;  // this run only
  std::vector<InstructionTiming> instructions;  // in program order
  int64_t device_bytes_in_use = 0;
  // Eviction's traffic (transfers to and from HOST_SCRATCH regions), included in the counters above.
  int64_t spill_bytes = 0;   // device -> host scratch
  int64_t reload_bytes = 0;  // host scratch -> device
  double eviction_us = 0;    // host-link time of those transfers (they may overlap compute)
};

class Executor {
 public:
  // Fails with "device memory too small ..." (OutOfMemory) when the program does not fit the device's
  // DRAM, and with "SRAM too small: region ..." when its DEVICE_SRAM regions overfill the cores' SRAM
  // (Device::AllocateSram). Constants in SRAM are uploaded here and stay there across runs.
  // HOST_SCRATCH regions (where the compiler's eviction spills activations) are host memory this
  // executor owns.
  static Status Create(const Program& program, Device* device, std::unique_ptr<Executor>* out);
  // The same, beside `owner` on the same device (a prefill program beside the decode step): this
  // executor uses the owner's regions instead of allocating and uploading its own for
  //  - the state (a KV cache both programs read and write), when the program has a DEVICE_STATE
  //    region: both programs must lay their state out alike (the same tensors, by name, shape, dtype,
  //    layout and offset; the compiler does so for the same mutated buffers);
  //  - each region that shares one of the owner's constant regions (RegionInfo::shares: the program
  //    was compiled with share_from the owner's): every constant in it must be the owner's tensor at
  //    the same offset (name, dtype, shape, layout) with the same bytes, which are compared here (a
  //    read of what the upload it saves would copy), so weights sit on the device once.
  // The first difference is named. `owner` must outlive this executor.
  static Status CreateSharing(const Program& program, Device* device, const Executor& owner,
                              std::unique_ptr<Executor>* out);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Inputs in the program's input order; shapes and dtypes must match exactly.
  Status Run(const std::vector<HostTensor>& inputs, std::vector<HostTensor>* outputs, RunStats* stats);
  // The same on views of the caller's buffers (e.g. a framework's tensors), which are not copied.
  Status RunViews(const std::vector<HostTensorView>& inputs, std::vector<HostTensor>* outputs, RunStats* stats);

  // Puts every state tensor (DEVICE_STATE regions, e.g. a KV cache) back to its initial value, as
  // when the executor was created; runs between resets see the state the previous run left.
  Status ResetState();

  const RunStats& load_stats() const { return load_stats_; }

 private:
  Executor(const Program& program, Device* device) : program_(&program), device_(device) {}
  // owner_region[r]: the owner's region that stands in for region r, or -1 (allocated here).
  static Status CreateImpl(const Program& program, Device* device, const Executor* owner,
                           const std::vector<int>& owner_region, std::unique_ptr<Executor>* out);
  DeviceTensor DeviceView(uint32_t tensor) const;
  uint8_t* ScratchBytes(uint32_t tensor);

  const Program* program_;
  Device* device_;
  std::vector<uint64_t> region_addr_;  // per region; 0 when not allocated
  std::vector<bool> owns_region_;      // false for a region shared with another executor
  std::vector<std::vector<uint8_t>> scratch_;  // per region: host memory of HOST_SCRATCH regions
  RunStats load_stats_;
};

}  // namespace kiln::runtime

#endif  // KILN_RUNTIME_EXECUTOR_H_

// Runs a verified Program on a simulated Device: allocates the arena and the constant region,
// uploads the constants once, then executes the instruction list per call to Run().
#ifndef KILN_RUNTIME_EXECUTOR_H_
#define KILN_RUNTIME_EXECUTOR_H_

#include <memory>
#include <vector>

#include "runtime/program.h"
#include "simulator/device.h"
#include "base/status.h"

namespace kiln::runtime {

// A row-major host tensor owned by the caller (inputs) or by the result (outputs).
struct HostTensor {
  ops::Shape shape;
  ops::DType dtype = ops::DType::kF32;
  std::vector<uint8_t> bytes;

  const float* f32() const { return reinterpret_cast<const float*>(bytes.data()); }
  static HostTensor FromFloats(ops::Shape shape, const std::vector<float>& values);
};

struct RunStats {
  double latency_us = 0;   // simulated time of this run
  double roofline_us = 0;  // the chip's lower bound for this program (see CostModel::RooflineCycles)
  sim::Counters counters;  // this run only
  std::vector<double> instruction_us;  // simulated time of each instruction, in program order
  int64_t device_bytes_in_use = 0;
};

class Executor {
 public:
  // Fails with "device memory too small ..." when the program does not fit the device.
  static Status Create(const Program& program, sim::Device* device, std::unique_ptr<Executor>* out);
  ~Executor();

  // Inputs in the program's input order; shapes and dtypes must match exactly.
  Status Run(const std::vector<HostTensor>& inputs, std::vector<HostTensor>* outputs, RunStats* stats);

  const RunStats& load_stats() const { return load_stats_; }

 private:
  Executor(const Program& program, sim::Device* device) : program_(program), device_(device) {}
  sim::DeviceTensor DeviceView(uint32_t tensor) const;

  const Program& program_;
  sim::Device* device_;
  uint64_t arena_addr_ = 0;
  uint64_t constants_addr_ = 0;
  RunStats load_stats_;
};

}  // namespace kiln::runtime

#endif  // KILN_RUNTIME_EXECUTOR_H_

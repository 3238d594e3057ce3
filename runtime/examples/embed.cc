// The smallest embedding of the Kiln runtime (the README's example, compiled and tested so it stays
// true): load a .kiln, run it once on the simulated accelerator with every input element set to 0.5,
// print the first output values and the simulated latency. Links only //runtime and //simulator.
#include <cstdio>
#include <memory>
#include <vector>

#include "runtime/executor.h"
#include "runtime/program.h"
#include "simulator/device.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: embed MODEL.kiln\n");
    return 2;
  }
  std::unique_ptr<kiln::runtime::Program> program;
  kiln::Status s = kiln::runtime::Program::LoadFile(argv[1], &program);  // verified, or a clear error
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;

  kiln::sim::Device device(kiln::target::DefaultChipConfig());
  std::unique_ptr<kiln::runtime::Executor> exec;
  s = kiln::runtime::Executor::Create(*program, &device, &exec);  // allocates, uploads the weights
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;

  std::vector<kiln::runtime::HostTensor> inputs;
  for (const kiln::runtime::IoInfo& in : program->inputs()) {
    const kiln::ops::Shape& shape = program->tensors()[in.tensor].shape;
    inputs.push_back(kiln::runtime::HostTensor::FromFloats(shape, std::vector<float>(kiln::ops::NumElements(shape), 0.5f)));
  }
  std::vector<kiln::runtime::HostTensor> outputs;
  kiln::runtime::RunStats stats;
  s = exec->Run(inputs, &outputs, &stats);
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;

  const float* y = outputs[0].f32();
  std::printf("output 0 %s:", kiln::ops::ShapeToString(outputs[0].shape).c_str());
  for (int64_t i = 0; i < std::min<int64_t>(4, kiln::ops::NumElements(outputs[0].shape)); ++i) std::printf(" %g", y[i]);
  std::printf("\nsimulated latency: %.1f us\n", stats.latency_us);
  return 0;
}

// Google Benchmark runs over the test models:
//   bazel run -c opt //tools:model_benchmark
// Wall time measures the compiler and the simulator on this host; the counters report what the
// simulated chip would take (simulated_us per inference) and the memory plan.
#include <benchmark/benchmark.h>

#include <string>

#include "compiler/compiler.h"
#include "runtime/executor.h"
#include "runtime/program.h"
#include "simulator/device.h"
#include "tools/npy.h"

namespace kiln {
namespace {

std::string ModelPath(const std::string& file) { return "testdata/" + file; }

void BM_Compile(benchmark::State& state, const std::string& model) {
  uint64_t peak = 0;
  for (auto _ : state) {
    absl::StatusOr<compiler::CompileResult> r = compiler::CompilePt2File(ModelPath(model + ".pt2"));
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      return;
    }
    peak = r->summary.peak_device_bytes;
  }
  state.counters["peak_device_MB"] = static_cast<double>(peak) / 1e6;
}

void BM_Run(benchmark::State& state, const std::string& model) {
  absl::StatusOr<compiler::CompileResult> compiled = compiler::CompilePt2File(ModelPath(model + ".pt2"));
  std::unique_ptr<runtime::Program> program;
  runtime::HostTensor input;
  if (!compiled.ok() || !runtime::Program::Load(compiled->kiln.data(), compiled->kiln.size(), model, &program).ok() ||
      !tools::ReadNpy(ModelPath(model + ".input0.npy"), &input).ok()) {
    state.SkipWithError("cannot prepare the model");
    return;
  }
  sim::Device device(target::DefaultChipConfig());
  std::unique_ptr<runtime::Executor> exec;
  if (!runtime::Executor::Create(*program, &device, &exec).ok()) {
    state.SkipWithError("cannot load the program");
    return;
  }
  runtime::RunStats stats;
  std::vector<runtime::HostTensor> outputs;
  for (auto _ : state) {
    if (Status s = exec->Run({input}, &outputs, &stats); !s.ok()) {
      state.SkipWithError(s.message().c_str());
      return;
    }
  }
  state.counters["simulated_us"] = stats.latency_us;
  state.counters["latency_over_roofline"] = stats.latency_us / stats.roofline_us;
  state.counters["device_ops"] = static_cast<double>(stats.counters.ops_executed);
  state.counters["dram_MB"] =
      static_cast<double>(stats.counters.dram_read_bytes + stats.counters.dram_write_bytes) / 1e6;
}

BENCHMARK_CAPTURE(BM_Compile, mlp, std::string("mlp"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Compile, small_cnn, std::string("small_cnn"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Compile, resnet18, std::string("resnet18"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Run, mlp, std::string("mlp"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Run, small_cnn, std::string("small_cnn"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Run, resnet18, std::string("resnet18"))->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kiln

BENCHMARK_MAIN();

// Eviction end to end: a program compiled for a device smaller than its plan spills activations to
// host memory (or streams its weights), runs on a simulated device of that size, and gives exactly the
// results of the unconstrained program, with the traffic and its cost in the run's counters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compiler/compiler.h"
#include "compiler/pipeline/pipeline.h"
#include "runtime/executor.h"
#include "runtime/program.h"
#include "simulator/device.h"
#include "tools/metrics.h"
#include "tools/npy.h"
#include "tools/run_report.h"

namespace kiln {
namespace {

struct Ran {
  std::unique_ptr<runtime::Program> program;
  std::vector<runtime::HostTensor> outputs;
  runtime::RunStats stats;
  uint64_t planned_dram = 0;  // what the program asks of the device
};

// Loads `kiln` onto a simulated `chip` with `dram_bytes` of DRAM and runs it once.
void LoadAndRun(const std::string& kiln, int64_t dram_bytes, const std::vector<runtime::HostTensor>& inputs, Ran* r,
                target::ChipConfig chip = target::DefaultChipConfig()) {
  Status s = runtime::Program::Load(kiln.data(), kiln.size(), "test.kiln", &r->program);
  ASSERT_TRUE(s.ok()) << s.message();
  const runtime::Program* program = r->program.get();
  r->planned_dram = program->device_dram_bytes();
  chip.dram_bytes = dram_bytes;
  sim::Device device(chip);
  std::unique_ptr<runtime::Executor> exec;
  s = runtime::Executor::Create(*program, &device, &exec);
  ASSERT_TRUE(s.ok()) << s.message();
  s = exec->Run(inputs, &r->outputs, &r->stats);
  ASSERT_TRUE(s.ok()) << s.message();
}

// Eviction against DRAM alone: with SRAM residency the cores' SRAM would hold these programs'
// activations, and DRAM would never be short (end_to_end_test checks SRAM residency).
compiler::CompileOptions WithDram(int64_t bytes) {
  compiler::CompileOptions options;
  options.chip.dram_bytes = bytes;
  options.sram_residency = false;
  return options;
}

// Two values (x and w) stay alive across a chain of ops: the plan needs four [256, 256] tensors at
// once; with room for three, one of them must go to the host and come back for the final adds.
absl::StatusOr<compiler::DeviceGraph> LongLivedValues() {
  compiler::DeviceGraph g;
  const int x = g.AddInput("x", {256, 256});
  g.inputs.push_back({"x", x});
  KILN_ASSIGN_OR_RETURN(int w, g.AddNode("sigmoid", {x}, {}, "w", "w"));
  int y = x;
  for (const char* op : {"relu", "neg", "exp", "sin"}) {
    KILN_ASSIGN_OR_RETURN(y, g.AddNode(op, {y}, {}, op, op));
  }
  KILN_ASSIGN_OR_RETURN(int a, g.AddNode("add", {y, x}, {}, "add_x", "add_x"));
  KILN_ASSIGN_OR_RETURN(int b, g.AddNode("add", {a, w}, {}, "add_w", "add_w"));
  g.outputs.push_back({"out", b});
  return g;
}

TEST(Eviction, LongLivedActivationsSpillAndComeBackExactly) {
  std::vector<float> values(256 * 256);
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::sin(0.01f * static_cast<float>(i));
  const std::vector<runtime::HostTensor> inputs = {runtime::HostTensor::FromFloats({256, 256}, values)};
  constexpr int64_t kTensor = 256 * 256 * 4;

  absl::StatusOr<compiler::DeviceGraph> g = LongLivedValues();
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<compiler::CompileState> roomy =
      compiler::RunPipeline(*g, WithDram(target::DefaultChipConfig().dram_bytes));
  ASSERT_TRUE(roomy.ok()) << roomy.status().message();
  EXPECT_EQ(roomy->Summary().eviction, "");
  Ran reference;
  ASSERT_NO_FATAL_FAILURE(LoadAndRun(roomy->kiln, target::DefaultChipConfig().dram_bytes, inputs, &reference));
  EXPECT_EQ(reference.planned_dram, static_cast<uint64_t>(4 * kTensor));

  g = LongLivedValues();
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<compiler::CompileState> tight = compiler::RunPipeline(*g, WithDram(3 * kTensor));
  ASSERT_TRUE(tight.ok()) << tight.status();
  EXPECT_NE(tight->eviction.spills, 0);
  EXPECT_EQ(tight->eviction.spill_bytes, tight->eviction.reload_bytes);  // each spilled value comes back once
  EXPECT_FALSE(tight->eviction.weights_streamed);
  EXPECT_NE(tight->Summary().eviction, "");
  Ran evicted;
  ASSERT_NO_FATAL_FAILURE(LoadAndRun(tight->kiln, 3 * kTensor, inputs, &evicted));
  EXPECT_LE(evicted.planned_dram, static_cast<uint64_t>(3 * kTensor));
  // The same kernels on the same values: bit for bit what the roomy program computes.
  ASSERT_EQ(evicted.outputs.size(), 1u);
  EXPECT_EQ(evicted.outputs[0].bytes, reference.outputs[0].bytes);
  // The cost shows: the traffic in the counters, and in the latency.
  EXPECT_EQ(evicted.stats.spill_bytes, static_cast<int64_t>(tight->eviction.spill_bytes));
  EXPECT_EQ(evicted.stats.reload_bytes, static_cast<int64_t>(tight->eviction.reload_bytes));
  EXPECT_GT(evicted.stats.eviction_us, 0.0);
  EXPECT_GT(evicted.stats.latency_us, reference.stats.latency_us);
  // Spills and reloads run on the host link beside compute where the data allows: the run costs no
  // more than its eviction traffic end to end.
  EXPECT_LE(evicted.stats.latency_us, reference.stats.latency_us + evicted.stats.eviction_us + 1e-9);
}

// x @ w0 @ w1 @ w2 @ w3, all [256, 256]: on a device with room for four such tensors eviction streams
// three weights; on a chip whose matrix engine is slow enough to hide uploads behind, the prefetch pass
// streams the fourth too, for room to upload each weight while the matmul before its reader runs.
absl::StatusOr<compiler::DeviceGraph> MatmulChain() {
  compiler::DeviceGraph g;
  const int x = g.AddInput("x", {256, 256});
  g.inputs.push_back({"x", x});
  int y = x;
  for (int i = 0; i < 4; ++i) {
    std::vector<float> w(256 * 256);
    for (size_t k = 0; k < w.size(); ++k) w[k] = std::cos(0.37f * static_cast<float>(k + i)) / 16;
    const int c = g.AddConstant("w" + std::to_string(i), {256, 256}, std::move(w));
    KILN_ASSIGN_OR_RETURN(y, g.AddNode("matmul", {y, c}, {}, "mm" + std::to_string(i), "mm" + std::to_string(i)));
  }
  g.outputs.push_back({"out", y});
  return g;
}

TEST(Eviction, WeightsPrefetchedWhileMatmulsRunGiveTheSameResultsSooner) {
  std::vector<float> values(256 * 256);
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::sin(0.01f * static_cast<float>(i));
  const std::vector<runtime::HostTensor> inputs = {runtime::HostTensor::FromFloats({256, 256}, values)};
  constexpr int64_t kTensor = 256 * 256 * 4;
  target::ChipConfig slow = target::DefaultChipConfig();
  slow.matrix_best_bf16_tflop_per_s /= 1000;
  slow.matrix_flop_per_cycle_per_core /= 1000;

  absl::StatusOr<compiler::DeviceGraph> g = MatmulChain();
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<compiler::CompileState> roomy = compiler::RunPipeline(*g, {});
  ASSERT_TRUE(roomy.ok()) << roomy.status();
  Ran reference;
  ASSERT_NO_FATAL_FAILURE(LoadAndRun(roomy->kiln, target::DefaultChipConfig().dram_bytes, inputs, &reference, slow));

  compiler::CompileOptions options = WithDram(4 * kTensor);
  options.chip = slow;
  options.chip.dram_bytes = 4 * kTensor;
  absl::StatusOr<compiler::CompileState> tight = compiler::RunPipeline(*g, options);
  ASSERT_TRUE(tight.ok()) << tight.status();
  EXPECT_EQ(tight->eviction.reloads, 4);
  EXPECT_EQ(tight->eviction.prefetched, 3);
  Ran streamed;
  ASSERT_NO_FATAL_FAILURE(LoadAndRun(tight->kiln, 4 * kTensor, inputs, &streamed, slow));
  ASSERT_EQ(streamed.outputs.size(), 1u);
  EXPECT_EQ(streamed.outputs[0].bytes, reference.outputs[0].bytes);
  // Three of the four uploads run while a matmul does: the run is shorter than its busy times summed
  // by nearly those three uploads.
  const runtime::DeviceCounters& c = streamed.stats.counters;
  const double busy_us = (c.compute_cycles + c.transfer_cycles) / (slow.clock_ghz * 1e3);
  const double upload_us = slow.host_link_latency_us + kTensor / (slow.host_link_gb_per_s * 1e3);
  EXPECT_LT(streamed.stats.latency_us, busy_us - 2.5 * upload_us);
}

TEST(Eviction, AnOpWhoseOwnTensorsCannotFitIsNamed) {
  absl::StatusOr<compiler::DeviceGraph> g = LongLivedValues();
  ASSERT_TRUE(g.ok()) << g.status();
  constexpr int64_t kTensor = 256 * 256 * 4;
  absl::StatusOr<compiler::CompileState> s = compiler::RunPipeline(*g, WithDram(2 * kTensor + 4096));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "device memory too small: op add (node 'add_x') needs 786432 bytes of device memory for its operands and "
            "result at once, but only 528384 bytes of device DRAM are left for it (528384 minus the weights kept on "
            "the device); eviction cannot help an op whose own tensors do not fit");
}

// ResNet-18 on a device with half the DRAM its plan needs: the weights alone are more than that, so
// the largest are streamed from host memory, each uploaded before its use; the rest stay resident.
TEST(Eviction, ResNet18AtHalfItsPlannedPeakMatchesPyTorch) {
  runtime::HostTensor input, ref;
  ASSERT_TRUE(tools::ReadNpy("testdata/resnet18.input0.npy", &input).ok());
  ASSERT_TRUE(tools::ReadNpy("testdata/resnet18.ref0.npy", &ref).ok());
  absl::StatusOr<compiler::CompileResult> full =
      compiler::CompilePt2File("testdata/resnet18.pt2", WithDram(target::DefaultChipConfig().dram_bytes));
  ASSERT_TRUE(full.ok()) << full.status();
  Ran reference;
  ASSERT_NO_FATAL_FAILURE(LoadAndRun(full->kiln, target::DefaultChipConfig().dram_bytes, {input}, &reference));

  const int64_t half = static_cast<int64_t>(full->summary.peak_device_bytes / 2);
  absl::StatusOr<compiler::CompileResult> small = compiler::CompilePt2File("testdata/resnet18.pt2", WithDram(half));
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_LE(small->summary.peak_device_bytes, static_cast<uint64_t>(half));
  Ran evicted;
  ASSERT_NO_FATAL_FAILURE(LoadAndRun(small->kiln, half, {input}, &evicted));
  ASSERT_EQ(evicted.outputs.size(), 1u);
  EXPECT_EQ(evicted.outputs[0].bytes, reference.outputs[0].bytes);
  const size_t n = ops::NumElements(ref.shape);
  EXPECT_GE(tools::Pcc(evicted.outputs[0].f32(), ref.f32(), n), 0.999);
  // The weights that do not fit cross the host link once per run, and that time is in the latency.
  EXPECT_NE(small->summary.eviction.find("weights streamed from host memory"), std::string::npos);
  EXPECT_GT(evicted.stats.reload_bytes, static_cast<int64_t>(full->summary.constant_bytes - half));
  EXPECT_LT(evicted.stats.reload_bytes, static_cast<int64_t>(full->summary.constant_bytes));
  EXPECT_GT(evicted.stats.eviction_us, 0.0);
  EXPECT_GT(evicted.stats.latency_us, reference.stats.latency_us);
  // The first streamed weight is prefetched into bytes free from the start (the rest have no room
  // beside the one being read): its upload hides behind the ~170 us of layers 1-3, so the run is
  // well under the uploads one after another with the compute.
  EXPECT_LT(evicted.stats.latency_us, reference.stats.latency_us + evicted.stats.eviction_us - 100.0);
  std::printf("resnet18 at %lld bytes of DRAM: %s; latency %.1f us (%.1f us without eviction)\n",
              static_cast<long long>(half), small->summary.eviction.c_str(), evicted.stats.latency_us,
              reference.stats.latency_us);

  // Its trace, as `run --trace` writes it, opens in Perfetto and shows the host link busy beside compute.
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp ? tmp : "/tmp") + "/resnet18_half.trace.json";
  Status written = tools::WriteTraceJson(path, *evicted.program, evicted.stats);
  ASSERT_TRUE(written.ok()) << written.message();
  std::ifstream in(path);
  const nlohmann::json trace = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(trace.is_discarded()) << path << " is not JSON";
  ASSERT_TRUE(trace.contains("traceEvents") && trace["traceEvents"].is_array());
  std::map<int, std::string> tracks;  // tid -> name
  for (const nlohmann::json& e : trace["traceEvents"])
    if (e.value("ph", "") == "M" && e.value("name", "") == "thread_name") {
      EXPECT_EQ(tracks.count(e["tid"].get<int>()), 0u) << "two names for track " << e["tid"];
      tracks[e["tid"].get<int>()] = e["args"]["name"].get<std::string>();
    }
  std::set<std::string> names;
  for (const auto& [tid, name] : tracks) names.insert(name);
  EXPECT_EQ(names, (std::set<std::string>{"host link", "DRAM DMA", "matrix", "vector"}));
  std::vector<std::pair<double, double>> link, compute;
  size_t slices = 0;
  for (const nlohmann::json& e : trace["traceEvents"]) {
    if (e.value("ph", "") != "X") continue;
    ++slices;
    ASSERT_TRUE(e.contains("tid") && tracks.count(e["tid"].get<int>())) << e.dump();
    ASSERT_TRUE(e["ts"].is_number() && e["dur"].is_number() && e["dur"].get<double>() >= 0) << e.dump();
    const nlohmann::json& args = e["args"];
    ASSERT_TRUE(args.contains("op") && args.contains("node") && args["bytes"].is_number_integer()) << e.dump();
    const double ts = e["ts"].get<double>(), end = ts + e["dur"].get<double>();
    (tracks[e["tid"].get<int>()] == "host link" ? link : compute).push_back({ts, end});
  }
  EXPECT_EQ(slices, evicted.program->instructions().size());
  // Host-link time during which some compute engine is busy too.
  std::sort(compute.begin(), compute.end());
  std::vector<std::pair<double, double>> busy;  // the compute slices' union
  for (const auto& [a, b] : compute)
    if (!busy.empty() && a <= busy.back().second) busy.back().second = std::max(busy.back().second, b);
    else busy.push_back({a, b});
  double overlap = 0;
  for (const auto& [a, b] : link)
    for (const auto& [c, d] : busy) overlap += std::max(0.0, std::min(b, d) - std::max(a, c));
  std::printf("host link beside compute: %.1f us\n", overlap);
  EXPECT_GT(overlap, 100.0);
}

}  // namespace
}  // namespace kiln

#include "tools/run_report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>

#include "simulator/device.h"

namespace kiln::tools {
namespace {

struct Ran {
  std::unique_ptr<runtime::Program> program;
  runtime::RunStats stats;
};

Ran RunOnce(const std::string& path) {
  Ran r;
  EXPECT_TRUE(runtime::Program::LoadFile(path, &r.program).ok());
  sim::Device device(target::DefaultChipConfig());
  std::unique_ptr<runtime::Executor> exec;
  EXPECT_TRUE(runtime::Executor::Create(*r.program, &device, &exec).ok());
  std::vector<runtime::HostTensor> inputs;
  for (const auto& in : r.program->inputs()) {
    const auto& t = r.program->tensors()[in.tensor];
    inputs.push_back(runtime::HostTensor::FromFloats(t.shape, std::vector<float>(ops::NumElements(t.shape), 0.5f)));
  }
  std::vector<runtime::HostTensor> outputs;
  EXPECT_TRUE(exec->Run(inputs, &outputs, &r.stats).ok());
  return r;
}

// The live bytes the report draws come from the program's own instructions; at no point can they
// exceed the activation region the memory planner sized, and the peak must fill a real share of it.
TEST(RunReport, LiveBytesStayWithinTheActivationRegion) {
  for (const char* path : {"testdata/mlp.kiln", "testdata/small_cnn.kiln"}) {
    SCOPED_TRACE(path);
    Ran r = RunOnce(path);
    const std::vector<int64_t> live = LiveActivationBytes(*r.program);
    ASSERT_EQ(live.size(), r.program->instructions().size());
    // The regions that hold no constant are the activation arena(s).
    std::vector<bool> holds_constants(r.program->regions().size(), false);
    for (const auto& t : r.program->tensors())
      if (t.constant) holds_constants[t.region] = true;
    uint64_t activation_region = 0;
    for (size_t i = 0; i < r.program->regions().size(); ++i)
      if (!holds_constants[i]) activation_region += r.program->regions()[i].size_bytes;
    const int64_t peak = *std::max_element(live.begin(), live.end());
    EXPECT_GT(peak, 0);
    EXPECT_LE(static_cast<uint64_t>(peak), activation_region);
    for (int64_t b : live) EXPECT_GE(b, 0);
    // The last instruction copies the output to the host: its device source is live then.
    const auto& last = r.program->instructions().back();
    ASSERT_EQ(last.kind, runtime::Instruction::Kind::kDeviceToHost);
    EXPECT_GE(live.back(), static_cast<int64_t>(r.program->tensors()[last.inputs[0]].size_bytes));
  }
}

TEST(RunReport, JsonHasOneRecordPerInstructionAndAddsUp) {
  Ran r = RunOnce("testdata/small_cnn.kiln");
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/run.json";
  const sim::Device device(target::DefaultChipConfig());
  ASSERT_TRUE(WriteRunJson(path, *r.program, r.stats, device, RunFacts{"test chip", 1.5, 64, 4096, 10.0}).ok());
  std::ifstream f(path);
  const nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j["chip"], "test chip");
  // The counters are the runtime's list (kiln_ext exports the same names).
  const std::vector<runtime::NamedCounter> named = runtime::CountersByName(r.stats, device);
  EXPECT_EQ(j["counters"].size(), named.size());
  for (const runtime::NamedCounter& n : named) EXPECT_DOUBLE_EQ(j["counters"][n.name].get<double>(), n.value) << n.name;
  EXPECT_EQ(j["counters"]["ops_executed"].get<int64_t>(), r.stats.counters.ops_executed);
  EXPECT_DOUBLE_EQ(j["latency_us"].get<double>(), r.stats.latency_us);
  EXPECT_EQ(j["peak_device_bytes"], 4096);
  // Utilisation per op kind: a share of the cores, below 1 for the small final layers.
  ASSERT_TRUE(j["utilisation_by_op"].contains("conv2d"));
  for (const auto& [name, u] : j["utilisation_by_op"].items()) {
    EXPECT_GT(u.get<double>(), 0.0) << name;
    EXPECT_LE(u.get<double>(), 1.0) << name;
  }
  const auto& insts = j["instructions"];
  ASSERT_EQ(insts.size(), r.program->instructions().size());
  double last_end = 0;
  for (size_t i = 0; i < insts.size(); ++i) {
    EXPECT_DOUBLE_EQ(insts[i]["start_us"].get<double>(), r.stats.instructions[i].start_us);
    EXPECT_DOUBLE_EQ(insts[i]["us"].get<double>(), r.stats.instructions[i].us());
    last_end = std::max(last_end, insts[i]["start_us"].get<double>() + insts[i]["us"].get<double>());
  }
  // The run ends when its last instruction does.
  EXPECT_NEAR(last_end, r.stats.latency_us, 1e-9 * r.stats.latency_us);
  EXPECT_EQ(insts[0]["op"], "host->device");
  EXPECT_EQ(insts[insts.size() - 1]["op"], "device->host");
  bool saw_conv = false;
  for (const auto& inst : insts) saw_conv |= inst["op"] == "conv2d" && inst["unit"] == "matrix" && inst["engine"] == "matrix";
  EXPECT_TRUE(saw_conv);
}

// The trace is valid Chrome trace JSON: named tracks for the four engines, and one complete event per
// instruction on its engine's track, at its simulated time, with its op, node and bytes.
TEST(RunReport, TraceHasATrackPerEngineAndAnEventPerInstruction) {
  Ran r = RunOnce("testdata/small_cnn.kiln");
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/trace.json";
  ASSERT_TRUE(WriteTraceJson(path, *r.program, r.stats).ok());
  std::ifstream f(path);
  const nlohmann::json j = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded());
  ASSERT_TRUE(j["traceEvents"].is_array());
  std::map<int, std::string> tracks;
  std::vector<nlohmann::json> slices;
  for (const auto& e : j["traceEvents"]) {
    ASSERT_TRUE(e.contains("ph") && e.contains("pid") && e.contains("name")) << e.dump();
    if (e["ph"] == "M" && e["name"] == "thread_name") tracks[e["tid"].get<int>()] = e["args"]["name"];
    if (e["ph"] == "X") slices.push_back(e);
  }
  EXPECT_EQ(tracks, (std::map<int, std::string>{{1, "host link"}, {2, "DRAM DMA"}, {3, "matrix"}, {4, "vector"}}));
  ASSERT_EQ(slices.size(), r.program->instructions().size());
  std::map<int, double> busy_until;  // slices on one track never overlap: an engine runs one command at a time
  for (size_t i = 0; i < slices.size(); ++i) {
    const auto& e = slices[i];
    const auto& t = r.stats.instructions[i];
    EXPECT_EQ(e["args"]["instruction"], i);
    EXPECT_EQ(e["tid"], static_cast<int>(t.engine) + 1);
    EXPECT_EQ(e["cat"], runtime::EngineName(t.engine));
    EXPECT_DOUBLE_EQ(e["ts"].get<double>(), t.start_us);
    EXPECT_DOUBLE_EQ(e["dur"].get<double>(), t.us());
    EXPECT_EQ(e["args"]["bytes"], t.bytes);
    EXPECT_EQ(e["args"]["node"], r.program->instructions()[i].source);
    EXPECT_EQ(e["name"], e["args"]["op"]);
  }
  std::vector<size_t> order(slices.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return slices[a]["ts"].get<double>() < slices[b]["ts"].get<double>(); });
  for (size_t i : order) {
    const int tid = slices[i]["tid"];
    EXPECT_GE(slices[i]["ts"].get<double>(), busy_until[tid] - 1e-9) << i;
    busy_until[tid] = slices[i]["ts"].get<double>() + slices[i]["dur"].get<double>();
  }
  EXPECT_GT(busy_until[1], 0.0);  // transfers
  EXPECT_GT(busy_until[3], 0.0);  // convolutions
  EXPECT_GT(busy_until[4], 0.0);  // elementwise ops
  EXPECT_EQ(slices.front()["args"]["op"], "host->device");
  EXPECT_EQ(slices.front()["args"]["bytes"], 4 * ops::NumElements(r.program->tensors()[r.program->inputs()[0].tensor].shape));
}

// Every testdata program runs no faster than its roofline (the bound any schedule obeys).
TEST(RunReport, NoProgramBeatsItsRoofline) {
  for (const char* path : {"testdata/mlp.kiln", "testdata/small_cnn.kiln"}) {
    Ran r = RunOnce(path);
    EXPECT_GT(r.stats.roofline_us, 0.0) << path;
    EXPECT_GE(r.stats.latency_us, r.stats.roofline_us) << path;
  }
}

TEST(RunReport, UnwritablePathIsAClearError) {
  Ran r = RunOnce("testdata/mlp.kiln");
  const Status s =
      WriteRunJson("/nonexistent-dir/run.json", *r.program, r.stats, sim::Device(target::DefaultChipConfig()), RunFacts{});
  EXPECT_EQ(s.message(), "cannot write '/nonexistent-dir/run.json'");
}

}  // namespace
}  // namespace kiln::tools

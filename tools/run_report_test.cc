#include "tools/run_report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
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
  ASSERT_TRUE(WriteRunJson(path, *r.program, r.stats, RunFacts{"test chip", 1.5, 64, 4096, 10.0}).ok());
  std::ifstream f(path);
  const nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j["chip"], "test chip");
  EXPECT_DOUBLE_EQ(j["latency_us"].get<double>(), r.stats.latency_us);
  EXPECT_EQ(j["peak_device_bytes"], 4096);
  const auto& insts = j["instructions"];
  ASSERT_EQ(insts.size(), r.program->instructions().size());
  double sum = 0;
  for (const auto& inst : insts) {
    EXPECT_DOUBLE_EQ(inst["start_us"].get<double>(), sum);
    sum += inst["us"].get<double>();
  }
  EXPECT_NEAR(sum, r.stats.latency_us, 1e-6 * r.stats.latency_us);
  EXPECT_EQ(insts[0]["op"], "host->device");
  EXPECT_EQ(insts[insts.size() - 1]["op"], "device->host");
  bool saw_conv = false;
  for (const auto& inst : insts) saw_conv |= inst["op"] == "conv2d" && inst["unit"] == "matrix";
  EXPECT_TRUE(saw_conv);
}

TEST(RunReport, UnwritablePathIsAClearError) {
  Ran r = RunOnce("testdata/mlp.kiln");
  const Status s = WriteRunJson("/nonexistent-dir/run.json", *r.program, r.stats, RunFacts{});
  EXPECT_EQ(s.message(), "cannot write '/nonexistent-dir/run.json'");
}

}  // namespace
}  // namespace kiln::tools

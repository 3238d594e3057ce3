// A program with more than 2 GiB of constants (beyond FlatBuffers' 32-bit offsets, as Bloom-560m in
// float32 is): the writer streams it to a file, the runtime memory-maps the file and runs it, reading
// a weight that lies past the 2 GiB mark of the constants segment.
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/codegen/kiln_writer.h"
#include "compiler/lowering/device_graph.h"
#include "compiler/pipeline/pipeline.h"
#include "runtime/executor.h"
#include "runtime/program.h"
#include "simulator/device.h"
#include "target/chip_config.h"

namespace kiln::runtime {
namespace {

using compiler::ProgramTensor;
using compiler::ScheduledProgram;

constexpr int64_t kFillerElements = int64_t{1} << 24;  // 64 MiB of f32 each
constexpr int kFillers = 33;                           // 2112 MiB in all

// y = x + w with x, w: [1, 8]; then 33 unused 64 MiB constants are placed before w, so w's bytes sit
// past 2 GiB in the constants region and segment.
ScheduledProgram BigProgram(const std::vector<float>& w) {
  compiler::DeviceGraph g;
  const int x = g.AddInput("x", {1, 8});
  const int wi = g.AddConstant("w", {1, 8}, w);
  absl::StatusOr<int> y = g.AddNode("add", {x, wi}, {}, "add", "add");
  EXPECT_TRUE(y.ok()) << y.status();
  g.inputs = {{"x", x}};
  g.outputs = {{"y", *y}};
  compiler::CompileOptions options;
  options.chip.dram_bytes = int64_t{1} << 40;
  options.sram_residency = false;  // the weights go to the DRAM constants region this test fills
  absl::StatusOr<compiler::CompileState> state = compiler::RunPipeline(std::move(g), options, "plan-memory");
  EXPECT_TRUE(state.ok()) << state.status();
  std::optional<ScheduledProgram>& p = state->program;
  uint64_t offset = 0;
  for (int i = 0; i < kFillers; ++i) {
    ProgramTensor t;
    t.name = "filler" + std::to_string(i);
    t.shape = {kFillerElements};
    t.layout = ops::Layout::kRowMajor;
    t.region = compiler::kConstantRegion;
    t.is_constant = true;
    t.offset = offset;
    t.constant.assign(kFillerElements, static_cast<float>(i));
    offset += t.size_bytes();
    p->tensors.push_back(std::move(t));
  }
  for (ProgramTensor& t : p->tensors)
    if (t.name == "w") {
      t.offset = offset;
      offset += (t.size_bytes() + 63) / 64 * 64;
    }
  p->regions[compiler::kConstantRegion].size_bytes = offset;
  return *std::move(p);
}

TEST(LargeProgram, MoreThanTwoGiBOfConstantsLoadsMappedAndRuns) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/big.kiln";
  const std::vector<float> w = {1, 2, 3, 4, 5, 6, 7, 8};
  {
    ScheduledProgram p = BigProgram(w);
    ASSERT_GT(p.regions[compiler::kConstantRegion].size_bytes, uint64_t{1} << 31);
    absl::Status s = compiler::WriteKilnFile(p, path);
    ASSERT_TRUE(s.ok()) << s;
  }  // the compiler's copy of the weights is gone before the runtime starts
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_GT(st.st_size, int64_t{1} << 31);

  std::unique_ptr<Program> program;
  Status s = Program::LoadFile(path, &program);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(program->regions().size(), 2u);
  EXPECT_GT(program->regions()[1].size_bytes, uint64_t{1} << 31);
  int w_index = -1;
  for (size_t i = 0; i < program->tensors().size(); ++i)
    if (program->tensors()[i].name == "w") w_index = static_cast<int>(i);
  ASSERT_GE(w_index, 0);
  EXPECT_GT(program->tensors()[w_index].offset, uint64_t{1} << 31);

  sim::Device device(target::DefaultChipConfig());
  std::unique_ptr<Executor> exec;
  s = Executor::Create(*program, &device, &exec);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_GT(exec->load_stats().counters.host_to_device_bytes, int64_t{1} << 31);
  std::vector<HostTensor> outputs;
  s = exec->Run({HostTensor::FromFloats({1, 8}, {10, 20, 30, 40, 50, 60, 70, 80})}, &outputs, nullptr);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(outputs.size(), 1u);
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(outputs[0].f32()[i], 10.0f * (i + 1) + w[i]) << i;
}

}  // namespace
}  // namespace kiln::runtime

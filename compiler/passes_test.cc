// Pass tests on hand-built device graphs and scheduled programs: constant folding, dead-code
// elimination, placement + scheduling, layout selection and memory planning (with an independent,
// exhaustive check of the plan on random DAGs). Single passes are called directly; sequences run the
// default pipeline (or a prefix of it), never a copy of it. The text form of each pass's result is
// checked by passes_golden_test.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/lowering/device_graph.h"
#include "compiler/graph_test_util.h"
#include "compiler/passes/alias_reshapes.h"
#include "compiler/passes/common_subexpressions.h"
#include "compiler/passes/compose_permutes.h"
#include "compiler/passes/constant_folding.h"
#include "compiler/passes/dead_code_elimination.h"
#include "compiler/passes/fold_batch_norm.h"
#include "compiler/passes/fuse_epilogue.h"
#include "compiler/passes/fuse_gelu_tanh.h"
#include "compiler/passes/fuse_hard_activation.h"
#include "compiler/passes/fuse_input_scale.h"
#include "compiler/passes/fuse_safe_softmax.h"
#include "compiler/passes/fuse_silu.h"
#include "compiler/passes/fuse_squeeze_excite.h"
#include "compiler/passes/op_ordering.h"
#include "compiler/passes/layout_selection.h"
#include "compiler/passes/memory_planning.h"
#include "compiler/passes/placement.h"
#include "compiler/passes/prefetch.h"
#include "compiler/passes/prefetch_weights.h"
#include "compiler/passes/scheduling.h"
#include "compiler/passes/share_constants.h"
#include "compiler/passes/sram_residency.h"
#include "compiler/pipeline/pipeline.h"
#include "compiler/program/op_time.h"
#include "compiler/program/printer.h"
#include "compiler/program/scheduled_program.h"
#include "ops/epilogue.h"
#include "ops/kernels.h"
#include "ops/tile_layout.h"

namespace kiln::compiler {
namespace {

using ::testing::HasSubstr;
using Kind = ProgramInstruction::Kind;


// The default pipeline (pipeline/pipeline.h) from a device graph up to and including memory
// planning, with the verifier after every pass, everything on the device in DRAM.
ScheduledProgram Pipeline(DeviceGraph g, uint64_t dram = uint64_t{1} << 40, MemoryStats* stats = nullptr,
                          const std::string& stop_after = "plan-memory") {
  CompileOptions options;
  options.chip.dram_bytes = static_cast<int64_t>(dram);
  options.verify_each = true;
  options.sram_residency = false;  // these tests plan device DRAM; SRAM residency has its own below
  absl::StatusOr<CompileState> state = RunPipeline(std::move(g), options, stop_after);
  EXPECT_TRUE(state.ok()) << state.status();
  if (!state.ok()) return {};
  if (stats) *stats = state->memory;
  return *std::move(state->program);
}

// ---- Batch-norm folding ---------------------------------------------------------------------

std::vector<float> Seeded(size_t n, unsigned seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

ops::Attrs ConvAttrs() {
  ops::Attrs a;
  a.SetInts("stride", {1, 1});
  a.SetInts("padding", {1, 1});
  a.SetInts("dilation", {1, 1});
  a.SetInt("groups", 1);
  return a;
}

// x [1, 3, 6, 6] -> conv2d(3 -> 4, 3x3, with or without bias) -> batch_norm -> relu.
struct ConvBn {
  DeviceGraph g;
  int x, conv, bn;
};
ConvBn MakeConvBn(bool conv_bias, bool affine) {
  ConvBn m;
  m.x = m.g.AddInput("x", {1, 3, 6, 6});
  m.g.inputs.push_back({"x", m.x});
  std::vector<int> conv_in = {m.x, m.g.AddConstant("w", {4, 3, 3, 3}, Seeded(108, 1, -1, 1))};
  if (conv_bias) conv_in.push_back(m.g.AddConstant("b", {4}, Seeded(4, 2, -1, 1)));
  m.conv = Node(m.g, "conv2d", conv_in, ConvAttrs(), "conv");
  std::vector<int> bn_in = {m.conv, m.g.AddConstant("mean", {4}, Seeded(4, 3, -1, 1)),
                            m.g.AddConstant("var", {4}, Seeded(4, 4, 0.5, 2))};
  if (affine) {
    bn_in.push_back(m.g.AddConstant("gamma", {4}, Seeded(4, 5, 0.5, 1.5)));
    bn_in.push_back(m.g.AddConstant("beta", {4}, Seeded(4, 6, -1, 1)));
  }
  ops::Attrs eps;
  eps.SetFloat("eps", 1e-5);
  m.bn = Node(m.g, "batch_norm", bn_in, eps, "bn");
  m.g.outputs.push_back({"y", Node(m.g, "relu", {m.bn}, {}, "relu")});
  return m;
}

// Runs the graph's nodes with the op library's kernels on `input`; the values of every node's result.
std::vector<std::vector<float>> Evaluate(const DeviceGraph& g, const std::vector<float>& input) {
  std::vector<std::vector<float>> values(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v)
    values[v] = g.values[v].kind == DeviceValue::Kind::kConstant ? g.values[v].constant : std::vector<float>{};
  values[g.inputs[0].second] = input;
  for (const DeviceNode& n : g.nodes) {
    std::vector<ops::ConstView> views;
    for (int v : n.inputs) views.push_back({values[v].data(), g.values[v].shape});
    values[n.output].assign(ops::NumElements(g.values[n.output].shape), 0.0f);
    ops::FindKernel(*n.op)(views, n.attrs, {values[n.output].data(), g.values[n.output].shape});
  }
  return values;
}

TEST(BatchNormFolding, FoldsIntoTheConvolutionAndComputesTheSame) {
  for (bool conv_bias : {false, true}) {
    for (bool affine : {false, true}) {
      SCOPED_TRACE(std::string("conv bias ") + (conv_bias ? "yes" : "no") + ", affine " + (affine ? "yes" : "no"));
      ConvBn m = MakeConvBn(conv_bias, affine);
      const std::vector<float> x = Seeded(108, 7, -2, 2);
      const std::vector<float> want = Evaluate(m.g, x)[m.g.outputs[0].second];
      BatchNormFoldingStats stats;
      ASSERT_TRUE(FoldBatchNorm(m.g, &stats).ok());
      EXPECT_EQ(stats.folded, 1);
      ASSERT_EQ(m.g.nodes.size(), 2u);
      EXPECT_EQ(m.g.nodes[0].op->name, "conv2d");
      EXPECT_EQ(m.g.nodes[0].output, m.bn);  // the norm's readers read the convolution now
      EXPECT_EQ(m.g.nodes[0].inputs.size(), 3u);
      EXPECT_EQ(m.g.nodes[0].source, "conv+bn");
      const std::vector<float> got = Evaluate(m.g, x)[m.g.outputs[0].second];
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f * (1 + std::fabs(want[i]))) << i;
    }
  }
}

TEST(BatchNormFolding, LeavesAConvolutionOthersReadOrNonConstantStatistics) {
  ConvBn shared = MakeConvBn(true, true);
  shared.g.outputs.push_back({"conv", shared.conv});  // the unnormalised result is needed too
  BatchNormFoldingStats stats;
  ASSERT_TRUE(FoldBatchNorm(shared.g, &stats).ok());
  EXPECT_EQ(stats.folded, 0);
  EXPECT_EQ(shared.g.nodes.size(), 3u);

  DeviceGraph g;
  const int x = g.AddInput("x", {1, 3, 6, 6});
  const int mean = g.AddInput("mean", {4});  // statistics computed at run time
  g.inputs = {{"x", x}, {"mean", mean}};
  const int conv = Node(g, "conv2d", {x, g.AddConstant("w", {4, 3, 3, 3}, Seeded(108, 1, -1, 1))}, ConvAttrs());
  ops::Attrs eps;
  eps.SetFloat("eps", 1e-5);
  g.outputs.push_back({"y", Node(g, "batch_norm", {conv, mean, g.AddConstant("var", {4}, {1, 1, 1, 1})}, eps)});
  ASSERT_TRUE(FoldBatchNorm(g, &stats).ok());
  EXPECT_EQ(stats.folded, 0);
  EXPECT_EQ(g.nodes.size(), 2u);
}

// ---- Epilogue fusion -------------------------------------------------------------------------

void ExpectSameOutputs(const DeviceGraph& before, const DeviceGraph& after, const std::vector<float>& x) {
  const std::vector<std::vector<float>> want = Evaluate(before, x), got = Evaluate(after, x);
  ASSERT_EQ(before.outputs.size(), after.outputs.size());
  for (size_t o = 0; o < before.outputs.size(); ++o) {
    const std::vector<float>& w = want[before.outputs[o].second];
    const std::vector<float>& g = got[after.outputs[o].second];
    ASSERT_EQ(g.size(), w.size());
    for (size_t i = 0; i < g.size(); ++i) EXPECT_EQ(g[i], w[i]) << "output " << o << " element " << i;
  }
}

// x -> main = conv2d(x, w1) (no bias), skip = conv2d(x, w2, b2); y = relu(main + skip): a ResNet
// block's tail.
TEST(EpilogueFusion, ResidualAddAndReluMoveIntoTheConvolution) {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 3, 6, 6});
  g.inputs.push_back({"x", x});
  const int main = Node(g, "conv2d", {x, g.AddConstant("w1", {4, 3, 3, 3}, Seeded(108, 1, -1, 1))}, ConvAttrs(), "main");
  const int skip = Node(g, "conv2d",
                        {x, g.AddConstant("w2", {4, 3, 3, 3}, Seeded(108, 2, -1, 1)),
                         g.AddConstant("b2", {4}, Seeded(4, 3, -1, 1))},
                        ConvAttrs(), "skip");
  const int y = Node(g, "relu", {Node(g, "add", {main, skip}, {}, "add")}, {}, "relu");
  g.outputs.push_back({"y", y});
  const DeviceGraph before = g;
  EpilogueFusionStats stats;
  ASSERT_TRUE(FuseEpilogues(g, &stats).ok());
  EXPECT_EQ(stats.residuals, 1);
  EXPECT_EQ(stats.activations, 1);
  ASSERT_EQ(g.nodes.size(), 2u);
  const DeviceNode& fused = g.nodes[1];
  EXPECT_EQ(fused.op->name, "conv2d");
  EXPECT_EQ(fused.output, y);
  EXPECT_EQ(fused.source, "main+add+relu");
  ASSERT_EQ(fused.inputs.size(), 4u);
  EXPECT_EQ(g.values[fused.inputs[2]].name, "w1.zero_bias");  // the residual is positional: bias first
  EXPECT_EQ(fused.inputs[3], skip);
  EXPECT_EQ(fused.attrs.Int("activation", -1), 0);
  ExpectSameOutputs(before, g, Seeded(108, 7, -2, 2));
}

TEST(EpilogueFusion, MatmulTakesAClampWithItsBounds) {
  DeviceGraph g;
  const int x = g.AddInput("x", {5, 8});
  g.inputs.push_back({"x", x});
  const int mm = Node(g, "matmul",
                      {x, g.AddConstant("w", {8, 3}, Seeded(24, 1, -1, 1)), g.AddConstant("b", {3}, Seeded(3, 2, -1, 1))},
                      {}, "mm");
  ops::Attrs relu6;
  relu6.SetFloat("min", 0.0).SetFloat("max", 0.5);
  g.outputs.push_back({"y", Node(g, "clamp", {mm}, relu6, "relu6")});
  const DeviceGraph before = g;
  EpilogueFusionStats stats;
  ASSERT_TRUE(FuseEpilogues(g, &stats).ok());
  EXPECT_EQ(stats.activations, 1);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(ops::EpilogueActivationName(g.nodes[0].attrs), "clamp");
  EXPECT_EQ(g.nodes[0].attrs.Float("max"), 0.5);
  ExpectSameOutputs(before, g, Seeded(40, 3, -2, 2));
}

TEST(EpilogueFusion, LeavesResultsOthersSeeAndAddsThatBroadcast) {
  DeviceGraph g;
  const int x = g.AddInput("x", {5, 8});
  g.inputs.push_back({"x", x});
  const int w = g.AddConstant("w", {8, 3}, Seeded(24, 1, -1, 1));
  const int seen = Node(g, "matmul", {x, w}, {}, "seen");
  g.outputs.push_back({"seen", seen});  // the caller reads the pre-activation value
  g.outputs.push_back({"r", Node(g, "relu", {seen}, {}, "r")});
  const int row = g.AddConstant("row", {3}, Seeded(3, 2, -1, 1));
  const int mm = Node(g, "matmul", {x, w, row}, {}, "mm");
  // Not a residual, [3] broadcasts; not the bias either, mm has one.
  g.outputs.push_back({"b", Node(g, "add", {mm, row}, {}, "broadcast_add")});
  const int twice = Node(g, "matmul", {x, w}, {}, "twice");
  g.outputs.push_back({"t1", Node(g, "sigmoid", {twice}, {}, "t1")});
  g.outputs.push_back({"t2", Node(g, "silu", {twice}, {}, "t2")});  // two readers
  const size_t nodes = g.nodes.size();
  EpilogueFusionStats stats;
  ASSERT_TRUE(FuseEpilogues(g, &stats).ok());
  EXPECT_EQ(stats.residuals + stats.biases + stats.activations, 0);
  EXPECT_EQ(g.nodes.size(), nodes);
}

// ---- SiLU recognition --------------------------------------------------------------------------

// silu(x) is x / (1 + e^-x), the pair x * (1 / (1 + e^-x)): equal up to rounding.
void ExpectCloseOutputs(const DeviceGraph& before, const DeviceGraph& after, const std::vector<float>& x) {
  const std::vector<std::vector<float>> want = Evaluate(before, x), got = Evaluate(after, x);
  ASSERT_EQ(before.outputs.size(), after.outputs.size());
  for (size_t o = 0; o < before.outputs.size(); ++o) {
    const std::vector<float>& w = want[before.outputs[o].second];
    const std::vector<float>& g = got[after.outputs[o].second];
    ASSERT_EQ(g.size(), w.size());
    for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], w[i], 1e-6f * (1 + std::fabs(w[i]))) << o << ", " << i;
  }
}

// EfficientNet's tail of every convolution, conv -> sigmoid -> mul(conv, sigmoid), and its SE block's
// mean of the result (a second reader of the silu's result, not of the convolution's).
TEST(SiluFusion, SigmoidTimesItsInputBecomesSiluAndThenAConvEpilogue) {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 3, 6, 6});
  g.inputs.push_back({"x", x});
  const int conv = Node(g, "conv2d",
                        {x, g.AddConstant("w", {4, 3, 3, 3}, Seeded(108, 1, -1, 1)), g.AddConstant("b", {4}, Seeded(4, 2, -1, 1))},
                        ConvAttrs(), "conv");
  const int s = Node(g, "sigmoid", {conv}, {}, "sig");
  const int y = Node(g, "mul", {s, conv}, {}, "mul");  // the sigmoid first: either order is silu
  ops::Attrs mean;
  mean.SetInts("dims", {-1, -2}).SetInt("keepdim", 1);
  g.outputs.push_back({"y", y});
  g.outputs.push_back({"m", Node(g, "reduce_mean", {y}, mean, "mean")});
  const DeviceGraph before = g;
  int fused = 0;
  ASSERT_TRUE(FuseSilu(g, &fused).ok());
  EXPECT_EQ(fused, 1);
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[1].op->name, "silu");
  EXPECT_EQ(g.nodes[1].inputs, std::vector<int>{conv});
  EXPECT_EQ(g.nodes[1].output, y);
  EXPECT_EQ(g.nodes[1].source, "sig+mul");
  ExpectCloseOutputs(before, g, Seeded(108, 7, -2, 2));
  // In the pipeline, fuse-epilogues then moves the silu into the convolution.
  CompileOptions options;
  options.verify_each = true;
  absl::StatusOr<CompileState> state = RunPipeline(before, options, "fuse-epilogues");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->silus_fused, 1);
  EXPECT_THAT(state->Summary().ToString(), HasSubstr("1 activations fused into their producer, 1 decomposed activations "
                                                     "recognised, 0 channel gates fused into a convolution"));
  ASSERT_EQ(state->graph->nodes.size(), 2u);
  EXPECT_EQ(state->graph->nodes[0].op->name, "conv2d");
  EXPECT_EQ(ops::EpilogueActivationName(state->graph->nodes[0].attrs), "silu");
  EXPECT_EQ(state->graph->nodes[0].source, "conv+sig+mul");
  ExpectCloseOutputs(before, *state->graph, Seeded(108, 7, -2, 2));
}

TEST(SiluFusion, LeavesSigmoidsOthersReadAndProductsOfOtherValues) {
  DeviceGraph g;
  const int x = g.AddInput("x", {4, 8});
  const int z = g.AddInput("z", {4, 8});
  g.inputs.push_back({"x", x});
  g.inputs.push_back({"z", z});
  const int shared = Node(g, "sigmoid", {x}, {}, "shared");
  g.outputs.push_back({"a", Node(g, "mul", {x, shared}, {}, "a")});
  g.outputs.push_back({"b", Node(g, "exp", {shared}, {}, "b")});  // a second reader of the sigmoid
  const int seen = Node(g, "sigmoid", {x}, {}, "seen");
  g.outputs.push_back({"seen", seen});  // the caller reads the sigmoid
  g.outputs.push_back({"c", Node(g, "mul", {seen, x}, {}, "c")});
  // SE-style scale: z * sigmoid(x) is not silu.
  g.outputs.push_back({"d", Node(g, "mul", {z, Node(g, "sigmoid", {x}, {}, "gate")}, {}, "d")});
  const size_t nodes = g.nodes.size();
  int fused = -1;
  ASSERT_TRUE(FuseSilu(g, &fused).ok());
  EXPECT_EQ(fused, 0);
  EXPECT_EQ(g.nodes.size(), nodes);
}

// ---- Hard-activation recognition ---------------------------------------------------------------

// MobileNetV3's hardswish after a convolution and hardsigmoid gate, as torch.export decomposes them.
TEST(HardActivationFusion, DecomposedChainsBecomeOneOpAndThenAnEpilogue) {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 3, 6, 6});
  g.inputs.push_back({"x", x});
  const int three = g.AddConstant("three", {}, {3.0f}), six = g.AddConstant("six", {}, {6.0f});
  ops::Attrs lo, hi, both;
  lo.SetFloat("min", 0.0);
  hi.SetFloat("max", 6.0);
  both.SetFloat("min", 0.0).SetFloat("max", 6.0);
  const int conv = Node(g, "conv2d",
                        {x, g.AddConstant("w", {4, 3, 3, 3}, Seeded(108, 1, -2, 2)), g.AddConstant("b", {4}, Seeded(4, 2, -1, 1))},
                        ConvAttrs(), "conv");
  // hardswish: x * relu6(x + 3) / 6, the clamps as two ops.
  const int r = Node(g, "clamp", {Node(g, "clamp", {Node(g, "add", {conv, three}, {}, "add")}, lo, "lo")}, hi, "hi");
  const int hs = Node(g, "div", {Node(g, "mul", {conv, r}, {}, "mul"), g.AddConstant("six_b", {}, {6.0f})}, {}, "div");
  // hardsigmoid with one clamp and the constant first in the add.
  const int hsig = Node(g, "div", {Node(g, "clamp", {Node(g, "add", {three, hs}, {}, "add2")}, both, "relu6"), six}, {}, "div2");
  g.outputs.push_back({"y", hsig});
  g.outputs.push_back({"hs", hs});
  const DeviceGraph before = g;
  HardActivationStats stats;
  ASSERT_TRUE(FuseHardActivations(g, &stats).ok());
  EXPECT_EQ(stats.hardswishes, 1);
  EXPECT_EQ(stats.hardsigmoids, 1);
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[1].op->name, "hardswish");
  EXPECT_EQ(g.nodes[1].inputs, std::vector<int>{conv});
  EXPECT_EQ(g.nodes[1].output, hs);
  EXPECT_EQ(g.nodes[1].source, "add+lo+hi+mul+div");
  EXPECT_EQ(g.nodes[2].op->name, "hardsigmoid");
  EXPECT_EQ(g.nodes[2].inputs, std::vector<int>{hs});
  ExpectSameOutputs(before, g, Seeded(108, 7, -3, 3));  // the same float operations, in the same order
  // In the pipeline, fuse-epilogues then moves the hardswish into the convolution.
  CompileOptions options;
  options.verify_each = true;
  absl::StatusOr<CompileState> state = RunPipeline(before, options, "fuse-epilogues");
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_EQ(state->graph->nodes.size(), 2u);
  EXPECT_EQ(ops::EpilogueActivationName(state->graph->nodes[0].attrs), "hardswish");
  ExpectSameOutputs(before, *state->graph, Seeded(108, 7, -3, 3));
}

TEST(HardActivationFusion, LeavesOtherConstantsAndSharedIntermediates) {
  DeviceGraph g;
  const int x = g.AddInput("x", {4, 8});
  g.inputs.push_back({"x", x});
  const int three = g.AddConstant("three", {}, {3.0f}), six = g.AddConstant("six", {}, {6.0f});
  ops::Attrs both;
  both.SetFloat("min", 0.0).SetFloat("max", 6.0);
  ops::Attrs relu5;
  relu5.SetFloat("min", 0.0).SetFloat("max", 5.0);
  // Divided by 5, not 6.
  const int five = g.AddConstant("five", {}, {5.0f});
  g.outputs.push_back({"a", Node(g, "div", {Node(g, "clamp", {Node(g, "add", {x, three})}, both), five})});
  // Clamped to 5.
  g.outputs.push_back({"b", Node(g, "div", {Node(g, "clamp", {Node(g, "add", {x, three})}, relu5), six})});
  // The clamp is read twice.
  const int shared = Node(g, "clamp", {Node(g, "add", {x, three})}, both, "shared");
  g.outputs.push_back({"c", Node(g, "div", {shared, six})});
  g.outputs.push_back({"d", Node(g, "exp", {shared})});
  // hardswish of another value: z * relu6(x + 3) / 6.
  const int z = g.AddInput("z", {4, 8});
  g.inputs.push_back({"z", z});
  g.outputs.push_back(
      {"e", Node(g, "div", {Node(g, "mul", {z, Node(g, "clamp", {Node(g, "add", {x, three})}, both)}), six})});
  const size_t nodes = g.nodes.size();
  HardActivationStats stats;
  ASSERT_TRUE(FuseHardActivations(g, &stats).ok());
  EXPECT_EQ(stats.hardswishes + stats.hardsigmoids, 0);
  EXPECT_EQ(g.nodes.size(), nodes);
}

// ---- Input-scale fusion ------------------------------------------------------------------------

// A squeeze-excitation block: g = sigmoid(conv(mean(x))), y = x * g, z = conv1x1(y): the gate moves into
// the convolution that reads y. Two images, so the gate is per image.
TEST(InputScaleFusion, SqueezeExcitationGateMovesIntoTheConvolution) {
  DeviceGraph g;
  const int x = g.AddInput("x", {2, 4, 5, 5});
  g.inputs.push_back({"x", x});
  ops::Attrs mean, one = ConvAttrs();
  mean.SetInts("dims", {-1, -2}).SetInt("keepdim", 1);
  one.SetInts("padding", {0, 0});
  const int m = Node(g, "reduce_mean", {x}, mean, "mean");
  const int gate = Node(g, "sigmoid", {Node(g, "conv2d", {m, g.AddConstant("wg", {4, 4, 1, 1}, Seeded(16, 1, -1, 1))}, one, "fc")},
                        {}, "gate");
  const int y = Node(g, "mul", {gate, x}, {}, "scale");
  const int z = Node(g, "conv2d", {y, g.AddConstant("w", {3, 4, 3, 3}, Seeded(108, 2, -1, 1))}, ConvAttrs(), "project");
  g.outputs.push_back({"z", z});
  const DeviceGraph before = g;
  int fused = 0;
  ASSERT_TRUE(FuseInputScales(g, &fused).ok());
  EXPECT_EQ(fused, 1);
  ASSERT_EQ(g.nodes.size(), 4u);
  const DeviceNode& conv = g.nodes[3];
  EXPECT_EQ(conv.op->name, "conv2d");
  EXPECT_EQ(conv.source, "scale+project");
  EXPECT_EQ(conv.attrs.Int("input_scale", 0), 1);
  ASSERT_EQ(conv.inputs.size(), 4u);
  EXPECT_EQ(conv.inputs[0], x);
  EXPECT_EQ(g.values[conv.inputs[2]].name, "w.zero_bias");  // the scale is positional: bias first
  EXPECT_EQ(conv.inputs[3], gate);
  ExpectSameOutputs(before, g, Seeded(200, 7, -2, 2));
}

TEST(InputScaleFusion, LeavesProductsOthersReadAndOtherShapes) {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 4, 5, 5});
  const int h = g.AddInput("h", {1, 1, 5, 5});
  const int s = g.AddInput("s", {1, 4, 1, 1});
  g.inputs = {{"x", x}, {"h", h}, {"s", s}};
  const int w = g.AddConstant("w", {3, 4, 3, 3}, Seeded(108, 2, -1, 1));
  const int seen = Node(g, "mul", {x, s}, {}, "seen");
  g.outputs.push_back({"seen", seen});  // the caller reads the product
  g.outputs.push_back({"a", Node(g, "conv2d", {seen, w}, ConvAttrs(), "a")});
  const int spatial = Node(g, "mul", {x, h}, {}, "spatial");  // a [1, 1, H, W] mask is not a channel gate
  g.outputs.push_back({"b", Node(g, "conv2d", {spatial, w}, ConvAttrs(), "b")});
  const int weight = Node(g, "mul", {x, s}, {}, "as_weight");  // read as the weight, not the input
  g.outputs.push_back({"c", Node(g, "conv2d", {g.AddInput("i", {1, 4, 5, 5}), weight}, ConvAttrs(), "c")});
  g.outputs.push_back({"d", Node(g, "relu", {Node(g, "mul", {x, s}, {}, "not_conv")}, {}, "d")});
  g.outputs.push_back({"e", Node(g, "mul", {x, s}, {}, "output_only")});  // its one read is the output
  const size_t nodes = g.nodes.size();
  int fused = -1;
  ASSERT_TRUE(FuseInputScales(g, &fused).ok());
  EXPECT_EQ(fused, 0);
  EXPECT_EQ(g.nodes.size(), nodes);
}

// ---- Squeeze-excitation fusion ---------------------------------------------------------------

// A squeeze-excitation block after a depthwise convolution, as EfficientNet and MobileNetV3 have it:
// y = act(dwconv(x)); z = y * gate_act(fc2(act(fc1(mean(y))))). Two images, so the gate is per image.
struct SeBlock {
  DeviceGraph g;
  int x = -1, conv = -1, mean = -1, fc1 = -1, fc2 = -1, z = -1;
};

// `gate_channels`: the gate's channels, C when 0 (1: one factor per image, broadcast over the channels).
SeBlock MakeSeBlock(const char* act, const char* gate_act, bool biases, ops::Shape input = {2, 8, 6, 6},
                    int64_t gate_channels = 0) {
  SeBlock b;
  DeviceGraph& g = b.g;
  const int64_t c = input[1];
  b.x = g.AddInput("x", input);
  g.inputs.push_back({"x", b.x});
  ops::Attrs dw = ConvAttrs(), one = ConvAttrs(), mean;
  dw.SetInt("groups", c).SetInt("activation", ops::EpilogueActivation("silu"));
  one.SetInts("padding", {0, 0});
  mean.SetInts("dims", {-1, -2}).SetInt("keepdim", 1);
  b.conv = Node(g, "conv2d", {b.x, g.AddConstant("w", {c, 1, 3, 3}, Seeded(9 * c, 1, -1, 1)),
                              g.AddConstant("b", {c}, Seeded(c, 2, -1, 1))}, dw, "conv");
  b.mean = Node(g, "reduce_mean", {b.conv}, mean, "mean");
  auto fc = [&](int in, int64_t out_channels, int64_t in_channels, const char* activation, const std::string& name) {
    std::vector<int> inputs = {in, g.AddConstant(name + ".w", {out_channels, in_channels, 1, 1},
                                                 Seeded(out_channels * in_channels, 3, -1, 1))};
    if (biases) inputs.push_back(g.AddConstant(name + ".b", {out_channels}, Seeded(out_channels, 4, -1, 1)));
    ops::Attrs attrs = one;
    if (*activation) attrs.SetInt("activation", ops::EpilogueActivation(activation));
    return Node(g, "conv2d", std::move(inputs), attrs, name);
  };
  b.fc1 = fc(b.mean, 2, c, act, "fc1");
  b.fc2 = fc(b.fc1, gate_channels > 0 ? gate_channels : c, 2, gate_act, "fc2");
  b.z = Node(g, "mul", {b.conv, b.fc2}, {}, "scale");
  g.outputs.push_back({"z", b.z});
  return b;
}

TEST(SqueezeExciteFusion, TheConvolutionAndItsGateBecomeOneOp) {
  for (const auto& [act, gate_act] : {std::pair{"silu", "sigmoid"}, {"relu", "hardsigmoid"}, {"", ""}}) {
    for (bool biases : {true, false}) {
      SeBlock b = MakeSeBlock(act, gate_act, biases);
      const DeviceGraph before = b.g;
      int fused = 0;
      ASSERT_TRUE(FuseSqueezeExcite(b.g, target::DefaultChipConfig(), ops::DType::kF32, &fused).ok());
      EXPECT_EQ(fused, 1);
      ASSERT_EQ(b.g.nodes.size(), 1u);
      const DeviceNode& se = b.g.nodes[0];
      EXPECT_EQ(se.op->name, "conv2d_squeeze_excite");
      EXPECT_EQ(se.output, b.z);  // the mul's readers read the fused op now
      EXPECT_EQ(se.source, "conv+mean+fc1+fc2+scale");
      ASSERT_EQ(se.inputs.size(), 7u);
      EXPECT_EQ(se.inputs[0], b.x);
      EXPECT_EQ(b.g.values[se.inputs[3]].name, "fc1.w");
      EXPECT_EQ(b.g.values[se.inputs[4]].name, biases ? "fc1.b" : "fc1.w.zero_bias");
      EXPECT_EQ(b.g.values[se.inputs[6]].name, biases ? "fc2.b" : "fc2.w.zero_bias");
      EXPECT_EQ(se.attrs.Int("groups"), 8);
      EXPECT_EQ(ops::EpilogueActivationName(se.attrs), "silu");  // the convolution's own
      // Absent when the layer had none (EpilogueActivation("") is -1).
      EXPECT_EQ(se.attrs.Int("se_activation", -1), ops::EpilogueActivation(act));
      EXPECT_EQ(se.attrs.Int("se_gate_activation", -1), ops::EpilogueActivation(gate_act));
      ExpectCloseOutputs(before, b.g, Seeded(2 * 8 * 36, 5, -2, 2));
    }
  }
}

TEST(SqueezeExciteFusion, LeavesBlocksItCannotFuse) {
  auto unchanged = [](SeBlock b, const target::ChipConfig& chip, const std::string& why) {
    const size_t nodes = b.g.nodes.size();
    int fused = -1;
    ASSERT_TRUE(FuseSqueezeExcite(b.g, chip, ops::DType::kF32, &fused).ok());
    EXPECT_EQ(fused, 0) << why;
    EXPECT_EQ(b.g.nodes.size(), nodes) << why;
  };
  const target::ChipConfig chip = target::DefaultChipConfig();
  SeBlock seen = MakeSeBlock("relu", "sigmoid", true);
  seen.g.outputs.push_back({"y", seen.conv});
  unchanged(seen, chip, "the caller reads the ungated result");
  SeBlock gate_seen = MakeSeBlock("relu", "sigmoid", true);
  gate_seen.g.outputs.push_back({"gate", gate_seen.fc2});
  unchanged(gate_seen, chip, "the caller reads the gate");
  SeBlock clamped = MakeSeBlock("relu", "sigmoid", true);
  clamped.g.nodes[2].attrs.SetInt("activation", ops::kClampActivation).SetFloat("min", 0);
  unchanged(clamped, chip, "a clamp in the gate");
  SeBlock channel_mean = MakeSeBlock("relu", "sigmoid", true);
  channel_mean.g.nodes[1].attrs.SetInts("dims", {1, 2, 3});  // not the mean over H, W (shape aside)
  unchanged(channel_mean, chip, "a mean over other dims");
  SeBlock residual = MakeSeBlock("relu", "sigmoid", true);
  residual.g.nodes[0].inputs.push_back(residual.x);  // conv2d(x, w, b, x): a residual
  unchanged(residual, chip, "a convolution with a residual");
  unchanged(MakeSeBlock("relu", "sigmoid", true, {2, 8, 6, 6}, 1), chip, "a gate of one channel, broadcast");
  // Each core's share of y must fit its usable SRAM: [1, 8, 64, 64] is 32 tiles of 4 KiB over 32 cores.
  target::ChipConfig small = chip;
  small.sram_bytes_per_core = small.sram_reserved_bytes_per_core + 4 * 1024 - 1;
  unchanged(MakeSeBlock("relu", "sigmoid", true, {1, 8, 64, 64}), small, "each core's share is past its SRAM");
  small.sram_bytes_per_core += 1;
  SeBlock fits = MakeSeBlock("relu", "sigmoid", true, {1, 8, 64, 64});
  int fused = 0;
  ASSERT_TRUE(FuseSqueezeExcite(fits.g, small, ops::DType::kF32, &fused).ok());
  EXPECT_EQ(fused, 1);
}

// ---- Op ordering -----------------------------------------------------------------------------

// Two branches, each a large value reduced to a small one; graph order builds both large values
// before reducing either.
TEST(OpOrdering, ReducesEachBranchBeforeBuildingTheNext) {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 256});
  g.inputs.push_back({"x", x});
  ops::Attrs cat;
  cat.SetInt("dim", 0);
  ops::Attrs mean;
  mean.SetInts("dims", {0});
  mean.SetInt("keepdim", 0);
  const int big1 = Node(g, "concat", {x, x, x, x, x, x, x, x}, cat, "big1");  // [8, 256]
  const int big2 = Node(g, "concat", {x, x, x, x, x, x, x, x}, cat, "big2");
  const int small1 = Node(g, "reduce_mean", {big1}, mean, "small1");  // [256]
  const int small2 = Node(g, "reduce_mean", {big2}, mean, "small2");
  g.outputs.push_back({"y", Node(g, "add", {small1, small2}, {}, "y")});
  const DeviceGraph before = g;

  OpOrderStats stats;
  ASSERT_TRUE(OrderOpsForMemory(g, &stats).ok());
  // Graph order: big1, big2 and small1 (or x) live at once; chosen: one large value, x or small2, and
  // small1 at most.
  EXPECT_EQ(stats.graph_order_peak, 4u * (2048 + 2048 + 256));
  EXPECT_EQ(stats.chosen_peak, 4u * (256 + 2048 + 256));
  EXPECT_EQ(stats.ops_moved, 2);
  std::vector<std::string> order;
  for (const DeviceNode& n : g.nodes) order.push_back(n.source);
  EXPECT_EQ(order, (std::vector<std::string>{"big1", "small1", "big2", "small2", "y"}));
  ExpectSameOutputs(before, g, Seeded(256, 1, -1, 1));
  EXPECT_THAT(stats.ToString(), ::testing::HasSubstr("(graph order: 17408), 2 ops moved"));
}

TEST(OpOrdering, KeepsTheGraphOrderWhenTheGreedyOrderIsNoBetter) {
  DeviceGraph g;
  const int x = g.AddInput("x", {4, 4});
  g.inputs.push_back({"x", x});
  const int a = Node(g, "exp", {x}, {}, "a");
  g.outputs.push_back({"y", Node(g, "neg", {a}, {}, "y")});
  OpOrderStats stats;
  ASSERT_TRUE(OrderOpsForMemory(g, &stats).ok());
  EXPECT_EQ(stats.ops_moved, 0);
  EXPECT_EQ(stats.chosen_peak, stats.graph_order_peak);
  EXPECT_EQ(stats.graph_order_peak, 4u * 32);  // while exp runs: x and a; while neg runs: a and y
}

// ---- Constant folding -----------------------------------------------------------------------

TEST(ConstantFolding, PermuteOfAWeightIsFoldedWithTransposedValues) {
  DeviceGraph g;
  const int x = g.AddInput("x", {4, 3});
  const int w = g.AddConstant("w", {2, 3}, {0, 1, 2, 3, 4, 5});
  const int wt = Node(g, "permute", {w}, DimsAttrs({1, 0}), "wt");
  const int y = Node(g, "matmul", {x, wt}, {}, "y");
  g.inputs = {{"x", x}};
  g.outputs = {{"y", y}};

  FoldingStats stats;
  ASSERT_TRUE(FoldConstants(g, &stats).ok());
  EXPECT_EQ(stats.folded_nodes, 1);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op->name, "matmul");
  EXPECT_EQ(g.nodes[0].inputs, (std::vector<int>{x, wt}));
  EXPECT_EQ(g.values[wt].kind, DeviceValue::Kind::kConstant);
  EXPECT_EQ(g.values[wt].shape, (ops::Shape{3, 2}));
  EXPECT_EQ(g.values[wt].constant, (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(g.values[y].kind, DeviceValue::Kind::kIntermediate);  // reads an input: kept
}

TEST(ConstantFolding, ChainsFoldAndNonConstantNodesStay) {
  DeviceGraph g;
  const int x = g.AddInput("x", {2, 2});
  const int c = g.AddConstant("c", {2, 2}, {-1, 2, -3, 4});
  const int n = Node(g, "neg", {c});            // {1, -2, 3, -4}
  const int r = Node(g, "relu", {n});           // {1, 0, 3, 0}
  const int a = Node(g, "add", {x, r});         // kept: x is an input
  const int m = Node(g, "mul", {a, r});         // kept: a is computed at run time
  g.inputs = {{"x", x}};
  g.outputs = {{"m", m}};
  FoldingStats stats;
  ASSERT_TRUE(FoldConstants(g, &stats).ok());
  EXPECT_EQ(stats.folded_nodes, 2);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op->name, "add");
  EXPECT_EQ(g.nodes[1].op->name, "mul");
  EXPECT_EQ(g.values[r].constant, (std::vector<float>{1, 0, 3, 0}));
  EXPECT_EQ(g.values[n].constant, (std::vector<float>{1, -2, 3, -4}));
  EXPECT_EQ(g.values[a].kind, DeviceValue::Kind::kIntermediate);
  EXPECT_EQ(g.values[m].kind, DeviceValue::Kind::kIntermediate);
  EXPECT_TRUE(g.values[a].constant.empty());
}

// ---- Permute composition --------------------------------------------------------------------

// BERT's attention output: [1, 12, 128, 64] through permutes [2, 0, 1, 3], [1, 2, 0, 3] and
// [0, 2, 1, 3] (here with 3 heads of 4 rows of 8).
TEST(ComposePermutes, AChainBecomesOnePermuteOfItsFirstOperand) {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 3, 4, 8});
  g.inputs = {{"x", x}};
  const int a = Node(g, "permute", {x}, DimsAttrs({2, 0, 1, 3}), "a");
  const int b = Node(g, "permute", {a}, DimsAttrs({1, 2, 0, 3}), "b");   // a then b: the identity
  const int c = Node(g, "permute", {b}, DimsAttrs({0, 2, 1, 3}), "c");
  const int d = Node(g, "permute", {a}, DimsAttrs({-1, 2, 1, 0}), "d");  // negative dims count from the end
  g.outputs = {{"c", c}, {"b", b}, {"d", d}};
  std::vector<float> in(96);
  for (int i = 0; i < 96; ++i) in[i] = static_cast<float>(i);
  const std::vector<std::vector<float>> before = Evaluate(g, in);
  PermuteStats stats;
  ASSERT_TRUE(ComposePermutes(g, &stats).ok());
  EXPECT_EQ(stats.composed, 3);
  EXPECT_EQ(stats.identity, 1);
  const std::vector<std::vector<float>> after = Evaluate(g, in);
  for (int v : {b, c, d}) EXPECT_EQ(after[v], before[v]) << g.values[v].name;
  EXPECT_EQ(g.nodes[1].op->name, "reshape");
  EXPECT_EQ(g.nodes[1].inputs, (std::vector<int>{x}));
  EXPECT_EQ(g.nodes[2].inputs, (std::vector<int>{x}));
  EXPECT_EQ(g.nodes[2].attrs.Ints("dims"), (std::vector<int64_t>{0, 2, 1, 3}));
  EXPECT_EQ(g.nodes[3].inputs, (std::vector<int>{x}));
  EXPECT_EQ(g.nodes[3].attrs.Ints("dims"), (std::vector<int64_t>{3, 1, 0, 2}));
  // Through the pipeline: a is read by nobody now and goes; the identity is an alias of x's upload.
  CompileOptions options;
  options.verify_each = true;
  absl::StatusOr<CompileState> state = RunPipeline(std::move(g), options, "plan-memory");
  ASSERT_TRUE(state.ok()) << state.status();
  int permutes = 0;
  for (const ProgramInstruction& i : state->program->instructions)
    permutes += i.kind == Kind::kOp && i.op->name == "permute";
  EXPECT_EQ(permutes, 2);
  EXPECT_EQ(state->aliasing.reshapes, 1);
}

// ---- Safe-softmax fusion ----------------------------------------------------------------------

// _safe_softmax as torch.export decomposes it, over scores x + mask (mask rows of -inf hide a row).
struct SafeSoftmax {
  DeviceGraph g;
  int scores, out;
};
SafeSoftmax MakeSafeSoftmax(float fill, int64_t reduce_dim) {
  SafeSoftmax m;
  const int x = m.g.AddInput("x", {2, 4, 6});
  m.g.inputs = {{"x", x}};
  std::vector<float> mask(24, 0.0f);
  for (int i = 6; i < 12; ++i) mask[i] = -INFINITY;  // row 1 of batch 0: all masked
  mask[20] = -INFINITY;                              // one element of another row
  m.scores = Node(m.g, "add", {x, m.g.AddConstant("mask", {4, 6}, mask)}, {}, "scores");
  ops::Attrs dim;
  dim.SetInt("dim", -1);
  const int sm = Node(m.g, "softmax", {m.scores}, dim, "softmax");
  const int eq = Node(m.g, "eq", {m.scores, m.g.AddConstant("inf", {}, {-INFINITY})}, {}, "eq");
  const int kept = Node(m.g, "logical_not", {eq}, {}, "not");
  ops::Attrs reduce;
  reduce.SetInts("dims", {reduce_dim}).SetInt("keepdim", 1);
  const int any = Node(m.g, "reduce_max", {kept}, reduce, "any");
  const int none = Node(m.g, "logical_not", {any}, {}, "not_1");
  m.out = Node(m.g, "where", {none, m.g.AddConstant("zeros", {2, 4, 6}, std::vector<float>(48, fill)), sm}, {}, "where");
  m.g.outputs = {{"y", m.out}};
  return m;
}

TEST(SafeSoftmaxFusion, SixOpsBecomeOneSoftmaxWithTheSameValues) {
  SafeSoftmax m = MakeSafeSoftmax(0.0f, 2);
  const std::vector<float> in = Seeded(48, 11, -3, 3);
  const std::vector<float> before = Evaluate(m.g, in)[m.out];
  SafeSoftmaxStats stats;
  ASSERT_TRUE(FuseSafeSoftmax(m.g, &stats).ok());
  EXPECT_EQ(stats.fused, 1);
  const DeviceNode& fused = m.g.nodes.back();
  EXPECT_EQ(fused.op->name, "softmax");
  EXPECT_EQ(fused.inputs, (std::vector<int>{m.scores}));
  EXPECT_EQ(fused.attrs.Int("dim"), 2);
  EXPECT_EQ(fused.attrs.Int("zero_masked_rows"), 1);
  const std::vector<float> after = Evaluate(m.g, in)[m.out];
  EXPECT_EQ(after, before);
  EXPECT_EQ(std::count(after.begin(), after.end(), 0.0f), 2 * (6 + 1));  // per batch: the masked row and element
  ASSERT_TRUE(EliminateDeadCode(m.g).ok());
  EXPECT_EQ(m.g.nodes.size(), 2u);  // add, softmax
}

TEST(SafeSoftmaxFusion, OtherFillsOrDimsAreLeftAlone) {
  for (auto [fill, dim] : {std::pair{1.0f, int64_t{2}}, std::pair{0.0f, int64_t{1}}}) {
    SafeSoftmax m = MakeSafeSoftmax(fill, dim);
    SafeSoftmaxStats stats;
    ASSERT_TRUE(FuseSafeSoftmax(m.g, &stats).ok());
    EXPECT_EQ(stats.fused, 0) << "fill " << fill << ", reduced dim " << dim;
    EXPECT_EQ(m.g.nodes.back().op->name, "where");
  }
}

// ---- GELU-tanh fusion --------------------------------------------------------------------------

// GPT-2's NewGELUActivation as torch.export leaves it, with x^3 as pow or as two muls, operands in
// either order, and a constant that is not sqrt(2/pi) for the negative case.
// bloom: BLOOM's form of the tanh argument, sqrt(2/pi) x (1 + 0.044715 x x).
int WrittenOutGeluTanh(DeviceGraph& g, int x, bool pow, bool swapped, float sqrt_2_over_pi, bool bloom = false) {
  auto c = [&](float v) { return g.AddConstant("c", {}, {v}); };
  auto bin = [&](const char* op, int a, int b) { return Node(g, op, swapped ? std::vector<int>{b, a} : std::vector<int>{a, b}); };
  const int half = bin("mul", x, c(0.5f));
  int argument;
  if (bloom) {
    const int poly = bin("add", bin("mul", bin("mul", x, c(0.044715f)), x), c(1.0f));
    argument = bin("mul", bin("mul", x, c(sqrt_2_over_pi)), poly);
  } else {
    const int cube = pow ? Node(g, "pow", {x, c(3.0f)}) : bin("mul", Node(g, "mul", {x, x}), x);
    argument = bin("mul", bin("add", x, bin("mul", cube, c(0.044715f))), c(sqrt_2_over_pi));
  }
  const int t = Node(g, "tanh", {argument});
  return bin("mul", half, bin("add", t, c(1.0f)));
}

TEST(GeluTanhFusion, EightOpsBecomeGeluTanhWithinFloatRounding) {
  for (int form = 0; form < 3; ++form)  // x^3 as pow, x^3 as muls, BLOOM's
    for (bool swapped : {false, true}) {
      SCOPED_TRACE("form " + std::to_string(form) + (swapped ? ", swapped" : ""));
      DeviceGraph g;
      const int x = g.AddInput("x", {4, 33});
      g.inputs = {{"x", x}};
      const int y = WrittenOutGeluTanh(g, x, form == 0, swapped, 0.7978845608f, form == 2);
      g.outputs = {{"y", y}};
      const std::vector<float> in = Seeded(4 * 33, 12, -6, 6);
      const std::vector<float> before = Evaluate(g, in)[y];
      GeluTanhStats stats;
      ASSERT_TRUE(FuseGeluTanh(g, &stats).ok());
      EXPECT_EQ(stats.fused, 1);
      ASSERT_TRUE(EliminateDeadCode(g).ok());
      ASSERT_EQ(g.nodes.size(), 1u);
      EXPECT_EQ(g.nodes[0].op->name, "gelu_tanh");
      EXPECT_EQ(g.nodes[0].inputs, (std::vector<int>{x}));
      const std::vector<float> after = Evaluate(g, in)[y];
      for (size_t i = 0; i < after.size(); ++i) EXPECT_NEAR(after[i], before[i], 1e-5f) << i;
    }
}

TEST(GeluTanhFusion, AnotherConstantIsNotGelu) {
  DeviceGraph g;
  const int x = g.AddInput("x", {4, 33});
  g.inputs = {{"x", x}};
  g.outputs = {{"y", WrittenOutGeluTanh(g, x, true, false, 0.8f)}};
  GeluTanhStats stats;
  ASSERT_TRUE(FuseGeluTanh(g, &stats).ok());
  EXPECT_EQ(stats.fused, 0);
  EXPECT_EQ(g.nodes.back().op->name, "mul");
}

// ---- Common-subexpression elimination -------------------------------------------------------

// BERT's attention mask: every layer computes where(mask, 0, -inf) over its own copies of the scalars.
TEST(CommonSubexpressions, RepeatedMaskOverEqualConstantsIsComputedOnce) {
  DeviceGraph g;
  const int x = g.AddInput("x", {4, 4});
  const int mask = g.AddInput("mask", {4, 4});
  g.inputs = {{"x", x}, {"mask", mask}};
  int h = x;
  std::vector<int> zeros, wheres;
  for (int layer = 0; layer < 3; ++layer) {
    zeros.push_back(g.AddConstant("zero#" + std::to_string(layer), {}, {0.0f}));
    const int inf = g.AddConstant("inf#" + std::to_string(layer), {}, {-INFINITY});
    wheres.push_back(Node(g, "where", {mask, zeros.back(), inf}, {}, "where" + std::to_string(layer)));
    h = Node(g, "add", {h, wheres.back()}, {}, "add" + std::to_string(layer));
  }
  g.outputs = {{"h", h}};
  std::vector<float> in(16), m(16);
  for (int i = 0; i < 16; ++i) in[i] = 0.5f * i, m[i] = i % 3 == 0;
  DeviceGraph before = g;

  CseStats stats;
  ASSERT_TRUE(EliminateCommonSubexpressions(g, &stats).ok());
  EXPECT_EQ(stats.constants, 4);  // zero#1, zero#2, inf#1, inf#2
  EXPECT_EQ(stats.nodes, 2);      // where1, where2
  ASSERT_EQ(g.nodes.size(), 4u);
  EXPECT_EQ(g.nodes[0].output, wheres[0]);
  EXPECT_EQ(g.nodes[0].inputs[1], zeros[0]);
  for (size_t n = 1; n < 4; ++n) EXPECT_EQ(g.nodes[n].inputs[1], wheres[0]) << g.nodes[n].source;
  // The same values, computed by fewer ops (the second input is the mask: Evaluate sets the first).
  auto run = [&](const DeviceGraph& graph) {
    std::vector<std::vector<float>> v(graph.values.size());
    for (size_t i = 0; i < graph.values.size(); ++i) v[i] = graph.values[i].constant;
    v[x] = in;
    v[mask] = m;
    for (const DeviceNode& n : graph.nodes) {
      std::vector<ops::ConstView> views;
      for (int i : n.inputs) views.push_back({v[i].data(), graph.values[i].shape});
      v[n.output].assign(ops::NumElements(graph.values[n.output].shape), 0.0f);
      ops::FindKernel(*n.op)(views, n.attrs, {v[n.output].data(), graph.values[n.output].shape});
    }
    return v[h];
  };
  EXPECT_EQ(run(g), run(before));
}

TEST(CommonSubexpressions, DifferentAttributesOperandsOrBitsStayApart) {
  DeviceGraph g;
  const int x = g.AddInput("x", {2, 6});
  g.inputs = {{"x", x}};
  const int r1 = Node(g, "reshape", {x}, ShapeAttrs({3, 4}));
  const int r2 = Node(g, "reshape", {x}, ShapeAttrs({4, 3}));  // other attribute
  const int r3 = Node(g, "reshape", {x}, ShapeAttrs({3, 4}));  // a repeat of r1
  const int p = g.AddConstant("zero", {}, {0.0f});
  const int n = g.AddConstant("negzero", {}, {-0.0f});            // equal as floats, not as bits
  const int a = Node(g, "add", {r1, p});
  const int b = Node(g, "add", {r3, n});
  const int c = Node(g, "add", {p, r1});                          // operand order matters
  g.outputs = {{"r2", r2}, {"a", a}, {"b", b}, {"c", c}};
  CseStats stats;
  ASSERT_TRUE(EliminateCommonSubexpressions(g, &stats).ok());
  EXPECT_EQ(stats.constants, 0);
  EXPECT_EQ(stats.nodes, 1);
  ASSERT_EQ(g.nodes.size(), 5u);
  EXPECT_EQ(g.nodes[2].inputs, (std::vector<int>{r1, p}));
  EXPECT_EQ(g.nodes[3].inputs, (std::vector<int>{r1, n}));  // read r3, now r1
  EXPECT_EQ(g.nodes[4].inputs, (std::vector<int>{p, r1}));
}

TEST(CommonSubexpressions, GraphOutputsAndStateUpdatesKeepTheirOwnNode) {
  DeviceGraph g;
  const int x = g.AddInput("x", {2, 2});
  const int s = g.AddState("cache", {2, 2}, ops::DType::kF32, {0, 0, 0, 0});
  g.inputs = {{"x", x}};
  const int e1 = Node(g, "exp", {x});
  const int e2 = Node(g, "exp", {x});  // a graph output: the caller gets its own tensor
  const int e3 = Node(g, "exp", {x});  // the state's next value
  const int e4 = Node(g, "exp", {x});  // a plain repeat
  const int sum = Node(g, "add", {e1, e4});
  g.outputs = {{"sum", sum}, {"e2", e2}};
  g.state_updates = {{s, e3}};
  CseStats stats;
  ASSERT_TRUE(EliminateCommonSubexpressions(g, &stats).ok());
  EXPECT_EQ(stats.nodes, 1);
  ASSERT_EQ(g.nodes.size(), 4u);
  EXPECT_EQ(g.nodes[3].inputs, (std::vector<int>{e1, e1}));
  EXPECT_EQ(g.outputs[1].second, e2);
  EXPECT_EQ(g.state_updates[0].second, e3);
}

// Through the pipeline: the repeat's constants are freed by dce and never placed.
TEST(CommonSubexpressions, MergedConstantsAreNotPlaced) {
  DeviceGraph g;
  const int x = g.AddInput("x", {8, 8});
  g.inputs = {{"x", x}};
  const int w1 = g.AddConstant("w1", {8, 8}, Seeded(64, 7, -1, 1));
  const int w2 = g.AddConstant("w2", {8, 8}, Seeded(64, 7, -1, 1));
  const int y = Node(g, "add", {Node(g, "matmul", {x, w1}), Node(g, "matmul", {x, w2})});
  g.outputs = {{"y", y}};
  ScheduledProgram p = Pipeline(std::move(g), uint64_t{1} << 40, nullptr, "place");
  int constants = 0, matmuls = 0;
  for (const ProgramTensor& t : p.tensors) constants += t.is_constant;
  for (const ProgramInstruction& i : p.instructions) matmuls += i.kind == Kind::kOp && i.op->name == "matmul";
  EXPECT_EQ(constants, 1);
  EXPECT_EQ(matmuls, 1);
}

// ---- Reshape aliasing ------------------------------------------------------------------------

std::vector<std::string> PlanViolations(const ScheduledProgram& p);  // below, with memory planning

int TensorIdNamed(const ScheduledProgram& p, const std::string& name) {
  for (size_t t = 0; t < p.tensors.size(); ++t)
    if (p.tensors[t].name == name) return static_cast<int>(t);
  ADD_FAILURE() << "no tensor " << name;
  return 0;
}

TEST(AliasReshapes, ReshapesThatKeepTheBytesAliasTheFirstOperandOfTheChain) {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 64, 96});
  g.inputs = {{"x", x}};
  const int e = Node(g, "exp", {x}, {}, "e");
  const int flat = Node(g, "reshape", {e}, ShapeAttrs({64, 96}), "flat");         // same matrices
  const int pairs = Node(g, "reshape", {flat}, ShapeAttrs({2, 32, 96}), "pairs");  // rows regroup in whole tiles
  const int heads = Node(g, "reshape", {flat}, ShapeAttrs({64, 12, 8}), "heads");  // last dim changes: a copy
  const int odd = Node(g, "reshape", {e}, ShapeAttrs({4, 16, 96}), "odd");        // 16-row matrices: a copy
  g.outputs = {{"pairs", Node(g, "neg", {pairs})}, {"heads", Node(g, "neg", {heads})}, {"odd", Node(g, "neg", {odd})}};
  ScheduledProgram p = Pipeline(std::move(g), uint64_t{1} << 40, nullptr, "evict");
  AliasStats stats;
  ASSERT_TRUE(AliasReshapes(p, &stats).ok());
  EXPECT_EQ(stats.reshapes, 2);
  EXPECT_EQ(stats.bytes_not_moved, 4u * 64 * 96 * 4);
  auto tensor = [&](const std::string& name) -> const ProgramTensor& { return p.tensors[TensorIdNamed(p, name)]; };
  EXPECT_EQ(tensor("flat").alias_of, TensorIdNamed(p, "e"));
  EXPECT_EQ(tensor("pairs").alias_of, TensorIdNamed(p, "e"));  // not flat: aliases never chain
  EXPECT_FALSE(tensor("heads").is_alias());
  EXPECT_FALSE(tensor("odd").is_alias());
  std::vector<std::string> reshapes;
  for (const ProgramInstruction& i : p.instructions)
    if (i.kind == Kind::kOp && i.op->name == "reshape") reshapes.push_back(i.source);
  EXPECT_EQ(reshapes, (std::vector<std::string>{"odd", "heads"}));  // order-ops moved odd first
  // heads reads flat, an alias: e must stay alive (and unshared) until then.
  MemoryStats memory;
  ASSERT_TRUE(PlanMemory(p, uint64_t{1} << 40, &memory).ok());
  EXPECT_THAT(PlanViolations(p), ::testing::IsEmpty());
  EXPECT_EQ(tensor("pairs").offset, tensor("e").offset);
}

TEST(AliasReshapes, RowMajorTensorsAliasAnyReshapeButInputsAndOtherDtypesStay) {
  ScheduledProgram p;
  p.regions = {{"activations", target::RegionKind::kDeviceDram, 0}};
  auto add = [&](const std::string& name, ops::Shape shape, ops::Layout layout, int region = kActivationRegion,
                 ops::DType dtype = ops::DType::kF32) {
    ProgramTensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.layout = layout;
    t.region = region;
    t.dtype = dtype;
    p.tensors.push_back(t);
    return static_cast<int>(p.tensors.size()) - 1;
  };
  const int host = add("x", {3, 5}, ops::Layout::kRowMajor, kCallerBuffer);
  const int dev = add("x.device", {3, 5}, ops::Layout::kRowMajor);
  const int odd = add("odd", {5, 3}, ops::Layout::kRowMajor);
  const int ints = add("ints", {15}, ops::Layout::kRowMajor, kActivationRegion, ops::DType::kI32);
  const int host_view = add("host_view", {15}, ops::Layout::kRowMajor);
  auto op = [&](const char* name, std::vector<int> in, int out, ops::Attrs attrs = {}) {
    ProgramInstruction i;
    i.op = ops::FindOp(name);
    i.inputs = std::move(in);
    i.output = out;
    i.attrs = std::move(attrs);
    i.source = p.tensors[out].name;
    p.instructions.push_back(i);
  };
  ProgramInstruction upload;
  upload.kind = Kind::kHostToDevice;
  upload.inputs = {host};
  upload.output = dev;
  p.instructions.push_back(upload);
  op("reshape", {dev}, odd, ShapeAttrs({5, 3}));
  op("reshape", {odd}, ints, ShapeAttrs({15}));
  op("reshape", {host}, host_view, ShapeAttrs({15}));  // not a device operand: left for the verifier to reject
  AliasStats stats;
  ASSERT_TRUE(AliasReshapes(p, &stats).ok());
  EXPECT_EQ(stats.reshapes, 1);
  EXPECT_EQ(p.tensors[odd].alias_of, dev);
  EXPECT_FALSE(p.tensors[ints].is_alias());       // another dtype
  EXPECT_FALSE(p.tensors[host_view].is_alias());  // its operand is in the caller's buffer
  EXPECT_EQ(p.instructions.size(), 3u);
}

// ---- Dead-code elimination -------------------------------------------------------------------

TEST(DeadCode, DropsUnreachableNodesAndFreesTheirConstants) {
  DeviceGraph g;
  const int x = g.AddInput("x", {2, 2});
  const int unused_input = g.AddInput("unused", {3});
  const int c_live = g.AddConstant("c_live", {2, 2}, {1, 2, 3, 4});
  const int c_dead = g.AddConstant("c_dead", {2, 2}, {5, 6, 7, 8});
  const int live = Node(g, "add", {x, c_live}, {}, "live");
  const int d1 = Node(g, "exp", {x}, {}, "dead1");
  Node(g, "mul", {d1, c_dead}, {}, "dead2");
  const int out = Node(g, "relu", {live}, {}, "out");
  g.inputs = {{"x", x}, {"unused", unused_input}};
  g.outputs = {{"out", out}};
  const size_t values_before = g.values.size();

  ASSERT_TRUE(EliminateDeadCode(g).ok());
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].source, "live");
  EXPECT_EQ(g.nodes[1].source, "out");
  EXPECT_EQ(g.values.size(), values_before);  // ids stay stable
  EXPECT_TRUE(g.values[c_dead].constant.empty());
  EXPECT_EQ(g.values[c_live].constant, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(g.inputs.size(), 2u);  // the signature is unchanged
}

TEST(DeadCode, AfterFoldingTheOriginalWeightIsFreedAndNotPlaced) {
  DeviceGraph g;
  const int x = g.AddInput("x", {4, 3});
  const int w = g.AddConstant("w", {2, 3}, {0, 1, 2, 3, 4, 5});
  const int wt = Node(g, "permute", {w}, DimsAttrs({1, 0}));
  const int y = Node(g, "matmul", {x, wt});
  g.inputs = {{"x", x}};
  g.outputs = {{"y", y}};
  CompileOptions options;
  options.verify_each = true;
  absl::StatusOr<CompileState> state = RunPipeline(std::move(g), options, "dce");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_TRUE(state->graph->values[w].constant.empty());
  EXPECT_FALSE(state->graph->values[wt].constant.empty());
  // Continue with the next pass of the same pipeline.
  ASSERT_TRUE(RunPasses(BuildPipeline(options), *state, options, {"place", "place", nullptr}).ok());
  const std::optional<ScheduledProgram>& p = state->program;
  ASSERT_TRUE(p.has_value());
  int constants = 0;
  for (const ProgramTensor& t : p->tensors)
    if (t.is_constant) {
      ++constants;
      EXPECT_EQ(t.shape, (ops::Shape{3, 2}));
    }
  EXPECT_EQ(constants, 1);
}

// ---- Placement and scheduling ----------------------------------------------------------------

TEST(Placement, OutputThatIsAnInputIsCopiedBackFromItsDeviceCopy) {
  DeviceGraph g;
  const int x = g.AddInput("x", {2});
  g.inputs = {{"x", x}};
  g.outputs = {{"y", x}};
  absl::StatusOr<ScheduledProgram> p = PlaceGraph(g);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(ScheduleTransfers(*p).ok());
  ASSERT_EQ(p->instructions.size(), 2u);
  EXPECT_EQ(p->instructions[0].kind, ProgramInstruction::Kind::kHostToDevice);
  EXPECT_EQ(p->instructions[1].kind, ProgramInstruction::Kind::kDeviceToHost);
  EXPECT_EQ(p->instructions[1].inputs[0], p->instructions[0].output);
}

// Checks the scheduling contract on any program: each upload sits right before the first op that
// reads it, each download right after its producer (or after sibling downloads of that producer).
void ExpectTransfersAdjacent(const ScheduledProgram& p) {
  const auto& ins = p.instructions;
  auto bytes_of = [&](int t) { return p.tensors[t].is_alias() ? p.tensors[t].alias_of : t; };  // aliases read their target
  for (size_t i = 0; i < ins.size(); ++i) {
    if (ins[i].kind == Kind::kHostToDevice) {
      const int t = ins[i].output;
      size_t first_use = ins.size();
      for (size_t j = 0; j < ins.size(); ++j)
        if (ins[j].kind == Kind::kOp &&
            std::any_of(ins[j].inputs.begin(), ins[j].inputs.end(), [&](int r) { return bytes_of(r) == t; })) {
          first_use = j;
          break;
        }
      if (first_use == ins.size()) continue;  // unread input: goes last
      // Only other uploads for the same op may sit between.
      ASSERT_LT(i, first_use) << "upload of tensor " << t << " after its first use";
      for (size_t k = i + 1; k < first_use; ++k)
        EXPECT_EQ(ins[k].kind, Kind::kHostToDevice) << "upload " << i << " is not right before its first use";
    } else if (ins[i].kind == Kind::kDeviceToHost) {
      const int t = bytes_of(ins[i].inputs[0]);
      size_t k = i;
      while (k > 0 && ins[k - 1].kind == Kind::kDeviceToHost) --k;
      ASSERT_GT(k, 0u);
      EXPECT_EQ(ins[k - 1].kind, Kind::kOp);
      EXPECT_EQ(ins[k - 1].output, t) << "download " << i << " is not right after its producer";
      // The D2H group after an op only holds that op's downloads.
      for (size_t j = k; j < i; ++j) EXPECT_EQ(ins[j].inputs[0], t);
    }
  }
}

TEST(Scheduling, UploadsMoveBeforeFirstUseDownloadsAfterProducer) {
  DeviceGraph g;
  const int a = g.AddInput("a", {4, 4});
  const int b = g.AddInput("b", {4, 4});
  const int unused = g.AddInput("unused", {4});
  const int r1 = Node(g, "relu", {a}, {}, "r1");
  const int e = Node(g, "exp", {r1}, {}, "e");
  const int s = Node(g, "add", {e, b}, {}, "s");
  const int n = Node(g, "neg", {s}, {}, "n");
  g.inputs = {{"a", a}, {"b", b}, {"unused", unused}};
  g.outputs = {{"r1_out", r1}, {"n_out", n}, {"r1_again", r1}};
  absl::StatusOr<ScheduledProgram> placed = PlaceGraph(g);
  ASSERT_TRUE(placed.ok()) << placed.status();
  ScheduledProgram p = *std::move(placed);
  // Placement puts all uploads first and downloads last.
  EXPECT_EQ(p.instructions.front().kind, Kind::kHostToDevice);
  EXPECT_EQ(p.instructions.back().kind, Kind::kDeviceToHost);
  ASSERT_TRUE(ScheduleTransfers(p).ok());

  std::vector<std::string> order;
  for (const ProgramInstruction& inst : p.instructions) {
    const std::string prefix = inst.kind == Kind::kOp ? "op:" : inst.kind == Kind::kHostToDevice ? "h2d:" : "d2h:";
    order.push_back(prefix + inst.source);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"h2d:a", "op:r1", "d2h:r1_out", "d2h:r1_again", "op:e", "h2d:b",
                                             "op:s", "op:n", "d2h:n_out", "h2d:unused"}));
  ExpectTransfersAdjacent(p);
}

// ---- Layout selection ------------------------------------------------------------------------

TEST(LayoutSelection, SmallKernelsGoRowMajorSquareMatricesStayTiled) {
  DeviceGraph g;
  const int img = g.AddInput("img", {1, 3, 8, 8});
  const int x = g.AddInput("x", {32, 64});
  const int kernel = g.AddConstant("conv.weight", {64, 3, 3, 3}, std::vector<float>(64 * 27, 0.5f));
  const int w = g.AddConstant("fc.weight", {64, 64}, std::vector<float>(64 * 64, 0.25f));
  ops::Attrs conv;
  conv.SetInts("stride", {1, 1}).SetInts("padding", {0, 0}).SetInts("dilation", {1, 1}).SetInt("groups", 1);
  const int c = Node(g, "conv2d", {img, kernel}, conv, "conv");
  const int m = Node(g, "matmul", {x, w}, {}, "fc");
  g.inputs = {{"img", img}, {"x", x}};
  g.outputs = {{"c", c}, {"m", m}};
  const ScheduledProgram p = Pipeline(std::move(g), uint64_t{1} << 40, nullptr, "select-layouts");
  int checked = 0;
  for (const ProgramTensor& t : p.tensors) {
    if (t.name == "conv.weight") {
      EXPECT_EQ(t.layout, ops::Layout::kRowMajor);
      ++checked;
    }
    if (t.name == "fc.weight") {
      EXPECT_EQ(t.layout, ops::Layout::kTile);
      ++checked;
    }
    if (t.in_caller_buffer()) {
      EXPECT_EQ(t.layout, ops::Layout::kRowMajor) << t.name;
    } else {
      // The rule, for every device tensor.
      const bool wasteful = ops::StoredElements(t.shape, ops::Layout::kTile) >
                            kMaxTilePaddingFactor * ops::NumElements(t.shape);
      EXPECT_EQ(t.layout, wasteful ? ops::Layout::kRowMajor : ops::Layout::kTile) << t.name;
    }
  }
  EXPECT_EQ(checked, 2);
}

// ---- Memory planning -------------------------------------------------------------------------

// Independent plan checker: lifetimes are [first write, last read or write] over the instruction
// list; tensors alive at the same instruction must not share bytes. Returns the violations.
std::vector<std::string> PlanViolations(const ScheduledProgram& p) {
  std::vector<std::string> bad;
  const int n = static_cast<int>(p.tensors.size());
  std::vector<int> def(n, -1), last(n, -1);
  for (int i = 0; i < static_cast<int>(p.instructions.size()); ++i) {
    const ProgramInstruction& inst = p.instructions[i];
    for (int read : inst.inputs) {
      const int t = p.tensors[read].is_alias() ? p.tensors[read].alias_of : read;  // its target's bytes
      if (def[t] < 0 && p.tensors[t].is_activation())
        bad.push_back("tensor " + p.tensors[read].name + " read before written");
      last[t] = std::max(last[t], i);
    }
    if (def[inst.output] < 0) def[inst.output] = i;
    last[inst.output] = std::max(last[inst.output], i);
  }
  for (int t = 0; t < n; ++t) {
    const ProgramTensor& a = p.tensors[t];
    if (a.in_caller_buffer()) continue;
    if (a.offset % kDeviceAlignment != 0) bad.push_back(a.name + " misaligned");
    const uint64_t region = p.regions[a.region].size_bytes;
    if (a.offset + a.size_bytes() > region) bad.push_back(a.name + " outside its region");
    if (a.is_alias()) {
      const ProgramTensor& target = p.tensors[a.alias_of];
      if (a.region != target.region || a.offset != target.offset) bad.push_back(a.name + " is not at its target");
      if (def[t] >= 0) bad.push_back(a.name + " is an alias but written");
    }
  }
  for (int t = 0; t < n; ++t)
    for (int u = t + 1; u < n; ++u) {
      const ProgramTensor& a = p.tensors[t];
      const ProgramTensor& b = p.tensors[u];
      if (a.region != b.region || a.in_caller_buffer()) continue;
      bool both_alive;
      if (a.is_constant) {
        both_alive = true;  // constants live for the whole program
      } else {
        if (def[t] < 0 || def[u] < 0) continue;
        both_alive = def[t] <= last[u] && def[u] <= last[t];
      }
      const bool bytes_overlap = a.offset < b.offset + b.size_bytes() && b.offset < a.offset + a.size_bytes();
      if (both_alive && bytes_overlap) bad.push_back(a.name + " overlaps " + b.name);
    }
  return bad;
}

DeviceGraph Chain(int length, ops::Shape shape) {
  DeviceGraph g;
  const int x = g.AddInput("x", shape);
  int v = x;
  const char* kOps[] = {"relu", "exp", "neg", "abs"};
  for (int i = 0; i < length; ++i) v = Node(g, kOps[i % 4], {v});
  g.inputs = {{"x", x}};
  g.outputs = {{"y", v}};
  return g;
}

// ---- share-constants ---------------------------------------------------------------------------

// z = (x @ w + b) * scale + one: w [64, 64], b [64] (b_step * i), scale of `scale_shape` (per column, so
// that fold-matmul-scales, which takes a one-element scale, leaves w as it is).
DeviceGraph ScaledMatmul(int64_t rows, float b_step, ops::Shape scale_shape = {64}) {
  DeviceGraph g;
  const int x = g.AddInput("x", {rows, 64});
  std::vector<float> w(64 * 64), b(64);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * static_cast<float>(i % 89);
  for (size_t i = 0; i < b.size(); ++i) b[i] = b_step * static_cast<float>(i);
  const int wc = g.AddConstant("w", {64, 64}, w);
  const int bc = g.AddConstant("b", {64}, b);
  const int h = Node(g, "matmul", {x, wc, bc});
  const int k = g.AddConstant("scale", scale_shape, std::vector<float>(ops::NumElements(scale_shape), 2.0f));
  const int y = Node(g, "mul", {h, k});
  const int one = g.AddConstant("one", {}, {1.0f});  // the owner has no 'one'
  const int z = Node(g, "add", {y, one});
  g.inputs = {{"x", x}};
  g.outputs = {{"z", z}};
  return g;
}

TEST(ShareConstants, IdenticalConstantsTakeTheOwnersOffsetsOthersStayPrivate) {
  const ScheduledProgram owner = Pipeline(ScaledMatmul(1, 0.5f));
  std::vector<std::vector<uint8_t>> keep;
  auto constants = std::make_shared<OwnerConstants>(ConstantsOfPlannedProgram(owner, &keep));
  // A constant the owner lacks: its 'one' is left out of what it offers.
  std::erase_if(constants->regions[0].constants, [](const OwnerConstant& c) { return c.name == "one"; });

  CompileOptions options;
  options.verify_each = true;
  options.sram_residency = false;  // the owner's weights are in DRAM; so are these (regions by number below)
  options.share_from = constants;
  // Four rows (a prefill), the same w, another b, a scale of another shape.
  absl::StatusOr<CompileState> state = RunPipeline(ScaledMatmul(4, 0.25f, {1, 64}), options, "plan-memory");
  ASSERT_TRUE(state.ok()) << state.status();
  const ScheduledProgram& p = *state->program;
  ASSERT_EQ(p.regions.size(), 3u);
  const MemoryRegion& shared = p.regions[2];
  EXPECT_EQ(shared.name, "constants (shared)");
  EXPECT_EQ(shared.shares, kConstantRegion);
  EXPECT_EQ(shared.size_bytes, owner.regions[kConstantRegion].size_bytes);
  auto find = [](const ScheduledProgram& prog, const std::string& name) {
    for (const ProgramTensor& t : prog.tensors)
      if (t.name == name) return &t;
    return static_cast<const ProgramTensor*>(nullptr);
  };
  const ProgramTensor* w = find(p, "w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->region, 2);
  EXPECT_EQ(w->offset, find(owner, "w")->offset);
  EXPECT_NE(find(owner, "w")->offset, find(owner, "b")->offset);
  for (const std::string name : {"b", "scale", "one"}) {  // other bytes, another shape, not the owner's
    ASSERT_NE(find(p, name), nullptr) << name;
    EXPECT_EQ(find(p, name)->region, kConstantRegion) << name;
  }
  // The private constants are packed from the start of the program's own region.
  EXPECT_EQ(p.regions[kConstantRegion].size_bytes, AlignToDevice(find(p, "b")->size_bytes()) +
                                                       AlignToDevice(find(p, "scale")->size_bytes()) +
                                                       AlignToDevice(find(p, "one")->size_bytes()));
  EXPECT_EQ(state->sharing->shared, 1);
  EXPECT_EQ(state->sharing->private_, 3);
  EXPECT_EQ(state->Summary().sharing, "1 constants (16384 B) in the owner's regions, 3 (" +
                                          std::to_string(state->sharing->private_bytes) + " B) private");
}

TEST(ShareConstants, EachOwnerConstantIsClaimedOnceAndHostWeightsStay) {
  // Two constants of one name and value (lowering names scalars by value) claim the owner's two.
  ScheduledProgram p;
  p.regions = {{"activations", target::RegionKind::kDeviceDram, 0},
               {"constants", target::RegionKind::kDeviceDram, 0},
               {"streamed", target::RegionKind::kHostScratch, 0}};
  for (int i = 0; i < 3; ++i) p.tensors.push_back({"two", {}, ops::DType::kF32, ops::Layout::kRowMajor, 1, 0, true, {2.0f}});
  p.tensors.push_back({"two", {}, ops::DType::kF32, ops::Layout::kRowMajor, 2, 0, true, {2.0f}});
  const float two = 2.0f;
  OwnerConstants owner;
  owner.regions.push_back({1, "weights", target::RegionKind::kDeviceDram, 256, {}});
  for (uint64_t off : {0, 64})
    owner.regions[0].constants.push_back({"two", {}, ops::DType::kF32, ops::Layout::kRowMajor, off,
                                          reinterpret_cast<const uint8_t*>(&two), 4});
  SharingStats stats;
  ASSERT_TRUE(ShareConstants(p, owner, &stats).ok());
  ASSERT_EQ(p.regions.size(), 4u);
  EXPECT_EQ(p.regions[3].name, "weights (shared)");
  EXPECT_EQ(p.regions[3].size_bytes, 256u);
  EXPECT_EQ(p.tensors[0].region, 3);
  EXPECT_EQ(p.tensors[0].offset, 0u);
  EXPECT_EQ(p.tensors[1].region, 3);
  EXPECT_EQ(p.tensors[1].offset, 64u);
  EXPECT_EQ(p.tensors[2].region, 1) << "the owner has two, not three";
  EXPECT_EQ(p.tensors[3].region, 2) << "weights streamed from host memory are the executor's own";
  EXPECT_EQ(stats.ToString(), "2 constants (8 B) in the owner's regions, 1 (4 B) private");
}

TEST(MemoryPlanning, ChainReusesTheArena) {
  DeviceGraph g = Chain(5, {64, 64});
  MemoryStats stats;
  ScheduledProgram p = Pipeline(std::move(g), uint64_t{1} << 30, &stats);
  const uint64_t one = 64 * 64 * 4;
  EXPECT_EQ(stats.sum_of_activation_bytes, 6 * one);  // input copy + 5 results
  EXPECT_LT(p.regions[kActivationRegion].size_bytes, stats.sum_of_activation_bytes);
  EXPECT_EQ(p.regions[kActivationRegion].size_bytes, 2 * one);  // a chain needs only operand + result at a time
  EXPECT_EQ(stats.arena_bytes, p.regions[kActivationRegion].size_bytes);
  EXPECT_EQ(p.regions[kConstantRegion].size_bytes, 0u);
  EXPECT_THAT(PlanViolations(p), ::testing::IsEmpty());
}

TEST(MemoryPlanning, CheckerCatchesAnOverlap) {
  // Guards the checker itself: moving a live tensor onto its operand must be flagged.
  ScheduledProgram p = Pipeline(Chain(3, {64, 64}));
  ASSERT_THAT(PlanViolations(p), ::testing::IsEmpty());
  const ProgramInstruction& op = p.instructions[1];
  ASSERT_EQ(op.kind, Kind::kOp);
  p.tensors[op.output].offset = p.tensors[op.inputs[0]].offset;
  EXPECT_THAT(PlanViolations(p), ::testing::Not(::testing::IsEmpty()));
}

TEST(MemoryPlanning, TooSmallDeviceIsResourceExhaustedWithByteCounts) {
  ScheduledProgram p = Pipeline(Chain(2, {64, 64}), uint64_t{1} << 40, nullptr, "schedule");
  const uint64_t need = 2 * 64 * 64 * 4;
  absl::Status s = PlanMemory(p, need - 1);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  const std::string msg(s.message());
  EXPECT_THAT(msg, ::testing::StartsWith("device memory too small"));
  EXPECT_THAT(msg, HasSubstr(std::to_string(need)));
  EXPECT_THAT(msg, HasSubstr(std::to_string(need - 1)));
  EXPECT_TRUE(PlanMemory(p, need).ok());  // an exact fit is fine
}

TEST(MemoryPlanning, ConstantsArePackedAlignedAndCountTowardTheLimit) {
  DeviceGraph g;
  const int x = g.AddInput("x", {3, 5});
  const int c1 = g.AddConstant("c1", {3, 5}, std::vector<float>(15, 1.0f));  // row-major: 60 bytes
  const int c2 = g.AddConstant("c2", {5}, std::vector<float>(5, 2.0f));
  const int a = Node(g, "add", {x, c1});
  const int m = Node(g, "mul", {a, c2});
  g.inputs = {{"x", x}};
  g.outputs = {{"m", m}};
  MemoryStats stats;
  ScheduledProgram p = Pipeline(std::move(g), uint64_t{1} << 30, &stats);
  EXPECT_THAT(PlanViolations(p), ::testing::IsEmpty());
  uint64_t sum = 0;
  for (const ProgramTensor& t : p.tensors)
    if (t.is_constant) sum += (t.size_bytes() + 63) / 64 * 64;
  EXPECT_EQ(p.regions[kConstantRegion].size_bytes, sum);
  EXPECT_EQ(stats.constant_bytes, sum);
  absl::Status s = PlanMemory(p, p.regions[kActivationRegion].size_bytes + p.regions[kConstantRegion].size_bytes - 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("constants " + std::to_string(sum)));
}

// Random DAGs of [rows, 40] tensors: unary and binary elementwise ops, slices (smaller), concats
// (larger) and broadcast constants, with operands drawn from anywhere earlier so lifetimes vary.
DeviceGraph RandomDag(uint32_t seed) {
  std::mt19937 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  constexpr int64_t kCols = 40;
  DeviceGraph g;
  std::vector<int> pool;
  const int num_inputs = uniform(1, 3);
  for (int i = 0; i < num_inputs; ++i) {
    const int v = g.AddInput("in" + std::to_string(i), {uniform(1, 70), kCols});
    g.inputs.push_back({g.values[v].name, v});
    pool.push_back(v);
  }
  auto pick = [&]() {
    // Mostly recent values, sometimes any earlier one (long lifetimes).
    if (uniform(0, 3) == 0) return pool[uniform(0, static_cast<int>(pool.size()) - 1)];
    return pool[std::max(0, static_cast<int>(pool.size()) - 1 - uniform(0, 2))];
  };
  const int num_nodes = uniform(8, 25);
  for (int i = 0; i < num_nodes; ++i) {
    const int a = pick();
    const int64_t rows = g.values[a].shape[0];
    int v = -1;
    switch (uniform(0, 5)) {
      case 0: {
        const char* kUnary[] = {"relu", "exp", "neg", "abs", "tanh"};
        v = Node(g, kUnary[uniform(0, 4)], {a});
        break;
      }
      case 1: {  // binary with a same-shaped value if there is one
        std::vector<int> same;
        for (int u : pool)
          if (g.values[u].shape == g.values[a].shape) same.push_back(u);
        const int b = same[uniform(0, static_cast<int>(same.size()) - 1)];
        v = Node(g, uniform(0, 1) ? "add" : "mul", {a, b});
        break;
      }
      case 2: {  // broadcast constant operand
        const int c = g.AddConstant("c" + std::to_string(i), {1, kCols}, std::vector<float>(kCols, 0.5f));
        v = Node(g, "add", {a, c});
        break;
      }
      case 3: {
        ops::Attrs s;
        s.SetInt("dim", 0).SetInt("start", 0).SetInt("end", std::max<int64_t>(1, rows / 2)).SetInt("step", 1);
        v = Node(g, "slice", {a}, s);
        break;
      }
      case 4: {
        const int b = pick();
        if (rows + g.values[b].shape[0] > 300) {  // keep tensors small: negate instead
          v = Node(g, "neg", {a});
          break;
        }
        ops::Attrs c;
        c.SetInt("dim", 0);
        v = Node(g, "concat", {a, b}, c);
        break;
      }
      case 5: {  // reshapes that alias: a -> [1, rows, 40] -> exp -> back, plus a's own view read late
        ops::Attrs up, down;
        up.SetInts("shape", {1, rows, kCols});
        down.SetInts("shape", {rows, kCols});
        const int r = Node(g, "reshape", {a}, up);
        const int e = Node(g, "exp", {r});
        v = Node(g, "add", {Node(g, "reshape", {e}, down), Node(g, "reshape", {r}, down)});
        break;
      }
    }
    pool.push_back(v);
  }
  g.outputs.push_back({"out", pool.back()});
  // A few more outputs from the middle of the graph; the rest may be dead code.
  for (int i = 0, extra = uniform(0, 2); i < extra; ++i) {
    const int v = pool[uniform(num_inputs, static_cast<int>(pool.size()) - 1)];
    g.outputs.push_back({"out" + std::to_string(i + 1), v});
  }
  return g;
}

TEST(MemoryPlanning, RandomDagsNeverShareBytesBetweenLiveTensors) {
  int total_arena_tensors = 0, dags_with_reuse = 0, aliases = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    DeviceGraph g = RandomDag(seed);
    MemoryStats stats;
    ScheduledProgram p = Pipeline(std::move(g), uint64_t{1} << 40, &stats);
    ASSERT_FALSE(p.instructions.empty());
    ExpectTransfersAdjacent(p);
    EXPECT_THAT(PlanViolations(p), ::testing::IsEmpty());
    EXPECT_LE(p.regions[kActivationRegion].size_bytes, stats.sum_of_activation_bytes);
    int arena_tensors = 0;
    for (const ProgramTensor& t : p.tensors) {
      if (t.in_caller_buffer()) continue;
      EXPECT_EQ(t.offset % kDeviceAlignment, 0u) << t.name;
      arena_tensors += t.is_activation();
      aliases += t.is_alias();
    }
    total_arena_tensors += arena_tensors;
    if (p.regions[kActivationRegion].size_bytes < stats.sum_of_activation_bytes) ++dags_with_reuse;
  }
  // The DAGs are big enough to exercise reuse.
  EXPECT_GT(total_arena_tensors, 40 * 5);
  EXPECT_GT(dags_with_reuse, 30);
  EXPECT_GT(aliases, 40);  // reshapes of case 5, whose targets must outlive their readers
}

// ---- Prefetch ------------------------------------------------------------------------------

// x -> four elementwise ops -> matmul with w1 -> matmul with w2: on a device too small for the two
// [256, 256] weights beside the activations, eviction streams them, each uploaded just before its
// matmul; the elementwise ops before give the uploads compute to hide behind.
DeviceGraph TwoStreamedWeights() {
  DeviceGraph g;
  const int x = g.AddInput("x", {256, 256});
  g.inputs.push_back({"x", x});
  int y = x;
  for (const char* op : {"relu", "neg", "exp", "sin"}) y = Node(g, op, {y}, {}, op);
  const int w1 = g.AddConstant("w1", {256, 256}, Seeded(256 * 256, 1, -1, 1));
  const int w2 = g.AddConstant("w2", {256, 256}, Seeded(256 * 256, 2, -1, 1));
  const int a = Node(g, "matmul", {y, w1}, {}, "mm1");
  const int b = Node(g, "matmul", {a, w2}, {}, "mm2");
  g.outputs.push_back({"out", b});
  return g;
}

constexpr uint64_t kTile256 = 256 * 256 * 4;

int PositionOf(const ScheduledProgram& p, const std::string& source) {
  for (int i = 0; i < static_cast<int>(p.instructions.size()); ++i)
    if (p.instructions[i].source == source) return i;
  ADD_FAILURE() << "no instruction from '" << source << "' in\n" << PrintProgram(p, false);
  return -1;
}

// Host-link transfers in program order, by what they came from.
std::vector<std::string> Transfers(const ScheduledProgram& p) {
  std::vector<std::string> order;
  for (const ProgramInstruction& inst : p.instructions)
    if (inst.kind != Kind::kOp) order.push_back(inst.source);
  return order;
}

TEST(Prefetch, AStreamedWeightIsUploadedWhileTheOpsBeforeItsReaderRun) {
  const uint64_t dram = 3 * kTile256 + kTile256 / 2;
  const ScheduledProgram evicted = Pipeline(TwoStreamedWeights(), dram, nullptr, "evict");
  // Eviction puts each upload just before its reader.
  ASSERT_EQ(PositionOf(evicted, "upload w1") + 1, PositionOf(evicted, "mm1"));
  ASSERT_EQ(PositionOf(evicted, "upload w2") + 1, PositionOf(evicted, "mm2"));

  ScheduledProgram p = evicted;
  target::ChipConfig chip = target::DefaultChipConfig();
  chip.dram_bytes = static_cast<int64_t>(dram);
  EvictionStats stats;
  ASSERT_TRUE(PrefetchUploads(p, chip, &stats).ok());
  EXPECT_EQ(stats.prefetched, 1);
  // w1's upload follows the input's at once: the link is busy with the input until the first op can
  // start, and the four elementwise ops are shorter than the upload.
  EXPECT_EQ(PositionOf(p, "upload w1"), PositionOf(p, "x") + 1) << PrintProgram(p, false);
  // w2's cannot pass mm1, which reads three tensors: with w2 there would be four, over the device.
  EXPECT_EQ(PositionOf(p, "upload w2") + 1, PositionOf(p, "mm2")) << PrintProgram(p, false);
  // The link keeps its order, the ops theirs, and the plan fits.
  EXPECT_EQ(Transfers(p), Transfers(evicted));
  MemoryStats plan;
  EXPECT_TRUE(PlanMemory(p, dram, &plan).ok());
}

TEST(Prefetch, WithRoomForBothWeightsTheSecondUploadsWhileTheFirstIsRead) {
  // Both weights on the host and room for four tensors: mm1 reads three, so w2's upload passes it
  // (double buffering) while w1's still follows the input's.
  const uint64_t dram = 4 * kTile256 + kTile256 / 2;
  ScheduledProgram p = Pipeline(TwoStreamedWeights(), uint64_t{1} << 30, nullptr, "evict");
  ASSERT_EQ(MoveConstantsToHost(p, 2 * kTile256), 2 * kTile256);
  target::ChipConfig chip = target::DefaultChipConfig();
  chip.dram_bytes = static_cast<int64_t>(dram);
  EvictionStats stats;
  ASSERT_TRUE(EvictToHost(p, dram, chip, &stats).ok());
  ASSERT_EQ(PositionOf(p, "upload w2") + 1, PositionOf(p, "mm2")) << PrintProgram(p, false);
  ASSERT_TRUE(PrefetchUploads(p, chip, &stats).ok());
  EXPECT_EQ(stats.prefetched, 2);
  EXPECT_EQ(PositionOf(p, "upload w1"), PositionOf(p, "x") + 1) << PrintProgram(p, false);
  EXPECT_LT(PositionOf(p, "upload w2"), PositionOf(p, "mm1")) << PrintProgram(p, false);
  MemoryStats plan;
  EXPECT_TRUE(PlanMemory(p, dram, &plan).ok());
  EXPECT_EQ(plan.arena_bytes, 4 * kTile256);
}

TEST(Prefetch, AReloadWaitsWhereThereIsNoRoomForIt) {
  // The model of evict-spills, on a device with room for three of its tensors.
  DeviceGraph g;
  const int x = g.AddInput("x", {256, 256});
  g.inputs.push_back({"x", x});
  const int w = Node(g, "sigmoid", {x}, {}, "w");
  int y = x;
  for (const char* op : {"relu", "neg", "exp", "sin"}) y = Node(g, op, {y}, {}, op);
  const int a = Node(g, "add", {y, x}, {}, "add_x");
  g.outputs.push_back({"out", Node(g, "add", {a, w}, {}, "add_w")});
  const uint64_t dram = 3 * kTile256;
  const ScheduledProgram evicted = Pipeline(g, dram, nullptr, "evict");
  ScheduledProgram p = evicted;
  target::ChipConfig chip = target::DefaultChipConfig();
  chip.dram_bytes = static_cast<int64_t>(dram);
  EvictionStats stats;
  ASSERT_TRUE(PrefetchUploads(p, chip, &stats).ok());
  // x.device stays alive through the chain, which holds two more tensors: w cannot come back early.
  EXPECT_EQ(stats.prefetched, 0);
  EXPECT_EQ(PositionOf(p, "reload w") + 1, PositionOf(p, "add_w"));
  MemoryStats plan;
  EXPECT_TRUE(PlanMemory(p, dram, &plan).ok()) << PrintProgram(p, false);
}

// w = sigmoid(x) is read only at the end; relu(x) needs x, w and its result at once, one [256, 256]
// more than the device holds, so w is spilled. After relu the values are [256, 1] columns: room to
// bring w back while they are computed.
DeviceGraph SpillThenRoom() {
  DeviceGraph g;
  const int x = g.AddInput("x", {256, 256});
  g.inputs.push_back({"x", x});
  const int w = Node(g, "sigmoid", {x}, {}, "w");
  const int y = Node(g, "relu", {x}, {}, "relu");
  ops::Attrs mean;
  mean.SetInts("dims", {-1});
  mean.SetInt("keepdim", 1);
  int m = Node(g, "reduce_mean", {y}, mean, "mean");
  for (const char* op : {"neg", "exp", "sin"}) m = Node(g, op, {m}, {}, op);
  g.outputs.push_back({"out", Node(g, "add", {w, m}, {}, "add_w")});
  return g;
}

TEST(Prefetch, AReloadComesBackAsSoonAsThereIsRoomAfterItsSpill) {
  const uint64_t dram = 2 * kTile256 + kTile256 / 2;
  const ScheduledProgram evicted = Pipeline(SpillThenRoom(), dram, nullptr, "evict");
  ASSERT_EQ(PositionOf(evicted, "reload w") + 1, PositionOf(evicted, "add_w")) << PrintProgram(evicted, false);
  target::ChipConfig chip = target::DefaultChipConfig();
  chip.dram_bytes = static_cast<int64_t>(dram);
  // On the default chip the column ops end long before the spill does: the link is busy until the
  // reload's last op anyway, so it moves only past that one.
  ScheduledProgram p = evicted;
  EvictionStats stats;
  ASSERT_TRUE(PrefetchUploads(p, chip, &stats).ok());
  EXPECT_EQ(stats.prefetched, 1);
  EXPECT_EQ(PositionOf(p, "reload w") + 2, PositionOf(p, "add_w")) << PrintProgram(p, false);
  // With a vector engine 640x slower (an element per cycle per core, at a tenth of the clock) they are
  // worth hiding behind: exp and sin of [256, 1] (8 tiles, so 8 cores) take longer than the upload, so
  // it comes back right before them, after its spill.
  chip.vector_elements_per_cycle_per_core = 1;
  chip.clock_ghz /= 10;
  p = evicted;
  ASSERT_TRUE(PrefetchUploads(p, chip, &stats).ok());
  EXPECT_EQ(stats.prefetched, 1);
  EXPECT_EQ(PositionOf(p, "reload w") + 1, PositionOf(p, "exp")) << PrintProgram(p, false);
  EXPECT_LT(PositionOf(p, "spill w"), PositionOf(p, "reload w"));
  MemoryStats plan;
  EXPECT_TRUE(PlanMemory(p, dram, &plan).ok()) << PrintProgram(p, false);
}

TEST(Prefetch, AProgramThatFitsIsLeftAsItIs) {
  const ScheduledProgram before = Pipeline(TwoStreamedWeights(), uint64_t{1} << 30, nullptr, "evict");
  ScheduledProgram p = before;
  EvictionStats stats;
  ASSERT_TRUE(PrefetchUploads(p, target::DefaultChipConfig(), &stats).ok());
  EXPECT_EQ(stats.prefetched, 0);
  EXPECT_EQ(PrintProgram(p, false), PrintProgram(before, false));
}

// ---- Weight prefetch -----------------------------------------------------------------------

// x [256, 256] -> relu -> neg -> exp -> sin -> matmul with w [256, 1024] (1 MiB): the vector ops
// before the matmul give a copy of w something to run beside.
DeviceGraph VectorOpsThenAWideMatmul() {
  DeviceGraph g;
  const int x = g.AddInput("x", {256, 256});
  g.inputs.push_back({"x", x});
  int y = x;
  for (const char* op : {"relu", "neg", "exp", "sin"}) y = Node(g, op, {y}, {}, op);
  const int w = g.AddConstant("w", {256, 1024}, Seeded(256 * 1024, 3, -1, 1));
  g.outputs.push_back({"out", Node(g, "matmul", {y, w}, {}, "mm")});
  return g;
}

// The default chip with `usable` bytes of SRAM per core for the compiler.
target::ChipConfig WithSramPerCore(int64_t usable) {
  target::ChipConfig chip = target::DefaultChipConfig();
  chip.sram_bytes_per_core = chip.sram_reserved_bytes_per_core + usable;
  return chip;
}

// The program before prefetch-weights, for `chip`.
ScheduledProgram BeforeWeightPrefetch(DeviceGraph g, const target::ChipConfig& chip) {
  CompileOptions options;
  options.chip = chip;
  options.verify_each = true;
  absl::StatusOr<CompileState> state = RunPipeline(std::move(g), options, "alias-reshapes");
  EXPECT_TRUE(state.ok()) << state.status();
  return state.ok() ? *std::move(state->program) : ScheduledProgram{};
}

int TensorNamed(const ScheduledProgram& p, const std::string& name) {
  for (int t = 0; t < static_cast<int>(p.tensors.size()); ++t)
    if (p.tensors[t].name == name) return t;
  ADD_FAILURE() << "no tensor " << name;
  return 0;
}

// The SRAM both regions take per core once planned.
int64_t PlannedSramPerCore(ScheduledProgram p, const target::ChipConfig& chip) {
  EXPECT_TRUE(PlanMemory(p, uint64_t{1} << 40).ok());
  int64_t per_core = 0;
  for (const MemoryRegion& r : p.regions)
    if (r.kind == target::RegionKind::kDeviceSram) per_core += chip.SramBytesPerCore(r.size_bytes);
  return per_core;
}

// With 32 KiB of SRAM per core, the arena takes 18205 bytes of each and w 14564 more would be one byte
// too many, so sram-residency leaves w in DRAM; the arena has room for a staging copy before the
// vector ops, so the copy goes first and crosses the DRAM while the upload and the vector ops run.
TEST(WeightPrefetch, CopiesADramWeightIntoSramAheadOfTheOpsBeforeItsReader) {
  const target::ChipConfig chip = WithSramPerCore(32 * 1024);
  ScheduledProgram p = BeforeWeightPrefetch(VectorOpsThenAWideMatmul(), chip);
  const double before = EstimatedEndMicros(p, chip);
  WeightPrefetchStats stats;
  ASSERT_TRUE(PrefetchWeights(p, chip, &stats).ok());
  EXPECT_EQ(stats.staged, 1) << PrintProgram(p, false);
  EXPECT_EQ(stats.staged_bytes, 1048576u);
  EXPECT_EQ(stats.demoted, 0);
  // Issued before the vector ops, not just before its reader.
  EXPECT_LT(PositionOf(p, "stage w"), PositionOf(p, "relu")) << PrintProgram(p, false);
  const ProgramInstruction& copy = p.instructions[PositionOf(p, "stage w")];
  EXPECT_EQ(copy.op->name, "copy");
  const int w = TensorNamed(p, "w"), staged = TensorNamed(p, "w.staged");
  EXPECT_EQ(copy.inputs, std::vector<int>{w});
  EXPECT_EQ(copy.output, staged);
  EXPECT_EQ(p.instructions[PositionOf(p, "mm")].inputs[1], staged);
  EXPECT_EQ(p.regions[p.tensors[w].region].kind, target::RegionKind::kDeviceDram);
  EXPECT_EQ(p.regions[p.tensors[staged].region].name, kSramArenaRegion);
  EXPECT_LT(stats.estimated_us, before);
  EXPECT_DOUBLE_EQ(stats.estimated_us, EstimatedEndMicros(p, chip));
  EXPECT_LE(PlannedSramPerCore(p, chip), chip.sram_usable_bytes_per_core());
}

// With 24 KiB per core there is no room for w's 1 MiB beside the activations at its reader: nothing
// changes.
TEST(WeightPrefetch, NoRoomForTheStagingBufferLeavesTheProgramAsItIs) {
  const target::ChipConfig chip = WithSramPerCore(24 * 1024);
  const ScheduledProgram before = BeforeWeightPrefetch(VectorOpsThenAWideMatmul(), chip);
  ScheduledProgram p = before;
  WeightPrefetchStats stats;
  ASSERT_TRUE(PrefetchWeights(p, chip, &stats).ok());
  EXPECT_EQ(stats.staged, 0);
  EXPECT_EQ(PrintProgram(p, false), PrintProgram(before, false));
  EXPECT_EQ(p.regions.size(), before.regions.size());
}

// x -> relu -> mm1 (w1) -> neg -> exp -> mm2 (w2), the weights [256, 256] in DRAM: each copy comes
// before its reader, the first before the second (the DMA engine
// keeps its order), and the arena with both buffers still fits.
TEST(WeightPrefetch, TwoWeightsCopyInOrderWithinTheSram) {
  DeviceGraph g;
  const int x = g.AddInput("x", {256, 256});
  g.inputs.push_back({"x", x});
  const int w1 = g.AddConstant("w1", {256, 256}, Seeded(256 * 256, 4, -1, 1));
  const int w2 = g.AddConstant("w2", {256, 256}, Seeded(256 * 256, 5, -1, 1));
  const int a = Node(g, "matmul", {Node(g, "relu", {x}, {}, "relu"), w1}, {}, "mm1");
  const int b = Node(g, "exp", {Node(g, "neg", {a}, {}, "neg")}, {}, "exp");
  g.outputs.push_back({"out", Node(g, "matmul", {b, w2}, {}, "mm2")});
  const target::ChipConfig chip = WithSramPerCore(16 * 1024);
  ScheduledProgram p = BeforeWeightPrefetch(std::move(g), chip);
  // Where sram-residency leaves weights when others take the SRAM.
  for (const char* w : {"w1", "w2"}) p.tensors[TensorNamed(p, w)].region = kConstantRegion;
  WeightPrefetchStats stats;
  ASSERT_TRUE(PrefetchWeights(p, chip, &stats).ok());
  EXPECT_EQ(stats.staged, 2) << PrintProgram(p, false);
  EXPECT_LT(PositionOf(p, "stage w1"), PositionOf(p, "mm1"));
  EXPECT_LT(PositionOf(p, "stage w2"), PositionOf(p, "mm2"));
  EXPECT_LT(PositionOf(p, "stage w1"), PositionOf(p, "stage w2"));
  EXPECT_LE(PlannedSramPerCore(p, chip), chip.sram_usable_bytes_per_core());
}

TEST(OpTime, LaunchPlusTheLargerOfWorkAndTraffic) {
  const ScheduledProgram p = Pipeline(TwoStreamedWeights(), uint64_t{1} << 30, nullptr, "evict");
  const target::ChipConfig& chip = target::DefaultChipConfig();
  const ProgramInstruction& mm1 = p.instructions[PositionOf(p, "mm1")];
  // 256^3 multiply-adds over the 64 output tiles (one per core); three [256, 256] f32 tensors in DRAM.
  const double flops = 2.0 * 256 * 256 * 256;
  const double compute = flops / (chip.MatrixFlopsPerCyclePerCore(ops::DType::kF32) * 64 * chip.cycles_per_us());
  const double traffic = 3.0 * kTile256 / (chip.dram_bandwidth_gb_per_s * 1e3);
  const OpTime time = EstimateOp(p, mm1, chip);
  EXPECT_NEAR(time.compute_us, compute, 1e-9);
  EXPECT_NEAR(time.Micros(chip), chip.op_launch_us + std::max(compute, traffic), 1e-9);
  EXPECT_NEAR(time.MicrosWithout(kTile256, chip),
              chip.op_launch_us + std::max(compute, 2.0 * kTile256 / (chip.dram_bandwidth_gb_per_s * 1e3)), 1e-9);
}

// One conv2d of x [1, 64, 56, 56] with w: ops::UnitOf puts a depthwise one on the vector engine.
ScheduledProgram OneConv(int64_t groups) {
  ScheduledProgram p;
  p.regions = {{"activations", target::RegionKind::kDeviceDram, 0}, {"constants", target::RegionKind::kDeviceDram, 0}};
  p.tensors.push_back({"x", {1, 64, 56, 56}, ops::DType::kF32, ops::Layout::kRowMajor, kActivationRegion, 0, false, {}});
  p.tensors.push_back({"w", {64, 64 / groups, 3, 3}, ops::DType::kF32, ops::Layout::kRowMajor, kConstantRegion, 0,
                       true, std::vector<float>(64 * 64 / groups * 9, 1.0f)});
  p.tensors.push_back({"y", {1, 64, 56, 56}, ops::DType::kF32, ops::Layout::kRowMajor, kActivationRegion, 0, false, {}});
  ops::Attrs a = ConvAttrs();
  a.SetInt("groups", groups);
  p.instructions.push_back({ProgramInstruction::Kind::kOp, ops::FindOp("conv2d"), {0, 1}, 2, a, "conv"});
  return p;
}

TEST(OpTime, ChargesTheEngineTheOpRunsOn) {
  const target::ChipConfig& chip = target::DefaultChipConfig();
  for (int64_t groups : {int64_t{1}, int64_t{64}}) {
    const ScheduledProgram p = OneConv(groups);
    const ProgramInstruction& conv = p.instructions[0];
    std::vector<ops::Shape> shapes = {p.tensors[0].shape, p.tensors[1].shape};
    const ops::Unit unit = ops::UnitOf(*conv.op, shapes, p.tensors[2].shape, conv.attrs);
    EXPECT_EQ(unit, groups == 1 ? ops::Unit::kMatrix : ops::Unit::kVector) << groups;
    const double work = conv.op->work(shapes, p.tensors[2].shape, conv.attrs);
    // [1, 64, 56, 56]: 64 x 2 x 2 = 256 output tiles over 72 cores, so the busiest core has 4 of them.
    EXPECT_EQ(ops::SplitOf(*conv.op, shapes, p.tensors[2].shape, conv.attrs).tiles, 256);
    const double rate = unit == ops::Unit::kMatrix ? chip.MatrixFlopsPerCyclePerCore(ops::DType::kF32)
                                                   : static_cast<double>(chip.vector_elements_per_cycle_per_core);
    EXPECT_NEAR(EstimateOp(p, conv, chip).compute_us, work * 4 / 256 / (rate * chip.cycles_per_us()), 1e-9) << groups;
  }
}

TEST(OpTime, OnlyDramOperandsCostTraffic) {
  const target::ChipConfig& chip = target::DefaultChipConfig();
  ScheduledProgram p = OneConv(1);
  const double all = EstimateOp(p, p.instructions[0], chip).dram_bytes;
  EXPECT_EQ(all, static_cast<double>(p.tensors[0].size_bytes() + p.tensors[1].size_bytes() + p.tensors[2].size_bytes()));
  p.regions.push_back({"sram", target::RegionKind::kDeviceSram, 0});
  p.tensors[1].region = 2;
  EXPECT_EQ(EstimateOp(p, p.instructions[0], chip).dram_bytes, all - static_cast<double>(p.tensors[1].size_bytes()));
}

// x @ w0 @ w1 @ w2 @ w3, all [256, 256], on a device with room for four such tensors: eviction streams
// w0, w1 and w2 (each read with its operand and result, three tensors), and w3 stays resident.
absl::StatusOr<CompileState> MatmulChain(const target::ChipConfig& chip) {
  DeviceGraph g;
  const int x = g.AddInput("x", {256, 256});
  g.inputs.push_back({"x", x});
  int y = x;
  for (int i = 0; i < 4; ++i) {
    const std::string w = "w" + std::to_string(i);
    y = Node(g, "matmul", {y, g.AddConstant(w, {256, 256}, Seeded(256 * 256, i, -1, 1))}, {}, "mm" + std::to_string(i));
  }
  g.outputs.push_back({"out", y});
  CompileOptions options;
  options.chip = chip;
  options.chip.dram_bytes = static_cast<int64_t>(4 * kTile256);
  options.verify_each = true;
  options.sram_residency = false;  // streaming against DRAM alone
  return RunPipeline(std::move(g), options, "prefetch");
}

TEST(Prefetch, StreamsAnotherWeightForRoomOnlyWhenTheComputeItHidesBehindIsWorthTheTransfer) {
  // On the default chip a matmul takes a few microseconds, less than uploading w3 would add: nothing
  // to hide behind, eviction's uploads stay where they are (there is no room to move them anyway).
  absl::StatusOr<CompileState> fast = MatmulChain(target::DefaultChipConfig());
  ASSERT_TRUE(fast.ok()) << fast.status();
  EXPECT_EQ(fast->eviction.reloads, 3);
  EXPECT_EQ(fast->eviction.prefetched, 0);
  // With a matrix engine 1000x slower, each matmul hides an upload: streaming w3 too frees the room
  // to upload each weight while the matmul before its reader runs (double buffering).
  target::ChipConfig slow = target::DefaultChipConfig();
  slow.matrix_best_bf16_tflop_per_s /= 1000;
  slow.matrix_flop_per_cycle_per_core /= 1000;
  absl::StatusOr<CompileState> s = MatmulChain(slow);
  ASSERT_TRUE(s.ok()) << s.status();
  const ScheduledProgram& p = *s->program;
  EXPECT_EQ(s->eviction.reloads, 4);
  EXPECT_EQ(s->eviction.prefetched, 3);
  EXPECT_EQ(PositionOf(p, "upload w0"), PositionOf(p, "x") + 1) << PrintProgram(p, false);
  for (int i = 1; i < 4; ++i)
    EXPECT_LT(PositionOf(p, "upload w" + std::to_string(i)), PositionOf(p, "mm" + std::to_string(i - 1)))
        << PrintProgram(p, false);
  ScheduledProgram planned = p;
  EXPECT_TRUE(PlanMemory(planned, 4 * kTile256).ok());
}

// ---- SRAM residency ----------------------------------------------------------------------------

// A chip whose SRAM regions may hold `usable_per_core` bytes on each of two cores.
target::ChipConfig ChipWithSram(int64_t usable_per_core) {
  target::ChipConfig chip = target::DefaultChipConfig();
  chip.cores = 2;
  chip.sram_reserved_bytes_per_core = chip.sram_bytes_per_core - usable_per_core;
  return chip;
}

// The default pipeline up to memory planning on `chip`, with its SRAM residency stats.
ScheduledProgram SramPipeline(DeviceGraph g, const target::ChipConfig& chip, SramResidencyStats* stats) {
  CompileOptions options;
  options.chip = chip;
  options.verify_each = true;
  absl::StatusOr<CompileState> state = RunPipeline(std::move(g), options, "plan-memory");
  EXPECT_TRUE(state.ok()) << state.status();
  if (!state.ok()) return {};
  EXPECT_TRUE(state->sram.has_value());
  if (stats && state->sram) *stats = *state->sram;
  return *std::move(state->program);
}

int RegionNamed(const ScheduledProgram& p, const std::string& name) {
  for (size_t r = 0; r < p.regions.size(); ++r)
    if (p.regions[r].name == name) return static_cast<int>(r);
  return -1;
}

std::string RegionOf(const ScheduledProgram& p, const std::string& tensor) {
  for (const ProgramTensor& t : p.tensors)
    if (t.name == tensor) return t.in_caller_buffer() ? "host" : p.regions[t.region].name;
  return "no tensor " + tensor;
}

// What the regions take of each core, as the runtime checks it at load.
int64_t SramPerCore(const ScheduledProgram& p, const target::ChipConfig& chip) {
  int64_t per_core = 0;
  for (const MemoryRegion& r : p.regions)
    if (r.kind == target::RegionKind::kDeviceSram) per_core += chip.SramBytesPerCore(r.size_bytes);
  return per_core;
}

TEST(SramResidency, EverythingThatFitsLeavesDram) {
  // A chain with a weight per step: the arena needs an operand and a result at a time.
  DeviceGraph g;
  const int x = g.AddInput("x", {64, 64});
  int v = x;
  for (int i = 0; i < 3; ++i) {
    // Each its own values: cse would make equal weights one.
    const int w = g.AddConstant("w" + std::to_string(i), {64, 64}, std::vector<float>(64 * 64, 0.5f + i));
    v = Node(g, "add", {v, w}, {}, "add" + std::to_string(i));
  }
  g.inputs = {{"x", x}};
  g.outputs = {{"y", v}};
  SramResidencyStats stats;
  const target::ChipConfig& chip = target::DefaultChipConfig();
  ScheduledProgram p = SramPipeline(std::move(g), chip, &stats);
  const uint64_t one = 64 * 64 * 4;
  EXPECT_EQ(stats.activations, 4);  // the input's device copy and three sums
  EXPECT_EQ(stats.activations_spilled, 0);
  EXPECT_EQ(stats.arena_bytes, 2 * one);
  EXPECT_EQ(stats.activation_bytes, 4 * one);
  EXPECT_EQ(stats.weights, 3);
  EXPECT_EQ(stats.weight_bytes, 3 * one);
  EXPECT_EQ(stats.weights_in_dram, 0);
  for (const char* t : {"x.device", "add0", "add1", "add2"}) EXPECT_EQ(RegionOf(p, t), "sram activations") << t;
  for (const char* t : {"w0", "w1", "w2"}) EXPECT_EQ(RegionOf(p, t), "sram constants") << t;
  EXPECT_EQ(p.regions[RegionNamed(p, "sram activations")].size_bytes, 2 * one);
  EXPECT_EQ(p.regions[RegionNamed(p, "sram constants")].size_bytes, 3 * one);
  EXPECT_EQ(p.regions[kActivationRegion].size_bytes + p.regions[kConstantRegion].size_bytes, 0u);
  EXPECT_THAT(PlanViolations(p), ::testing::IsEmpty());
  EXPECT_EQ(stats.bytes_per_core, SramPerCore(p, chip));
  EXPECT_EQ(stats.ToString(),
            "4 activations in a 32768-byte arena (65536 without reuse; 0 left in DRAM), 3 weights (49152 bytes; 0 "
            "with 0 bytes left in DRAM): 1139 of 1310720 bytes per core");
}

TEST(SramResidency, ActivationsReadMostStayAndTheRestSpillWithinTheBudget) {
  // x is read by the first op and the last (a residual): it saves the most DRAM bytes per SRAM byte.
  // With room for two [64, 64] tensors on the chip, x and the short-lived ones that fit beside it stay.
  DeviceGraph g;
  const int x = g.AddInput("x", {64, 64});
  const int a = Node(g, "relu", {x}, {}, "a");
  const int b = Node(g, "exp", {a}, {}, "b");
  const int c = Node(g, "neg", {b}, {}, "c");
  const int d = Node(g, "add", {c, x}, {}, "d");
  g.inputs = {{"x", x}};
  g.outputs = {{"d", d}};
  const uint64_t one = 64 * 64 * 4;
  const target::ChipConfig chip = ChipWithSram(static_cast<int64_t>(one));  // 2 cores x one = two tensors
  SramResidencyStats stats;
  ScheduledProgram p = SramPipeline(std::move(g), chip, &stats);
  EXPECT_EQ(RegionOf(p, "x.device"), "sram activations");
  EXPECT_EQ(stats.activations + stats.activations_spilled, 5);
  EXPECT_GT(stats.activations_spilled, 0);
  EXPECT_LE(stats.arena_bytes, 2 * one);
  EXPECT_LE(SramPerCore(p, chip), chip.sram_usable_bytes_per_core());
  // What did not fit is in the DRAM arena, and the plan is sound in both.
  int in_dram = 0;
  for (const ProgramTensor& t : p.tensors) in_dram += !t.in_caller_buffer() && t.region == kActivationRegion;
  EXPECT_EQ(in_dram, stats.activations_spilled);
  EXPECT_GT(p.regions[kActivationRegion].size_bytes, 0u);
  EXPECT_THAT(PlanViolations(p), ::testing::IsEmpty());
}

TEST(SramResidency, WeightsFillWhatTheArenaLeavesMostReadFirst) {
  // One activation at a time in SRAM (the arena), then weights: `shared` is read twice, so it goes
  // first; of the rest, the largest that fit.
  DeviceGraph g;
  const int x = g.AddInput("x", {32, 32});
  const int shared = g.AddConstant("shared", {32, 32}, std::vector<float>(32 * 32, 1.0f));
  const int big = g.AddConstant("big", {32, 32 * 4}, std::vector<float>(32 * 32 * 4, 2.0f));
  const int small = g.AddConstant("small", {32, 32}, std::vector<float>(32 * 32, 3.0f));
  const int a = Node(g, "add", {x, shared}, {}, "a");
  const int m = Node(g, "matmul", {a, big}, {}, "m");
  const int s = Node(g, "matmul", {a, small}, {}, "s");
  const int b = Node(g, "add", {s, shared}, {}, "b");
  g.inputs = {{"x", x}};
  g.outputs = {{"m", m}, {"b", b}};
  const uint64_t tile = 32 * 32 * 4;
  SramResidencyStats stats;
  // Room for the arena (x.device, a, m, s, b: at most three [32, 32]-tile units alive, m is four)
  // plus two more tiles.
  ScheduledProgram p = SramPipeline(std::move(g), ChipWithSram(static_cast<int64_t>(4 * tile)), &stats);
  EXPECT_EQ(stats.activations_spilled, 0);
  const uint64_t left = 8 * tile - stats.arena_bytes;
  ASSERT_GE(left, tile);
  ASSERT_LT(left, 4 * tile + tile);  // not room for every weight
  EXPECT_EQ(RegionOf(p, "shared"), "sram constants");
  EXPECT_LE(stats.weight_bytes, left);
  uint64_t constant_bytes = 0;
  int constants = 0;
  for (const ProgramTensor& t : p.tensors)
    if (t.is_constant) constant_bytes += AlignToDevice(t.size_bytes()), ++constants;
  EXPECT_EQ(stats.weight_bytes + stats.weight_bytes_in_dram, constant_bytes);
  EXPECT_EQ(stats.weights + stats.weights_in_dram, constants);
  EXPECT_GT(stats.weights_in_dram, 0);
  EXPECT_EQ(p.regions[kConstantRegion].size_bytes, stats.weight_bytes_in_dram);
  EXPECT_THAT(PlanViolations(p), ::testing::IsEmpty());
}

TEST(SramResidency, NoRoomLeavesEverythingInDramAndAddsNoRegion) {
  DeviceGraph g = Chain(3, {64, 64});
  SramResidencyStats stats;
  ScheduledProgram p = SramPipeline(std::move(g), ChipWithSram(1024), &stats);  // 2 KiB: no [64, 64] fits
  EXPECT_EQ(stats.activations, 0);
  EXPECT_EQ(stats.activations_spilled, 4);
  EXPECT_EQ(RegionNamed(p, "sram activations"), -1);
  EXPECT_EQ(RegionNamed(p, "sram constants"), -1);
  EXPECT_EQ(p.regions.size(), 2u);
  EXPECT_THAT(PlanViolations(p), ::testing::IsEmpty());
}

TEST(SramResidency, RandomDagsStayWithinTheCoresSram) {
  // Fragmentation can make the planned arena larger than the live bytes the choice was made on; the
  // pass re-chooses until the plan fits, on every DAG and budget.
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    for (int64_t per_core : {4096, 20000, 100000}) {
      SCOPED_TRACE("seed " + std::to_string(seed) + ", " + std::to_string(per_core) + " bytes per core");
      const target::ChipConfig chip = ChipWithSram(per_core);
      SramResidencyStats stats;
      ScheduledProgram p = SramPipeline(RandomDag(seed), chip, &stats);
      ASSERT_FALSE(p.instructions.empty());
      EXPECT_LE(SramPerCore(p, chip), per_core);
      EXPECT_LE(SramPerCore(p, chip), stats.bytes_per_core);  // alias-reshapes may only shrink the plan
      EXPECT_THAT(PlanViolations(p), ::testing::IsEmpty());
    }
  }
}

}  // namespace
}  // namespace kiln::compiler

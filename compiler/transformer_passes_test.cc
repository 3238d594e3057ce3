// Tests of the passes that make a transformer layer fewer launches: fold-matmul-reshapes,
// split-sliced-matmuls, fold-matmul-scales, fold-head-splits, fuse-rearranges and the attention-mask bias of
// fuse-epilogues, on hand-built device graphs shaped as torch.export writes a linear layer and
// scaled dot-product attention. Each test also runs
// the graph before and after the pass with the op library's kernels and checks the numbers agree.
#include <cmath>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/lowering/device_graph.h"
#include "compiler/graph_test_util.h"
#include "compiler/passes/dead_code_elimination.h"
#include "compiler/passes/fold_head_split.h"
#include "compiler/passes/fold_matmul_reshapes.h"
#include "compiler/passes/fold_matmul_scale.h"
#include "compiler/passes/fuse_epilogue.h"
#include "compiler/passes/fuse_rearranges.h"
#include "compiler/passes/split_sliced_matmuls.h"
#include "compiler/pipeline/verifier.h"
#include "ops/epilogue.h"
#include "ops/kernels.h"

namespace kiln::compiler {
namespace {

int Reshape(DeviceGraph& g, int v, std::vector<int64_t> shape) { return Node(g, "reshape", {v}, ShapeAttrs(shape)); }

std::vector<float> Ramp(int64_t n, float scale, int period = 7) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(static_cast<int>(i % period) - period / 2);
  return v;
}

int Constant(DeviceGraph& g, const std::string& name, ops::Shape shape, float scale) {
  return g.AddConstant(name, shape, Ramp(ops::NumElements(shape), scale));
}

int Input(DeviceGraph& g, const std::string& name, ops::Shape shape) {
  const int v = g.AddInput(name, std::move(shape));
  g.inputs.push_back({name, v});
  return v;
}

// Every value of the graph, computed node by node with the op library's kernels from `feeds` (one
// per graph input, in order): the reference a rewritten graph's outputs must match.
std::vector<std::vector<float>> Evaluate(const DeviceGraph& g, const std::vector<std::vector<float>>& feeds) {
  std::vector<std::vector<float>> data(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].kind == DeviceValue::Kind::kConstant) data[v] = g.values[v].constant;
  for (size_t i = 0; i < g.inputs.size(); ++i) data[g.inputs[i].second] = feeds[i];
  for (const DeviceNode& node : g.nodes) {
    std::vector<ops::ConstView> in;
    for (int v : node.inputs) in.push_back({data[v].data(), g.values[v].shape});
    const ops::Shape& shape = g.values[node.output].shape;
    data[node.output].assign(ops::NumElements(shape), 0.0f);
    const ops::KernelFn kernel = ops::FindKernel(*node.op);
    EXPECT_NE(kernel, nullptr) << node.source;
    if (kernel) kernel(in, node.attrs, {data[node.output].data(), shape});
  }
  return data;
}

std::vector<std::vector<float>> Feeds(const DeviceGraph& g) {
  std::vector<std::vector<float>> feeds;
  for (const auto& [name, v] : g.inputs) feeds.push_back(Ramp(ops::NumElements(g.values[v].shape), 0.25f, 5));
  return feeds;
}

// The rewritten graph is well formed, and its outputs agree with `reference`'s to fp32 rounding.
void ExpectSameOutputs(const DeviceGraph& reference, const DeviceGraph& rewritten) {
  const absl::Status valid = VerifyDeviceGraph(rewritten);
  EXPECT_TRUE(valid.ok()) << valid;
  const auto before = Evaluate(reference, Feeds(reference));
  const auto after = Evaluate(rewritten, Feeds(rewritten));
  ASSERT_EQ(reference.outputs.size(), rewritten.outputs.size());
  for (size_t o = 0; o < reference.outputs.size(); ++o) {
    const std::vector<float>& want = before[reference.outputs[o].second];
    const std::vector<float>& got = after[rewritten.outputs[o].second];
    ASSERT_EQ(want.size(), got.size()) << reference.outputs[o].first;
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-4f * (1.0f + std::fabs(want[i]))) << reference.outputs[o].first << "[" << i << "]";
  }
}

std::vector<std::string> OpNames(const DeviceGraph& g) {
  std::vector<std::string> names;
  for (const DeviceNode& n : g.nodes) names.push_back(std::string(n.op->name));
  return names;
}

// A linear layer on [1, 32, 16] as torch.export writes it: view -> addmm -> view, then a residual
// add and (in a second layer) `activation` (BERT's gelu, GPT-2's gelu_tanh).
DeviceGraph LinearBlock(const std::string& activation = "gelu") {
  DeviceGraph g;
  const int x = Input(g, "x", {1, 32, 16});
  const int w = Constant(g, "w", {16, 16}, 0.125f), b = Constant(g, "b", {16}, 0.5f);
  const int mm = Node(g, "matmul", {Reshape(g, x, {32, 16}), w, b}, {}, "addmm");
  const int sum = Node(g, "add", {Reshape(g, mm, {1, 32, 16}), x}, {}, "add");
  const int w2 = Constant(g, "w2", {16, 64}, 0.25f), b2 = Constant(g, "b2", {64}, 0.5f);
  const int up = Node(g, "matmul", {Reshape(g, sum, {32, 16}), w2, b2}, {}, "addmm_1");
  g.outputs = {{"y", Node(g, activation, {Reshape(g, up, {1, 32, 64})}, {}, activation)}};
  return g;
}

TEST(FoldMatmulReshapes, ALinearOnThreeDimsProducesItsResultSoTheAddAndGeluFuse) {
  const DeviceGraph reference = LinearBlock();
  DeviceGraph g = reference;
  int folded = 0;
  ASSERT_TRUE(FoldMatmulReshapes(g, &folded).ok());
  EXPECT_EQ(folded, 2);
  ASSERT_TRUE(EliminateDeadCode(g).ok());
  EXPECT_THAT(OpNames(g), ::testing::ElementsAre("matmul", "add", "matmul", "gelu"));
  EXPECT_EQ(g.values[g.nodes[0].inputs[0]].name, "x");
  EXPECT_EQ(g.values[g.nodes[0].output].shape, (ops::Shape{1, 32, 16}));
  EXPECT_EQ(g.nodes[0].source, "addmm+reshape2");
  ExpectSameOutputs(reference, g);

  EpilogueFusionStats stats;
  ASSERT_TRUE(FuseEpilogues(g, &stats).ok());
  EXPECT_EQ(stats.residuals, 1);
  EXPECT_EQ(stats.activations, 1);
  EXPECT_THAT(OpNames(g), ::testing::ElementsAre("matmul", "matmul"));
  ExpectSameOutputs(reference, g);
}

TEST(FoldMatmulReshapes, GeluTanhFusesAsWell) {
  const DeviceGraph reference = LinearBlock("gelu_tanh");
  DeviceGraph g = reference;
  EpilogueFusionStats stats;
  ASSERT_TRUE(FoldMatmulReshapes(g).ok());
  ASSERT_TRUE(FuseEpilogues(g, &stats).ok());
  ASSERT_TRUE(EliminateDeadCode(g).ok());
  EXPECT_EQ(stats.activations, 1);
  EXPECT_THAT(OpNames(g), ::testing::ElementsAre("matmul", "matmul"));
  EXPECT_EQ(ops::EpilogueActivationName(g.nodes[1].attrs), "gelu_tanh");
  ExpectSameOutputs(reference, g);
}

// Attention scores as the math path of scaled dot-product attention writes them: the heads' batch
// dims [1, 2] merged into [2] for bmm and split back.
DeviceGraph Scores(bool with_bias) {
  DeviceGraph g;
  const int q = Input(g, "q", {1, 2, 32, 8});
  const int k = Input(g, "k", {1, 2, 8, 32});
  std::vector<int> operands = {Reshape(g, q, {2, 32, 8}), Reshape(g, k, {2, 8, 32})};
  if (with_bias) operands.push_back(Constant(g, "bias", {32, 32}, 0.5f));
  const int mm = Node(g, "matmul", operands, {}, "bmm");
  g.outputs = {{"scores", Reshape(g, mm, {1, 2, 32, 32})}};
  return g;
}

TEST(FoldMatmulReshapes, ABatchedMatmulTakesTheUnmergedBatchDims) {
  for (bool with_bias : {false, true}) {
    const DeviceGraph reference = Scores(with_bias);
    DeviceGraph g = reference;
    int folded = 0;
    ASSERT_TRUE(FoldMatmulReshapes(g, &folded).ok());
    ASSERT_TRUE(EliminateDeadCode(g).ok());
    EXPECT_EQ(folded, 1);
    EXPECT_THAT(OpNames(g), ::testing::ElementsAre("matmul"));
    EXPECT_EQ(g.values[g.outputs[0].second].shape, (ops::Shape{1, 2, 32, 32}));
    ExpectSameOutputs(reference, g);
  }
}

TEST(FoldMatmulReshapes, LeavesWhatWouldComputeDifferentlyOrPadMore) {
  // A bias per row would move with the rows.
  {
    DeviceGraph g;
    const int x = Input(g, "x", {2, 32, 16});
    const int mm = Node(g, "matmul", {Reshape(g, x, {64, 16}), Constant(g, "w", {16, 8}, 1), Constant(g, "b", {64, 1}, 1)});
    g.outputs = {{"y", Reshape(g, mm, {2, 32, 8})}};
    EXPECT_TRUE(FoldMatmulReshapes(g).ok());
    EXPECT_EQ(g.nodes.size(), 3u);
  }
  // [2, 40, 16] would pad each batch's 40 rows to 64, where [80, 16] pads 80 rows to 96.
  {
    DeviceGraph g;
    const int x = Input(g, "x", {2, 40, 16});
    const int mm = Node(g, "matmul", {Reshape(g, x, {80, 16}), Constant(g, "w", {16, 8}, 1)});
    g.outputs = {{"y", Reshape(g, mm, {2, 40, 8})}};
    EXPECT_TRUE(FoldMatmulReshapes(g).ok());
    EXPECT_EQ(g.nodes.size(), 3u);
  }
  // The result reshaped to other rows than x's: [32, 8] -> [8, 32].
  {
    DeviceGraph g;
    const int x = Input(g, "x", {1, 32, 16});
    const int mm = Node(g, "matmul", {Reshape(g, x, {32, 16}), Constant(g, "w", {16, 8}, 1)});
    g.outputs = {{"y", Reshape(g, mm, {8, 32})}};
    EXPECT_TRUE(FoldMatmulReshapes(g).ok());
    EXPECT_EQ(g.nodes.size(), 3u);
  }
  // The unreshaped result is a graph output too.
  {
    DeviceGraph g;
    const int x = Input(g, "x", {1, 32, 16});
    const int mm = Node(g, "matmul", {Reshape(g, x, {32, 16}), Constant(g, "w", {16, 8}, 1)});
    g.outputs = {{"y", Reshape(g, mm, {1, 32, 8})}, {"flat", mm}};
    EXPECT_TRUE(FoldMatmulReshapes(g).ok());
    EXPECT_EQ(g.nodes.size(), 3u);
  }
  // Batched with a broadcast: b's one matrix serves both of a's, so a and b have different batch dims.
  {
    DeviceGraph g;
    const int q = Input(g, "q", {1, 2, 32, 8});
    const int k = Input(g, "k", {1, 1, 8, 32});
    const int mm = Node(g, "matmul", {Reshape(g, q, {2, 32, 8}), Reshape(g, k, {1, 8, 32})});
    g.outputs = {{"y", Reshape(g, mm, {1, 2, 32, 32})}};
    EXPECT_TRUE(FoldMatmulReshapes(g).ok());
    EXPECT_EQ(g.nodes.size(), 4u);
  }
}

// Attention's q and k projections, each scaled by sqrt(scale) after the head split:
// linear -> reshape -> permute -> mul, then the scores matmul, the mask add and softmax.
DeviceGraph Attention() {
  DeviceGraph g;
  const int x = Input(g, "x", {1, 32, 16});
  const int mask = Input(g, "mask", {1, 1, 32, 32});
  const int scale = g.AddConstant("scale", {}, {0.5f});
  auto head = [&](const std::string& name, std::vector<int64_t> dims) {
    const int mm = Node(g, "matmul", {x, Constant(g, name + ".w", {16, 16}, 0.125f), Constant(g, name + ".b", {16}, 0.5f)},
                        {}, name);
    const int heads = Node(g, "permute", {Reshape(g, mm, {1, 32, 2, 8})}, DimsAttrs(dims));
    return Node(g, "mul", {heads, scale}, {}, name + "_scaled");
  };
  const int q = head("q", {0, 2, 1, 3});  // [1, 2, 32, 8]
  const int k = head("k", {0, 2, 3, 1});  // [1, 2, 8, 32]
  const int scores = Node(g, "matmul", {q, k}, {}, "bmm");
  g.outputs = {{"p", Node(g, "softmax", {Node(g, "add", {scores, mask}, {}, "masked")}, [] {
                  ops::Attrs a;
                  a.SetInt("dim", 3);
                  return a;
                }())}};
  return g;
}

TEST(FoldMatmulScales, BothScalesOfAttentionMoveIntoTheProjectionsWeights) {
  const DeviceGraph reference = Attention();
  DeviceGraph g = reference;
  int folded = 0;
  ASSERT_TRUE(FoldMatmulScales(g, &folded).ok());
  EXPECT_EQ(folded, 2);
  ASSERT_TRUE(EliminateDeadCode(g).ok());
  EXPECT_THAT(OpNames(g), ::testing::ElementsAre("matmul", "reshape", "permute", "matmul", "reshape", "permute",
                                                 "matmul", "add", "softmax"));
  EXPECT_EQ(g.values[g.nodes[0].inputs[1]].name, "q.w.scaled");
  EXPECT_EQ(g.values[g.nodes[0].inputs[2]].name, "q.b.scaled");
  EXPECT_EQ(g.values[g.nodes[0].inputs[1]].constant[0], 0.5f * reference.values[reference.nodes[0].inputs[1]].constant[0]);
  EXPECT_EQ(g.nodes[0].source, "q+q_scaled");
  EXPECT_EQ(g.values[g.nodes[2].output].name, "q_scaled");  // the permute now produces the product
  ExpectSameOutputs(reference, g);
}

}  // namespace
}  // namespace kiln::compiler

namespace kiln::compiler {
namespace {

TEST(FuseEpilogues, AMaskThatBroadcastsBecomesTheBiasOfAMatmulWithoutOne) {
  DeviceGraph reference;
  const int q = Input(reference, "q", {1, 2, 32, 8});
  const int k = Input(reference, "k", {1, 2, 8, 32});
  const int mask = Input(reference, "mask", {1, 1, 32, 32});
  const int scores = Node(reference, "matmul", {q, k}, {}, "bmm");
  reference.outputs = {{"masked", Node(reference, "add", {mask, scores}, {}, "add")}};
  DeviceGraph g = reference;
  EpilogueFusionStats stats;
  ASSERT_TRUE(FuseEpilogues(g, &stats).ok());
  EXPECT_EQ(stats.biases, 1);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_THAT(g.nodes[0].inputs, ::testing::ElementsAre(q, k, mask));
  EXPECT_EQ(g.nodes[0].source, "bmm+add");
  ExpectSameOutputs(reference, g);

  // A linear written as bmm and a bias add (BERT's at batch > 1), then the residual add and gelu.
  DeviceGraph linear;
  const int x = Input(linear, "x", {2, 32, 16});
  const int mm = Node(linear, "matmul", {x, Constant(linear, "w", {2, 16, 16}, 0.125f)}, {}, "bmm");
  const int biased = Node(linear, "add", {mm, Constant(linear, "b", {16}, 0.5f)}, {}, "add_bias");
  linear.outputs = {{"y", Node(linear, "gelu", {Node(linear, "add", {biased, x}, {}, "add_residual")}, {}, "gelu")}};
  DeviceGraph fused = linear;
  EpilogueFusionStats counts;
  ASSERT_TRUE(FuseEpilogues(fused, &counts).ok());
  EXPECT_EQ(counts.biases + counts.residuals + counts.activations, 3);
  ASSERT_EQ(fused.nodes.size(), 1u);
  EXPECT_EQ(fused.nodes[0].source, "bmm+add_bias+add_residual+gelu");
  ExpectSameOutputs(linear, fused);

  // A mask the add broadcasts the product to (a larger result) is not the matmul's to add.
  DeviceGraph wider;
  const int q2 = Input(wider, "q", {1, 32, 8});
  const int k2 = Input(wider, "k", {1, 8, 32});
  const int m2 = Input(wider, "mask", {2, 32, 32});
  wider.outputs = {{"masked", Node(wider, "add", {Node(wider, "matmul", {q2, k2}), m2})}};
  ASSERT_TRUE(FuseEpilogues(wider, &stats).ok());
  EXPECT_EQ(wider.nodes.size(), 2u);
}

}  // namespace
}  // namespace kiln::compiler

namespace kiln::compiler {
namespace {

TEST(FoldMatmulScales, LeavesUnscaledValuesOthersReadAndScalesThatAreNotOneFiniteNumber) {
  DeviceGraph g;
  const int x = Input(g, "x", {4, 16});
  auto linear = [&](const std::string& name) { return Node(g, "matmul", {x, Constant(g, name, {16, 16}, 0.125f)}, {}, name); };
  const int seen = linear("seen");
  const int t = Node(g, "permute", {seen}, DimsAttrs({1, 0}));
  g.outputs = {{"t", t}, {"seen_scaled", Node(g, "mul", {t, g.AddConstant("two", {}, {2.0f})})}};
  g.outputs.push_back({"per_column", Node(g, "mul", {linear("col"), g.AddConstant("cols", {16}, Ramp(16, 1.0f))})});
  g.outputs.push_back({"inf", Node(g, "mul", {linear("inf"), g.AddConstant("inf", {}, {INFINITY})})});
  const int in = Input(g, "w", {16, 16});  // a weight the caller passes: not a constant to fold into
  g.outputs.push_back({"input_w", Node(g, "mul", {Node(g, "matmul", {x, in}), g.AddConstant("half", {}, {0.5f})})});
  const size_t nodes = g.nodes.size();
  int folded = 0;
  ASSERT_TRUE(FoldMatmulScales(g, &folded).ok());
  EXPECT_EQ(folded, 0);
  EXPECT_EQ(g.nodes.size(), nodes);
}

// Projections of x [B, 32, 64] split into two heads of 32: q-like (heads first) and k-like (heads
// first, then transposed), each read by a matmul.
DeviceGraph HeadSplits(int64_t batch, int64_t depth) {
  DeviceGraph g;
  const int64_t width = 2 * depth;
  const int x = Input(g, "x", {batch, 32, width});
  auto project = [&](const std::string& name, std::vector<int64_t> dims) {
    const int mm = Node(g, "matmul", {x, Constant(g, name + ".w", {width, width}, 0.0625f), Constant(g, name + ".b", {width}, 0.5f)},
                        {}, name);
    return Node(g, "permute", {Reshape(g, mm, {batch, 32, 2, depth})}, DimsAttrs(dims), name + "_heads");
  };
  const int q = project("q", {0, 2, 1, 3});  // [B, 2, 32, D]
  const int k = project("k", {0, 2, 3, 1});  // [B, 2, D, 32]
  g.outputs = {{"scores", Node(g, "matmul", {q, k}, {}, "bmm")}};
  return g;
}

TEST(FoldHeadSplits, ProjectionsProduceTheirHeadsAndTheKeyKeepsOnlyItsTranspose) {
  const DeviceGraph reference = HeadSplits(1, 32);
  DeviceGraph g = reference;
  int folded = 0;
  ASSERT_TRUE(FoldHeadSplits(g, &folded).ok());
  EXPECT_EQ(folded, 2);
  EXPECT_THAT(OpNames(g), ::testing::ElementsAre("matmul", "matmul", "permute", "matmul"));
  const DeviceNode& q = g.nodes[0];
  EXPECT_EQ(q.inputs[0], reference.inputs[0].second);  // x as it is: its batch dims are ones
  EXPECT_EQ(g.values[q.inputs[1]].shape, (ops::Shape{1, 2, 64, 32}));
  EXPECT_EQ(g.values[q.inputs[2]].shape, (ops::Shape{2, 1, 32}));
  EXPECT_EQ(g.values[q.output].name, "q_heads");
  EXPECT_EQ(q.source, "q+reshape1+q_heads");
  EXPECT_EQ(g.nodes[2].attrs.Ints("dims"), (std::vector<int64_t>{0, 1, 3, 2}));
  ExpectSameOutputs(reference, g);
}

TEST(FoldHeadSplits, ABatchOfTwoReadsXWithARoomForTheHeads) {
  const DeviceGraph reference = HeadSplits(2, 32);
  DeviceGraph g = reference;
  int folded = 0;
  ASSERT_TRUE(FoldHeadSplits(g, &folded).ok());
  EXPECT_EQ(folded, 2);
  EXPECT_THAT(OpNames(g), ::testing::ElementsAre("reshape", "matmul", "matmul", "permute", "matmul"));  // one reshape of x
  EXPECT_EQ(g.values[g.nodes[0].output].shape, (ops::Shape{2, 1, 32, 64}));
  ExpectSameOutputs(reference, g);
}

TEST(FoldHeadSplits, LeavesHeadsNarrowerThanATile) {
  DeviceGraph g = HeadSplits(1, 8);  // [2, 32, 8] per-head products pad 8 columns to 32 twice
  int folded = 0;
  ASSERT_TRUE(FoldHeadSplits(g, &folded).ok());
  EXPECT_EQ(folded, 0);
  EXPECT_EQ(g.nodes.size(), 7u);
}

}  // namespace
}  // namespace kiln::compiler

namespace kiln::compiler {
namespace {

TEST(FuseRearranges, AHeadMergeAndAViewBeforeAPermuteBecomeOneCopyEach) {
  DeviceGraph reference;
  const int ctx = Input(reference, "ctx", {1, 2, 32, 8});
  const int x = Input(reference, "x", {32, 16});
  // Head merge: permute then reshape.
  const int merged = Reshape(reference, Node(reference, "permute", {ctx}, DimsAttrs({0, 2, 1, 3}), "permute_ctx"), {1, 32, 16});
  // Head split of a value read twice (x stays): reshape then permute, then a reshape with two readers.
  const int split = Node(reference, "permute", {Reshape(reference, x, {32, 2, 8})}, DimsAttrs({1, 0, 2}), "permute_x");
  const int flat = Reshape(reference, split, {2, 256});
  reference.outputs = {{"merged", merged}, {"flat", flat}, {"sum", Node(reference, "add", {flat, flat})},
                       {"x", Node(reference, "neg", {x})}};
  DeviceGraph g = reference;
  RearrangeStats stats;
  ASSERT_TRUE(FuseRearranges(g, &stats).ok());
  EXPECT_EQ(stats.reshapes, 3);
  EXPECT_EQ(stats.permutes_as_reshapes, 0);
  EXPECT_THAT(OpNames(g), ::testing::ElementsAre("rearrange", "rearrange", "add", "neg"));
  EXPECT_EQ(g.nodes[0].attrs.Ints("view"), (std::vector<int64_t>{1, 2, 32, 8}));
  EXPECT_EQ(g.nodes[0].attrs.Ints("shape"), (std::vector<int64_t>{1, 32, 16}));
  EXPECT_EQ(g.nodes[0].source, "permute_ctx+reshape1");
  EXPECT_EQ(g.nodes[1].inputs, std::vector<int>{x});
  EXPECT_EQ(g.nodes[1].attrs.Ints("view"), (std::vector<int64_t>{32, 2, 8}));
  EXPECT_EQ(g.nodes[1].output, flat);
  ExpectSameOutputs(reference, g);
}

TEST(FuseRearranges, LeavesAPermuteAloneAndValuesOthersRead) {
  DeviceGraph g;
  const int x = Input(g, "x", {4, 8});
  const int t = Node(g, "permute", {x}, DimsAttrs({1, 0}));
  const int r = Reshape(g, t, {32});
  g.outputs = {{"t", t}, {"r", r}, {"alone", Node(g, "permute", {x}, DimsAttrs({1, 0}))}};  // t is an output
  RearrangeStats stats;
  ASSERT_TRUE(FuseRearranges(g, &stats).ok());
  EXPECT_EQ(stats.reshapes + stats.permutes_as_reshapes, 0);
  EXPECT_THAT(OpNames(g), ::testing::ElementsAre("permute", "reshape", "permute"));
}

TEST(FuseRearranges, APermuteOfSizeOneDimsAndItsReshapesAreOneReshape) {
  DeviceGraph reference;
  const int x = Input(reference, "x", {32, 16});
  // ViT's attention output [S, 1, E] -> [1, S, E], then flattened.
  const int moved = Node(reference, "permute", {Reshape(reference, x, {32, 1, 16})}, DimsAttrs({1, 0, 2}), "permute");
  reference.outputs = {{"y", Node(reference, "neg", {Reshape(reference, moved, {1, 512})})},
                       {"alone", Node(reference, "permute", {Reshape(reference, x, {1, 32, 16})}, DimsAttrs({1, 0, 2}))}};
  DeviceGraph g = reference;
  RearrangeStats stats;
  ASSERT_TRUE(FuseRearranges(g, &stats).ok());
  EXPECT_EQ(stats.permutes_as_reshapes, 2);
  EXPECT_EQ(stats.reshapes, 0);
  EXPECT_THAT(OpNames(g), ::testing::ElementsAre("reshape", "neg", "reshape"));
  EXPECT_EQ(g.nodes[0].inputs, std::vector<int>{x});
  EXPECT_EQ(g.nodes[0].attrs.Ints("shape"), (std::vector<int64_t>{1, 512}));
  ExpectSameOutputs(reference, g);
}

}  // namespace
}  // namespace kiln::compiler

namespace kiln::compiler {
namespace {

ops::Attrs SliceAttrs(int64_t dim, int64_t start, int64_t end) {
  ops::Attrs a;
  a.SetInt("dim", dim).SetInt("start", start).SetInt("end", end).SetInt("step", 1);
  return a;
}

// GPT-2's fused q, k, v projection: one [64, 192] matmul cut into three [.., 64] column ranges.
DeviceGraph FusedQkv(int64_t piece) {
  DeviceGraph g;
  const int x = Input(g, "x", {1, 32, 64});
  const int qkv = Node(g, "matmul", {x, Constant(g, "c_attn.w", {64, 3 * piece}, 0.0625f),
                                    Constant(g, "c_attn.b", {3 * piece}, 0.5f)}, {}, "addmm");
  for (int i = 0; i < 3; ++i)
    g.outputs.push_back({"part" + std::to_string(i),
                         Node(g, "exp", {Node(g, "slice", {qkv}, SliceAttrs(i == 1 ? -1 : 2, i * piece, (i + 1) * piece),
                                              "split" + std::to_string(i))})});
  return g;
}

TEST(SplitSlicedMatmuls, AFusedProjectionBecomesOneMatmulPerSlice) {
  const DeviceGraph reference = FusedQkv(64);
  DeviceGraph g = reference;
  int split = 0;
  ASSERT_TRUE(SplitSlicedMatmuls(g, &split).ok());
  EXPECT_EQ(split, 1);
  EXPECT_THAT(OpNames(g), ::testing::ElementsAre("matmul", "exp", "matmul", "exp", "matmul", "exp"));
  EXPECT_EQ(g.values[g.nodes[2].inputs[1]].name, "c_attn.w.cols64_128");
  EXPECT_EQ(g.values[g.nodes[2].inputs[1]].shape, (ops::Shape{64, 64}));
  EXPECT_EQ(g.values[g.nodes[2].inputs[2]].name, "c_attn.b.cols64_128");
  EXPECT_EQ(g.nodes[2].source, "addmm+split1");
  ExpectSameOutputs(reference, g);
}

TEST(SplitSlicedMatmuls, LeavesResultsOthersReadAndPiecesThatPadMore) {
  DeviceGraph read = FusedQkv(64);
  read.outputs.push_back({"qkv", read.nodes[0].output});  // the whole result is an output too
  DeviceGraph narrow = FusedQkv(16);                    // three [.., 16] pieces pad to three tiles, the whole to two
  for (DeviceGraph* g : {&read, &narrow}) {
    int split = 0;
    ASSERT_TRUE(SplitSlicedMatmuls(*g, &split).ok());
    EXPECT_EQ(split, 0);
    EXPECT_EQ(g->nodes.size(), 7u);
  }
}

}  // namespace
}  // namespace kiln::compiler

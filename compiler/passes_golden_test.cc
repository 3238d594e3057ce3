// Golden-text tests, one per pass: a tiny model goes through the default pipeline up to and
// including each pass, and the printed IR (program/printer.h) must equal
// compiler/passes/testdata/<pass>.txt. A diff shows exactly what a change to a pass did; regenerate
// with KILN_UPDATE_GOLDENS=1 bazel run //compiler:passes_golden_test (see testing/golden.h).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/aten/aten_graph.h"
#include "compiler/pipeline/pipeline.h"
#include "compiler/testing/golden.h"

namespace kiln::compiler {
namespace {

using ::testing::HasSubstr;
using testing::MatchesGolden;
using testing::UnifiedDiff;

Argument Tensor(const std::string& value) {
  Argument a;
  a.kind = Argument::Kind::kTensor;
  a.tensor = value;
  return a;
}

Argument Ints(std::vector<int64_t> v) {
  Argument a;
  a.kind = Argument::Kind::kInts;
  a.ints = std::move(v);
  return a;
}

// A linear layer, as torch.export writes it, with a second input and two outputs:
//   relu = relu(x @ fc.weight^T + fc.bias)        (output)
//   dead = exp(x)                                   (reaches no output)
//   neg  = neg(relu * s)                            (output)
// Each pass changes something visible: folding removes the weight's permute, fusion the relu (and,
// as the first pass to count only live reads, the dead exp, which dce would drop), placement adds
// transfers, layout selection keeps only x tiled, scheduling moves s's upload to
// just before the mul, memory planning reuses the arena.
AtenGraph Model() {
  AtenGraph g;
  auto value = [&](const std::string& name, std::vector<int64_t> sizes) {
    TensorMeta m;
    m.sizes = std::move(sizes);
    m.dtype = TorchDType::kFloat;
    g.values[name] = m;
    return m;
  };
  auto weight = [&](const std::string& name, const std::string& target, std::vector<int64_t> sizes) {
    WeightTensor w;
    w.meta = value(name, sizes);
    int64_t n = 1;
    for (int64_t d : sizes) n *= d;
    std::vector<float> data(n);
    for (int64_t i = 0; i < n; ++i) data[i] = static_cast<float>(i % 7) - 3.0f;
    std::vector<uint8_t> bytes(n * sizeof(float));
    std::memcpy(bytes.data(), data.data(), bytes.size());
    w.bytes = WeightBytes(std::move(bytes));
    g.weights[target] = std::move(w);
    g.inputs.push_back({name, InputKind::kParameter, target});
  };
  auto node = [&](const std::string& name, const std::string& op, std::vector<NamedArgument> args,
                  std::vector<int64_t> sizes) {
    value(name, std::move(sizes));
    g.nodes.push_back({name, "torch.ops.aten." + op, std::move(args), {name}, ""});
  };
  g.inputs.push_back({"x", InputKind::kUserInput, ""});
  value("x", {32, 64});
  g.inputs.push_back({"s", InputKind::kUserInput, ""});
  value("s", {32, 8});
  weight("p_fc_weight", "fc.weight", {8, 64});
  weight("p_fc_bias", "fc.bias", {8});
  node("permute", "permute.default", {{"self", Tensor("p_fc_weight")}, {"dims", Ints({1, 0})}}, {64, 8});
  node("addmm", "addmm.default", {{"self", Tensor("p_fc_bias")}, {"mat1", Tensor("x")}, {"mat2", Tensor("permute")}},
       {32, 8});
  node("relu", "relu.default", {{"self", Tensor("addmm")}}, {32, 8});
  node("exp", "exp.default", {{"self", Tensor("x")}}, {32, 64});
  node("mul", "mul.Tensor", {{"self", Tensor("relu")}, {"other", Tensor("s")}}, {32, 8});
  node("neg", "neg.default", {{"self", Tensor("mul")}}, {32, 8});
  g.outputs = {"relu", "neg"};
  return g;
}

ops::Attrs PermuteDims(std::vector<int64_t> dims) {
  ops::Attrs a;
  a.SetInts("dims", std::move(dims));
  return a;
}

class PassGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(PassGolden, PrintedIrAfterThePassMatchesTheGolden) {
  const AtenGraph model = Model();
  CompileOptions options;
  options.verify_each = true;
  absl::StatusOr<CompileState> state = RunPipeline(model, options, GetParam());
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->last_pass, GetParam());
  EXPECT_TRUE(MatchesGolden(PrintState(*state), "compiler/passes/testdata/" + GetParam() + ".txt"));
}

// Every pass but serialization, whose bytes the runtime's loader tests check.
INSTANTIATE_TEST_SUITE_P(EveryPass, PassGolden,
                         ::testing::Values("lower", "fold-constants", "compose-permutes", "cse",
                                           "fuse-safe-softmax", "fuse-gelu-tanh", "fold-batch-norm", "fuse-silu",
                                           "fuse-hard-activations", "fold-matmul-reshapes", "split-sliced-matmuls",
                                           "fold-matmul-scales", "fold-head-splits", "fuse-rearranges",
                                           "fuse-epilogues", "fuse-squeeze-excite", "fuse-input-scale", "dce",
                                           "order-ops", "place", "select-layouts", "schedule", "sram-residency",
                                           "evict", "prefetch", "alias-reshapes", "prefetch-weights", "plan-memory"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

TEST(PassGolden, CoversEveryPassOfThePipelineButSerialization) {
  std::vector<std::string> names;
  for (const Pass& p : BuildPipeline(CompileOptions{})) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"lower", "fold-constants", "compose-permutes", "cse",
                                             "fuse-safe-softmax", "fuse-gelu-tanh", "fold-batch-norm", "fuse-silu",
                                             "fuse-hard-activations", "fold-matmul-reshapes", "split-sliced-matmuls",
                                             "fold-matmul-scales", "fold-head-splits", "fuse-rearranges",
                                             "fuse-epilogues", "fuse-squeeze-excite", "fuse-input-scale", "dce",
                                             "order-ops", "place", "select-layouts", "schedule", "sram-residency",
                                             "evict", "prefetch", "alias-reshapes", "prefetch-weights", "plan-memory",
                                             "serialize"}));
}

// The model above computes nothing twice; this one, an attention mask built in each of two layers
// over its own copies of the scalars and a layer input reshaped once per projection, shows what cse
// merges (and dce then frees).
TEST(CseGolden, MergesRepeatedConstantsAndNodes) {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 32, 64});
  const int mask = g.AddInput("mask", {1, 32, 32});
  g.inputs = {{"x", x}, {"mask", mask}};
  ops::Attrs flat;
  flat.SetInts("shape", {32, 64});
  absl::StatusOr<int> h = x;
  for (const std::string layer : {"0", "1"}) {
    const int zero = g.AddConstant("zero#" + layer, {}, {0.0f});
    const int inf = g.AddConstant("inf#" + layer, {}, {-INFINITY});
    absl::StatusOr<int> m = g.AddNode("where", {mask, zero, inf}, {}, "where_" + layer, "where_" + layer);
    absl::StatusOr<int> q = g.AddNode("reshape", {*h}, flat, "view_q" + layer, "view_q" + layer);
    absl::StatusOr<int> k = g.AddNode("reshape", {*h}, flat, "view_k" + layer, "view_k" + layer);
    ASSERT_TRUE(m.ok() && q.ok() && k.ok());
    absl::StatusOr<int> kt = g.AddNode("permute", {*k}, PermuteDims({1, 0}), "kt" + layer, "kt" + layer);
    ASSERT_TRUE(kt.ok());
    absl::StatusOr<int> s = g.AddNode("matmul", {*q, *kt}, {}, "scores" + layer, "scores" + layer);
    ASSERT_TRUE(s.ok());
    absl::StatusOr<int> masked = g.AddNode("add", {*s, *m}, {}, "masked" + layer, "masked" + layer);
    ASSERT_TRUE(masked.ok());
    h = g.AddNode("matmul", {*masked, *h}, {}, "out" + layer, "out" + layer);
    ASSERT_TRUE(h.ok()) << h.status();
  }
  g.outputs.push_back({"h", *h});
  CompileOptions options;
  options.verify_each = true;
  absl::StatusOr<CompileState> state = RunPipeline(std::move(g), options, "dce");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->cse.constants, 2);
  EXPECT_EQ(state->cse.nodes, 3);  // where_1, view_k0, view_k1
  EXPECT_TRUE(MatchesGolden(PrintState(*state), "compiler/passes/testdata/cse-repeats.txt"));
}

// The model above has no reshape; in this one a [1, 32, 64] input is flattened for a matmul and
// the result unflattened (both free in tiles, so aliases at their operand's offset after planning)
// and split into heads (a copy: the last dim changes).
TEST(AliasGolden, ReshapesThatMoveNoBytesShareTheirOperandsOffset) {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 32, 64});
  g.inputs = {{"x", x}};
  std::vector<float> w(64 * 64);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 5) - 2.0f;
  auto reshape = [&](int v, std::vector<int64_t> shape, const std::string& name) {
    ops::Attrs attrs;
    attrs.SetInts("shape", std::move(shape));
    absl::StatusOr<int> r = g.AddNode("reshape", {v}, attrs, name, name);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : 0;
  };
  absl::StatusOr<int> e = g.AddNode("exp", {x}, {}, "exp", "exp");
  ASSERT_TRUE(e.ok());
  absl::StatusOr<int> mm =
      g.AddNode("matmul", {reshape(*e, {32, 64}, "view"), g.AddConstant("w", {64, 64}, w)}, {}, "mm", "mm");
  ASSERT_TRUE(mm.ok());
  const int out = reshape(*mm, {1, 32, 64}, "view_1");
  absl::StatusOr<int> sum = g.AddNode("add", {out, *e}, {}, "add", "add");
  ASSERT_TRUE(sum.ok());
  g.outputs = {{"y", *sum}, {"heads", reshape(*sum, {1, 32, 8, 8}, "view_2")}};
  CompileOptions options;
  options.verify_each = true;
  options.fuse_epilogues = false;  // fold-matmul-reshapes would fold the views into the matmul
  absl::StatusOr<CompileState> state = RunPipeline(std::move(g), options, "plan-memory");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->aliasing.reshapes, 2);
  EXPECT_TRUE(MatchesGolden(PrintState(*state), "compiler/passes/testdata/alias-reshapes-planned.txt"));
}

// The model above fits any device it can run on; this one, two values kept alive across a chain of ops
// on a device with room for three of its tensors, shows what eviction inserts and how it is planned.
TEST(EvictGolden, SpillsAndReloadsOnASmallDevice) {
  DeviceGraph g;
  const int x = g.AddInput("x", {32, 64});
  g.inputs.push_back({"x", x});
  absl::StatusOr<int> w = g.AddNode("sigmoid", {x}, {}, "w", "w");
  ASSERT_TRUE(w.ok());
  absl::StatusOr<int> y = x;
  for (const char* op : {"relu", "neg", "exp"}) {
    y = g.AddNode(op, {*y}, {}, op, op);
    ASSERT_TRUE(y.ok());
  }
  absl::StatusOr<int> a = g.AddNode("add", {*y, x}, {}, "add_x", "add_x");
  ASSERT_TRUE(a.ok());
  absl::StatusOr<int> b = g.AddNode("add", {*a, *w}, {}, "add_w", "add_w");
  ASSERT_TRUE(b.ok());
  g.outputs.push_back({"out", *b});
  CompileOptions options;
  options.verify_each = true;
  options.chip.dram_bytes = 3 * 32 * 64 * 4;
  options.sram_residency = false;  // eviction against DRAM alone: the cores' SRAM would hold it all
  absl::StatusOr<CompileState> state = RunPipeline(std::move(g), options, "plan-memory");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_TRUE(MatchesGolden(PrintState(*state) + state->Summary().eviction + "\n",
                            "compiler/passes/testdata/evict-spills.txt"));
}

// Two weights that do not fit beside the activations: eviction uploads each just before its matmul;
// prefetch issues the first one's right after the input's, so it crosses the link while the
// elementwise ops run, in bytes nothing else uses until its matmul (the second has no room to move).
TEST(PrefetchGolden, AStreamedWeightUploadsWhileTheOpsBeforeItRun) {
  DeviceGraph g;
  const int x = g.AddInput("x", {256, 256});
  g.inputs.push_back({"x", x});
  absl::StatusOr<int> y = x;
  for (const char* op : {"relu", "neg", "exp", "sin"}) {
    y = g.AddNode(op, {*y}, {}, op, op);
    ASSERT_TRUE(y.ok());
  }
  for (const char* w : {"w1", "w2"}) {
    // Each its own values: cse would make equal weights one.
    const int c = g.AddConstant(w, {256, 256}, std::vector<float>(256 * 256, w[1] == '1' ? 0.5f : 0.25f));
    y = g.AddNode("matmul", {*y, c}, {}, std::string("mm_") + w, std::string("mm_") + w);
    ASSERT_TRUE(y.ok());
  }
  g.outputs.push_back({"out", *y});
  CompileOptions options;
  options.verify_each = true;
  options.chip.dram_bytes = 7 * 256 * 256 * 4 / 2;
  options.sram_residency = false;  // streaming against DRAM alone: the cores' SRAM would hold it all
  absl::StatusOr<CompileState> state = RunPipeline(std::move(g), options, "plan-memory");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_TRUE(MatchesGolden(PrintState(*state) + state->Summary().eviction + "\n",
                            "compiler/passes/testdata/prefetch-streamed.txt"));
}

// A weight left in DRAM (with 32 KiB of SRAM per core it misses the SRAM by one byte) and four vector
// ops before its matmul: prefetch-weights copies it into the SRAM arena first of all, so the DRAM
// DMA engine moves it while the input uploads and the vector ops run, and the matmul reads the copy.
TEST(WeightPrefetchGolden, AWeightInDramIsCopiedToSramAheadOfTheOpsBeforeItsMatmul) {
  DeviceGraph g;
  const int x = g.AddInput("x", {256, 256});
  g.inputs.push_back({"x", x});
  absl::StatusOr<int> y = x;
  for (const char* op : {"relu", "neg", "exp", "sin"}) {
    y = g.AddNode(op, {*y}, {}, op, op);
    ASSERT_TRUE(y.ok());
  }
  const int w = g.AddConstant("w", {256, 1024}, std::vector<float>(256 * 1024, 0.5f));
  y = g.AddNode("matmul", {*y, w}, {}, "mm", "mm");
  ASSERT_TRUE(y.ok());
  g.outputs.push_back({"out", *y});
  CompileOptions options;
  options.verify_each = true;
  options.chip.sram_bytes_per_core = options.chip.sram_reserved_bytes_per_core + 32 * 1024;
  absl::StatusOr<CompileState> state = RunPipeline(std::move(g), options, "plan-memory");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_TRUE(MatchesGolden(PrintState(*state) + state->Summary().weight_prefetch + "\n",
                            "compiler/passes/testdata/prefetch-weights-staged.txt"));
}

// The model above has no silu or gate; this one is the core of EfficientNet's block: conv -> x *
// sigmoid(x) -> a squeeze-excitation gate (mean, 1x1 conv, silu, 1x1 conv, sigmoid) -> the gated
// activation's 1x1 convolution, after each of fuse-silu, fuse-epilogues, fuse-squeeze-excite (the
// convolution and its gate become one op) and fuse-input-scale (which then has no gate mul left).
TEST(FusionGolden, EfficientNetBlockFusesItsSiluAndItsGate) {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 3, 8, 8});
  g.inputs.push_back({"x", x});
  const ops::Attrs one =
      ops::Attrs().SetInts("stride", {1, 1}).SetInts("padding", {0, 0}).SetInts("dilation", {1, 1}).SetInt("groups", 1);
  auto node = [&](const std::string& op, std::vector<int> inputs, const ops::Attrs& attrs, const std::string& name) {
    absl::StatusOr<int> v = g.AddNode(op, std::move(inputs), attrs, name, name);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : 0;
  };
  const int conv = node("conv2d", {x, g.AddConstant("w", {4, 3, 1, 1}, std::vector<float>(12, 0.5f))}, one, "conv");
  const int act = node("mul", {conv, node("sigmoid", {conv}, {}, "sigmoid")}, {}, "mul");
  const int mean = node("reduce_mean", {act}, ops::Attrs().SetInts("dims", {-1, -2}).SetInt("keepdim", 1), "mean");
  const int fc1 = node("conv2d", {mean, g.AddConstant("fc1", {2, 4, 1, 1}, std::vector<float>(8, 0.25f))}, one, "fc1");
  const int hidden = node("mul", {fc1, node("sigmoid", {fc1}, {}, "fc1.sigmoid")}, {}, "fc1.silu");
  const int fc2 = node("conv2d", {hidden, g.AddConstant("fc2", {4, 2, 1, 1}, std::vector<float>(8, 0.5f))}, one, "fc2");
  const int gated = node("mul", {act, node("sigmoid", {fc2}, {}, "gate")}, {}, "scale");
  const int out =
      node("conv2d", {gated, g.AddConstant("project", {2, 4, 1, 1}, std::vector<float>(8, 1.0f))}, one, "project");
  g.outputs.push_back({"out", out});
  CompileOptions options;
  options.verify_each = true;
  std::string text;
  for (const char* pass : {"fuse-silu", "fuse-epilogues", "fuse-squeeze-excite", "fuse-input-scale"}) {
    absl::StatusOr<CompileState> state = RunPipeline(g, options, pass);
    ASSERT_TRUE(state.ok()) << state.status();
    text += std::string("// after ") + pass + "\n" + PrintState(*state);
  }
  EXPECT_TRUE(MatchesGolden(text, "compiler/passes/testdata/efficientnet-block.txt"));
}

// The model above has no attention; this one is a transformer encoder's self-attention as torch.export
// writes it (BERT, ViT): q, k and v projections as view -> addmm -> view, heads split by reshape and
// permute, q and k each scaled by sqrt(scale), bmm over merged batch dims, a mask add, softmax, heads
// merged back, the output projection and the residual add; after each pass that shortens it.
TEST(FusionGolden, SelfAttentionFoldsItsViewsScalesAndMask) {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 32, 64});
  const int mask = g.AddInput("mask", {1, 1, 32, 32});
  g.inputs = {{"x", x}, {"mask", mask}};
  auto node = [&](const std::string& op, std::vector<int> inputs, const ops::Attrs& attrs, const std::string& name) {
    absl::StatusOr<int> v = g.AddNode(op, std::move(inputs), attrs, name, name);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : 0;
  };
  auto view = [&](int v, std::vector<int64_t> shape, const std::string& name) {
    return node("reshape", {v}, ops::Attrs().SetInts("shape", std::move(shape)), name);
  };
  const int rows = view(x, {32, 64}, "view");
  const int scale = g.AddConstant("scale", {}, {0.5f});
  auto linear = [&](int in, const std::string& name, float w) {
    const int mm = node("matmul", {in, g.AddConstant(name + ".w", {64, 64}, std::vector<float>(64 * 64, w)),
                                   g.AddConstant(name + ".b", {64}, std::vector<float>(64, w))},
                        {}, "addmm_" + name);
    return view(mm, {1, 32, 64}, "view_" + name);
  };
  auto heads = [&](const std::string& name, std::vector<int64_t> dims) {
    const int split = view(linear(rows, name, name == "q" ? 0.25f : name == "k" ? 0.125f : 0.5f), {1, 32, 2, 32},
                           "split_" + name);
    return node("permute", {split}, ops::Attrs().SetInts("dims", std::move(dims)), "permute_" + name);
  };
  const int q = node("mul", {heads("q", {0, 2, 1, 3}), scale}, {}, "mul_q");
  const int k = node("mul", {heads("k", {0, 2, 3, 1}), scale}, {}, "mul_k");
  const int v = heads("v", {0, 2, 1, 3});
  const int scores = view(node("matmul", {view(q, {2, 32, 32}, "view_q"), view(k, {2, 32, 32}, "view_k")}, {}, "bmm"),
                          {1, 2, 32, 32}, "view_scores");
  const int p = node("softmax", {node("add", {scores, mask}, {}, "add_mask")}, ops::Attrs().SetInt("dim", 3), "softmax");
  const int ctx = view(node("matmul", {view(p, {2, 32, 32}, "view_p"), view(v, {2, 32, 32}, "view_v")}, {}, "bmm_1"),
                       {1, 2, 32, 32}, "view_ctx");
  const int merged = view(node("permute", {ctx}, ops::Attrs().SetInts("dims", {0, 2, 1, 3}), "permute_ctx"),
                          {1, 32, 64}, "merge");
  const int out = linear(view(merged, {32, 64}, "view_o"), "o", 0.375f);
  g.outputs.push_back({"out", node("add", {out, x}, {}, "add_residual")});
  CompileOptions options;
  options.verify_each = true;
  std::string text;
  for (const char* pass : {"fuse-hard-activations", "fold-matmul-reshapes", "split-sliced-matmuls",
                           "fold-matmul-scales", "fold-head-splits", "fuse-rearranges", "fuse-epilogues",
                           "dce"}) {
    absl::StatusOr<CompileState> state = RunPipeline(g, options, pass);
    ASSERT_TRUE(state.ok()) << state.status();
    text += std::string("// after ") + pass + "\n" + PrintState(*state);
  }
  EXPECT_TRUE(MatchesGolden(text, "compiler/passes/testdata/self-attention.txt"));
}

// GPT-2's attention computes q, k and v with one fused projection (c_attn) cut by slices; after
// split-sliced-matmuls each is a matmul of its own, and the rest folds as in the encoder above.
TEST(FusionGolden, FusedQkvProjectionSplitsIntoOneMatmulPerSlice) {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 32, 64});
  g.inputs = {{"x", x}};
  auto node = [&](const std::string& op, std::vector<int> inputs, const ops::Attrs& attrs, const std::string& name) {
    absl::StatusOr<int> v = g.AddNode(op, std::move(inputs), attrs, name, name);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : 0;
  };
  auto view = [&](int v, std::vector<int64_t> shape, const std::string& name) {
    return node("reshape", {v}, ops::Attrs().SetInts("shape", std::move(shape)), name);
  };
  std::vector<float> w(64 * 192), b(192);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 11) / 11.0f - 0.5f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 5) / 5.0f;
  const int qkv = view(node("matmul", {view(x, {32, 64}, "view"), g.AddConstant("c_attn.w", {64, 192}, w),
                                       g.AddConstant("c_attn.b", {192}, b)},
                            {}, "addmm"),
                       {1, 32, 192}, "view_1");
  const int scale = g.AddConstant("scale", {}, {0.5f});
  auto head = [&](int i, std::vector<int64_t> dims, bool scaled) {
    const std::string n = std::to_string(i);
    const int part = node("slice", {qkv},
                          ops::Attrs().SetInt("dim", 2).SetInt("start", 64 * i).SetInt("end", 64 * (i + 1)).SetInt("step", 1),
                          "split_" + n);
    const int h = node("permute", {view(part, {1, 32, 2, 32}, "view_h" + n)}, ops::Attrs().SetInts("dims", dims),
                       "permute_" + n);
    return scaled ? node("mul", {h, scale}, {}, "mul_" + n) : h;
  };
  const int q = head(0, {0, 2, 1, 3}, true), k = head(1, {0, 2, 3, 1}, true), v = head(2, {0, 2, 1, 3}, false);
  const int p = node("softmax", {node("matmul", {q, k}, {}, "scores")}, ops::Attrs().SetInt("dim", 3), "softmax");
  g.outputs.push_back({"ctx", node("matmul", {p, v}, {}, "ctx")});
  CompileOptions options;
  options.verify_each = true;
  std::string text;
  for (const char* pass : {"split-sliced-matmuls", "dce"}) {
    absl::StatusOr<CompileState> state = RunPipeline(g, options, pass);
    ASSERT_TRUE(state.ok()) << state.status();
    text += std::string("// after ") + pass + "\n" + PrintState(*state);
  }
  EXPECT_TRUE(MatchesGolden(text, "compiler/passes/testdata/fused-qkv-attention.txt"));
}

// share-constants runs only beside an owner: the model compiled beside itself with another fc.bias
// shares the folded weight and keeps its bias private.
TEST(ShareGolden, SharesTheOwnersWeightsKeepsItsOwnBias) {
  CompileOptions options;
  options.verify_each = true;
  absl::StatusOr<CompileState> owner = RunPipeline(Model(), options, "plan-memory");
  ASSERT_TRUE(owner.ok()) << owner.status();
  std::vector<std::vector<uint8_t>> stored;
  options.share_from = std::make_shared<OwnerConstants>(ConstantsOfPlannedProgram(*owner->program, &stored));
  AtenGraph model = Model();
  std::vector<uint8_t> bias(8 * sizeof(float), 0);
  model.weights["fc.bias"].bytes = WeightBytes(std::move(bias));
  absl::StatusOr<CompileState> state = RunPipeline(model, options, "plan-memory");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_TRUE(MatchesGolden(PrintState(*state) + state->Summary().sharing + "\n",
                            "compiler/passes/testdata/share-constants.txt"));
}

TEST(Golden, AMismatchFailsWithAUnifiedDiff) {
  if (std::getenv("KILN_UPDATE_GOLDENS")) GTEST_SKIP() << "update mode rewrites goldens instead of comparing";
  const AtenGraph model = Model();
  absl::StatusOr<CompileState> state = RunPipeline(model, CompileOptions{}, "dce");
  ASSERT_TRUE(state.ok()) << state.status();
  std::string text = PrintState(*state);
  text.replace(text.find("= mul("), 5, "= div");
  ::testing::AssertionResult r = MatchesGolden(text, "compiler/passes/testdata/dce.txt");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.message(), HasSubstr("output differs from compiler/passes/testdata/dce.txt"));
  EXPECT_THAT(r.message(), HasSubstr("\n-  %mul = mul(%relu, %s) : f32[32, 8]  (from mul)\n"));
  EXPECT_THAT(r.message(), HasSubstr("\n+  %mul = div(%relu, %s) : f32[32, 8]  (from mul)\n"));
}

TEST(Golden, UnifiedDiffHunksHaveContextAndLineNumbers) {
  std::string a, b;
  for (int i = 1; i <= 20; ++i) {
    a += "line " + std::to_string(i) + "\n";
    b += i == 10 ? "changed\n" : "line " + std::to_string(i) + "\n";
  }
  b += "added\n";
  EXPECT_EQ(UnifiedDiff(a, b),
            "@@ -7,7 +7,7 @@\n line 7\n line 8\n line 9\n-line 10\n+changed\n line 11\n line 12\n line 13\n"
            "@@ -18,3 +18,4 @@\n line 18\n line 19\n line 20\n+added\n");
  EXPECT_EQ(UnifiedDiff(a, a), "");
}

}  // namespace
}  // namespace kiln::compiler

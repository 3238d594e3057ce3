// Checks every op's kernel against the equivalent ATen function (libtorch is the reference), plus
// registry completeness, shape-inference errors and work functions.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <string>
#include <vector>

#include "ops/kernel_util.h"
#include "ops/kernels.h"
#include "ops/op_def.h"
#include "ops/ops_test_util.h"
#include "ops/shape_util.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

// ---- registry ----

TEST(Registry, EveryOpIsComplete) {
  ASSERT_FALSE(AllOps().empty());
  std::string previous;
  for (const OpDef* op : AllOps()) {
    SCOPED_TRACE(std::string(op->name));
    EXPECT_FALSE(op->name.empty());
    EXPECT_GT(std::string(op->name), previous) << "registry must be sorted and unique";
    previous = std::string(op->name);
    EXPECT_FALSE(op->summary.empty());
    EXPECT_FALSE(op->inputs.empty());
    EXPECT_NE(op->infer_shape, nullptr);
    EXPECT_NE(op->work, nullptr);
    EXPECT_GE(op->min_inputs(), 1);
    if (op->variadic) {
      EXPECT_EQ(op->inputs.size(), 1u);
    }
    for (const AttrDef& a : op->attrs) EXPECT_FALSE(a.doc.empty()) << a.name;
    EXPECT_EQ(FindOp(op->name), op);
  }
  EXPECT_EQ(FindOp("no_such_op"), nullptr);
}

// The kernels live in //ops:kernels, apart from the descriptions, so that the runtime core links
// none; each is registered by its OpDef's name, and the two registries must pair up one-to-one.
TEST(Registry, EveryOpHasExactlyOneKernelAndEveryKernelAnOp) {
  std::map<std::string, int> kernels_per_op;
  for (const KernelDef& k : AllKernels()) {
    EXPECT_NE(k.fn, nullptr) << k.op;
    EXPECT_NE(FindOp(k.op), nullptr) << "kernel registered for unknown op '" << k.op << "'";
    ++kernels_per_op[std::string(k.op)];
  }
  for (const OpDef* op : AllOps()) {
    EXPECT_EQ(kernels_per_op[std::string(op->name)], 1) << "kernels registered for op '" << op->name << "'";
    EXPECT_NE(FindKernel(*op), nullptr) << op->name;
  }
  EXPECT_EQ(AllKernels().size(), AllOps().size());
}

TEST(Registry, EveryOpHasAReferenceTest) {
  std::set<std::string> registered;
  for (const OpDef* op : AllOps()) registered.insert(std::string(op->name));
  EXPECT_EQ(CoveredOps(), registered);
}

TEST(Registry, UnitsAndContracts) {
  EXPECT_EQ(FindOp("matmul")->unit, Unit::kMatrix);
  EXPECT_EQ(FindOp("conv2d")->unit, Unit::kMatrix);
  EXPECT_EQ(FindOp("relu")->unit, Unit::kVector);
  EXPECT_EQ(FindOp("reduce_sum")->unit, Unit::kVector);
  EXPECT_EQ(FindOp("concat")->unit, Unit::kDataMovement);
  EXPECT_TRUE(FindOp("concat")->variadic);
  EXPECT_EQ(FindOp("layer_norm")->num_optional_inputs, 2);
  EXPECT_EQ(FindOp("batch_norm")->min_inputs(), 3);
  EXPECT_EQ(FindOp("batch_norm")->max_inputs(), 5);
  EXPECT_EQ(FindOp("conv2d")->inputs, (std::vector<std::string_view>{"input", "weight", "bias", "residual", "input_scale"}));
}

// ---- elementwise ----

const bool kUnaryCovered = Covers({"relu", "neg", "exp", "log", "sqrt", "rsqrt", "sigmoid", "tanh",
                                   "gelu", "abs", "reciprocal", "silu", "sin", "cos", "tan", "asin",
                                   "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "erf",
                                   "expm1", "log1p", "log2", "log10", "floor", "ceil", "round",
                                   "trunc", "sign", "hardsigmoid", "hardswish"});

TEST(Elementwise, UnaryMatchesATen) {
  struct Case {
    const char* name;
    std::function<at::Tensor(const at::Tensor&)> ref;
    bool positive_input;
    double lo = 0, hi = 0;  // when hi > lo: inputs uniform in [lo, hi) (the function's domain)
  };
  const std::vector<Case> cases = {
      {"relu", [](const at::Tensor& x) { return at::relu(x); }, false},
      {"neg", [](const at::Tensor& x) { return at::neg(x); }, false},
      {"exp", [](const at::Tensor& x) { return at::exp(x); }, false},
      {"log", [](const at::Tensor& x) { return at::log(x); }, true},
      {"sqrt", [](const at::Tensor& x) { return at::sqrt(x); }, true},
      {"rsqrt", [](const at::Tensor& x) { return at::rsqrt(x); }, true},
      {"sigmoid", [](const at::Tensor& x) { return at::sigmoid(x); }, false},
      {"tanh", [](const at::Tensor& x) { return at::tanh(x); }, false},
      {"gelu", [](const at::Tensor& x) { return at::gelu(x); }, false},
      {"abs", [](const at::Tensor& x) { return at::abs(x); }, false},
      {"reciprocal", [](const at::Tensor& x) { return at::reciprocal(x); }, true},
      {"silu", [](const at::Tensor& x) { return at::silu(x); }, false},
      {"hardsigmoid", [](const at::Tensor& x) { return at::hardsigmoid(x); }, false, -5.0, 5.0},
      {"hardswish", [](const at::Tensor& x) { return at::hardswish(x); }, false, -5.0, 5.0},
      {"sin", [](const at::Tensor& x) { return at::sin(x); }, false},
      {"cos", [](const at::Tensor& x) { return at::cos(x); }, false},
      {"tan", [](const at::Tensor& x) { return at::tan(x); }, false, -1.5, 1.5},
      {"asin", [](const at::Tensor& x) { return at::asin(x); }, false, -0.99, 0.99},
      {"acos", [](const at::Tensor& x) { return at::acos(x); }, false, -0.99, 0.99},
      {"atan", [](const at::Tensor& x) { return at::atan(x); }, false},
      {"sinh", [](const at::Tensor& x) { return at::sinh(x); }, false},
      {"cosh", [](const at::Tensor& x) { return at::cosh(x); }, false},
      {"asinh", [](const at::Tensor& x) { return at::asinh(x); }, false},
      {"acosh", [](const at::Tensor& x) { return at::acosh(x); }, false, 1.0, 10.0},
      {"atanh", [](const at::Tensor& x) { return at::atanh(x); }, false, -0.99, 0.99},
      {"erf", [](const at::Tensor& x) { return at::erf(x); }, false},
      {"expm1", [](const at::Tensor& x) { return at::expm1(x); }, false, -1e-3, 1e-3},
      {"log1p", [](const at::Tensor& x) { return at::log1p(x); }, false, -1e-3, 1e-3},
      {"log2", [](const at::Tensor& x) { return at::log2(x); }, true},
      {"log10", [](const at::Tensor& x) { return at::log10(x); }, true},
      {"floor", [](const at::Tensor& x) { return at::floor(x); }, false},
      {"ceil", [](const at::Tensor& x) { return at::ceil(x); }, false},
      // Halves included: round goes to even, as torch does.
      {"round", [](const at::Tensor& x) { return at::round(x); }, false, -4.0, 4.0},
      {"trunc", [](const at::Tensor& x) { return at::trunc(x); }, false},
      {"sign", [](const at::Tensor& x) { return at::sign(x); }, false},
  };
  at::manual_seed(1);
  for (const Case& c : cases) {
    for (const Shape& shape : {Shape{5, 37}, Shape{3, 1, 70}, Shape{}, Shape{0, 4}}) {
      SCOPED_TRACE(std::string(c.name) + " " + ShapeToString(shape));
      at::Tensor x = c.hi > c.lo ? Uniform(shape, c.lo, c.hi) : c.positive_input ? Uniform(shape, 0.1, 5.0) : Randn(shape) * 3;
      if (std::string(c.name) == "round") x = at::round(x * 2) / 2;  // exact halves
      EXPECT_TRUE(AllClose(RunOp(c.name, {x}), c.ref(x)));
    }
  }
}

const bool kClampCovered = Covers({"clamp"});

TEST(Elementwise, ClampMatchesATen) {
  at::manual_seed(5);
  at::Tensor x = Randn({4, 37}) * 3;
  x[0][0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(AllClose(RunOp("clamp", {x}, Attrs().SetFloat("min", -1).SetFloat("max", 2)), at::clamp(x, -1, 2)));
  EXPECT_TRUE(AllClose(RunOp("clamp", {x}, Attrs().SetFloat("min", 0)), at::clamp_min(x, 0)));
  EXPECT_TRUE(AllClose(RunOp("clamp", {x}, Attrs().SetFloat("max", 6)), at::clamp_max(x, 6)));
  EXPECT_TRUE(AllClose(RunOp("clamp", {x}, Attrs().SetFloat("min", 3).SetFloat("max", 1)), at::clamp(x, 3, 1)));
}

const bool kBinaryCovered = Covers({"add", "sub", "mul", "div", "maximum", "minimum", "pow", "atan2", "fmod",
                                    "remainder", "floor_divide"});

TEST(Elementwise, BinaryBroadcastMatchesATen) {
  using Ref = std::function<at::Tensor(const at::Tensor&, const at::Tensor&)>;
  const std::vector<std::pair<const char*, Ref>> ops = {
      {"add", [](const at::Tensor& a, const at::Tensor& b) { return at::add(a, b); }},
      {"sub", [](const at::Tensor& a, const at::Tensor& b) { return at::sub(a, b); }},
      {"mul", [](const at::Tensor& a, const at::Tensor& b) { return at::mul(a, b); }},
      {"div", [](const at::Tensor& a, const at::Tensor& b) { return at::div(a, b); }},
      {"maximum", [](const at::Tensor& a, const at::Tensor& b) { return at::maximum(a, b); }},
      {"minimum", [](const at::Tensor& a, const at::Tensor& b) { return at::minimum(a, b); }},
      {"pow", [](const at::Tensor& a, const at::Tensor& b) { return at::pow(a, b); }},
      {"atan2", [](const at::Tensor& a, const at::Tensor& b) { return at::atan2(a, b); }},
      {"fmod", [](const at::Tensor& a, const at::Tensor& b) { return at::fmod(a, b); }},
      {"remainder", [](const at::Tensor& a, const at::Tensor& b) { return at::remainder(a, b); }},
      {"floor_divide", [](const at::Tensor& a, const at::Tensor& b) { return at::div(a, b, "floor"); }},
  };
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{4, 37}, {4, 37}},             // same shape
      {{3, 1}, {1, 4}},               // both broadcast
      {{2, 3, 45}, {45}},             // b along leading dims (bias)
      {{2, 6, 5, 7}, {6, 1, 1}},      // b per channel (trailing dims broadcast)
      {{2, 3, 5}, {2, 3, 1}},         // b constant along the last dim
      {{}, {3, 33}},                  // rank-0 a
      {{3, 33}, {}},                  // rank-0 b
      {{}, {}},                       // both scalars
      {{2, 1, 5, 1}, {3, 1, 7}},      // general strided broadcast
      {{5, 1, 3}, {1, 4, 1}},
      {{0, 3}, {1, 3}},               // empty
  };
  at::manual_seed(2);
  for (const auto& [name, ref] : ops) {
    for (const auto& [sa, sb] : shapes) {
      SCOPED_TRACE(std::string(name) + " " + ShapeToString(sa) + " x " + ShapeToString(sb));
      const bool is_pow = std::string(name) == "pow";
      const bool is_div = std::string(name) == "div" || std::string(name) == "fmod" ||
                          std::string(name) == "remainder" || std::string(name) == "floor_divide";
      const at::Tensor a = is_pow ? Uniform(sa, 0.5, 2.0) : Randn(sa);
      const at::Tensor b = is_div ? Uniform(sb, 0.5, 2.0) * (at::rand(sb) > 0.5).to(at::kFloat).mul(2).sub(1)
                           : is_pow ? Uniform(sb, -2.0, 3.0)
                                    : Randn(sb);
      EXPECT_TRUE(AllClose(RunOp(name, {a, b}), ref(a, b)));
    }
  }
}

TEST(Elementwise, NanPropagation) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const at::Tensor a = at::tensor({nan, 1.0f, 2.0f});
  const at::Tensor b = at::tensor({0.0f, nan, 1.0f});
  EXPECT_TRUE(AllClose(RunOp("maximum", {a, b}), at::maximum(a, b)));
  EXPECT_TRUE(AllClose(RunOp("minimum", {a, b}), at::minimum(a, b)));
  EXPECT_TRUE(AllClose(RunOp("relu", {a}), at::relu(a)));
}

// ---- comparisons, logic and where (true is 1.0, false 0.0) ----

const bool kLogicCovered = Covers({"eq", "lt", "le", "logical_and", "logical_or", "logical_not", "where"});

TEST(Elementwise, ComparisonsAndLogicMatchATen) {
  using Ref = std::function<at::Tensor(const at::Tensor&, const at::Tensor&)>;
  const std::vector<std::pair<const char*, Ref>> ops = {
      {"eq", [](const at::Tensor& a, const at::Tensor& b) { return at::eq(a, b); }},
      {"lt", [](const at::Tensor& a, const at::Tensor& b) { return at::lt(a, b); }},
      {"le", [](const at::Tensor& a, const at::Tensor& b) { return at::le(a, b); }},
      {"logical_and", [](const at::Tensor& a, const at::Tensor& b) { return at::logical_and(a, b); }},
      {"logical_or", [](const at::Tensor& a, const at::Tensor& b) { return at::logical_or(a, b); }},
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  at::manual_seed(21);
  // Small integers so that equal pairs occur, plus NaN, zeros and a broadcast operand.
  at::Tensor a = at::randint(-2, 3, {4, 37}, at::kFloat);
  a[0][0] = nan;
  a[1][0] = 0.0f;
  at::Tensor b = at::randint(-2, 3, {37}, at::kFloat);
  b[0] = nan;
  for (const auto& [name, ref] : ops) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(AllClose(RunOp(name, {a, b}), ref(a, b)));
    EXPECT_TRUE(AllClose(RunOp(name, {b, a}), ref(b, a)));
    EXPECT_TRUE(AllClose(RunOp(name, {a, at::scalar_tensor(1.0)}), ref(a, at::scalar_tensor(1.0))));
  }
  EXPECT_TRUE(AllClose(RunOp("logical_not", {a}), at::logical_not(a)));
  EXPECT_TRUE(AllClose(RunOp("logical_not", {at::zeros({0, 3})}), at::zeros({0, 3})));
}

TEST(Elementwise, WhereMatchesATen) {
  at::manual_seed(22);
  const std::vector<std::tuple<Shape, Shape, Shape>> shapes = {
      {{4, 37}, {4, 37}, {4, 37}}, {{1, 37}, {4, 1}, {}}, {{3, 1, 5}, {}, {2, 1}}, {{}, {3}, {3}},
      {{0, 2}, {1, 2}, {2}},
  };
  for (const auto& [sc, sa, sb] : shapes) {
    SCOPED_TRACE(ShapeToString(sc) + " " + ShapeToString(sa) + " " + ShapeToString(sb));
    // The condition holds 0/1 as a bool tensor does on the device, and also any non-zero as true.
    const at::Tensor cond = at::randint(-1, 2, sc, at::kFloat);
    const at::Tensor a = Randn(sa), b = Randn(sb);
    EXPECT_TRUE(AllClose(RunOp("where", {cond, a, b}), at::where(cond != 0, a, b)));
  }
  EXPECT_EQ(InferError("where", {{2, 3}, {4, 3}, {3}}), "operand shapes [2, 3] and [4, 3] do not broadcast");
  EXPECT_EQ(InferError("where", {{2, 3}, {3}, {3}}), "");
  EXPECT_EQ(InferError("where", {{5, 3}, {2, 3}, {3}}), "operand shapes [5, 3] and [2, 3] do not broadcast");
}

// ---- matmul ----

const bool kMatmulCovered = Covers({"matmul"});

TEST(Matmul, MatchesATen) {
  struct Case {
    Shape a, b, bias;  // empty bias shape with has_bias=false means none
    bool has_bias;
  };
  const std::vector<Case> cases = {
      {{33, 47}, {47, 29}, {}, false},
      {{1, 19}, {19, 70}, {}, false},            // few-rows path
      {{2, 300}, {300, 5}, {}, false},
      {{130, 300}, {300, 70}, {}, false},        // crosses the K and M cache blocks
      {{7, 20}, {20, 3100}, {}, false},          // crosses the N cache block
      {{2, 3, 17, 9}, {9, 13}, {}, false},       // shared b: batch folds into M
      {{2, 1, 5, 7}, {3, 7, 6}, {}, false},      // broadcast batch dims
      {{5, 7}, {4, 7, 6}, {}, false},            // a broadcast over b's batch
      {{33, 47}, {47, 29}, {29}, true},          // linear-layer bias
      {{2, 6, 11}, {11, 5}, {6, 1}, true},       // per-row bias
      {{2, 3, 4}, {2, 4, 3}, {}, true},          // scalar bias
      {{3, 0}, {0, 4}, {}, false},               // K = 0
  };
  at::manual_seed(3);
  for (const Case& c : cases) {
    SCOPED_TRACE(ShapeToString(c.a) + " @ " + ShapeToString(c.b));
    const at::Tensor a = Randn(c.a), b = Randn(c.b);
    if (c.has_bias) {
      const at::Tensor bias = Randn(c.bias);
      EXPECT_TRUE(AllClose(RunOp("matmul", {a, b, bias}), at::matmul(a, b) + bias, 1e-4, 1e-4));
    } else {
      EXPECT_TRUE(AllClose(RunOp("matmul", {a, b}), at::matmul(a, b), 1e-4, 1e-4));
    }
  }
}

TEST(Matmul, ShapeErrors) {
  EXPECT_EQ(InferError("matmul", {{2, 3}, {4, 5}}),
            "matmul inner dimensions differ: a is [2, 3], b is [4, 5]");
  EXPECT_EQ(InferError("matmul", {{3}, {3, 5}}),
            "matmul operands must have rank >= 2: a is [3], b is [3, 5]");
  EXPECT_EQ(InferError("matmul", {{2, 4, 3}, {3, 3, 5}}),
            "matmul batch dimensions do not broadcast: a is [2, 4, 3], b is [3, 3, 5]");
  EXPECT_EQ(InferError("matmul", {{4, 3}, {3, 5}, {4}}),
            "bias shape [4] does not broadcast to output shape [4, 5]");
  EXPECT_EQ(InferError("matmul", {{2, 3}}), "takes 2 to 4 operands, got 1");
  EXPECT_EQ(InferOk("matmul", {{2, 1, 4, 3}, {5, 3, 6}}), (Shape{2, 5, 4, 6}));
}

// ---- conv2d ----

const bool kConvCovered = Covers({"conv2d"});

TEST(Conv2d, MatchesATen) {
  struct Case {
    Shape input, weight;
    std::vector<int64_t> stride, padding, dilation;
    int64_t groups;
    bool bias;
  };
  const std::vector<Case> cases = {
      {{2, 3, 17, 19}, {5, 3, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, false},
      {{2, 3, 17, 19}, {5, 3, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, true},
      {{1, 4, 23, 18}, {6, 4, 3, 2}, {2, 3}, {1, 2}, {2, 1}, 1, true},    // asymmetric everything
      {{2, 4, 13, 11}, {6, 2, 3, 3}, {1, 1}, {0, 0}, {1, 1}, 2, true},    // grouped
      {{2, 6, 15, 15}, {6, 1, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 6, true},    // depthwise
      {{1, 6, 15, 14}, {12, 1, 5, 5}, {2, 2}, {2, 2}, {1, 1}, 6, false},  // depthwise multiplier 2
      {{2, 7, 9, 10}, {5, 7, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, true},     // 1x1: no im2col
      {{1, 8, 9, 10}, {16, 8, 1, 1}, {2, 2}, {0, 0}, {1, 1}, 1, false},   // strided 1x1 downsample
      {{1, 3, 45, 45}, {16, 3, 7, 7}, {2, 2}, {3, 3}, {1, 1}, 1, false},  // ResNet stem shape
      {{1, 5, 7, 7}, {3, 5, 3, 3}, {3, 3}, {4, 4}, {2, 2}, 1, false},     // padding wider than reach
      {{1, 40, 12, 12}, {70, 40, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, true}, // K = 360 > one K block
      // im2col larger than its 2^22-float budget: unfolded in blocks that split output rows.
      {{1, 2, 3, 5000}, {3, 2, 2, 1500}, {1, 2}, {1, 7}, {1, 1}, 1, true},
      {{2, 4, 3, 700}, {4, 2, 3, 700}, {1, 1}, {1, 2}, {1, 1}, 2, false},
  };
  at::manual_seed(4);
  for (const Case& c : cases) {
    SCOPED_TRACE(ShapeToString(c.input) + " * " + ShapeToString(c.weight) + " groups " +
                 std::to_string(c.groups));
    const at::Tensor x = Randn(c.input), w = Randn(c.weight);
    Attrs attrs;
    attrs.SetInts("stride", c.stride).SetInts("padding", c.padding).SetInts("dilation", c.dilation);
    attrs.SetInt("groups", c.groups);
    if (c.bias) {
      const at::Tensor b = Randn({c.weight[0]});
      EXPECT_TRUE(AllClose(RunOp("conv2d", {x, w, b}, attrs),
                           at::conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups), 1e-4, 1e-4));
    } else {
      EXPECT_TRUE(AllClose(RunOp("conv2d", {x, w}, attrs),
                           at::conv2d(x, w, {}, c.stride, c.padding, c.dilation, c.groups), 1e-4, 1e-4));
    }
  }
}

Attrs ConvAttrs(int64_t groups = 1) {
  Attrs a;
  a.SetInts("stride", {1, 1}).SetInts("padding", {0, 0}).SetInts("dilation", {1, 1}).SetInt("groups", groups);
  return a;
}

TEST(Conv2d, ShapeErrors) {
  EXPECT_EQ(InferError("conv2d", {{1, 4, 9, 9}, {8, 3, 3, 3}}, ConvAttrs()),
            "weight [8, 3, 3, 3] expects 3 input channels per group (groups=1) but input "
            "[1, 4, 9, 9] has 4 channels");
  EXPECT_EQ(InferError("conv2d", {{1, 6, 9, 9}, {8, 3, 3, 3}}, ConvAttrs(4)),
            "groups=4 must divide input channels 6 and output channels 8");
  EXPECT_EQ(InferError("conv2d", {{1, 3, 9}, {8, 3, 3, 3}}, ConvAttrs()),
            "conv2d input must be [N, C, H, W], got [1, 3, 9]");
  EXPECT_EQ(InferError("conv2d", {{1, 3, 9, 9}, {8, 3, 3, 3}, {4}}, ConvAttrs()),
            "bias must be [8], got [4]");
  EXPECT_EQ(InferError("conv2d", {{1, 3, 2, 2}, {8, 3, 3, 3}}, ConvAttrs()),
            "conv2d output would be empty: padded input [1, 3, 2, 2] is smaller than the dilated "
            "kernel [8, 3, 3, 3]");
  Attrs bad_stride = ConvAttrs();
  bad_stride.SetInts("stride", {1, 0});
  EXPECT_EQ(InferError("conv2d", {{1, 3, 9, 9}, {8, 3, 3, 3}}, bad_stride),
            "attribute 'stride' must hold 2 ints in [1, 2^40], got [1, 0]");
  Attrs missing;
  missing.SetInts("stride", {1, 1}).SetInts("padding", {0, 0}).SetInt("groups", 1);
  EXPECT_EQ(InferError("conv2d", {{1, 3, 9, 9}, {8, 3, 3, 3}}, missing),
            "missing attribute 'dilation'");
  EXPECT_EQ(InferError("conv2d", {{1, 3, 9, 9}}, ConvAttrs()), "takes 2 to 5 operands, got 1");
}

// ---- pooling ----

const bool kPoolCovered = Covers({"max_pool2d", "avg_pool2d"});

TEST(Pool, MaxPoolMatchesATen) {
  struct Case {
    Shape input;
    std::vector<int64_t> kernel, stride, padding, dilation;
    bool ceil_mode;
  };
  const std::vector<Case> cases = {
      {{2, 3, 17, 15}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false},
      {{2, 3, 17, 15}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, true},
      {{1, 2, 5, 5}, {2, 2}, {2, 2}, {1, 1}, {1, 1}, true},    // ceil drops a window starting in padding
      {{1, 2, 10, 9}, {2, 3}, {3, 2}, {0, 1}, {2, 2}, true},   // dilation
      {{3, 11, 12}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false},    // unbatched
      {{1, 4, 112, 112}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false},
  };
  at::manual_seed(5);
  for (const Case& c : cases) {
    SCOPED_TRACE(ShapeToString(c.input) + (c.ceil_mode ? " ceil" : " floor"));
    const at::Tensor x = Randn(c.input);
    Attrs attrs;
    attrs.SetInts("kernel", c.kernel).SetInts("stride", c.stride).SetInts("padding", c.padding);
    attrs.SetInts("dilation", c.dilation).SetInt("ceil_mode", c.ceil_mode);
    EXPECT_TRUE(AllClose(RunOp("max_pool2d", {x}, attrs),
                         at::max_pool2d(x, c.kernel, c.stride, c.padding, c.dilation, c.ceil_mode)));
  }
}

TEST(Pool, AvgPoolMatchesATen) {
  struct Case {
    Shape input;
    std::vector<int64_t> kernel, stride, padding;
    bool ceil_mode, count_include_pad;
    int64_t divisor_override;  // 0 = none
  };
  const std::vector<Case> cases = {
      {{2, 3, 17, 15}, {3, 3}, {2, 2}, {1, 1}, false, true, 0},
      {{2, 3, 17, 15}, {3, 3}, {2, 2}, {1, 1}, false, false, 0},
      {{2, 3, 17, 15}, {3, 3}, {2, 2}, {1, 1}, true, true, 0},
      {{2, 3, 17, 15}, {3, 3}, {2, 2}, {1, 1}, true, false, 0},
      {{1, 2, 10, 9}, {4, 3}, {3, 2}, {2, 1}, true, true, 0},
      {{1, 2, 10, 9}, {2, 3}, {1, 2}, {1, 0}, false, true, 5},   // divisor_override
      {{1, 2, 10, 9}, {2, 3}, {1, 2}, {1, 0}, true, false, 7},
      {{3, 7, 7}, {7, 7}, {1, 1}, {0, 0}, false, true, 0},       // global pool, unbatched
  };
  at::manual_seed(6);
  for (const Case& c : cases) {
    SCOPED_TRACE(ShapeToString(c.input) + " ceil " + std::to_string(c.ceil_mode) + " include_pad " +
                 std::to_string(c.count_include_pad) + " div " + std::to_string(c.divisor_override));
    const at::Tensor x = Randn(c.input);
    Attrs attrs;
    attrs.SetInts("kernel", c.kernel).SetInts("stride", c.stride).SetInts("padding", c.padding);
    attrs.SetInt("ceil_mode", c.ceil_mode).SetInt("count_include_pad", c.count_include_pad);
    std::optional<int64_t> divisor;
    if (c.divisor_override) {
      attrs.SetInt("divisor_override", c.divisor_override);
      divisor = c.divisor_override;
    }
    EXPECT_TRUE(AllClose(RunOp("avg_pool2d", {x}, attrs),
                         at::avg_pool2d(x, c.kernel, c.stride, c.padding, c.ceil_mode,
                                        c.count_include_pad, divisor)));
  }
}

TEST(Pool, ShapeErrors) {
  Attrs attrs;
  attrs.SetInts("kernel", {2, 2}).SetInts("stride", {2, 2}).SetInts("padding", {2, 0});
  attrs.SetInts("dilation", {1, 1}).SetInt("ceil_mode", 0);
  EXPECT_EQ(InferError("max_pool2d", {{1, 1, 8, 8}}, attrs),
            "attribute 'padding' [2, 0]: 2 exceeds half the window size 2");
  attrs.SetInts("padding", {0, 0});
  EXPECT_EQ(InferError("max_pool2d", {{8, 8}}, attrs),
            "pooling input must be [N, C, H, W] or [C, H, W], got [8, 8]");
  attrs.SetInt("ceil_mode", 2);
  EXPECT_EQ(InferError("max_pool2d", {{1, 1, 8, 8}}, attrs),
            "attribute 'ceil_mode' must be 0 or 1, got 2");
  // avg_pool2d takes no dilation.
  EXPECT_EQ(InferError("avg_pool2d", {{1, 1, 8, 8}}, attrs), "missing attribute 'count_include_pad'");
  attrs.SetInt("count_include_pad", 1).SetInt("ceil_mode", 0);
  EXPECT_EQ(InferError("avg_pool2d", {{1, 1, 8, 8}}, attrs), "unknown attribute 'dilation'");
}

// ---- reductions ----

const bool kReduceCovered = Covers({"reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
                                    "argmax", "argmin", "cumsum"});

TEST(Reduction, MatchesATen) {
  const std::vector<std::pair<std::vector<int64_t>, bool>> cases = {
      {{}, false}, {{}, true}, {{1}, false}, {{-1, 0}, false}, {{1, 3}, true}, {{2}, true},
      {{0, 1, 2, 3}, false}, {{-2}, false},
  };
  at::manual_seed(7);
  const at::Tensor x = Randn({3, 5, 7, 33});
  for (const auto& [dims, keepdim] : cases) {
    SCOPED_TRACE(ShapeToString(dims) + (keepdim ? " keepdim" : ""));
    Attrs attrs;
    attrs.SetInts("dims", dims).SetInt("keepdim", keepdim);
    // ATen treats an empty dim list as "all dims" for sum/mean/amax alike.
    EXPECT_TRUE(AllClose(RunOp("reduce_sum", {x}, attrs), at::sum(x, dims, keepdim), 1e-4, 1e-4));
    EXPECT_TRUE(AllClose(RunOp("reduce_mean", {x}, attrs), at::mean(x, dims, keepdim)));
    EXPECT_TRUE(AllClose(RunOp("reduce_max", {x}, attrs), at::amax(x, dims, keepdim)));
    EXPECT_TRUE(AllClose(RunOp("reduce_min", {x}, attrs), at::amin(x, dims, keepdim)));
    // Factors near 1 keep the product in range.
    const at::Tensor near_one = 1 + x * 0.05;
    at::Tensor want = near_one;
    if (dims.empty()) {
      want = keepdim ? near_one.prod().reshape({1, 1, 1, 1}) : near_one.prod();
    } else {
      std::vector<int64_t> sorted;
      for (int64_t d : dims) sorted.push_back(d < 0 ? d + 4 : d);
      std::sort(sorted.rbegin(), sorted.rend());
      for (int64_t d : sorted) want = want.prod(d, keepdim);
    }
    EXPECT_TRUE(AllClose(RunOp("reduce_prod", {near_one}, attrs), want, 1e-4, 1e-5));
  }
  // A long reduction stays accurate, and scalars reduce to themselves.
  const at::Tensor big = Uniform({200000}, 0.0, 1.0);
  Attrs all;
  all.SetInts("dims", {}).SetInt("keepdim", 0);
  EXPECT_TRUE(AllClose(RunOp("reduce_sum", {big}, all), at::sum(big.to(at::kDouble)).to(at::kFloat), 1e-6, 0));
  const at::Tensor scalar = Randn({});
  EXPECT_TRUE(AllClose(RunOp("reduce_max", {scalar}, all), scalar));
}

TEST(Reduction, ShapeErrors) {
  Attrs attrs;
  attrs.SetInts("dims", {1, -1}).SetInt("keepdim", 0);
  EXPECT_EQ(InferError("reduce_sum", {{2, 3}}, attrs), "dim -1 appears more than once in dims [1, -1]");
  attrs.SetInts("dims", {2});
  EXPECT_EQ(InferError("reduce_mean", {{2, 3}}, attrs), "dim 2 is out of range for rank 2");
  attrs.SetInts("dims", {0});
  EXPECT_EQ(InferError("reduce_max", {{0, 3}}, attrs), "cannot take the max or min over zero-size dim 0");
  EXPECT_EQ(InferError("reduce_min", {{0, 3}}, attrs), "cannot take the max or min over zero-size dim 0");
  EXPECT_EQ(InferOk("reduce_sum", {{0, 3}}, attrs), (Shape{3}));
  EXPECT_EQ(InferError("reduce_sum", {{2, 3}}, Attrs().SetInt("keepdim", 0)), "missing attribute 'dims'");
}

TEST(Reduction, ArgMaxAndMinMatchATen) {
  at::manual_seed(26);
  // Small integers so ties occur: the first index wins, as in ATen.
  at::Tensor x = at::randint(-3, 4, {3, 5, 37}, at::kFloat);
  for (int64_t dim : {0, 1, 2, -1}) {
    for (bool keepdim : {false, true}) {
      SCOPED_TRACE("dim " + std::to_string(dim) + (keepdim ? " keepdim" : ""));
      Attrs attrs;
      attrs.SetInt("dim", dim).SetInt("keepdim", keepdim);
      EXPECT_TRUE(AllClose(RunOp("argmax", {x}, attrs), at::argmax(x, dim, keepdim)));
      EXPECT_TRUE(AllClose(RunOp("argmin", {x}, attrs), at::argmin(x, dim, keepdim)));
    }
  }
  Attrs all;
  all.SetInt("keepdim", 0);
  EXPECT_TRUE(AllClose(RunOp("argmax", {x}, all), at::argmax(x)));
  x[1][2][3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(AllClose(RunOp("argmin", {x}, all), at::argmin(x)));
  EXPECT_TRUE(AllClose(RunOp("argmax", {x}, Attrs().SetInt("dim", 2).SetInt("keepdim", 0)), at::argmax(x, 2)));
  EXPECT_EQ(InferError("argmax", {{0, 3}}, Attrs().SetInt("dim", 0).SetInt("keepdim", 0)),
            "cannot take the arg-max or arg-min over zero-size dim 0");
  EXPECT_EQ(InferOk("argmin", {{0, 3}}, Attrs().SetInt("dim", 1).SetInt("keepdim", 1)), (Shape{0, 1}));
}

TEST(Reduction, CumsumMatchesATen) {
  at::manual_seed(23);
  const at::Tensor x = Randn({3, 5, 37});
  for (int64_t dim : {0, 1, 2, -1, -3}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    EXPECT_TRUE(AllClose(RunOp("cumsum", {x}, Attrs().SetInt("dim", dim)), at::cumsum(x, dim)));
  }
  const at::Tensor scalar = Randn({});
  EXPECT_TRUE(AllClose(RunOp("cumsum", {scalar}, Attrs().SetInt("dim", -1)), at::cumsum(scalar, -1)));
  EXPECT_TRUE(AllClose(RunOp("cumsum", {at::zeros({0, 4})}, Attrs().SetInt("dim", 1)), at::zeros({0, 4})));
  // Long runs stay accurate (double accumulation).
  const at::Tensor ones = at::ones({100000});
  EXPECT_TRUE(AllClose(RunOp("cumsum", {ones}, Attrs().SetInt("dim", 0)), at::cumsum(ones, 0), 0, 0));
  EXPECT_EQ(InferError("cumsum", {{2, 3}}, Attrs().SetInt("dim", 2)), "dim 2 is out of range for rank 2");
  EXPECT_EQ(InferError("cumsum", {{2, 3}}), "missing attribute 'dim'");
}

// ---- indexing ----

const bool kIndexingCovered = Covers({"take", "gather", "scatter", "argsort"});

TEST(Indexing, ArgsortMatchesATen) {
  at::manual_seed(29);
  // Ties (small integers) and NaN: a stable sort, NaN largest, as torch.sort(stable=True).
  at::Tensor x = at::randint(-3, 4, {3, 7, 37}, at::kFloat);
  x[0][1][2] = std::numeric_limits<float>::quiet_NaN();
  x[2][6][36] = std::numeric_limits<float>::quiet_NaN();
  for (int64_t dim : {0, 1, 2, -1})
    for (bool descending : {false, true}) {
      SCOPED_TRACE("dim " + std::to_string(dim) + (descending ? " descending" : ""));
      Attrs attrs;
      attrs.SetInt("dim", dim).SetInt("descending", descending);
      const auto [values, indices] = at::sort(x, /*stable=*/true, dim, descending);
      EXPECT_TRUE(AllClose(RunOp("argsort", {x}, attrs), indices));
    }
  EXPECT_TRUE(AllClose(RunOp("argsort", {at::scalar_tensor(2.0)}, Attrs().SetInt("dim", 0).SetInt("descending", 0)),
                       at::zeros({})));
  EXPECT_EQ(InferError("argsort", {{2, 3}}, Attrs().SetInt("dim", 2).SetInt("descending", 0)),
            "dim 2 is out of range for rank 2");
}

TEST(Indexing, ScatterMatchesATen) {
  at::manual_seed(28);
  const at::Tensor x = Randn({4, 6, 5});
  const at::Tensor src = Randn({3, 6, 5});
  for (int64_t dim : {0, 1, -1}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    // Index smaller than src and x (except along dim), with repeats so reductions combine values.
    const at::Tensor idx = at::randint(0, x.size(dim), {3, 4, 3}, at::kLong);
    const char* names[] = {"sum", "prod", "mean", "amax", "amin"};
    for (int64_t r = 1; r <= 5; ++r)
      for (bool include_self : {true, false}) {
        SCOPED_TRACE(std::string(names[r - 1]) + (include_self ? " include_self" : ""));
        Attrs attrs;
        attrs.SetInt("dim", dim).SetInt("reduce", r).SetInt("include_self", include_self);
        EXPECT_TRUE(AllClose(RunOp("scatter", {x, idx, src}, attrs),
                             at::scatter_reduce(x, dim, idx, src, names[r - 1], include_self)));
      }
    // Replace with unique positions along dim (duplicates are unordered in ATen).
    const at::Tensor perm = at::randperm(x.size(dim)).slice(0, 0, 3);
    std::vector<int64_t> shape = {3, 4, 3};
    std::vector<int64_t> view(3, 1);
    view[dim < 0 ? dim + 3 : dim] = 3;
    shape[dim < 0 ? dim + 3 : dim] = 3;
    const at::Tensor unique = perm.view(view).expand(shape).contiguous();
    Attrs replace;
    replace.SetInt("dim", dim).SetInt("reduce", 0).SetInt("include_self", 1);
    EXPECT_TRUE(AllClose(RunOp("scatter", {x, unique, src}, replace), at::scatter(x, dim, unique, src)));
  }
  Attrs attrs;
  attrs.SetInt("dim", 0).SetInt("reduce", 1).SetInt("include_self", 1);
  // Out-of-range indices are skipped.
  const at::Tensor got = RunOp("scatter", {at::zeros({2}), at::tensor({5.0f, 1.0f}), at::ones({2})}, attrs);
  EXPECT_TRUE(AllClose(got, at::tensor({0.0f, 1.0f})));
  EXPECT_EQ(InferError("scatter", {{4, 6}, {2, 7}, {2, 7}}, attrs), "index [2, 7] is larger than x [4, 6] in dim 1");
  EXPECT_EQ(InferError("scatter", {{4, 6}, {2, 3}, {2, 2}}, attrs), "index [2, 3] is larger than src [2, 2] in dim 1");
  attrs.SetInt("reduce", 6);
  EXPECT_EQ(InferError("scatter", {{4, 6}, {2, 3}, {2, 3}}, attrs),
            "attribute 'reduce' must be in [0, 5] (replace, sum, prod, mean, amax, amin), got 6");
}

TEST(Indexing, TakeMatchesATen) {
  at::manual_seed(24);
  const at::Tensor x = Randn({4, 6, 35});
  for (int64_t dim : {0, 1, 2, -1}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    const int64_t size = x.size(dim);
    // A 1-D index is index_select; a 2-D one is what embedding and x[idx] do.
    const at::Tensor idx1 = at::randint(0, size, {7}, at::kLong);
    EXPECT_TRUE(AllClose(RunOp("take", {x, idx1}, Attrs().SetInt("dim", dim)), at::index_select(x, dim, idx1)));
    const at::Tensor idx2 = at::randint(-size, size, {2, 3}, at::kLong);
    const at::Tensor want = at::index_select(x, dim, idx2.remainder(size).flatten());
    std::vector<int64_t> want_shape = x.sizes().vec();
    const int64_t d = dim < 0 ? dim + 3 : dim;
    want_shape.erase(want_shape.begin() + d);
    want_shape.insert(want_shape.begin() + d, {2, 3});
    EXPECT_TRUE(AllClose(RunOp("take", {x, idx2}, Attrs().SetInt("dim", dim)), want.reshape(want_shape)));
  }
  // embedding(weight, ids) is take(weight, ids, dim 0).
  const at::Tensor weight = Randn({10, 33});
  const at::Tensor ids = at::randint(0, 10, {2, 5}, at::kLong);
  EXPECT_TRUE(AllClose(RunOp("take", {weight, ids}, Attrs().SetInt("dim", 0)), at::embedding(weight, ids)));
  // A rank-0 index drops the dim, as x.select would.
  EXPECT_TRUE(AllClose(RunOp("take", {weight, at::scalar_tensor(3.0)}, Attrs().SetInt("dim", 0)), weight[3]));
  // Out-of-range and fractional indices read NaN, never outside the buffer.
  const at::Tensor bad = RunOp("take", {weight, at::tensor({10.0f, -11.0f, 1.5f, -10.0f})}, Attrs().SetInt("dim", 0));
  ASSERT_TRUE(bad.defined());
  EXPECT_TRUE(bad.slice(0, 0, 3).isnan().all().item<bool>());
  EXPECT_TRUE(AllClose(bad[3], weight[0]));
  EXPECT_EQ(InferError("take", {{}, {3}}, Attrs().SetInt("dim", 0)), "cannot take from a rank-0 tensor");
  EXPECT_EQ(InferError("take", {{2, 3}, {3}}, Attrs().SetInt("dim", -3)), "dim -3 is out of range for rank 2");
}

TEST(Indexing, GatherMatchesATen) {
  at::manual_seed(25);
  const at::Tensor x = Randn({4, 6, 35});
  for (int64_t dim : {0, 1, 2, -2}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    // The index may be smaller than x in every dim.
    const at::Tensor idx = at::randint(0, x.size(dim), {3, 5, 33}, at::kLong);
    EXPECT_TRUE(AllClose(RunOp("gather", {x, idx}, Attrs().SetInt("dim", dim)), at::gather(x, dim, idx)));
  }
  const at::Tensor s = Randn({});
  EXPECT_TRUE(AllClose(RunOp("gather", {s, at::zeros({}, at::kLong)}, Attrs().SetInt("dim", 0)),
                       at::gather(s, 0, at::zeros({}, at::kLong))));
  const at::Tensor bad = RunOp("gather", {x, at::full({1, 1, 1}, 4.0f)}, Attrs().SetInt("dim", 0));
  ASSERT_TRUE(bad.defined());
  EXPECT_TRUE(std::isnan(bad.item<float>()));
  EXPECT_EQ(InferError("gather", {{4, 6}, {4}}, Attrs().SetInt("dim", 0)), "index [4] must have the rank of x [4, 6]");
  EXPECT_EQ(InferError("gather", {{4, 6}, {2, 7}}, Attrs().SetInt("dim", 0)),
            "index [2, 7] is larger than x [4, 6] in dim 1");
  EXPECT_EQ(InferOk("gather", {{4, 6}, {9, 6}}, Attrs().SetInt("dim", 0)), (Shape{9, 6}));
}

// ---- normalization ----

const bool kNormCovered = Covers({"softmax", "log_softmax", "layer_norm", "batch_norm"});

TEST(Normalization, SoftmaxMatchesATen) {
  at::manual_seed(8);
  const at::Tensor x = Randn({4, 37, 5}) * 4;
  const at::Tensor huge = Randn({3, 45}) * 1000;  // would overflow exp() without max subtraction
  for (int64_t dim : {0, 1, 2, -1, -3}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    Attrs attrs;
    attrs.SetInt("dim", dim);
    EXPECT_TRUE(AllClose(RunOp("softmax", {x}, attrs), at::softmax(x, dim)));
    EXPECT_TRUE(AllClose(RunOp("log_softmax", {x}, attrs), at::log_softmax(x, dim)));
  }
  Attrs last;
  last.SetInt("dim", -1);
  EXPECT_TRUE(AllClose(RunOp("softmax", {huge}, last), at::softmax(huge, -1)));
  EXPECT_TRUE(AllClose(RunOp("log_softmax", {huge}, last), at::log_softmax(huge, -1), 1e-4, 1e-3));
  EXPECT_EQ(InferError("softmax", {{2, 3}}, Attrs().SetInt("dim", 2)), "dim 2 is out of range for rank 2");
}

TEST(Normalization, LayerNormMatchesATen) {
  at::manual_seed(9);
  const at::Tensor x = Randn({3, 7, 45}) * 2 + 1;
  for (int64_t k : {1, 2, 3}) {
    const std::vector<int64_t> normalized(x.sizes().end() - k, x.sizes().end());
    const at::Tensor w = Randn(normalized), b = Randn(normalized);
    Attrs attrs;
    attrs.SetInt("normalized_ndim", k).SetFloat("eps", 1e-5);
    SCOPED_TRACE("normalized_ndim " + std::to_string(k));
    EXPECT_TRUE(AllClose(RunOp("layer_norm", {x, w, b}, attrs), at::layer_norm(x, normalized, w, b, 1e-5),
                         1e-4, 1e-4));
    EXPECT_TRUE(AllClose(RunOp("layer_norm", {x, w}, attrs), at::layer_norm(x, normalized, w, {}, 1e-5),
                         1e-4, 1e-4));
    EXPECT_TRUE(AllClose(RunOp("layer_norm", {x}, attrs), at::layer_norm(x, normalized, {}, {}, 1e-5),
                         1e-4, 1e-4));
  }
  Attrs attrs;
  attrs.SetInt("normalized_ndim", 1).SetFloat("eps", 1e-5);
  EXPECT_EQ(InferError("layer_norm", {{3, 45}, {44}}, attrs),
            "weight must have the normalized shape [45], got [44]");
  attrs.SetInt("normalized_ndim", 3);
  EXPECT_EQ(InferError("layer_norm", {{3, 45}}, attrs),
            "normalized_ndim 3 must be in [1, 2] for input [3, 45]");
}

TEST(Normalization, BatchNormMatchesATen) {
  at::manual_seed(10);
  for (const Shape& shape : {Shape{4, 6, 9, 11}, Shape{5, 6}, Shape{2, 6, 35}}) {
    SCOPED_TRACE(ShapeToString(shape));
    const at::Tensor x = Randn(shape);
    const at::Tensor mean = Randn({6}), var = Uniform({6}, 0.2, 3.0);
    const at::Tensor w = Randn({6}), b = Randn({6});
    Attrs attrs;
    attrs.SetFloat("eps", 1e-3);
    EXPECT_TRUE(AllClose(RunOp("batch_norm", {x, mean, var, w, b}, attrs),
                         at::batch_norm(x, w, b, mean, var, /*training=*/false, 0.1, 1e-3, false)));
    EXPECT_TRUE(AllClose(RunOp("batch_norm", {x, mean, var}, attrs),
                         at::batch_norm(x, {}, {}, mean, var, /*training=*/false, 0.1, 1e-3, false)));
  }
  Attrs attrs;
  attrs.SetFloat("eps", 1e-5);
  EXPECT_EQ(InferError("batch_norm", {{2, 6, 3}, {6}, {5}}, attrs),
            "var must be [6] (the channel count), got [5]");
  EXPECT_EQ(InferError("batch_norm", {{2, 6, 3}, {6}}, attrs), "takes 3 to 5 operands, got 2");
}

// ---- data movement ----

const bool kMovementCovered = Covers({"reshape", "permute", "expand", "slice", "concat"});

TEST(DataMovement, ReshapeMatchesATen) {
  at::manual_seed(11);
  const at::Tensor x = Randn({3, 4, 5});
  EXPECT_TRUE(AllClose(RunOp("reshape", {x}, Attrs().SetInts("shape", {6, 10})), x.reshape({6, 10})));
  EXPECT_TRUE(AllClose(RunOp("reshape", {x}, Attrs().SetInts("shape", {60})), x.reshape({60})));
  const at::Tensor one = Randn({1, 1});
  EXPECT_TRUE(AllClose(RunOp("reshape", {one}, Attrs().SetInts("shape", {})), one.reshape({})));
}

TEST(DataMovement, PermuteMatchesATen) {
  at::manual_seed(12);
  const at::Tensor x = Randn({2, 3, 4, 5});
  for (const std::vector<int64_t>& dims :
       {std::vector<int64_t>{3, -4, 2, 1}, {0, 1, 3, 2}, {0, 2, 3, 1}, {0, 3, 1, 2}, {0, 1, 2, 3}}) {
    SCOPED_TRACE(ShapeToString(dims));
    EXPECT_TRUE(AllClose(RunOp("permute", {x}, Attrs().SetInts("dims", dims)), x.permute(dims)));
  }
}

TEST(DataMovement, ExpandMatchesATen) {
  at::manual_seed(13);
  const at::Tensor x = Randn({3, 1, 5});
  EXPECT_TRUE(AllClose(RunOp("expand", {x}, Attrs().SetInts("shape", {2, 3, 4, 5})), x.expand({2, 3, 4, 5})));
  EXPECT_TRUE(AllClose(RunOp("expand", {x}, Attrs().SetInts("shape", {3, 7, 5})), x.expand({3, 7, 5})));
  const at::Tensor s = Randn({});
  EXPECT_TRUE(AllClose(RunOp("expand", {s}, Attrs().SetInts("shape", {2, 33})), s.expand({2, 33})));
}

TEST(DataMovement, SliceMatchesATen) {
  at::manual_seed(14);
  const at::Tensor x = Randn({4, 9, 37});
  struct Case {
    int64_t dim, start, end, step;
  };
  for (const Case& c : std::vector<Case>{{-1, 1, 100, 2}, {1, -3, -1, 1}, {0, 1, 3, 1}, {1, 5, 2, 1},
                                        {2, 0, 37, 5}, {1, -100, 4, 3}, {0, 0, INT64_MAX, 1}}) {
    SCOPED_TRACE(std::to_string(c.dim) + " " + std::to_string(c.start) + ":" + std::to_string(c.end) +
                 ":" + std::to_string(c.step));
    Attrs attrs;
    attrs.SetInt("dim", c.dim).SetInt("start", c.start).SetInt("end", c.end).SetInt("step", c.step);
    EXPECT_TRUE(AllClose(RunOp("slice", {x}, attrs), x.slice(c.dim, c.start, c.end, c.step)));
  }
  Attrs bad;
  bad.SetInt("dim", 0).SetInt("start", 0).SetInt("end", 2).SetInt("step", 0);
  EXPECT_EQ(InferError("slice", {{4, 5}}, bad), "attribute 'step' must be >= 1, got 0");
}

TEST(DataMovement, ConcatMatchesATen) {
  at::manual_seed(15);
  const at::Tensor a = Randn({2, 3, 5}), b = Randn({2, 1, 5}), c = Randn({2, 4, 5});
  EXPECT_TRUE(AllClose(RunOp("concat", {a, b, c}, Attrs().SetInt("dim", 1)), at::cat({a, b, c}, 1)));
  const at::Tensor d = Randn({2, 3, 33});
  EXPECT_TRUE(AllClose(RunOp("concat", {a, d}, Attrs().SetInt("dim", -1)), at::cat({a, d}, -1)));
  EXPECT_TRUE(AllClose(RunOp("concat", {a, a}, Attrs().SetInt("dim", 0)), at::cat({a, a}, 0)));
  EXPECT_TRUE(AllClose(RunOp("concat", {a}, Attrs().SetInt("dim", 2)), a));
  EXPECT_EQ(InferError("concat", {{2, 3, 5}, {2, 3, 4}}, Attrs().SetInt("dim", 1)),
            "operand 1 shape [2, 3, 4] does not match [2, 3, 5] outside concat dim 1");
  EXPECT_EQ(InferError("concat", {}, Attrs().SetInt("dim", 0)), "takes 1 or more operands, got 0");
}

const bool kPadCovered = Covers({"pad"});

TEST(DataMovement, PadMatchesATen) {
  at::manual_seed(27);
  const at::Tensor x = Randn({2, 3, 5, 6});
  auto attrs = [](std::vector<int64_t> pads, int64_t mode) {
    Attrs a;
    a.SetInts("pads", std::move(pads)).SetInt("mode", mode).SetFloat("value", 1.5);
    return a;
  };
  // ATen lists pads from the last dim backwards.
  EXPECT_TRUE(AllClose(RunOp("pad", {x}, attrs({0, 0, 0, 0, 1, 2, 3, 0}, 0)),
                       at::constant_pad_nd(x, {3, 0, 1, 2}, 1.5)));
  EXPECT_TRUE(AllClose(RunOp("pad", {x}, attrs({0, 0, 1, -1, -2, 0, 0, -3}, 0)),
                       at::constant_pad_nd(x, {0, -3, -2, 0, 1, -1}, 1.5)));
  EXPECT_TRUE(AllClose(RunOp("pad", {x}, attrs({0, 0, 0, 0, 4, 1, 2, 5}, 1)), at::reflection_pad2d(x, {2, 5, 4, 1})));
  EXPECT_TRUE(AllClose(RunOp("pad", {x}, attrs({0, 0, 0, 0, 0, 0, 2, 3}, 1)), at::reflection_pad1d(x.flatten(0, 1).flatten(1, 1).reshape({6, 5, 6}), {2, 3}).reshape({2, 3, 5, 11})));
  EXPECT_TRUE(AllClose(RunOp("pad", {x}, attrs({0, 0, 0, 0, 7, 1, 2, 9}, 2)), at::replication_pad2d(x, {2, 9, 7, 1})));
  EXPECT_EQ(InferError("pad", {{2, 3}}, attrs({1, 1}, 0)),
            "attribute 'pads' [1, 1] must hold a before and an after count for each of the 2 dims");
  EXPECT_EQ(InferError("pad", {{2, 3}}, attrs({0, 0, 3, 0}, 1)),
            "reflect padding of dim 1 by 3 needs the dim to be larger than that, got 3");
  EXPECT_EQ(InferError("pad", {{2, 3}}, attrs({0, 0, -2, -2}, 0)), "pads [0, 0, -2, -2] crop dim 1 of [2, 3] below zero");
  EXPECT_EQ(InferError("pad", {{2, 3}}, attrs({0, 0, 1, 1}, 3)),
            "attribute 'mode' must be 0 (constant), 1 (reflect) or 2 (replicate), got 3");
  EXPECT_EQ(InferError("pad", {{0, 3}}, attrs({1, 0, 0, 0}, 2)), "replicate padding of the empty dim 0");
}

TEST(DataMovement, ShapeErrors) {
  EXPECT_EQ(InferError("reshape", {{3, 4}}, Attrs().SetInts("shape", {5, 2})),
            "cannot reshape [3, 4] (12 elements) to [5, 2] (10 elements)");
  EXPECT_EQ(InferError("reshape", {{3, 4}}, Attrs().SetInts("shape", {-1, 2})),
            "reshape target [-1, 2] must be fully specified (no -1)");
  EXPECT_EQ(InferError("permute", {{3, 4}}, Attrs().SetInts("dims", {0, 0})),
            "dims [0, 0] is not a permutation of 2 dims");
  EXPECT_EQ(InferError("permute", {{3, 4}}, Attrs().SetInts("dims", {0, 1, 2})),
            "dims [0, 1, 2] is not a permutation of 2 dims");
  EXPECT_EQ(InferError("permute", {{3, 4}}, Attrs().SetInts("dims", {2, 0})),
            "dims [2, 0] is not a permutation of 2 dims");
  EXPECT_EQ(InferError("expand", {{3, 2}}, Attrs().SetInts("shape", {3, 4})),
            "cannot expand [3, 2] to [3, 4] (dims align right; only size-1 dims expand)");
  EXPECT_EQ(InferError("expand", {{3, 1}}, Attrs().SetInts("shape", {4})),
            "cannot expand [3, 1] to [4] (dims align right; only size-1 dims expand)");
}

// ---- generic checks through InferOutputShape ----

TEST(InferOutputShape, GenericErrors) {
  EXPECT_EQ(InferError("add", {{2, 3}, {4, 3}}), "operand shapes [2, 3] and [4, 3] do not broadcast");
  EXPECT_EQ(InferOk("add", {{3, 1}, {1, 4}}), (Shape{3, 4}));
  EXPECT_EQ(InferOk("mul", {{}, {2, 5}}), (Shape{2, 5}));
  EXPECT_EQ(InferError("relu", {{2}, {2}}), "takes 1 operands, got 2");
  EXPECT_EQ(InferError("add", {{2}}), "takes 2 operands, got 1");
  EXPECT_EQ(InferError("softmax", {{2, 3}}), "missing attribute 'dim'");
  EXPECT_EQ(InferError("softmax", {{2, 3}}, Attrs().SetInt("dim", 0).SetInt("axis", 1)),
            "unknown attribute 'axis'");
  EXPECT_EQ(InferError("softmax", {{2, 3}}, Attrs().SetFloat("dim", 0)),
            "attribute 'dim' must be int, got float");
  EXPECT_EQ(InferError("relu", {{2, -1}}), "operand 0 shape [2, -1] has a negative dimension");
  EXPECT_EQ(InferError("add", {{2, 1}, {-1}}), "operand 1 shape [-1] has a negative dimension");
}

// ---- hostile shapes and attributes: clear errors, no overflow, work bounded by tensor sizes ----

constexpr int64_t kT = int64_t{1} << 40;  // kMaxElements

Attrs MaxPoolAttrs(std::vector<int64_t> kernel, std::vector<int64_t> padding,
                   std::vector<int64_t> dilation = {1, 1}, std::vector<int64_t> stride = {1, 1}) {
  Attrs a;
  a.SetInts("kernel", kernel).SetInts("stride", stride).SetInts("padding", padding);
  a.SetInts("dilation", dilation).SetInt("ceil_mode", 0);
  return a;
}

// Runs an op on raw buffers (null for empty tensors, which have none), after shape inference.
void RunRaw(std::string_view name, const std::vector<Shape>& shapes, const std::vector<const float*>& data,
            const Attrs& attrs, float* out_data, Shape* out_shape) {
  const OpDef* def = FindOp(name);
  ASSERT_EQ(InferOutputShape(*def, shapes, attrs, out_shape), "");
  std::vector<ConstView> views;
  for (size_t i = 0; i < shapes.size(); ++i) views.push_back({data[i], shapes[i]});
  const KernelFn kernel = FindKernel(*def);
  ASSERT_NE(kernel, nullptr) << name;
  kernel(views, attrs, {out_data, *out_shape});
}

TEST(Hostile, PoolWindowsAreBounded) {
  // The fuzzed program: kernel height 2^40 + 1, padding 2^39 on a 1x1 image (hung in the kernel).
  EXPECT_EQ(InferError("max_pool2d", {{1, 1, 1, 1}}, MaxPoolAttrs({kT + 1, 1}, {kT / 2, 0})),
            "attribute 'kernel' must hold 2 ints in [1, 2^40], got [1099511627777, 1]");
  EXPECT_EQ(InferError("max_pool2d", {{1, 1, 4, 4}}, MaxPoolAttrs({2, 2}, {0, 0}, {1, 1}, {0, 1})),
            "attribute 'stride' must hold 2 ints in [1, 2^40], got [0, 1]");
  EXPECT_EQ(InferError("max_pool2d", {{1, 1, 4, 4}}, MaxPoolAttrs({2, 2}, {0, -1})),
            "attribute 'padding' must hold 2 ints in [0, 2^40], got [0, -1]");
  EXPECT_EQ(InferError("max_pool2d", {{1, 1, 4, 4}}, MaxPoolAttrs({2, 2}, {0, 0}, {-3, 1})),
            "attribute 'dilation' must hold 2 ints in [1, 2^40], got [-3, 1]");
  EXPECT_EQ(InferError("max_pool2d", {{1, 1, 4, 4}}, MaxPoolAttrs({3, 3}, {2, 1})),
            "attribute 'padding' [2, 1]: 2 exceeds half the window size 3");
  // Dilation * (kernel - 1) is about 2^80: the window is wider than any input, not an overflow.
  EXPECT_EQ(InferError("max_pool2d", {{1, 1, 4, 4}}, MaxPoolAttrs({kT, 1}, {kT / 2, 0}, {kT, 1})),
            "pooling output would be empty for input [1, 1, 4, 4]");
  // As in PyTorch, only the batch dim may be empty.
  EXPECT_EQ(InferError("max_pool2d", {{2, 1, 0, 4}}, MaxPoolAttrs({2, 2}, {1, 1})),
            "pooling input [2, 1, 0, 4] has an empty channel or spatial dim");
  EXPECT_EQ(InferOk("max_pool2d", {{0, 1, 2, 2}}, MaxPoolAttrs({2, 2}, {1, 1})), (Shape{0, 1, 3, 3}));

  // The largest valid window: 2^40 taps over a 1x1 image. The kernel visits only the taps that land
  // on the input (before, 2^40 per output element).
  const float x = 3.0f;
  float y[2] = {0, 0};
  Shape out;
  RunRaw("max_pool2d", {{1, 1, 1, 1}}, {&x}, MaxPoolAttrs({kT, 1}, {kT / 2, 0}), y, &out);
  EXPECT_EQ(out, (Shape{1, 1, 2, 1}));
  EXPECT_EQ(y[0], 3.0f);
  EXPECT_EQ(y[1], 3.0f);
  // Average pooling over the same window divides by 2^40 * 2^40 padded taps (int64 overflowed).
  Attrs avg;
  avg.SetInts("kernel", {kT, kT}).SetInts("stride", {1, 1}).SetInts("padding", {kT / 2, kT / 2});
  avg.SetInt("ceil_mode", 0).SetInt("count_include_pad", 1);
  float z[4] = {0, 0, 0, 0};
  RunRaw("avg_pool2d", {{1, 1, 1, 1}}, {&x}, avg, z, &out);
  EXPECT_EQ(out, (Shape{1, 1, 2, 2}));
  for (float v : z) EXPECT_EQ(v, std::ldexp(3.0f, -80));
  // The work estimate counts every tap, in floating point (k[0] * k[1] overflowed int64).
  EXPECT_EQ(FindOp("avg_pool2d")->work({{1, 1, 1, 1}}, out, avg), 1024.0 * std::ldexp(1.0, 80));
}

TEST(Hostile, ConvAttributesAreBounded) {
  Attrs a = ConvAttrs();
  a.SetInts("stride", {kT + 1, 1});
  EXPECT_EQ(InferError("conv2d", {{1, 3, 9, 9}, {8, 3, 3, 3}}, a),
            "attribute 'stride' must hold 2 ints in [1, 2^40], got [1099511627777, 1]");
  a = ConvAttrs();
  a.SetInts("padding", {0, INT64_MAX / 2});  // in + 2 * padding overflowed
  EXPECT_EQ(InferError("conv2d", {{1, 3, 9, 9}, {8, 3, 3, 3}}, a),
            "attribute 'padding' must hold 2 ints in [0, 2^40], got [0, 4611686018427387903]");
  a = ConvAttrs();
  a.SetInts("dilation", {kT, 1});  // dilation * (kernel - 1) ~ 2^70
  EXPECT_EQ(InferError("conv2d", {{1, 3, 9, 9}, {8, 3, int64_t{1} << 30, 3}}, a),
            "conv2d output would be empty: padded input [1, 3, 9, 9] is smaller than the dilated "
            "kernel [8, 3, 1073741824, 3]");
  a = ConvAttrs(0);
  EXPECT_EQ(InferError("conv2d", {{1, 3, 9, 9}, {8, 3, 3, 3}}, a), "attribute 'groups' must be >= 1, got 0");
  // With no channels any groups divides them; w[1] * groups overflowed int64.
  EXPECT_EQ(InferError("conv2d", {{1, 0, 9, 9}, {0, 4, 3, 3}}, ConvAttrs(int64_t{1} << 62)),
            "weight [0, 4, 3, 3] expects 4 input channels per group (groups=4611686018427387904) but "
            "input [1, 0, 9, 9] has 0 channels");
  // A valid but empty conv with 2^40 groups: nothing to compute (before, 2^40 empty GEMMs).
  Shape out;
  RunRaw("conv2d", {{1, 0, 2, 2}, {0, 0, 1, 1}}, {nullptr, nullptr}, ConvAttrs(kT), nullptr, &out);
  EXPECT_EQ(out, (Shape{1, 0, 2, 2}));
}

TEST(Hostile, OperandAndOutputShapesAreBounded) {
  // The verifier's old gap: a zero dim stopped the element-count check for the dims after it.
  EXPECT_EQ(InferOk("relu", {{kT, 0, 1}}), (Shape{kT, 0, 1}));
  EXPECT_EQ(InferError("relu", {{kT, 0, kT}}),
            "operand 0 shape [1099511627776, 0, 1099511627776] has more than 2^40 elements counting "
            "its zero dims as 1");
  EXPECT_EQ(InferError("relu", {{kT, 2}}), "operand 0 shape [1099511627776, 2] has more than 2^40 elements");
  // Outputs are checked too: empty operands can make an absurd product.
  EXPECT_EQ(InferError("matmul", {{int64_t{1} << 30, 0}, {0, int64_t{1} << 30}}),
            "output shape [1073741824, 1073741824] has more than 2^40 elements");
  EXPECT_EQ(InferError("expand", {{1}}, Attrs().SetInts("shape", {kT, 2})),
            "output shape [1099511627776, 2] has more than 2^40 elements");
  // 2^62 * 4 wrapped to 0 elements, which "matched" an empty input.
  EXPECT_EQ(InferError("reshape", {{0}}, Attrs().SetInts("shape", {int64_t{1} << 62, 4})),
            "reshape target shape [4611686018427387904, 4] has more than 2^40 elements");
  // A step near INT64_MAX overflowed end - start + step - 1.
  Attrs slice;
  slice.SetInt("dim", 0).SetInt("start", 1).SetInt("end", 4).SetInt("step", INT64_MAX);
  EXPECT_EQ(InferOk("slice", {{4, 5}}, slice), (Shape{1, 5}));
  const at::Tensor x = Randn({4, 5});
  EXPECT_TRUE(AllClose(RunOp("slice", {x}, slice), x.slice(0, 1, 2)));  // ATen overflows on this step
}

// Empty tensors whose other dims are huge: each kernel returns without walking them (before, 2^40
// iterations each), and never reads an empty operand's buffer, which may be null.
TEST(Hostile, KernelsOnEmptyTensorsDoNoWork) {
  Shape out;
  RunRaw("softmax", {{kT, 1, 0}}, {nullptr}, Attrs().SetInt("dim", 1), nullptr, &out);
  EXPECT_EQ(out, (Shape{kT, 1, 0}));
  const float one = 1.0f;
  RunRaw("batch_norm", {{kT, 1, 0}, {1}, {1}}, {nullptr, &one, &one}, Attrs().SetFloat("eps", 1e-5),
         nullptr, &out);
  RunRaw("matmul", {{kT / 8, 0, 5}, {5, 7}}, {nullptr, nullptr}, {}, nullptr, &out);
  EXPECT_EQ(out, (Shape{kT / 8, 0, 7}));
  RunRaw("concat", {{kT, 0}, {kT, 0}}, {nullptr, nullptr}, Attrs().SetInt("dim", 1), nullptr, &out);
  RunRaw("reshape", {{0, 3}}, {nullptr}, Attrs().SetInts("shape", {3, 0}), nullptr, &out);
  // An empty operand beside a non-empty one contributes nothing.
  const float v[2] = {1.0f, 2.0f};
  float got[2] = {0, 0};
  RunRaw("concat", {{2, 0}, {2, 1}}, {nullptr, v}, Attrs().SetInt("dim", 1), got, &out);
  EXPECT_EQ(out, (Shape{2, 1}));
  EXPECT_EQ(got[0], 1.0f);
  EXPECT_EQ(got[1], 2.0f);
}

// ---- work ----

TEST(Work, CountsTilePaddedShapes) {
  // Matrix ops: 2 * batch * pad(M) * pad(K) * pad(N).
  EXPECT_EQ(Work("matmul", {{33, 33}, {33, 33}}), 2.0 * 64 * 64 * 64);
  EXPECT_EQ(Work("matmul", {{33, 33}, {33, 33}}), Work("matmul", {{64, 64}, {64, 64}}));
  EXPECT_EQ(Work("matmul", {{1, 1}, {1, 1}}), 2.0 * 32 * 32 * 32);
  EXPECT_EQ(Work("matmul", {{3, 5, 10, 40}, {40, 70}}), 2.0 * 15 * 32 * 64 * 96);
  EXPECT_EQ(Work("matmul", {{2, 1, 10, 40}, {3, 40, 70}}), 2.0 * 6 * 32 * 64 * 96);

  // conv2d: 2 * groups * N * pad(OH*OW) * pad(C/g*KH*KW) * pad(O/g).
  EXPECT_EQ(Work("conv2d", {{2, 3, 17, 19}, {5, 3, 3, 3}}, ConvAttrs()),
            2.0 * 2 * RoundUpToTile(15 * 17) * 32 * 32);
  EXPECT_EQ(Work("conv2d", {{1, 8, 10, 10}, {8, 4, 3, 3}}, ConvAttrs(2)), 2.0 * 2 * 1 * 64 * 64 * 32);
  // Depthwise runs on the vector engine: a multiply and an add per tap per output element of
  // [N, pad(OH*OW), pad(O)].
  EXPECT_EQ(Work("conv2d", {{1, 8, 10, 10}, {8, 1, 3, 3}}, ConvAttrs(8)), 2.0 * 9 * 64 * 32);
  EXPECT_EQ(Work("conv2d", {{1, 1152, 9, 9}, {1152, 1, 3, 3}}, ConvAttrs(1152)), 2.0 * 9 * 64 * 1152);

  // Vector ops: stored output elements, times the window / a fixed factor; reductions their stored input.
  EXPECT_EQ(Work("relu", {{33, 33}}), 64.0 * 64);
  EXPECT_EQ(Work("add", {{3, 1}, {1, 4}}), 1024.0);
  Attrs pool;
  pool.SetInts("kernel", {3, 3}).SetInts("stride", {1, 1}).SetInts("padding", {1, 1});
  pool.SetInts("dilation", {1, 1}).SetInt("ceil_mode", 0);
  EXPECT_EQ(Work("max_pool2d", {{1, 2, 40, 40}}, pool), 2.0 * 64 * 64 * 9);
  Attrs reduce;
  reduce.SetInts("dims", {1}).SetInt("keepdim", 0);
  EXPECT_EQ(Work("reduce_sum", {{40, 50}}, reduce), 64.0 * 64);
  EXPECT_EQ(Work("softmax", {{33, 10}}, Attrs().SetInt("dim", -1)), 5.0 * 64 * 32);

  // Data movement is free of arithmetic.
  EXPECT_EQ(Work("permute", {{33, 10}}, Attrs().SetInts("dims", {1, 0})), 0.0);
  EXPECT_EQ(Work("concat", {{33, 10}, {33, 10}}, Attrs().SetInt("dim", 0)), 0.0);
}

TEST(Work, UsefulFlopsAreUnpaddedAndOnlyForMatrixOps) {
  for (const OpDef* op : AllOps())
    EXPECT_EQ(op->flops != nullptr, op->unit == Unit::kMatrix) << op->name;
  auto flops = [](std::string_view name, const std::vector<Shape>& shapes, const Attrs& attrs = {}) {
    return FindOp(name)->flops(shapes, InferOk(name, shapes, attrs), attrs);
  };
  EXPECT_EQ(flops("matmul", {{33, 33}, {33, 33}}), 2.0 * 33 * 33 * 33);
  EXPECT_EQ(flops("matmul", {{3, 5, 10, 40}, {40, 70}}), 2.0 * 15 * 10 * 40 * 70);
  // conv2d: 2 * N * O * OH * OW * C/g * KH * KW.
  EXPECT_EQ(flops("conv2d", {{2, 3, 17, 19}, {5, 3, 3, 3}}, ConvAttrs()), 2.0 * 2 * 5 * 15 * 17 * 27);
  EXPECT_EQ(flops("conv2d", {{1, 8, 10, 10}, {8, 4, 3, 3}}, ConvAttrs(2)), 2.0 * 8 * 8 * 8 * 36);
  // A depthwise conv2d runs on the vector engine: no matrix FLOPs for the roofline.
  EXPECT_EQ(flops("conv2d", {{1, 8, 10, 10}, {8, 1, 3, 3}}, ConvAttrs(8)), 0.0);
}

// ---- shared helpers ----

TEST(ShapeUtil, WindowOutputSize) {
  EXPECT_EQ(WindowOutputSize(224, 7, 2, 3, 1, false), 112);
  EXPECT_EQ(WindowOutputSize(112, 3, 2, 1, 1, false), 56);
  EXPECT_EQ(WindowOutputSize(5, 2, 2, 1, 1, true), 3);  // a 4th window would start in the padding
  EXPECT_EQ(WindowOutputSize(6, 2, 2, 0, 1, true), 3);
  EXPECT_EQ(WindowOutputSize(7, 2, 2, 0, 1, true), 4);
  EXPECT_EQ(WindowOutputSize(2, 3, 1, 0, 1, false), 0);
}

TEST(ShapeUtil, SgemmMatchesNaive) {
  // Sub-matrices with leading dims larger than their width, accumulate on and off.
  const int64_t m = 45, n = 70, k = 300, lda = 310, ldb = 80, ldc = 75;
  std::vector<float> a(m * lda), b(k * ldb), c(m * ldc, 1.0f);
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::sin(0.1 * i);
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::cos(0.07 * i);
  for (bool accumulate : {false, true}) {
    std::vector<float> got = c;
    Sgemm(m, n, k, a.data(), lda, b.data(), ldb, got.data(), ldc, accumulate);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < ldc; ++j) {
        double want = c[i * ldc + j];
        if (j < n) {
          want = accumulate ? want : 0.0;
          for (int64_t p = 0; p < k; ++p) want += static_cast<double>(a[i * lda + p]) * b[p * ldb + j];
        }
        ASSERT_NEAR(got[i * ldc + j], want, 1e-3) << i << "," << j << " accumulate " << accumulate;
      }
  }
}

}  // namespace
}  // namespace kiln::ops

// conv2d_squeeze_excite (a convolution gated by its own squeeze-excitation) against ATen: y = conv2d(x) with its
// epilogue activation, then y * gate_act(fc2(act(fc1(mean(y))))), as torchvision's SqueezeExcitation computes it.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "ops/epilogue.h"
#include "ops/ops_test_util.h"

namespace kiln::ops {
namespace {

const bool kCovered = Covers({"conv2d_squeeze_excite"});

Attrs Conv(int64_t groups, int64_t padding, int64_t stride = 1) {
  return Attrs()
      .SetInts("stride", {stride, stride})
      .SetInts("padding", {padding, padding})
      .SetInts("dilation", {1, 1})
      .SetInt("groups", groups);
}

// The activation's index in kEpilogueActivations.
int64_t Act(std::string_view name) { return EpilogueActivation(name); }

at::Tensor Apply(std::string_view act, const at::Tensor& x) {
  if (act == "relu") return at::relu(x);
  if (act == "sigmoid") return at::sigmoid(x);
  if (act == "silu") return at::silu(x);
  if (act == "hardsigmoid") return at::hardsigmoid(x);
  if (act == "hardswish") return at::hardswish(x);
  return x;
}

struct Se {
  at::Tensor w1, b1, w2, b2;
};

Se RandomSe(int64_t channels, int64_t reduced) {
  return {Randn({reduced, channels, 1, 1}), Randn({reduced}), Randn({channels, reduced, 1, 1}), Randn({channels})};
}

at::Tensor Reference(const at::Tensor& y, const Se& se, std::string_view act, std::string_view gate_act) {
  const at::Tensor mean = y.mean({2, 3}, /*keepdim=*/true);
  const at::Tensor hidden = Apply(act, at::conv2d(mean, se.w1, se.b1));
  return y * Apply(gate_act, at::conv2d(hidden, se.w2, se.b2));
}

// The activation pairs of the SE blocks torchvision's models use: EfficientNet (SiLU, sigmoid),
// MobileNetV3 (ReLU, hardsigmoid), RegNet-Y (ReLU, sigmoid); the convolution before it depthwise
// (vector engine) or not (matrix engine), with the activations they fuse.
TEST(ConvSqueezeExcite, MatchesTheConvolutionTimesItsGate) {
  const at::Tensor x = Randn({2, 8, 9, 9});
  const at::Tensor wd = Randn({8, 1, 3, 3}), wg = Randn({8, 4, 3, 3}), w1x1 = Randn({8, 8, 1, 1}), b = Randn({8});
  const Se se = RandomSe(8, 2);
  struct Case {
    at::Tensor w, y;
    Attrs conv;
    const char *conv_act, *act, *gate_act;
  };
  const Case cases[] = {
      {wd, at::silu(at::conv2d(x, wd, b, {2, 2}, {1, 1}, {1, 1}, 8)), Conv(8, 1, 2), "silu", "silu", "sigmoid"},
      {wd, at::hardswish(at::conv2d(x, wd, b, {1, 1}, {1, 1}, {1, 1}, 8)), Conv(8, 1), "hardswish", "relu",
       "hardsigmoid"},
      {wg, at::relu(at::conv2d(x, wg, b, {1, 1}, {1, 1}, {1, 1}, 2)), Conv(2, 1), "relu", "relu", "sigmoid"},
      {w1x1, at::conv2d(x, w1x1, b), Conv(1, 0), "", "", ""},
  };
  for (const Case& c : cases) {
    Attrs attrs = c.conv;
    if (*c.conv_act) attrs.SetInt("activation", Act(c.conv_act));
    if (*c.act) attrs.SetInt("se_activation", Act(c.act));
    if (*c.gate_act) attrs.SetInt("se_gate_activation", Act(c.gate_act));
    EXPECT_TRUE(AllClose(RunOp("conv2d_squeeze_excite", {x, c.w, b, se.w1, se.b1, se.w2, se.b2}, attrs),
                         Reference(c.y, se, c.act, c.gate_act), 1e-4, 1e-4))
        << c.conv_act << " conv, " << c.act << " / " << c.gate_act << " gate";
  }
}

TEST(ConvSqueezeExcite, ShapeErrorsNameTheOperands) {
  const Attrs dw = Conv(8, 1);
  const Shape x = {1, 8, 9, 9}, w = {8, 1, 3, 3}, b = {8};
  EXPECT_EQ(InferError("conv2d_squeeze_excite", {x, w, b, {2, 6, 1, 1}, {2}, {8, 2, 1, 1}, {8}}, dw),
            "fc1_weight must be [2, 8, 1, 1], got [2, 6, 1, 1]");
  EXPECT_EQ(InferError("conv2d_squeeze_excite", {x, w, b, {0, 8, 1, 1}, {0}, {8, 0, 1, 1}, {8}}, dw),
            "fc1_weight must be [1, 8, 1, 1], got [0, 8, 1, 1]");
  EXPECT_EQ(InferError("conv2d_squeeze_excite", {x, w, b, {2, 8, 1, 1}, {3}, {8, 2, 1, 1}, {8}}, dw),
            "fc1_bias must be [2], got [3]");
  EXPECT_EQ(InferError("conv2d_squeeze_excite", {x, w, b, {2, 8, 1, 1}, {2}, {8, 3, 1, 1}, {8}}, dw),
            "fc2_weight must be [8, 2, 1, 1], got [8, 3, 1, 1]");
  EXPECT_EQ(InferError("conv2d_squeeze_excite", {x, w, b, {2, 8, 1, 1}, {2}, {8, 2, 1, 1}, {2}}, dw),
            "fc2_bias must be [8], got [2]");
  Attrs clamp = dw;
  clamp.SetInt("se_gate_activation", kClampActivation);
  EXPECT_EQ(InferError("conv2d_squeeze_excite", {x, w, b, {2, 8, 1, 1}, {2}, {8, 2, 1, 1}, {8}}, clamp),
            "attribute 'se_gate_activation' must be an activation of `activation` but clamp, got 4");
  Attrs unknown = dw;
  unknown.SetInt("se_activation", 99);
  EXPECT_EQ(InferError("conv2d_squeeze_excite", {x, w, b, {2, 8, 1, 1}, {2}, {8, 2, 1, 1}, {8}}, unknown),
            "attribute 'se_activation' must be an activation of `activation` but clamp, got 99");
  // The convolution's own checks come first.
  EXPECT_EQ(InferError("conv2d_squeeze_excite", {x, {8, 2, 3, 3}, b, {2, 8, 1, 1}, {2}, {8, 2, 1, 1}, {8}}, dw),
            "weight [8, 2, 3, 3] expects 2 input channels per group (groups=8) but input [1, 8, 9, 9] has 8 channels");
}

// A fused op costs all it does: the convolution's work plus the gate's, on the convolution's engine.
TEST(ConvSqueezeExcite, WorkIsTheConvolutionsPlusTheGates) {
  const Shape x = {1, 8, 9, 9}, b = {8}, w1 = {2, 8, 1, 1}, b1 = {2}, w2 = {8, 2, 1, 1};
  // Depthwise (vector engine): per stored [pad(OH*OW), pad(C)] element an add (mean) and a multiply
  // (gate), and 2 * C * R multiply-adds for the two FC layers.
  const double dw = Work("conv2d", {x, {8, 1, 3, 3}, b}, Conv(8, 1));
  EXPECT_EQ(Work("conv2d_squeeze_excite", {x, {8, 1, 3, 3}, b, w1, b1, w2, b}, Conv(8, 1)),
            dw + 2.0 * 96 * 32 + 4.0 * 8 * 2);
  // Matrix engine: the mean as ones [32, pad(OH*OW)] x [pad(OH*OW), pad(C)], each FC [32, 32] x [32, 32],
  // the gate's multiply once per stored element.
  const double mm = Work("conv2d", {x, {8, 8, 1, 1}, b}, Conv(1, 0));
  EXPECT_EQ(Work("conv2d_squeeze_excite", {x, {8, 8, 1, 1}, b, w1, b1, w2, b}, Conv(1, 0)),
            mm + 2.0 * 32 * 96 * 32 + 2.0 * 2 * 32 * 32 * 32 + 96 * 32);
  // The roofline's useful FLOPs: the convolution's and the FC layers' (2 * C * R multiply-adds), on either engine.
  const OpDef& se = *FindOp("conv2d_squeeze_excite");
  const Shape out = {1, 8, 9, 9};
  EXPECT_EQ(se.flops({x, {8, 1, 3, 3}, b, w1, b1, w2, b}, out, Conv(8, 1)), 2.0 * 2 * 8 * 2);
  EXPECT_EQ(se.flops({x, {8, 8, 1, 1}, b, w1, b1, w2, b}, out, Conv(1, 0)), 2.0 * 8 * 81 * 8 + 2.0 * 2 * 8 * 2);
}

}  // namespace
}  // namespace kiln::ops

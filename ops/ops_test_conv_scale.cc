// conv2d with an input scale (input_scale=1: a squeeze-excitation gate fused into the convolution that
// reads the gated activation) against ATen's conv2d of x * scale.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "ops/ops_test_util.h"

namespace kiln::ops {
namespace {

Attrs Conv(int64_t groups, int64_t padding) {
  return Attrs().SetInts("stride", {1, 1}).SetInts("padding", {padding, padding}).SetInts("dilation", {1, 1}).SetInt("groups", groups);
}

Attrs Scaled(int64_t groups, int64_t padding) { return Conv(groups, padding).SetInt("input_scale", 1); }

TEST(ConvInputScale, MatchesTheConvolutionOfTheScaledInput) {
  // Per image and channel: two images with different gates.
  const at::Tensor x = Randn({2, 6, 7, 7}), s = at::sigmoid(Randn({2, 6, 1, 1}));
  const at::Tensor w = Randn({4, 6, 1, 1}), b = Randn({4});
  const at::Tensor want = at::conv2d(x * s, w, b);
  EXPECT_TRUE(AllClose(RunOp("conv2d", {x, w, b, s}, Scaled(1, 0)), want, 1e-4, 1e-4));
  // With a residual (before the scale) and an activation.
  const at::Tensor r = Randn({2, 4, 7, 7});
  Attrs relu = Scaled(1, 0);
  relu.SetInt("activation", 0);
  EXPECT_TRUE(AllClose(RunOp("conv2d", {x, w, b, r, s}, relu), at::relu(want + r), 1e-4, 1e-4));
  // Grouped and depthwise, padded 3x3.
  const at::Tensor wg = Randn({6, 3, 3, 3}), wd = Randn({6, 1, 3, 3}), b6 = Randn({6});
  EXPECT_TRUE(AllClose(RunOp("conv2d", {x, wg, b6, s}, Scaled(2, 1)),
                       at::conv2d(x * s, wg, b6, {1, 1}, {1, 1}, {1, 1}, 2), 1e-4, 1e-4));
  EXPECT_TRUE(AllClose(RunOp("conv2d", {x, wd, b6, s}, Scaled(6, 1)),
                       at::conv2d(x * s, wd, b6, {1, 1}, {1, 1}, {1, 1}, 6), 1e-4, 1e-4));
}

TEST(ConvInputScale, ShapeErrorsNameTheOperands) {
  EXPECT_EQ(InferError("conv2d", {{1, 6, 7, 7}, {4, 6, 1, 1}, {1, 6, 1, 1}}, Scaled(1, 0)),
            "input_scale=1 takes a bias and then the scale as the last operand");
  EXPECT_EQ(InferError("conv2d", {{2, 6, 7, 7}, {4, 6, 1, 1}, {4}, {1, 6, 1, 1}}, Scaled(1, 0)),
            "input scale must be [2, 6, 1, 1] (one factor per image and input channel), got [1, 6, 1, 1]");
  Attrs plain = Scaled(1, 0);
  plain.SetInt("input_scale", 0);
  EXPECT_EQ(InferError("conv2d", {{1, 6, 7, 7}, {4, 6, 1, 1}, {4}, {1, 4, 7, 7}, {1, 6, 1, 1}}, plain),
            "a fifth operand is an input scale, which needs input_scale=1");
  // The scale adds one multiply per stored input element to the work.
  EXPECT_EQ(Work("conv2d", {{1, 6, 7, 7}, {4, 6, 1, 1}, {4}, {1, 6, 1, 1}}, Scaled(1, 0)),
            Work("conv2d", {{1, 6, 7, 7}, {4, 6, 1, 1}, {4}}, Conv(1, 0)) + 6.0 * 32 * 32);
}

}  // namespace
}  // namespace kiln::ops

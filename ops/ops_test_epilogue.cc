// conv2d and matmul with a fused epilogue (ops/epilogue.h) against the same ops run one by one in
// ATen: act(op + bias + residual) for every activation the epilogue offers.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <iterator>

#include "ops/epilogue.h"
#include "ops/ops_test_util.h"

namespace kiln::ops {
namespace {

at::Tensor Activate(int activation, const at::Tensor& x) {
  switch (activation) {
    case 0: return at::relu(x);
    case 1: return at::sigmoid(x);
    case 2: return at::gelu(x);
    case 3: return at::silu(x);
    case 4: return at::clamp(x, 0.0, 6.0);  // clamp, as ReLU6 uses it
    case 5: return at::hardsigmoid(x);
    case 6: return at::hardswish(x);
    default: return at::gelu(x, "tanh");
  }
}

Attrs Epilogue(int activation) {
  Attrs a;
  a.SetInt("activation", activation);
  if (activation == kClampActivation) a.SetFloat("min", 0.0).SetFloat("max", 6.0);
  return a;
}

TEST(Epilogue, Conv2dAddsTheResidualThenActivates) {
  const at::Tensor x = Randn({2, 4, 7, 7}), w = Randn({6, 2, 3, 3}), b = Randn({6});
  const at::Tensor r = Randn({2, 6, 5, 5}) * 3;
  const at::Tensor conv = at::conv2d(x, w, b, at::IntArrayRef{1, 1}, at::IntArrayRef{0, 0}, at::IntArrayRef{1, 1}, 2);
  for (int a = 0; a < static_cast<int>(std::size(kEpilogueActivations)); ++a) {
    Attrs attrs = Epilogue(a);
    attrs.SetInts("stride", {1, 1}).SetInts("padding", {0, 0}).SetInts("dilation", {1, 1}).SetInt("groups", 2);
    EXPECT_TRUE(AllClose(RunOp("conv2d", {x, w, b, r}, attrs), Activate(a, conv + r), 1e-4, 1e-4))
        << kEpilogueActivations[a];
  }
  Attrs plain;
  plain.SetInts("stride", {1, 1}).SetInts("padding", {0, 0}).SetInts("dilation", {1, 1}).SetInt("groups", 2);
  EXPECT_TRUE(AllClose(RunOp("conv2d", {x, w, b, r}, plain), conv + r, 1e-4, 1e-4));
}

TEST(Epilogue, MatmulWithBroadcastBiasAndBatches) {
  const at::Tensor a = Randn({3, 5, 8}), b = Randn({8, 7}), bias = Randn({7}), r = Randn({3, 5, 7});
  const at::Tensor shared = at::matmul(a, b) + bias;
  const at::Tensor bb = Randn({3, 8, 7});  // per-batch b: the kernel's other GEMM loop
  const at::Tensor batched = at::matmul(a, bb) + bias;
  for (int act = 0; act < static_cast<int>(std::size(kEpilogueActivations)); ++act) {
    EXPECT_TRUE(AllClose(RunOp("matmul", {a, b, bias, r}, Epilogue(act)), Activate(act, shared + r), 1e-4, 1e-4))
        << kEpilogueActivations[act];
    EXPECT_TRUE(AllClose(RunOp("matmul", {a, bb, bias}, Epilogue(act)), Activate(act, batched), 1e-4, 1e-4))
        << kEpilogueActivations[act];
  }
}

TEST(Epilogue, NanPropagatesThroughReluAsInTheStandaloneOp) {
  const at::Tensor a = at::full({1, 2}, NAN), b = at::ones({2, 2});
  const at::Tensor got = RunOp("matmul", {a, b}, Epilogue(0));
  EXPECT_TRUE(at::isnan(got).all().item<bool>());
}

TEST(Epilogue, ShapeAndAttributeErrors) {
  EXPECT_EQ(InferError("matmul", {{4, 3}, {3, 5}, {5}, {4, 6}}),
            "residual must have the output's shape [4, 5], got [4, 6]");
  Attrs bad;
  bad.SetInt("activation", 8);
  EXPECT_EQ(InferError("matmul", {{4, 3}, {3, 5}}, bad), "attribute 'activation' must be in [0, 7], got 8");
  Attrs stray;
  stray.SetInt("activation", 0).SetFloat("min", 0.0);
  EXPECT_EQ(InferError("matmul", {{4, 3}, {3, 5}}, stray), "attributes 'min' and 'max' belong to a clamp activation");
  Attrs conv;
  conv.SetInts("stride", {1, 1}).SetInts("padding", {0, 0}).SetInts("dilation", {1, 1}).SetInt("groups", 1);
  EXPECT_EQ(InferError("conv2d", {{1, 2, 4, 4}, {3, 2, 3, 3}, {3}, {1, 3, 4, 4}}, conv),
            "residual must have the output's shape [1, 3, 2, 2], got [1, 3, 4, 4]");
}

}  // namespace
}  // namespace kiln::ops

// gelu_tanh (GELU's tanh approximation, what GPT-2 and BLOOM use) against at::gelu(approximate="tanh").
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "ops/ops_test_util.h"

namespace kiln::ops {
namespace {

const bool kGeluTanhCovered = Covers({"gelu_tanh"});

TEST(GeluTanh, MatchesATensTanhApproximation) {
  at::manual_seed(21);
  const at::Tensor x = at::cat({Randn({3, 70}) * 4, at::linspace(-12, 12, 70).reshape({1, 70})});
  EXPECT_TRUE(AllClose(RunOp("gelu_tanh", {x}), at::gelu(x, "tanh"), 1e-5, 1e-6));
  EXPECT_FALSE(AllClose(RunOp("gelu_tanh", {x}), at::gelu(x), 1e-5, 1e-6));  // not the exact GELU
}

}  // namespace
}  // namespace kiln::ops

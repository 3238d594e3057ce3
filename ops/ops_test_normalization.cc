// Normalization edge cases against ATen (the main reference tests are in ops_test.cc).
#include "ops/ops_test_util.h"

namespace kiln::ops {
namespace {

// ATen takes any eps: a variance plus a negative eps below zero gives NaN, above zero a finite result.
TEST(Normalization, NegativeEpsMatchesATen) {
  at::manual_seed(3);
  const at::Tensor x = Randn({4, 3, 5});
  Attrs ln;
  ln.SetInt("normalized_ndim", 1).SetFloat("eps", -0.5);
  const at::Tensor want_ln = at::layer_norm(x, {5}, {}, {}, -0.5);
  EXPECT_TRUE(want_ln.isnan().any().item<bool>());  // the case is meant to reach NaN rows
  EXPECT_TRUE(AllClose(RunOp("layer_norm", {x}, ln), want_ln));
  const at::Tensor mean = Randn({3}), var = Uniform({3}, 0.1, 1.0);
  Attrs bn;
  bn.SetFloat("eps", -0.3);
  EXPECT_TRUE(AllClose(RunOp("batch_norm", {x, mean, var}, bn),
                       at::batch_norm(x, {}, {}, mean, var, false, 0.1, -0.3, false), 1e-4, 1e-4));
}

}  // namespace
}  // namespace kiln::ops

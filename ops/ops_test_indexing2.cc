// Reference tests against ATen of the scans beside cumsum (cumprod, logcumsumexp), and of scatter on
// rank-0 operands (index_reduce of a scalar).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "ops/ops_test_util.h"

namespace kiln::ops {
namespace {

const bool kScanCovered = Covers({"cumprod", "logcumsumexp"});

TEST(Scan, CumprodMatchesATen) {
  at::manual_seed(29);
  // Values near 1 so a long product neither overflows nor vanishes.
  const at::Tensor x = Uniform({3, 5, 37}, 0.8, 1.2);
  for (int64_t dim : {0, 1, 2, -1, -3}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    EXPECT_TRUE(AllClose(RunOp("cumprod", {x}, Attrs().SetInt("dim", dim)), at::cumprod(x, dim)));
  }
  // A zero stays zero after it; integers stay exact.
  const at::Tensor ints = at::tensor({3.f, -2.f, 0.f, 5.f, 4.f, 7.f}).reshape({2, 3});
  EXPECT_TRUE(AllClose(RunOp("cumprod", {ints}, Attrs().SetInt("dim", 1)), at::cumprod(ints, 1), 0, 0));
  const at::Tensor scalar = Randn({});
  EXPECT_TRUE(AllClose(RunOp("cumprod", {scalar}, Attrs().SetInt("dim", 0)), at::cumprod(scalar, 0)));
  EXPECT_TRUE(AllClose(RunOp("cumprod", {at::zeros({4, 0})}, Attrs().SetInt("dim", 0)), at::zeros({4, 0})));
  EXPECT_EQ(InferError("cumprod", {{2, 3}}, Attrs().SetInt("dim", -3)), "dim -3 is out of range for rank 2");
}

TEST(Scan, LogcumsumexpMatchesATen) {
  at::manual_seed(31);
  const at::Tensor x = Randn({4, 33}) * 5;
  for (int64_t dim : {0, 1, -1}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    EXPECT_TRUE(AllClose(RunOp("logcumsumexp", {x}, Attrs().SetInt("dim", dim)), at::logcumsumexp(x, dim)));
  }
  // Large values do not overflow; -inf is an empty term; +inf and NaN propagate.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const at::Tensor edge = at::tensor({1000.f, 1000.f, -inf, 2.f, -inf, -inf, 1.f, inf, 0.f, nan, 3.f, 1.f})
                              .reshape({4, 3});
  EXPECT_TRUE(AllClose(RunOp("logcumsumexp", {edge}, Attrs().SetInt("dim", 1)), at::logcumsumexp(edge, 1)));
  EXPECT_TRUE(AllClose(RunOp("logcumsumexp", {edge}, Attrs().SetInt("dim", 0)), at::logcumsumexp(edge, 0)));
  const at::Tensor scalar = Randn({});
  EXPECT_TRUE(AllClose(RunOp("logcumsumexp", {scalar}, Attrs().SetInt("dim", -1)), at::logcumsumexp(scalar, -1)));
}

// A rank-0 x or src counts as one element, as torch.scatter_reduce reads it; shape inference once
// read past the end of a rank-0 src.
TEST(Indexing, ScatterOfRankZeroOperands) {
  Attrs attrs;
  attrs.SetInt("dim", 0).SetInt("reduce", 4).SetInt("include_self", 0);
  const at::Tensor x = at::tensor(1.0f).reshape({}), src = at::tensor(2.5f).reshape({});
  const at::Tensor index = at::zeros({1}, at::kLong);
  EXPECT_TRUE(AllClose(RunOp("scatter", {x, index, src}, attrs),
                       at::scatter_reduce(x, 0, index.reshape({}), src, "amax", false)));
  EXPECT_EQ(InferError("scatter", {{}, {2}, {}}, attrs), "index [2] is larger than src [] in dim 0");
}

}  // namespace
}  // namespace kiln::ops

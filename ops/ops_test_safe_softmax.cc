// softmax with zero_masked_rows against ATen's _safe_softmax (what torch.export leaves of an attention
// mask that can mask a whole row): rows that are all -inf give zeros, every other row is a softmax.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ops/ops_test_util.h"

namespace kiln::ops {
namespace {

TEST(SafeSoftmax, AllMaskedSlicesGiveZerosAsATensSafeSoftmax) {
  at::manual_seed(20);
  const float inf = std::numeric_limits<float>::infinity();
  at::Tensor x = Randn({3, 5, 7}) * 3;
  x.index_put_({1, 2}, -inf);                        // one slice along dim -1 masked out
  x.index_put_({0, 0, 3}, -inf);                     // a single -inf: an ordinary row
  x.index_put_({at::indexing::Slice(), 4, 6}, -inf);  // (pieces of slices along dim 1)
  x.index_put_({2, at::indexing::Slice(), 1}, -inf);  // one slice along dim 1 masked out
  for (int64_t dim : {-1, 1}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    Attrs attrs;
    attrs.SetInt("dim", dim).SetInt("zero_masked_rows", 1);
    const at::Tensor expected = at::_safe_softmax(x, dim);
    EXPECT_FALSE(expected.isnan().any().item<bool>());
    EXPECT_TRUE(AllClose(RunOp("softmax", {x}, attrs), expected));
  }
  // Without the attribute a masked slice is NaN, as torch.softmax.
  Attrs plain;
  plain.SetInt("dim", -1);
  EXPECT_TRUE(RunOp("softmax", {x}, plain).index({1, 2}).isnan().all().item<bool>());
  EXPECT_TRUE(at::softmax(x, -1).index({1, 2}).isnan().all().item<bool>());
}

}  // namespace
}  // namespace kiln::ops

// rearrange (a reshape -> permute -> reshape chain as one copy, what fuse-rearranges forms) against
// ATen's reshape/permute/reshape, and its shape errors.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "ops/ops_test_util.h"

namespace kiln::ops {
namespace {

const bool kRearrangeCovered = Covers({"rearrange"});

Attrs RearrangeAttrs(Shape view, std::vector<int64_t> dims, Shape shape) {
  Attrs a;
  a.SetInts("view", std::move(view));
  a.SetInts("dims", std::move(dims));
  a.SetInts("shape", std::move(shape));
  return a;
}

TEST(Rearrange, MatchesATensReshapePermuteReshape) {
  at::manual_seed(5);
  // Attention's head split ([S, H*D] -> [H, S, D]), its key ([H, D, S]) and its head merge.
  const at::Tensor x = Randn({1, 6, 12});
  EXPECT_TRUE(AllClose(RunOp("rearrange", {x}, RearrangeAttrs({1, 6, 3, 4}, {0, 2, 1, 3}, {1, 3, 6, 4})),
                       x.reshape({1, 6, 3, 4}).permute({0, 2, 1, 3}), 0, 0));
  EXPECT_TRUE(AllClose(RunOp("rearrange", {x}, RearrangeAttrs({1, 6, 3, 4}, {0, 2, 3, 1}, {3, 4, 6})),
                       x.reshape({1, 6, 3, 4}).permute({0, 2, 3, 1}).reshape({3, 4, 6}), 0, 0));
  const at::Tensor heads = Randn({1, 3, 6, 4});
  EXPECT_TRUE(AllClose(RunOp("rearrange", {heads}, RearrangeAttrs({1, 3, 6, 4}, {0, 2, -3, 3}, {1, 6, 12})),
                       heads.permute({0, 2, 1, 3}).reshape({1, 6, 12}), 0, 0));
  // A patch embedding's [C, H/p, p, W/p, p] view, as ViT's or a pixel shuffle's.
  const at::Tensor image = Randn({2, 8, 8});
  EXPECT_TRUE(AllClose(RunOp("rearrange", {image}, RearrangeAttrs({2, 2, 4, 2, 4}, {1, 3, 0, 2, 4}, {4, 32})),
                       image.reshape({2, 2, 4, 2, 4}).permute({1, 3, 0, 2, 4}).reshape({4, 32}), 0, 0));
}

TEST(Rearrange, ShapeErrorsNameTheAttributeAndBothShapes) {
  EXPECT_EQ(InferError("rearrange", {{2, 6}}, RearrangeAttrs({3, 5}, {1, 0}, {12})),
            "rearrange view: cannot reshape [2, 6] (12 elements) to [3, 5] (15 elements)");
  EXPECT_EQ(InferError("rearrange", {{2, 6}}, RearrangeAttrs({3, 4}, {1, 0}, {2, 5})),
            "rearrange shape: cannot reshape [2, 6] (12 elements) to [2, 5] (10 elements)");
  EXPECT_EQ(InferError("rearrange", {{2, 6}}, RearrangeAttrs({3, -1}, {1, 0}, {12})),
            "rearrange view: reshape target [3, -1] must be fully specified (no -1)");
  EXPECT_EQ(InferError("rearrange", {{2, 6}}, RearrangeAttrs({3, 4}, {0, 0}, {12})),
            "rearrange dims: dims [0, 0] is not a permutation of 2 dims");
  EXPECT_EQ(InferOk("rearrange", {{2, 6}}, RearrangeAttrs({2, 3, 2}, {2, 0, 1}, {4, 3})), (Shape{4, 3}));
}

}  // namespace
}  // namespace kiln::ops

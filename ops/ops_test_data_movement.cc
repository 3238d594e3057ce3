// Data-movement ops added after ops_test.cc's movement tests (ops/data_movement.cc) against ATen.
#include "ops/ops_test_util.h"

namespace kiln::ops {
namespace {

const bool kCovered = Covers({"copy"});

// copy is x.clone(): every shape, including a scalar and an empty tensor, element for element.
TEST(DataMovementOps, CopyIsClone) {
  at::manual_seed(9);
  for (const Shape& shape : std::vector<Shape>{{3, 4, 5}, {768, 3072}, {}, {0, 7}}) {
    const at::Tensor x = Randn(shape);
    EXPECT_TRUE(AllClose(RunOp("copy", {x}), x.clone(), 0, 0)) << ShapeToString(shape);
  }
  EXPECT_EQ(InferError("copy", {{2, 2}, {2, 2}}), "takes 1 operands, got 2");
}

}  // namespace
}  // namespace kiln::ops

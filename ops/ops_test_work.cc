// How one call of an op is shared among the cores, which engine runs it and what it reads from DRAM
// (OpDef::split, unit_of, read_share): what the simulator's cost model charges.
#include <gtest/gtest.h>

#include "ops/ops_test_util.h"

namespace kiln::ops {
namespace {

WorkSplit Split(std::string_view name, const std::vector<Shape>& shapes, const Attrs& attrs = {}) {
  return SplitOf(*FindOp(name), shapes, InferOk(name, shapes, attrs), attrs);
}

std::vector<double> Shares(std::string_view name, const std::vector<Shape>& shapes, const Attrs& attrs = {}) {
  return ReadSharesOf(*FindOp(name), shapes, InferOk(name, shapes, attrs), attrs);
}

Attrs Conv(int64_t groups) {
  return Attrs().SetInts("stride", {1, 1}).SetInts("padding", {1, 1}).SetInts("dilation", {1, 1}).SetInt("groups", groups);
}

TEST(Split, ByOutputTilesUnlessTheOpSaysOtherwise) {
  const WorkSplit relu = Split("relu", {{33, 33}});
  EXPECT_EQ(relu.tiles, 4);
  EXPECT_EQ(relu.combine_tiles, 0);
  EXPECT_EQ(Split("matmul", {{64, 40}, {40, 1000}}).tiles, 2 * 32);
}

TEST(Split, ReductionsShareTheirInputTilesAndCombineThePartials) {
  // A global mean of a [1, 32, 112, 112] map: 32 * 4 * 4 input tiles, one output tile per channel,
  // each partial one add per stored output element.
  const Attrs hw = Attrs().SetInts("dims", {-1, -2}).SetInt("keepdim", 1);
  const WorkSplit mean = Split("reduce_mean", {{1, 32, 112, 112}}, hw);
  EXPECT_EQ(mean.tiles, 512);
  EXPECT_EQ(mean.combine_tiles, 32);
  EXPECT_EQ(mean.combine_work, 32.0 * 1024);
  // Its work is the stored input, once, not the padded output times the extent.
  EXPECT_EQ(Work("reduce_mean", {{1, 32, 112, 112}}, hw), 32.0 * 128 * 128);
  const WorkSplit all = Split("reduce_sum", {{40, 50}}, Attrs().SetInts("dims", {}).SetInt("keepdim", 0));
  EXPECT_EQ(all.tiles, 4);
  EXPECT_EQ(all.combine_tiles, 1);
}

TEST(Unit, DepthwiseConvolutionRunsOnTheVectorEngine) {
  auto unit = [](const std::vector<Shape>& shapes, const Attrs& attrs) {
    return UnitOf(*FindOp("conv2d"), shapes, InferOk("conv2d", shapes, attrs), attrs);
  };
  EXPECT_EQ(unit({{1, 8, 10, 10}, {8, 1, 3, 3}}, Conv(8)), Unit::kVector);
  EXPECT_EQ(unit({{1, 8, 10, 10}, {16, 1, 3, 3}}, Conv(8)), Unit::kVector);  // channel multiplier 2
  EXPECT_EQ(unit({{1, 8, 10, 10}, {8, 4, 3, 3}}, Conv(2)), Unit::kMatrix);   // grouped, not depthwise
  EXPECT_EQ(unit({{1, 1, 10, 10}, {8, 1, 3, 3}}, Conv(1)), Unit::kMatrix);   // one channel, one group
  EXPECT_EQ(UnitOf(*FindOp("relu"), {{4}}, {4}, {}), Unit::kVector);
}

TEST(ReadShare, TakeReadsOnlyTheRowsItSelects) {
  // An embedding: 128 rows of a 30522-row table.
  const std::vector<double> rows = Shares("take", {{30522, 768}, {1, 128}}, Attrs().SetInt("dim", 0));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[0], 128.0 / 30522);
  EXPECT_EQ(rows[1], 1.0);
  // More indices than rows (repeats) read the table at most once.
  EXPECT_EQ(Shares("take", {{10, 768}, {64}}, Attrs().SetInt("dim", 0))[0], 1.0);
  // Columns of a row-wise stored matrix: every row segment is read.
  EXPECT_EQ(Shares("take", {{100, 768}, {3}}, Attrs().SetInt("dim", -1))[0], 1.0);
  // Ops without a read share read all of every operand.
  EXPECT_EQ(Shares("add", {{4, 4}, {4, 4}}), (std::vector<double>{1.0, 1.0}));
}

}  // namespace
}  // namespace kiln::ops

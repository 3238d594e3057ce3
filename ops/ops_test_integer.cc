// Integer ops (ops/integer.cc) against ATen on int64 tensors whose operands and results stay within
// fp32's exact integer range, as the device holds them.
#include "ops/ops_test_util.h"

namespace kiln::ops {
namespace {

const bool kCovered = Covers({"bitwise_not", "bitwise_and", "bitwise_or", "bitwise_xor", "shift_left",
                              "shift_right", "gcd", "lcm"});

at::Tensor Ints(Shape shape, int64_t lo, int64_t hi) { return at::randint(lo, hi, shape, at::kLong); }

// Exact equality: an integer result is right or wrong.
::testing::AssertionResult Exact(const at::Tensor& got, const at::Tensor& want) {
  if (!got.defined()) return ::testing::AssertionFailure() << "kernel did not run";
  return AllClose(got, want, 0, 0);
}

TEST(IntegerOps, BitwiseMatchesATen) {
  at::manual_seed(0);
  const at::Tensor a = Ints({3, 5, 7}, -100000, 100000), b = Ints({3, 5, 7}, -100000, 100000);
  const at::Tensor row = Ints({7}, -300, 300), col = Ints({5, 1}, -300, 300);
  EXPECT_TRUE(Exact(RunOp("bitwise_not", {a}), at::bitwise_not(a)));
  EXPECT_TRUE(Exact(RunOp("bitwise_and", {a, b}), at::bitwise_and(a, b)));
  EXPECT_TRUE(Exact(RunOp("bitwise_or", {a, b}), at::bitwise_or(a, b)));
  EXPECT_TRUE(Exact(RunOp("bitwise_xor", {a, b}), at::bitwise_xor(a, b)));
  // Broadcasting both ways.
  EXPECT_TRUE(Exact(RunOp("bitwise_and", {a, row}), at::bitwise_and(a, row)));
  EXPECT_TRUE(Exact(RunOp("bitwise_xor", {col, row}), at::bitwise_xor(col, row)));
  // 2^24 and its negative are fp32-exact, the edge of the range (ops/dtype.h).
  const at::Tensor edge = at::tensor({16777216, -16777216, 0, -1}, at::kLong);
  const at::Tensor mask = at::tensor({16777216, -1, 7, 12345}, at::kLong);
  EXPECT_TRUE(Exact(RunOp("bitwise_and", {edge, mask}), at::bitwise_and(edge, mask)));
}

TEST(IntegerOps, ShiftsMatchATen) {
  at::manual_seed(1);
  const at::Tensor a = Ints({4, 6}, -2000, 2000), s = Ints({4, 6}, 0, 12);
  EXPECT_TRUE(Exact(RunOp("shift_left", {a, s}), at::bitwise_left_shift(a, s)));
  EXPECT_TRUE(Exact(RunOp("shift_right", {a, s}), at::bitwise_right_shift(a, s)));
  // Counts outside [0, 63] shift every bit out: 0, or the sign for an arithmetic right shift.
  const at::Tensor v = at::tensor({5, -5, 5, -5, 5, -5}, at::kLong);
  const at::Tensor far = at::tensor({64, 64, 100, 100, -1, -1}, at::kLong);
  EXPECT_TRUE(Exact(RunOp("shift_left", {v, far}), at::bitwise_left_shift(v, far)));
  EXPECT_TRUE(Exact(RunOp("shift_right", {v, far}), at::bitwise_right_shift(v, far)));
  // A scalar count broadcasts.
  EXPECT_TRUE(Exact(RunOp("shift_left", {a, at::tensor(3, at::kLong)}), at::bitwise_left_shift(a, 3)));
}

TEST(IntegerOps, GcdAndLcmMatchATen) {
  at::manual_seed(2);
  const at::Tensor a = Ints({50}, -1000, 1000), b = Ints({50}, -1000, 1000);
  EXPECT_TRUE(Exact(RunOp("gcd", {a, b}), at::gcd(a, b)));
  EXPECT_TRUE(Exact(RunOp("lcm", {a, b}), at::lcm(a, b)));
  const at::Tensor z = at::tensor({0, 0, 6, -4}, at::kLong), w = at::tensor({0, 9, 0, 6}, at::kLong);
  EXPECT_TRUE(Exact(RunOp("gcd", {z, w}), at::gcd(z, w)));
  EXPECT_TRUE(Exact(RunOp("lcm", {z, w}), at::lcm(z, w)));
}

// Non-integer operands are not what ATen passes, but must not be undefined behaviour: NaN is 0, a
// fraction truncates, a huge value saturates.
TEST(IntegerOps, NonIntegerOperandsAreDefined) {
  const at::Tensor x = at::tensor({std::numeric_limits<float>::quiet_NaN(), 2.75f, -2.75f, 1e30f}, at::kFloat);
  const at::Tensor got = RunOp("bitwise_and", {x, at::full({4}, -1.0f)});
  ASSERT_TRUE(got.defined());
  EXPECT_EQ(got[0].item<float>(), 0.0f);
  EXPECT_EQ(got[1].item<float>(), 2.0f);
  EXPECT_EQ(got[2].item<float>(), -2.0f);
  EXPECT_EQ(got[3].item<float>(), 9223372036854775807.0f);
  EXPECT_TRUE(RunOp("lcm", {at::full({1}, -1e30f), at::full({1}, -1e30f)}).defined());
  EXPECT_EQ(InferError("gcd", {{2, 3}, {4}}), InferError("add", {{2, 3}, {4}}));
}

}  // namespace
}  // namespace kiln::ops

// Conversions (ops/convert.cc) against ATen: the value an integer, float16 or bfloat16 result holds.
#include <cmath>
#include <limits>
#include <vector>

#include "ops/ops_test_util.h"

namespace kiln::ops {
namespace {

const bool kCovered = Covers({"to_int", "round_to_f16", "round_to_bf16"});

// to_int gives what ATen's integer arithmetic gives for an integer result: int64 avg_pool2d is
// sum / count truncated toward zero, even where fp32 lands just below the exact quotient.
TEST(ConvertOps, ToIntMatchesIntegerAvgPool) {
  at::manual_seed(3);
  const at::Tensor x = at::randint(-50, 50, {2, 3, 7, 7}, at::kLong);
  const at::Tensor pooled = RunOp("avg_pool2d", {x}, Attrs().SetInts("kernel", {3, 3}).SetInts("stride", {2, 2})
                                                         .SetInts("padding", {1, 1}).SetInt("ceil_mode", 0)
                                                         .SetInt("count_include_pad", 1));
  EXPECT_TRUE(AllClose(RunOp("to_int", {pooled}), at::avg_pool2d(x, {3, 3}, {2, 2}, {1, 1}), 0, 0));
  const at::Tensor v = at::tensor({2.5f, -2.5f, std::nextafter(3.0f, 0.0f), -std::nextafter(7.0f, 0.0f), 0.999f,
                                   std::numeric_limits<float>::infinity()});
  EXPECT_TRUE(AllClose(RunOp("to_int", {v}), at::tensor({2.0f, -2.0f, 3.0f, -7.0f, 0.0f,
                                                         std::numeric_limits<float>::infinity()})));
}

// As x.to(torch.float16 / torch.bfloat16): round to nearest even, float16 overflowing to inf.
TEST(ConvertOps, RoundToHalfAndBFloat16MatchATen) {
  at::manual_seed(4);
  const at::Tensor x = at::cat({Randn({200}) * 1000, Randn({200}) * 1e-6,
                                at::tensor({70000.0f, -1e30f, 1.0f + std::ldexp(1.0f, -11), 0.0f})});
  EXPECT_TRUE(AllClose(RunOp("round_to_f16", {x}), x.to(at::kHalf).to(at::kFloat), 0, 0));
  EXPECT_TRUE(AllClose(RunOp("round_to_bf16", {x}), x.to(at::kBFloat16).to(at::kFloat), 0, 0));
}

// The bit-level binary16 conversions (ops/dtype.h) against ATen's Half: every half value widens
// exactly, and floats round to nearest even across normals, subnormals, ties, overflow and NaN.
TEST(ConvertOps, HalfBitsMatchATenEverywhere) {
  for (uint32_t bits = 0; bits < 0x10000u; ++bits) {
    const float want = static_cast<float>(c10::Half(static_cast<uint16_t>(bits), c10::Half::from_bits()));
    const float got = F16ToFloat(static_cast<uint16_t>(bits));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << bits;
    } else {
      EXPECT_EQ(got, want) << bits;
    }
  }
  std::vector<float> values = {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 1e9f, std::ldexp(1.0f, -24),
                               std::ldexp(1.0f, -25), std::ldexp(1.5f, -25), std::ldexp(3.0f, -26),
                               std::ldexp(1.0f, -14), std::nextafter(std::ldexp(1.0f, -14), 0.0f),
                               1.0f + std::ldexp(1.0f, -11), 1.0f + std::ldexp(3.0f, -11),
                               std::numeric_limits<float>::infinity(), std::numeric_limits<float>::denorm_min()};
  at::manual_seed(5);
  for (const at::Tensor& t : {Randn({2000}) * 100, Randn({2000}) * 1e-5, Randn({2000}) * 3e4})
    for (int64_t i = 0; i < t.numel(); ++i) values.push_back(t[i].item<float>());
  for (float f : values) {
    for (float v : {f, -f}) {
      const uint16_t want = c10::Half(v).x;
      EXPECT_EQ(FloatToF16(v), want) << v;
    }
  }
  EXPECT_TRUE(std::isnan(F16ToFloat(FloatToF16(std::numeric_limits<float>::quiet_NaN()))));
}

}  // namespace
}  // namespace kiln::ops

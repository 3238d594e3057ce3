// Storage formats (bf16 / i32 conversion) and the 32x32 tile layout; no libtorch.
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "ops/dtype.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

std::vector<float> Iota(int64_t n) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i + 1);  // no zeros: padding stands out
  return v;
}

class TileRoundTrip : public ::testing::TestWithParam<Shape> {};

TEST_P(TileRoundTrip, UntilizeInvertsTilize) {
  const Shape& shape = GetParam();
  const std::vector<float> src = Iota(NumElements(shape));
  std::vector<float> tiled(StoredElements(shape, Layout::kTile), -1.0f);
  Tilize(src.data(), shape, tiled.data());
  // Every stored element is either a source value or zero padding.
  int64_t nonzero = 0;
  for (float v : tiled) nonzero += v != 0.0f;
  EXPECT_EQ(nonzero, NumElements(shape));
  std::vector<float> back(src.size(), -1.0f);
  Untilize(tiled.data(), shape, back.data());
  EXPECT_EQ(back, src);
}

// SameStoredBytes is what lets a reshape alias its input: check it against the stored bytes themselves.
TEST(SameStoredBytes, AgreesWithTheTiledBytesOfBothShapes) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{1, 128, 768}, {128, 768}},     {{128, 768}, {1, 128, 768}}, {{1, 12, 128, 64}, {12, 128, 64}},
      {{4, 64, 96}, {2, 128, 96}},     {{2, 64, 96}, {128, 96}},    {{1, 128, 768}, {1, 128, 12, 64}},
      {{2, 33, 8}, {66, 8}},           {{2, 33, 8}, {1, 2, 33, 8}}, {{3, 40}, {120}},
      {{40}, {1, 40}},                 {{}, {1, 1}},                {{64, 2}, {2, 64}},
      {{1, 96, 32}, {3, 32, 32}},      {{6, 16, 32}, {3, 32, 32}},  {{0, 5}, {5, 0}}};
  for (const auto& [from, to] : cases) {
    const std::vector<float> values = Iota(NumElements(from));
    std::vector<float> a(StoredElements(from, Layout::kTile)), b(StoredElements(to, Layout::kTile));
    Tilize(values.data(), from, a.data());
    Tilize(values.data(), to, b.data());
    EXPECT_EQ(SameStoredBytes(from, to, Layout::kTile), a == b) << ShapeToString(from) << " -> " << ShapeToString(to);
    EXPECT_TRUE(SameStoredBytes(from, to, Layout::kRowMajor)) << ShapeToString(from) << " -> " << ShapeToString(to);
  }
  EXPECT_FALSE(SameStoredBytes({2, 3}, {7}, Layout::kRowMajor));  // not a reshape
  EXPECT_FALSE(SameStoredBytes({-1, 3}, {-3}, Layout::kTile));
}

INSTANTIATE_TEST_SUITE_P(Shapes, TileRoundTrip,
                         ::testing::Values(Shape{33, 33}, Shape{2, 3, 70, 5}, Shape{7}, Shape{},
                                           Shape{32, 32}, Shape{1, 65}, Shape{64, 1}));

TEST(TileLayout, StoredElements) {
  EXPECT_EQ(StoredElements({33, 33}, Layout::kTile), 64 * 64);
  EXPECT_EQ(StoredElements({33, 33}, Layout::kRowMajor), 33 * 33);
  EXPECT_EQ(StoredElements({32, 32}, Layout::kTile), 32 * 32);
  EXPECT_EQ(StoredElements({7}, Layout::kTile), 32 * 32);
  EXPECT_EQ(StoredElements({}, Layout::kTile), 32 * 32);
  EXPECT_EQ(StoredElements({2, 3, 70, 5}, Layout::kTile), 6 * 96 * 32);
  EXPECT_EQ(StoredElements({0, 5}, Layout::kTile), 0);
  EXPECT_EQ(StoredBytes({33, 33}, DType::kBF16, Layout::kTile), 64 * 64 * 2);
}

TEST(TileLayout, ElementPositions) {
  // [33, 33]: 2x2 tiles of 1024; row 32 starts the third tile, column 32 the second.
  const Shape shape = {33, 33};
  std::vector<float> src(33 * 33, 0.0f);
  src[32 * 33 + 0] = 1.0f;   // (32, 0) -> tile 2, offset 0
  src[0 * 33 + 32] = 2.0f;   // (0, 32) -> tile 1, offset 0
  src[1 * 33 + 2] = 3.0f;    // (1, 2)  -> tile 0, offset 34
  std::vector<float> tiled(StoredElements(shape, Layout::kTile));
  Tilize(src.data(), shape, tiled.data());
  EXPECT_EQ(tiled[2 * 1024], 1.0f);
  EXPECT_EQ(tiled[1 * 1024], 2.0f);
  EXPECT_EQ(tiled[34], 3.0f);
  const MatrixView m = AsMatrices({2, 3, 70, 5});
  EXPECT_EQ(m.batch, 6);
  EXPECT_EQ(m.rows, 70);
  EXPECT_EQ(m.cols, 5);
}

float RoundTripBF16(float f) { return BF16ToFloat(FloatToBF16(f)); }

TEST(BF16, RoundToNearestEven) {
  EXPECT_EQ(RoundTripBF16(1.0f), 1.0f);
  // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
  EXPECT_EQ(RoundTripBF16(1.0f + std::ldexp(1.0f, -8)), 1.0f);
  // 1 + 3 * 2^-9 is above halfway: rounds up to 1 + 2^-7.
  EXPECT_EQ(RoundTripBF16(1.0f + 3 * std::ldexp(1.0f, -9)), 1.0f + std::ldexp(1.0f, -7));
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up to even.
  EXPECT_EQ(RoundTripBF16(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));
  // Just below halfway rounds down.
  EXPECT_EQ(RoundTripBF16(std::nextafter(1.0f + std::ldexp(1.0f, -8), 0.0f)), 1.0f);
  EXPECT_EQ(RoundTripBF16(-1.0f - 3 * std::ldexp(1.0f, -9)), -1.0f - std::ldexp(1.0f, -7));
  EXPECT_EQ(FloatToBF16(1.0f), 0x3f80);
  EXPECT_EQ(FloatToBF16(-2.0f), 0xc000);
}

TEST(BF16, SpecialValues) {
  EXPECT_TRUE(std::isnan(RoundTripBF16(std::numeric_limits<float>::quiet_NaN())));
  // A NaN whose payload lives only in the low bits must not round to infinity.
  uint32_t bits = 0x7f800001u;
  float snan;
  std::memcpy(&snan, &bits, 4);
  EXPECT_TRUE(std::isnan(RoundTripBF16(snan)));
  EXPECT_TRUE(std::isnan(RoundTripBF16(-std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(RoundTripBF16(std::numeric_limits<float>::infinity()),
            std::numeric_limits<float>::infinity());
  EXPECT_EQ(RoundTripBF16(-std::numeric_limits<float>::infinity()),
            -std::numeric_limits<float>::infinity());
  // The largest float rounds to infinity (overflow), like hardware RNE.
  EXPECT_EQ(RoundTripBF16(std::numeric_limits<float>::max()), std::numeric_limits<float>::infinity());
  EXPECT_EQ(RoundTripBF16(0.0f), 0.0f);
  EXPECT_TRUE(std::signbit(RoundTripBF16(-0.0f)));
}

TEST(DTypeConversion, LoadAndStoreF32) {
  const std::vector<float> src = {1.5f, -2.25f, 3e30f};
  std::vector<float> dev(3), back(3);
  StoreFromFloat(src.data(), 3, DType::kF32, dev.data());
  LoadAsFloat(dev.data(), DType::kF32, 3, back.data());
  EXPECT_EQ(back, src);
}

TEST(DTypeConversion, LoadAndStoreBF16) {
  const std::vector<float> src = {1.0f, 1.0f + 3 * std::ldexp(1.0f, -9), -0.5f, 65536.0f};
  std::vector<uint16_t> dev(src.size());
  StoreFromFloat(src.data(), src.size(), DType::kBF16, dev.data());
  EXPECT_EQ(dev[0], 0x3f80);
  std::vector<float> back(src.size());
  LoadAsFloat(dev.data(), DType::kBF16, src.size(), back.data());
  EXPECT_EQ(back, (std::vector<float>{1.0f, 1.0f + std::ldexp(1.0f, -7), -0.5f, 65536.0f}));
}

TEST(DTypeConversion, LoadAndStoreI32) {
  const std::vector<float> src = {2.5f, 3.5f, -1.6f, 7.0f, 1e10f, -1e10f,
                                  std::numeric_limits<float>::quiet_NaN()};
  std::vector<int32_t> dev(src.size());
  StoreFromFloat(src.data(), src.size(), DType::kI32, dev.data());
  // Round half to even, saturate, NaN -> 0.
  EXPECT_EQ(dev, (std::vector<int32_t>{2, 4, -2, 7, INT32_MAX, INT32_MIN, 0}));
  std::vector<float> back(dev.size());
  LoadAsFloat(dev.data(), DType::kI32, dev.size(), back.data());
  EXPECT_EQ(back[1], 4.0f);
  EXPECT_EQ(back[2], -2.0f);
}

// i64 and bool are host dtypes: the DMA loads them as fp32 and stores fp32 results back.
TEST(DTypeConversion, LoadAndStoreI64AndBool) {
  const std::vector<int64_t> ids = {0, -3, 16777216, 70000};
  std::vector<float> f(ids.size());
  LoadAsFloat(ids.data(), DType::kI64, ids.size(), f.data());
  EXPECT_EQ(f, (std::vector<float>{0.0f, -3.0f, 16777216.0f, 70000.0f}));
  const std::vector<float> src = {2.5f, -1.6f, 1e30f, -1e30f, std::numeric_limits<float>::quiet_NaN()};
  std::vector<int64_t> i64(src.size());
  StoreFromFloat(src.data(), src.size(), DType::kI64, i64.data());
  EXPECT_EQ(i64, (std::vector<int64_t>{2, -2, INT64_MAX, INT64_MIN, 0}));
  std::vector<uint8_t> b(src.size());
  StoreFromFloat(src.data(), src.size(), DType::kBool, b.data());
  EXPECT_EQ(b, (std::vector<uint8_t>{1, 1, 1, 1, 1}));
  const float zero = 0.0f;
  StoreFromFloat(&zero, 1, DType::kBool, b.data());
  EXPECT_EQ(b[0], 0);
  const std::vector<uint8_t> flags = {0, 1};
  LoadAsFloat(flags.data(), DType::kBool, 2, f.data());
  EXPECT_EQ(f[0], 0.0f);
  EXPECT_EQ(f[1], 1.0f);
  EXPECT_EQ(FirstOutsideInt32(ids.data(), ids.size()), -1);
  const std::vector<int64_t> big = {1, INT32_MAX, int64_t{INT32_MIN} - 1};
  EXPECT_EQ(FirstOutsideInt32(big.data(), big.size()), 2);
  EXPECT_EQ(DTypeSize(DType::kI64), 8);
  EXPECT_EQ(DTypeSize(DType::kBool), 1);
  EXPECT_FALSE(IsDeviceDType(DType::kI64));
  EXPECT_TRUE(IsDeviceDType(DType::kI32));
}

// i8, u8 and i16 are host dtypes: loads are exact; a store keeps the low bits of the rounded
// value, as ATen's arithmetic in those dtypes wraps (uint8 200 + 100 = 44, int8 100 + 100 = -56,
// int16 30000 + 30000 = -5536), and gives 0 beyond int32 (NaN and inf too), as ATen's conversion of
// such a float does on x86.
TEST(DTypeConversion, LoadAndStoreNarrowIntegers) {
  const std::vector<float> src = {300.0f, 200.0f, -56.0f, 60000.0f, -1.0f, 2.6f, 3e9f, INFINITY,
                                  std::numeric_limits<float>::quiet_NaN(), 2147483520.0f};
  std::vector<uint8_t> u8(src.size());
  StoreFromFloat(src.data(), src.size(), DType::kU8, u8.data());
  EXPECT_EQ(u8, (std::vector<uint8_t>{44, 200, 200, 96, 255, 3, 0, 0, 0, 128}));
  std::vector<int8_t> i8(src.size());
  StoreFromFloat(src.data(), src.size(), DType::kI8, i8.data());
  EXPECT_EQ(i8, (std::vector<int8_t>{44, -56, -56, 96, -1, 3, 0, 0, 0, -128}));
  std::vector<int16_t> i16(src.size());
  StoreFromFloat(src.data(), src.size(), DType::kI16, i16.data());
  EXPECT_EQ(i16, (std::vector<int16_t>{300, 200, -56, -5536, -1, 3, 0, 0, 0, -128}));
  std::vector<float> f(3);
  const std::vector<uint8_t> bytes = {0, 128, 255};
  LoadAsFloat(bytes.data(), DType::kU8, 3, f.data());
  EXPECT_EQ(f, (std::vector<float>{0, 128, 255}));
  const std::vector<int8_t> chars = {-128, 0, 127};
  LoadAsFloat(chars.data(), DType::kI8, 3, f.data());
  EXPECT_EQ(f, (std::vector<float>{-128, 0, 127}));
  const std::vector<int16_t> shorts = {-32768, 1, 32767};
  LoadAsFloat(shorts.data(), DType::kI16, 3, f.data());
  EXPECT_EQ(f, (std::vector<float>{-32768, 1, 32767}));
  EXPECT_EQ(DTypeSize(DType::kU8), 1);
  EXPECT_EQ(DTypeSize(DType::kI8), 1);
  EXPECT_EQ(DTypeSize(DType::kI16), 2);
  EXPECT_TRUE(IsIntegral(DType::kU8));
  EXPECT_FALSE(IsDeviceDType(DType::kI16));
  EXPECT_STREQ(DTypeName(DType::kU8), "u8");
}

// f16 and f64 are host dtypes too: f16 widens exactly and narrows with round-to-nearest-even,
// overflowing to inf and flushing below its smallest subnormal (2^-24) to zero, as torch.half does.
TEST(DTypeConversion, LoadAndStoreF16AndF64) {
  const std::vector<uint16_t> half = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000};
  std::vector<float> f(half.size());
  LoadAsFloat(half.data(), DType::kF16, half.size(), f.data());
  EXPECT_EQ(f, (std::vector<float>{1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24), INFINITY, -0.0f}));
  EXPECT_TRUE(std::signbit(f[5]));
  const std::vector<float> src = {0.1f, 1.0f + std::ldexp(1.0f, -11), 70000.0f, 1e-8f,
                                  std::numeric_limits<float>::quiet_NaN()};
  std::vector<uint16_t> h(src.size());
  StoreFromFloat(src.data(), src.size(), DType::kF16, h.data());
  // 0.1 -> 0x2e66; 1 + 2^-11 is a tie between 0x3c00 and 0x3c01 and goes to even.
  EXPECT_EQ(h[0], 0x2e66);
  EXPECT_EQ(h[1], 0x3c00);
  EXPECT_EQ(h[2], 0x7c00);
  EXPECT_EQ(h[3], 0x0000);
  EXPECT_EQ(h[4] & 0x7c00, 0x7c00);
  EXPECT_NE(h[4] & 0x03ff, 0);

  const std::vector<double> wide = {0.1, 1e300, -1e-300, 3.0};
  LoadAsFloat(wide.data(), DType::kF64, wide.size(), f.data());
  EXPECT_EQ(f[0], 0.1f);
  EXPECT_EQ(f[1], INFINITY);
  EXPECT_EQ(f[2], 0.0f);
  EXPECT_EQ(f[3], 3.0f);
  std::vector<double> back(2);
  const float narrow[] = {0.1f, -7.5f};
  StoreFromFloat(narrow, 2, DType::kF64, back.data());
  EXPECT_EQ(back, (std::vector<double>{static_cast<double>(0.1f), -7.5}));
  EXPECT_EQ(DTypeSize(DType::kF16), 2);
  EXPECT_EQ(DTypeSize(DType::kF64), 8);
  EXPECT_FALSE(IsDeviceDType(DType::kF16));
  EXPECT_FALSE(IsDeviceDType(DType::kF64));
  EXPECT_STREQ(DTypeName(DType::kF16), "f16");
  EXPECT_STREQ(DTypeName(DType::kF64), "f64");
}

// c64: a complex64 tensor's shape ends in its (real, imaginary) pair, so its element is one fp32
// part and the host's bytes are the device's values.
TEST(DTypeConversion, C64IsItsFloatParts) {
  const std::vector<float> parts = {1.5f, -2.0f, 0.0f, 3.25f};
  std::vector<float> f(4), back(4);
  LoadAsFloat(parts.data(), DType::kC64, 4, f.data());
  EXPECT_EQ(f, parts);
  StoreFromFloat(f.data(), 4, DType::kC64, back.data());
  EXPECT_EQ(back, parts);
  EXPECT_EQ(DTypeSize(DType::kC64), 4);
  EXPECT_FALSE(IsDeviceDType(DType::kC64));
  EXPECT_FALSE(IsIntegral(DType::kC64));
  EXPECT_STREQ(DTypeName(DType::kC64), "c64");
}

TEST(DTypeConversion, Names) {
  EXPECT_EQ(DTypeSize(DType::kBF16), 2);
  EXPECT_EQ(DTypeSize(DType::kI32), 4);
  EXPECT_STREQ(DTypeName(DType::kBF16), "bf16");
  EXPECT_EQ(ShapeToString({2, 3}), "[2, 3]");
  EXPECT_EQ(ShapeToString({}), "[]");
  // A program's int list can be arbitrarily long; the message that quotes it is not.
  EXPECT_EQ(ShapeToString(Shape(1000000, 7)),
            "[7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, ... 999984 more]");
  EXPECT_EQ(NumElements({}), 1);
}

// ---- shapes from untrusted programs: no overflow, no loop longer than the tensor ----

constexpr int64_t kT = int64_t{1} << 40;  // kMaxElements

TEST(ShapeLimits, NumElementsNeverOverflows) {
  EXPECT_EQ(NumElements({kT, kT, kT}), INT64_MAX);  // 2^120: saturates instead of wrapping
  EXPECT_EQ(NumElements({int64_t{1} << 32, int64_t{1} << 32}), INT64_MAX);  // would wrap to 0
  EXPECT_EQ(NumElements({kT, kT, kT, 0}), 0);  // a zero anywhere makes the tensor empty
  EXPECT_EQ(NumElements({kT, 0, 1}), 0);
  EXPECT_EQ(NumElements({3, kT}), 3 * kT);
}

TEST(ShapeLimits, CheckShapeBoundsEveryDim) {
  EXPECT_EQ(CheckShape({}), "");
  EXPECT_EQ(CheckShape({kT}), "");
  EXPECT_EQ(CheckShape({kT, 0, 1}), "");  // empty, and no dim beyond the bound
  EXPECT_EQ(CheckShape({kT + 1}), "shape [1099511627777] has more than 2^40 elements");
  EXPECT_EQ(CheckShape({int64_t{1} << 20, int64_t{1} << 21}),
            "shape [1048576, 2097152] has more than 2^40 elements");
  // A zero does not stop the check: the dims after it are still bounded.
  EXPECT_EQ(CheckShape({kT, 0, kT}),
            "shape [1099511627776, 0, 1099511627776] has more than 2^40 elements counting its zero "
            "dims as 1");
  EXPECT_EQ(CheckShape({0, INT64_MAX}),
            "shape [0, 9223372036854775807] has more than 2^40 elements counting its zero dims as 1");
  EXPECT_EQ(CheckShape({2, -1}), "shape [2, -1] has a negative dimension");
  EXPECT_EQ(CheckShape({0, -1}), "shape [0, -1] has a negative dimension");
}

TEST(ShapeLimits, StoredSizesSaturateForRejectedShapes) {
  EXPECT_EQ(StoredElements({kT, kT, kT}, Layout::kTile), INT64_MAX);
  EXPECT_EQ(StoredElements({kT, kT, kT}, Layout::kRowMajor), INT64_MAX);
  EXPECT_EQ(StoredBytes({kT, kT, kT}, DType::kF32, Layout::kTile), INT64_MAX);
  EXPECT_EQ(StoredBytes({INT64_MAX, 1}, DType::kF32, Layout::kTile), INT64_MAX);
  EXPECT_EQ(StoredBytes({-5, 3}, DType::kF32, Layout::kTile), INT64_MAX);
  // The largest accepted shapes still have exact (tile-padded) sizes.
  EXPECT_EQ(StoredElements({kT, 1, 1}, Layout::kTile), kT * 1024);
  EXPECT_EQ(StoredBytes({kT, 1, 1}, DType::kF32, Layout::kTile), kT * 4096);
  EXPECT_EQ(AsMatrices({kT, kT, kT, 1, 1}).batch, INT64_MAX);
}

// A [2^40, 0, 1] tile tensor is 2^40 matrices of zero rows: converting it must not visit them.
// (Before, Tilize and Untilize looped 2^40 times.) Its buffers may be null: it has no bytes.
TEST(ShapeLimits, EmptyTileTensorsConvertInConstantTime) {
  for (const Shape& shape : {Shape{kT, 0, 1}, Shape{kT, 1, 0}, Shape{1, kT, 0}, Shape{0}}) {
    SCOPED_TRACE(ShapeToString(shape));
    EXPECT_EQ(StoredElements(shape, Layout::kTile), 0);
    Tilize(nullptr, shape, nullptr);
    Untilize(nullptr, shape, nullptr);
  }
}

// An empty tensor has no buffer; copying zero elements must not pass null to memcpy (UB, which
// --config=asan's UBSan reports).
TEST(DTypeConversion, ZeroElementsWithNullBuffers) {
  for (DType dt : {DType::kF32, DType::kBF16, DType::kI32, DType::kI64, DType::kBool, DType::kF16, DType::kF64,
                   DType::kC64}) {
    LoadAsFloat(nullptr, dt, 0, nullptr);
    StoreFromFloat(nullptr, 0, dt, nullptr);
  }
}

}  // namespace
}  // namespace kiln::ops

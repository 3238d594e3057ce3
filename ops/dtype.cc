#include "ops/dtype.h"

#include <cmath>

namespace kiln::ops {
namespace {
// The value rounded to an int32 whose low bits i8, u8 and i16 keep (the narrowing conversions are
// modular since C++20). Outside int32 (NaN and inf too) it is 0, whose low bits are those of the
// INT32_MIN that x86's conversion gives there, which is what ATen stores.
uint32_t WrappedLowBits(float v) {
  const float r = std::nearbyint(v);
  if (!(r > -2147483648.0f && r < 2147483648.0f)) return 0;
  return static_cast<uint32_t>(static_cast<int32_t>(r));
}
}  // namespace

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kBF16: return "bf16";
    case DType::kI32: return "i32";
    case DType::kI64: return "i64";
    case DType::kBool: return "bool";
    case DType::kF16: return "f16";
    case DType::kF64: return "f64";
    case DType::kI8: return "i8";
    case DType::kU8: return "u8";
    case DType::kI16: return "i16";
    case DType::kC64: return "c64";
  }
  return "?";
}

int64_t NumElements(const Shape& shape) {
  for (int64_t d : shape)
    if (d == 0) return 0;
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) return INT64_MAX;
  return n;
}

std::string CheckShape(const Shape& shape) {
  int64_t n = 1;
  bool has_zero = false;
  for (int64_t d : shape) {
    if (d < 0) return "shape " + ShapeToString(shape) + " has a negative dimension";
    has_zero |= d == 0;
    // Every dim counts, even after a zero: n * d > kMaxElements, without overflow.
    if (d > 0 && d > kMaxElements / n)
      return "shape " + ShapeToString(shape) + " has more than 2^40 elements" +
             (has_zero ? " counting its zero dims as 1" : "");
    if (d > 0) n *= d;
  }
  return "";
}

std::string ShapeToString(const Shape& shape) {
  // Shapes and int-list attributes come from programs; a message stays short whatever their length.
  constexpr size_t kShown = 16;
  std::string s = "[";
  for (size_t i = 0; i < shape.size() && i < kShown; ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() > kShown) s += ", ... " + std::to_string(shape.size() - kShown) + " more";
  return s + "]";
}

void LoadAsFloat(const void* src, DType dtype, int64_t count, float* dst) {
  switch (dtype) {
    case DType::kF32:
    case DType::kC64:  // one fp32 part per element (see DType)
      if (count > 0) std::memcpy(dst, src, count * 4);
      return;
    case DType::kBF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = BF16ToFloat(s[i]);
      return;
    }
    case DType::kI32: {
      const int32_t* s = static_cast<const int32_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<float>(s[i]);
      return;
    }
    case DType::kI64: {
      const int64_t* s = static_cast<const int64_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<float>(s[i]);
      return;
    }
    case DType::kBool: {
      const uint8_t* s = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = s[i] ? 1.0f : 0.0f;
      return;
    }
    case DType::kF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = F16ToFloat(s[i]);
      return;
    }
    case DType::kF64: {
      const double* s = static_cast<const double*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<float>(s[i]);
      return;
    }
    case DType::kI8: {
      const int8_t* s = static_cast<const int8_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = s[i];
      return;
    }
    case DType::kU8: {
      const uint8_t* s = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = s[i];
      return;
    }
    case DType::kI16: {
      const int16_t* s = static_cast<const int16_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = s[i];
      return;
    }
  }
}

void StoreFromFloat(const float* src, int64_t count, DType dtype, void* dst) {
  switch (dtype) {
    case DType::kF32:
    case DType::kC64:  // one fp32 part per element (see DType)
      if (count > 0) std::memcpy(dst, src, count * 4);
      return;
    case DType::kBF16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < count; ++i) d[i] = FloatToBF16(src[i]);
      return;
    }
    case DType::kI32: {
      int32_t* d = static_cast<int32_t*>(dst);
      // Round like a float->int conversion unit with saturation; NaN becomes 0.
      for (int64_t i = 0; i < count; ++i) {
        const float v = src[i];
        if (std::isnan(v)) d[i] = 0;
        else if (v >= 2147483647.0f) d[i] = INT32_MAX;
        else if (v <= -2147483648.0f) d[i] = INT32_MIN;
        else d[i] = static_cast<int32_t>(std::nearbyint(v));
      }
      return;
    }
    case DType::kI64: {
      int64_t* d = static_cast<int64_t*>(dst);
      for (int64_t i = 0; i < count; ++i) {
        const float v = src[i];
        if (std::isnan(v)) d[i] = 0;
        else if (v >= 9223372036854775807.0f) d[i] = INT64_MAX;
        else if (v <= -9223372036854775808.0f) d[i] = INT64_MIN;
        else d[i] = static_cast<int64_t>(std::nearbyint(v));
      }
      return;
    }
    case DType::kBool: {
      uint8_t* d = static_cast<uint8_t*>(dst);
      for (int64_t i = 0; i < count; ++i) d[i] = src[i] != 0.0f ? 1 : 0;  // NaN != 0: true
      return;
    }
    case DType::kF16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < count; ++i) d[i] = FloatToF16(src[i]);
      return;
    }
    case DType::kF64: {
      double* d = static_cast<double*>(dst);
      for (int64_t i = 0; i < count; ++i) d[i] = src[i];
      return;
    }
    case DType::kI8: {
      int8_t* d = static_cast<int8_t*>(dst);
      for (int64_t i = 0; i < count; ++i) d[i] = static_cast<int8_t>(WrappedLowBits(src[i]));
      return;
    }
    case DType::kU8: {
      uint8_t* d = static_cast<uint8_t*>(dst);
      for (int64_t i = 0; i < count; ++i) d[i] = static_cast<uint8_t>(WrappedLowBits(src[i]));
      return;
    }
    case DType::kI16: {
      int16_t* d = static_cast<int16_t*>(dst);
      for (int64_t i = 0; i < count; ++i) d[i] = static_cast<int16_t>(WrappedLowBits(src[i]));
      return;
    }
  }
}

int64_t FirstOutsideInt32(const int64_t* values, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    if (values[i] < INT32_MIN || values[i] > INT32_MAX) return i;
  return -1;
}

}  // namespace kiln::ops

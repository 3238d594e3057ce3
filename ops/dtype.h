// Element types and shapes of device tensors, shared by every layer (no dependencies).
#ifndef KILN_OPS_DTYPE_H_
#define KILN_OPS_DTYPE_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace kiln::ops {

// Element types. The chip stores f32, bf16 and i32; kernels compute in fp32, and bf16 and i32 are
// storage formats converted on load and store, as the chip's vector and matrix units do. i64, bool,
// f16 and f64 exist only in host memory (a caller's inputs and outputs): the DMA converts them to and
// from a device dtype. Integers and bools are exact on the device while their magnitude is at most
// 2^24 (fp32's integer range), and an int64 input must fit int32; f16 widens exactly to fp32; f64 is
// narrowed to fp32 on the way in (the compiler warns) and widened on the way out.
enum class DType : uint8_t { kF32 = 0, kBF16 = 1, kI32 = 2, kI64 = 3, kBool = 4, kF16 = 5, kF64 = 6 };

using Shape = std::vector<int64_t>;

// The largest tensor the op library accepts: at most 2^40 elements (4 TiB of f32, far beyond any
// device's memory), counting zero dims as 1 so that a zero cannot hide an absurd dim from the
// bound. Within it, element counts, tile-padded counts (at most 1024x) and byte counts fit int64
// with room to spare, and every loop over a tensor's dims is bounded by the tensor's size.
inline constexpr int64_t kMaxElements = int64_t{1} << 40;

// Kernels compute in fp32, which holds every integer of magnitude up to 2^24 exactly: the device's
// integers (int64 and int32 tensors, indices) are exact within this bound, and the compiler rejects
// integer constants beyond it.
inline constexpr int64_t kMaxExactInteger = int64_t{1} << 24;

inline int64_t DTypeSize(DType t) {
  switch (t) {
    case DType::kBF16:
    case DType::kF16: return 2;
    case DType::kI64:
    case DType::kF64: return 8;
    case DType::kBool: return 1;
    default: return 4;
  }
}
const char* DTypeName(DType t);
// Whether device memory can hold `t` (f32, bf16, i32); i64, bool, f16 and f64 are host-only.
inline bool IsDeviceDType(DType t) { return t == DType::kF32 || t == DType::kBF16 || t == DType::kI32; }
inline bool IsIntegral(DType t) { return t == DType::kI32 || t == DType::kI64 || t == DType::kBool; }

// Product of the dims: 0 when any dim is 0. Never overflows: a product beyond int64 saturates at
// INT64_MAX (only possible for shapes that CheckShape rejects).
int64_t NumElements(const Shape& shape);
// "" when every dim is >= 0 and the non-zero dims multiply to at most kMaxElements; else e.g.
// "shape [2, -1] has a negative dimension" or "shape [...] has more than 2^40 elements".
std::string CheckShape(const Shape& shape);
// "[2, 3]"; beyond 16 dims, "[d0, ..., d15, ... N more]".
std::string ShapeToString(const Shape& shape);

// fp32 -> bf16 with round-to-nearest-even (NaN stays a quiet NaN), as hardware converts.
inline uint16_t FloatToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  const uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

inline float BF16ToFloat(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// fp32 <-> IEEE binary16 (the compiler's _Float16: round-to-nearest-even, overflow to inf, NaN kept).
inline uint16_t FloatToF16(float f) {
  const _Float16 h = static_cast<_Float16>(f);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}

inline float F16ToFloat(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, 2);
  return static_cast<float>(h);
}

// Reads `count` elements of type `dtype` from `src` into fp32, and back. With count 0 the
// pointers may be null (an empty tensor has no buffer). Storing rounds to nearest and saturates
// for integers (NaN becomes 0) and stores value != 0 for bool (NaN is true, as in PyTorch); f64
// loads round to nearest fp32 (beyond its range: inf).
void LoadAsFloat(const void* src, DType dtype, int64_t count, float* dst);
void StoreFromFloat(const float* src, int64_t count, DType dtype, void* dst);

// The index of the first element of an i64 buffer outside int32's range, or -1 when all fit: an
// int64 host tensor goes to the device as int32 (see DType).
int64_t FirstOutsideInt32(const int64_t* values, int64_t count);

}  // namespace kiln::ops

#endif  // KILN_OPS_DTYPE_H_

// Element types and shapes of device tensors, shared by every layer (no dependencies).
#ifndef KILN_OPS_DTYPE_H_
#define KILN_OPS_DTYPE_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace kiln::ops {

// Element types. The chip stores f32, bf16 and i32; kernels compute in fp32, and bf16 and i32 are
// storage formats converted on load and store, as the chip's vector and matrix units do. i64, i8, u8,
// i16, bool, f16, f64 and c64 exist only in host memory (a caller's inputs and outputs): the DMA converts
// them to and from a device dtype. Integers and bools are exact on the device while their magnitude
// is at most 2^24 (fp32's integer range), and an int64 input must fit int32; f16 widens exactly to
// fp32; f64 is narrowed to fp32 on the way in (the compiler warns) and widened on the way out.
// The device has no complex type: a c64 (complex64) tensor of shape S is a tensor of shape S + [2]
// whose elements are its real and imaginary parts, interleaved (the memory of torch.view_as_real). So a
// c64 tensor's shape always ends in that 2 and its element is one fp32 part: the host's bytes are the
// device's values, and every byte count stays NumElements(shape) * DTypeSize(dtype). The device
// computes on the parts as fp32 values.
enum class DType : uint8_t {
  kF32 = 0, kBF16 = 1, kI32 = 2, kI64 = 3, kBool = 4, kF16 = 5, kF64 = 6, kI8 = 7, kU8 = 8, kI16 = 9, kC64 = 10,
};

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
    case DType::kF16:
    case DType::kI16: return 2;
    case DType::kI64:
    case DType::kF64: return 8;
    case DType::kBool:
    case DType::kI8:
    case DType::kU8: return 1;
    default: return 4;
  }
}
const char* DTypeName(DType t);
// Whether device memory can hold `t` (f32, bf16, i32); the others are host-only.
inline bool IsDeviceDType(DType t) { return t == DType::kF32 || t == DType::kBF16 || t == DType::kI32; }
inline bool IsIntegral(DType t) {
  return t == DType::kI32 || t == DType::kI64 || t == DType::kBool || t == DType::kI8 || t == DType::kU8 ||
         t == DType::kI16;
}

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

// fp32 <-> IEEE binary16: round-to-nearest-even, overflow to inf, subnormals kept, NaN stays a quiet
// NaN. Bit arithmetic rather than the compiler's _Float16, which not every compiler has (clang 14
// on x86-64 lacks it).
inline uint16_t FloatToF16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));  // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to 65536 or beyond: inf
  if (abs >= 0x38800000u) {  // a normal half: rebias the exponent, round the mantissa to 10 bits
    const uint32_t v = abs - 0x38000000u;
    return static_cast<uint16_t>(sign | ((v + 0xfffu + ((v >> 13) & 1u)) >> 13));
  }
  if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // below 2^-25 (a tie at 2^-25 goes to 0)
  // A subnormal half: the value in units of 2^-24, rounded to nearest even.
  const uint32_t m = (abs & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - (abs >> 23);  // 14..24
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return static_cast<uint16_t>(sign | q);
}

inline float F16ToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {  // zero or subnormal: man * 2^-24, exact in fp32
    const float v = static_cast<float>(man) * 5.9604644775390625e-8f;
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 112u) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Reads `count` elements of type `dtype` from `src` into fp32, and back. With count 0 the
// pointers may be null (an empty tensor has no buffer). Storing rounds to nearest and saturates
// for i32 and i64 (NaN becomes 0); for i8, u8 and i16 it keeps the low bits of the rounded value
// as ATen's integer arithmetic wraps (uint8 200 + 100 is 44), and a value outside int32 (NaN, inf)
// becomes 0 as ATen's float conversion gives; bool stores value != 0 (NaN is true, as in PyTorch);
// f64 loads round to nearest fp32 (beyond its range: inf).
void LoadAsFloat(const void* src, DType dtype, int64_t count, float* dst);
void StoreFromFloat(const float* src, int64_t count, DType dtype, void* dst);

// The index of the first element of an i64 buffer outside int32's range, or -1 when all fit: an
// int64 host tensor goes to the device as int32 (see DType).
int64_t FirstOutsideInt32(const int64_t* values, int64_t count);

}  // namespace kiln::ops

#endif  // KILN_OPS_DTYPE_H_

// The integer kernels (ops/integer.cc describes the ops): each element goes from fp32 to int64,
// through one integer operation, and back to fp32.
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "ops/kernel_families.h"
#include "ops/kernel_util.h"

namespace kiln::ops {
namespace {

// Integers arrive as fp32 values; anything else (a fraction, NaN, beyond int64) is not an integer
// operand ATen would pass, and converts without undefined behaviour: truncated, NaN as 0, saturated.
int64_t ToInt(float x) {
  if (std::isnan(x)) return 0;
  if (x >= 9223372036854775807.0f) return INT64_MAX;
  if (x <= -9223372036854775808.0f) return INT64_MIN;
  return static_cast<int64_t>(x);
}

template <auto F>
void UnaryIntKernel(const std::vector<ConstView>& inputs, const Attrs&, MutView out) {
  const int64_t n = NumElements(out.shape);
  for (int64_t i = 0; i < n; ++i) out.data[i] = static_cast<float>(F(ToInt(inputs[0].data[i])));
}

template <auto F>
void BinaryIntKernel(const std::vector<ConstView>& inputs, const Attrs&, MutView out) {
  const int64_t n = NumElements(out.shape);
  // Broadcast operands are materialized once: these ops are rare next to the float ones.
  std::vector<float> a_full, b_full;
  const float* a = inputs[0].data;
  const float* b = inputs[1].data;
  if (inputs[0].shape != out.shape) {
    a_full.resize(n);
    BroadcastCopy(a, inputs[0].shape, a_full.data(), out.shape);
    a = a_full.data();
  }
  if (inputs[1].shape != out.shape) {
    b_full.resize(n);
    BroadcastCopy(b, inputs[1].shape, b_full.data(), out.shape);
    b = b_full.data();
  }
  for (int64_t i = 0; i < n; ++i) out.data[i] = static_cast<float>(F(ToInt(a[i]), ToInt(b[i])));
}

// Shifts as ATen defines them for int64: a count outside [0, 63] shifts every bit out. Done on the
// unsigned value so that shifting a negative number left is defined.
int64_t ShiftLeft(int64_t a, int64_t b) {
  return b < 0 || b >= 64 ? 0 : static_cast<int64_t>(static_cast<uint64_t>(a) << b);
}
int64_t ShiftRight(int64_t a, int64_t b) { return b < 0 || b >= 64 ? (a < 0 ? -1 : 0) : a >> b; }

// std::gcd/lcm of INT64_MIN is undefined (|x| overflows); such operands are saturated garbage anyway.
int64_t Gcd(int64_t a, int64_t b) {
  if (a == INT64_MIN || b == INT64_MIN) return 0;
  return std::gcd(a, b);
}
int64_t Lcm(int64_t a, int64_t b) {
  const int64_t g = Gcd(a, b);
  if (g == 0) return 0;
  int64_t r;
  if (__builtin_mul_overflow(a / g, b, &r)) return 0;
  return r < 0 ? (r == INT64_MIN ? 0 : -r) : r;
}

}  // namespace

std::vector<KernelDef> IntegerKernels() {
  return {
      {"bitwise_not", &UnaryIntKernel<[](int64_t x) { return ~x; }>},
      {"bitwise_and", &BinaryIntKernel<[](int64_t a, int64_t b) { return a & b; }>},
      {"bitwise_or", &BinaryIntKernel<[](int64_t a, int64_t b) { return a | b; }>},
      {"bitwise_xor", &BinaryIntKernel<[](int64_t a, int64_t b) { return a ^ b; }>},
      {"shift_left", &BinaryIntKernel<ShiftLeft>},
      {"shift_right", &BinaryIntKernel<ShiftRight>},
      {"gcd", &BinaryIntKernel<Gcd>},
      {"lcm", &BinaryIntKernel<Lcm>},
  };
}

}  // namespace kiln::ops

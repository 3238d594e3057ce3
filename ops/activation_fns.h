// The activations a matrix op can fuse (ops/epilogue.h), as scalar functions: the standalone
// elementwise kernels and the epilogue call the same code, so fusing never changes a result.
#ifndef KILN_OPS_ACTIVATION_FNS_H_
#define KILN_OPS_ACTIVATION_FNS_H_

#include <cmath>

namespace kiln::ops {

inline float Relu(float x) { return x < 0.0f ? 0.0f : x; }  // NaN propagates
inline float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float Gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }
inline float GeluTanh(float x) {  // sqrt(2 / pi) * (x + 0.044715 x^3)
  return 0.5f * x * (1.0f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}
inline float Silu(float x) { return x / (1.0f + std::exp(-x)); }
// MobileNetV3's: clamp(x + 3, 0, 6) / 6 and x times it, in the order torch.export's decomposition
// computes them (x * clamp(...), then / 6), so that fusing the decomposed ops changes no bit.
// NaN propagates, as through the clamps.
inline float Relu6Of3Plus(float x) {
  const float c = x + 3.0f;
  return c < 0.0f ? 0.0f : c > 6.0f ? 6.0f : c;
}
inline float Hardsigmoid(float x) { return Relu6Of3Plus(x) / 6.0f; }
inline float Hardswish(float x) { return x * Relu6Of3Plus(x) / 6.0f; }
// torch.clamp: either bound optional, NaN propagates, min > max gives max everywhere.
inline float Clamp(float x, bool has_min, float lo, bool has_max, float hi) {
  if (has_min && x < lo) x = lo;
  if (has_max && x > hi) x = hi;
  return x;
}

}  // namespace kiln::ops

#endif  // KILN_OPS_ACTIVATION_FNS_H_

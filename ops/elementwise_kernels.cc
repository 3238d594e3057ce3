// The elementwise kernels (ops/elementwise.cc describes the ops): each unary and binary op is one
// lambda in a table, instantiated into a loop; plus where and clamp. Comparisons and logical ops
// produce 1.0 for true and 0.0 for false.
#include <array>
#include <cmath>

#include "ops/activation_fns.h"
#include "ops/elementwise_kernel_util.h"
#include "ops/kernel_families.h"
#include "ops/kernel_util.h"

namespace kiln::ops {
namespace {

// NaN-propagating max/min, as torch.maximum/minimum.
inline float NanMax(float a, float b) { return (a > b || std::isnan(a)) ? a : b; }
inline float NanMin(float a, float b) { return (a < b || std::isnan(a)) ? a : b; }

// ATen's div_floor_floating: exact where floor(a / b) would round the quotient first.
inline float FloorDivide(float a, float b) {
  if (b == 0.0f) return a / b;
  const float mod = std::fmod(a, b);
  float div = (a - mod) / b;
  if (mod != 0.0f && (b < 0.0f) != (mod < 0.0f)) div -= 1.0f;
  if (div == 0.0f) return std::copysign(0.0f, a / b);
  float floordiv = std::floor(div);
  if (div - floordiv > 0.5f) floordiv += 1.0f;
  return floordiv;
}

constexpr KernelDef kUnary[] = {
    {"relu", &UnaryKernel<Relu>},
    {"neg", &UnaryKernel<[](float x) { return -x; }>},
    {"exp", &UnaryKernel<[](float x) { return std::exp(x); }>},
    {"log", &UnaryKernel<[](float x) { return std::log(x); }>},
    {"sqrt", &UnaryKernel<[](float x) { return std::sqrt(x); }>},
    {"rsqrt", &UnaryKernel<[](float x) { return 1.0f / std::sqrt(x); }>},
    {"sigmoid", &UnaryKernel<Sigmoid>},
    {"tanh", &UnaryKernel<[](float x) { return std::tanh(x); }>},
    {"gelu", &UnaryKernel<Gelu>},
    {"gelu_tanh", &UnaryKernel<GeluTanh>},
    {"abs", &UnaryKernel<[](float x) { return std::fabs(x); }>},
    {"reciprocal", &UnaryKernel<[](float x) { return 1.0f / x; }>},
    {"silu", &UnaryKernel<Silu>},
    {"hardsigmoid", &UnaryKernel<Hardsigmoid>},
    {"hardswish", &UnaryKernel<Hardswish>},
    {"sin", &UnaryKernel<[](float x) { return std::sin(x); }>},
    {"cos", &UnaryKernel<[](float x) { return std::cos(x); }>},
    {"tan", &UnaryKernel<[](float x) { return std::tan(x); }>},
    {"asin", &UnaryKernel<[](float x) { return std::asin(x); }>},
    {"acos", &UnaryKernel<[](float x) { return std::acos(x); }>},
    {"atan", &UnaryKernel<[](float x) { return std::atan(x); }>},
    {"sinh", &UnaryKernel<[](float x) { return std::sinh(x); }>},
    {"cosh", &UnaryKernel<[](float x) { return std::cosh(x); }>},
    {"asinh", &UnaryKernel<[](float x) { return std::asinh(x); }>},
    {"acosh", &UnaryKernel<[](float x) { return std::acosh(x); }>},
    {"atanh", &UnaryKernel<[](float x) { return std::atanh(x); }>},
    {"erf", &UnaryKernel<[](float x) { return std::erf(x); }>},
    {"expm1", &UnaryKernel<[](float x) { return std::expm1(x); }>},
    {"log1p", &UnaryKernel<[](float x) { return std::log1p(x); }>},
    {"log2", &UnaryKernel<[](float x) { return std::log2(x); }>},
    {"log10", &UnaryKernel<[](float x) { return std::log10(x); }>},
    {"floor", &UnaryKernel<[](float x) { return std::floor(x); }>},
    {"ceil", &UnaryKernel<[](float x) { return std::ceil(x); }>},
    // nearbyint rounds half to even in the default rounding mode, as torch.round does.
    {"round", &UnaryKernel<[](float x) { return std::nearbyint(x); }>},
    {"trunc", &UnaryKernel<[](float x) { return std::trunc(x); }>},
    {"sign", &UnaryKernel<[](float x) { return (x > 0.0f) ? 1.0f : (x < 0.0f) ? -1.0f : x; }>},
    // NaN is non-zero, so true, as in torch.logical_not.
    {"logical_not", &UnaryKernel<[](float x) { return x == 0.0f ? 1.0f : 0.0f; }>},
};

constexpr KernelDef kBinary[] = {
    {"add", &BinaryKernel<[](float a, float b) { return a + b; }>},
    {"sub", &BinaryKernel<[](float a, float b) { return a - b; }>},
    {"mul", &BinaryKernel<[](float a, float b) { return a * b; }>},
    {"div", &BinaryKernel<[](float a, float b) { return a / b; }>},
    {"maximum", &BinaryKernel<[](float a, float b) { return NanMax(a, b); }>},
    {"minimum", &BinaryKernel<[](float a, float b) { return NanMin(a, b); }>},
    {"pow", &BinaryKernel<[](float a, float b) { return std::pow(a, b); }>},
    {"atan2", &BinaryKernel<[](float a, float b) { return std::atan2(a, b); }>},
    {"fmod", &BinaryKernel<[](float a, float b) { return std::fmod(a, b); }>},
    {"floor_divide", &BinaryKernel<[](float a, float b) { return FloorDivide(a, b); }>},
    // Python's %, as torch.remainder: the result takes the sign of b.
    {"remainder", &BinaryKernel<[](float a, float b) {
       const float m = std::fmod(a, b);
       return (m != 0.0f && ((b < 0.0f) != (m < 0.0f))) ? m + b : m;
     }>},
    // IEEE comparisons: any comparison with NaN is false. ATen's ne/gt/ge lower to these.
    {"eq", &BinaryKernel<[](float a, float b) { return a == b ? 1.0f : 0.0f; }>},
    {"lt", &BinaryKernel<[](float a, float b) { return a < b ? 1.0f : 0.0f; }>},
    {"le", &BinaryKernel<[](float a, float b) { return a <= b ? 1.0f : 0.0f; }>},
    // Any non-zero value (NaN included) is true.
    {"logical_and", &BinaryKernel<[](float a, float b) { return a != 0.0f && b != 0.0f ? 1.0f : 0.0f; }>},
    {"logical_or", &BinaryKernel<[](float a, float b) { return a != 0.0f || b != 0.0f ? 1.0f : 0.0f; }>},
};

void WhereKernel(const std::vector<ConstView>& inputs, const Attrs&, MutView out) {
  const std::array<std::vector<int64_t>, 4> strides = {
      ContiguousStrides(out.shape), BroadcastStrides(inputs[0].shape, out.shape),
      BroadcastStrides(inputs[1].shape, out.shape), BroadcastStrides(inputs[2].shape, out.shape)};
  ForEachRun(out.shape, strides, [&](int64_t count, const std::array<int64_t, 4>& off,
                                     const std::array<int64_t, 4>& st) {
    float* dst = out.data + off[0];
    const float* c = inputs[0].data + off[1];
    const float* a = inputs[1].data + off[2];
    const float* b = inputs[2].data + off[3];
    for (int64_t i = 0; i < count; ++i)
      dst[i * st[0]] = c[i * st[1]] != 0.0f ? a[i * st[2]] : b[i * st[3]];
  });
}

// min(max(x, min), max) with either bound optional, as torch.clamp (NaN propagates; min > max
// gives max everywhere).
void ClampKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const bool has_min = attrs.Has("min"), has_max = attrs.Has("max");
  const float lo = static_cast<float>(attrs.Float("min")), hi = static_cast<float>(attrs.Float("max"));
  const float* x = inputs[0].data;
  const int64_t n = NumElements(out.shape);
  for (int64_t i = 0; i < n; ++i) out.data[i] = Clamp(x[i], has_min, lo, has_max, hi);
}

}  // namespace

std::vector<KernelDef> ElementwiseKernels() {
  std::vector<KernelDef> kernels(std::begin(kUnary), std::end(kUnary));
  kernels.insert(kernels.end(), std::begin(kBinary), std::end(kBinary));
  kernels.push_back({"clamp", ClampKernel});
  kernels.push_back({"where", WhereKernel});
  return kernels;
}

}  // namespace kiln::ops

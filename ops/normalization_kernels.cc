// The softmax, layer_norm and batch_norm kernels (ops/normalization.cc describes the ops).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/kernel_families.h"
#include "ops/kernel_util.h"

namespace kiln::ops {
namespace {

// Views x as [outer, n, inner] around the softmax dim.
void SoftmaxImpl(const ConstView& x, const Attrs& attrs, MutView out, bool log) {
  const Shape shape = x.shape.empty() ? Shape{1} : x.shape;
  int64_t dim = 0;
  NormalizeDim(attrs.Int("dim"), static_cast<int64_t>(shape.size()), &dim);
  const int64_t outer = DimProduct(shape, 0, dim);
  const int64_t n = shape[dim];
  const int64_t inner = DimProduct(shape, dim + 1, shape.size());
  const bool zero_masked = !log && attrs.Int("zero_masked_rows", 0) != 0;
  if (NumElements(shape) == 0) return;  // `outer` alone may be huge when another dim is 0
  // Per-lane running max and sum, so a non-innermost dim is processed in contiguous rows of `inner`.
  std::vector<float> mx(inner);
  std::vector<double> sum(inner);
  for (int64_t o = 0; o < outer; ++o) {
    const float* src = x.data + o * n * inner;
    float* dst = out.data + o * n * inner;
    std::fill(mx.begin(), mx.end(), -std::numeric_limits<float>::infinity());
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < inner; ++i) mx[i] = std::max(mx[i], src[j * inner + i]);
    // Subtracting the max keeps exp() in range (numerical stability).
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < inner; ++i) {
        const float e = std::exp(src[j * inner + i] - mx[i]);
        sum[i] += e;
        if (!log) dst[j * inner + i] = e;
      }
    if (log) {
      for (int64_t i = 0; i < inner; ++i) mx[i] += static_cast<float>(std::log(sum[i]));
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < inner; ++i) dst[j * inner + i] = src[j * inner + i] - mx[i];
    } else {
      // A lane that is all -inf has NaNs (exp(-inf - -inf)); zero_masked_rows makes it zeros. Any
      // other lane's sum is at least 1 (its max contributes exp(0)), so 0 marks exactly those.
      for (int64_t i = 0; i < inner; ++i)
        sum[i] = zero_masked && mx[i] == -std::numeric_limits<float>::infinity() ? 0.0 : 1.0 / sum[i];
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < inner; ++i)
          dst[j * inner + i] = sum[i] == 0.0 ? 0.0f : dst[j * inner + i] * static_cast<float>(sum[i]);
    }
  }
}

void SoftmaxKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  SoftmaxImpl(inputs[0], attrs, out, false);
}

void LogSoftmaxKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  SoftmaxImpl(inputs[0], attrs, out, true);
}

void LayerNormKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const ConstView& x = inputs[0];
  const int64_t k = attrs.Int("normalized_ndim");
  const double eps = attrs.Float("eps");
  const int64_t d = DimProduct(x.shape, x.shape.size() - k, x.shape.size());
  const int64_t rows = d == 0 ? 0 : NumElements(x.shape) / d;
  const float* weight = inputs.size() > 1 ? inputs[1].data : nullptr;
  const float* bias = inputs.size() > 2 ? inputs[2].data : nullptr;
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = x.data + r * d;
    float* dst = out.data + r * d;
    // Two passes in double: mean, then the biased variance around it (no cancellation).
    double mean = 0.0;
    for (int64_t i = 0; i < d; ++i) mean += src[i];
    mean /= static_cast<double>(d);
    double var = 0.0;
    for (int64_t i = 0; i < d; ++i) var += (src[i] - mean) * (src[i] - mean);
    var /= static_cast<double>(d);
    const float rstd = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    for (int64_t i = 0; i < d; ++i) {
      float y = (src[i] - m) * rstd;
      if (weight) y *= weight[i];
      if (bias) y += bias[i];
      dst[i] = y;
    }
  }
}

void BatchNormKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const ConstView& x = inputs[0];
  const double eps = attrs.Float("eps");
  const int64_t n = x.shape[0], c = x.shape[1];
  const int64_t spatial = DimProduct(x.shape, 2, x.shape.size());
  if (NumElements(x.shape) == 0) return;  // n * c alone may be huge when a spatial dim is 0
  // Fold the statistics and affine parameters into one scale and shift per channel.
  std::vector<float> scale(c), shift(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    const double w = inputs.size() > 3 ? inputs[3].data[ch] : 1.0;
    const double b = inputs.size() > 4 ? inputs[4].data[ch] : 0.0;
    const double s = w / std::sqrt(static_cast<double>(inputs[2].data[ch]) + eps);
    scale[ch] = static_cast<float>(s);
    shift[ch] = static_cast<float>(b - inputs[1].data[ch] * s);
  }
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* src = x.data + (b * c + ch) * spatial;
      float* dst = out.data + (b * c + ch) * spatial;
      const float s = scale[ch], t = shift[ch];
      for (int64_t i = 0; i < spatial; ++i) dst[i] = src[i] * s + t;
    }
}

}  // namespace

std::vector<KernelDef> NormalizationKernels() {
  return {
      {"batch_norm", BatchNormKernel},
      {"layer_norm", LayerNormKernel},
      {"log_softmax", LogSoftmaxKernel},
      {"softmax", SoftmaxKernel},
  };
}

}  // namespace kiln::ops

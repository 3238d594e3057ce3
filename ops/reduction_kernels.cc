// The reduction and scan kernels (ops/reduction.cc describes the ops).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/kernel_families.h"
#include "ops/kernel_util.h"
#include "ops/op_params.h"

namespace kiln::ops {
namespace {

// Strides mapping each input index to its output (accumulator) element: 0 along reduced dims.
std::vector<int64_t> AccumulatorStrides(const Shape& x, const std::vector<bool>& reduced) {
  Shape kept(x.size());
  for (size_t d = 0; d < x.size(); ++d) kept[d] = reduced[d] ? 1 : x[d];
  std::vector<int64_t> strides = ContiguousStrides(kept);
  for (size_t d = 0; d < x.size(); ++d)
    if (reduced[d]) strides[d] = 0;
  return strides;
}

// Sums in double so long reductions stay accurate.
void SumKernelImpl(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out, bool mean) {
  const ConstView& x = inputs[0];
  std::vector<bool> reduced;
  ReducedDims(attrs, x.shape.size(), &reduced);
  const int64_t n_out = NumElements(out.shape);
  const int64_t n_in = NumElements(x.shape);
  std::vector<double> acc(n_out, 0.0);
  const std::array<std::vector<int64_t>, 2> strides = {ContiguousStrides(x.shape),
                                                       AccumulatorStrides(x.shape, reduced)};
  ForEachRun(x.shape, strides, [&](int64_t count, const std::array<int64_t, 2>& off,
                                   const std::array<int64_t, 2>& st) {
    const float* src = x.data + off[0];
    double* dst = acc.data() + off[1];
    if (st[1] == 0) {
      double s = 0.0;
      for (int64_t i = 0; i < count; ++i) s += src[i * st[0]];
      *dst += s;
    } else {
      for (int64_t i = 0; i < count; ++i) dst[i * st[1]] += src[i * st[0]];
    }
  });
  // Mean of an empty reduction is NaN (0/0), as in PyTorch.
  const double extent = static_cast<double>(n_in) / static_cast<double>(std::max<int64_t>(n_out, 1));
  const double scale = mean ? 1.0 / extent : 1.0;
  for (int64_t i = 0; i < n_out; ++i)
    out.data[i] = mean && n_in == 0 ? std::numeric_limits<float>::quiet_NaN()
                                    : static_cast<float>(acc[i] * scale);
}

void SumKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  SumKernelImpl(inputs, attrs, out, false);
}

void MeanKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  SumKernelImpl(inputs, attrs, out, true);
}

template <bool kMax>
void ExtremumKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const ConstView& x = inputs[0];
  std::vector<bool> reduced;
  ReducedDims(attrs, x.shape.size(), &reduced);
  const int64_t n_out = NumElements(out.shape);
  const float inf = std::numeric_limits<float>::infinity();
  std::fill(out.data, out.data + n_out, kMax ? -inf : inf);
  const std::array<std::vector<int64_t>, 2> strides = {ContiguousStrides(x.shape),
                                                       AccumulatorStrides(x.shape, reduced)};
  // NaN propagates, as in torch.amax and torch.amin.
  ForEachRun(x.shape, strides, [&](int64_t count, const std::array<int64_t, 2>& off,
                                   const std::array<int64_t, 2>& st) {
    const float* src = x.data + off[0];
    float* dst = out.data + off[1];
    for (int64_t i = 0; i < count; ++i) {
      const float v = src[i * st[0]];
      float& m = dst[i * st[1]];
      if ((kMax ? v > m : v < m) || std::isnan(v)) m = v;
    }
  });
}

// Product in double, as ATen accumulates float products.
void ProdKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const ConstView& x = inputs[0];
  std::vector<bool> reduced;
  ReducedDims(attrs, x.shape.size(), &reduced);
  const int64_t n_out = NumElements(out.shape);
  std::vector<double> acc(n_out, 1.0);
  const std::array<std::vector<int64_t>, 2> strides = {ContiguousStrides(x.shape),
                                                       AccumulatorStrides(x.shape, reduced)};
  ForEachRun(x.shape, strides, [&](int64_t count, const std::array<int64_t, 2>& off,
                                   const std::array<int64_t, 2>& st) {
    const float* src = x.data + off[0];
    double* dst = acc.data() + off[1];
    for (int64_t i = 0; i < count; ++i) dst[i * st[1]] *= src[i * st[0]];
  });
  for (int64_t i = 0; i < n_out; ++i) out.data[i] = static_cast<float>(acc[i]);
}

// The index (as a float, exact below 2^24) of the first max (min) along the dim; NaN counts as the
// extreme, as in torch.argmax.
template <bool kMax>
void ArgKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const Shape& x = inputs[0].shape;
  if (NumElements(x) == 0) return;
  int64_t dim;
  ArgDim(x, attrs, &dim);
  const int64_t outer = dim < 0 ? 1 : DimProduct(x, 0, dim);
  const int64_t size = dim < 0 || x.empty() ? NumElements(x) : x[dim];
  const int64_t inner = dim < 0 ? 1 : DimProduct(x, dim + 1, x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < inner; ++k) {
      const float* src = inputs[0].data + o * size * inner + k;
      int64_t best = 0;
      float v = src[0];
      for (int64_t i = 1; i < size && !std::isnan(v); ++i) {
        const float c = src[i * inner];
        if (std::isnan(c) || (kMax ? c > v : c < v)) {
          v = c;
          best = i;
        }
      }
      out.data[o * inner + k] = static_cast<float>(best);
    }
}

// A running accumulation along one dim, in double as ATen's CPU scans accumulate float: `step`
// folds the next element into the accumulator, which starts at `init`.
template <typename Step>
void ScanKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out, double init, Step step) {
  const Shape& x = inputs[0].shape;
  if (NumElements(x) == 0) return;
  int64_t dim = 0;
  NormalizeDim(attrs.Int("dim"), std::max<size_t>(x.size(), 1), &dim);
  const int64_t outer = x.empty() ? 1 : DimProduct(x, 0, dim);
  const int64_t n = x.empty() ? 1 : x[dim];
  const int64_t inner = x.empty() ? 1 : DimProduct(x, dim + 1, x.size());
  std::vector<double> acc(inner);
  for (int64_t o = 0; o < outer; ++o) {
    std::fill(acc.begin(), acc.end(), init);
    for (int64_t i = 0; i < n; ++i) {
      const float* src = inputs[0].data + (o * n + i) * inner;
      float* dst = out.data + (o * n + i) * inner;
      for (int64_t k = 0; k < inner; ++k) dst[k] = static_cast<float>(acc[k] = step(acc[k], src[k]));
    }
  }
}

void CumsumKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  ScanKernel(inputs, attrs, out, 0.0, [](double a, double v) { return a + v; });
}

void CumprodKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  ScanKernel(inputs, attrs, out, 1.0, [](double a, double v) { return a * v; });
}

// log(e^a + e^v) as max + log1p(e^-|a - v|), so large values do not overflow; -inf stays -inf (an
// empty sum) and NaN propagates.
void LogcumsumexpKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const double neg_inf = -std::numeric_limits<double>::infinity();
  ScanKernel(inputs, attrs, out, neg_inf, [neg_inf](double a, double v) {
    if (std::isnan(a) || std::isnan(v)) return std::numeric_limits<double>::quiet_NaN();
    const double hi = std::max(a, v), lo = std::min(a, v);
    if (lo == neg_inf || hi == std::numeric_limits<double>::infinity()) return hi;
    return hi + std::log1p(std::exp(lo - hi));
  });
}

}  // namespace

std::vector<KernelDef> ReductionKernels() {
  return {
      {"argmax", ArgKernel<true>},
      {"argmin", ArgKernel<false>},
      {"cumprod", CumprodKernel},
      {"cumsum", CumsumKernel},
      {"logcumsumexp", LogcumsumexpKernel},
      {"reduce_max", ExtremumKernel<true>},
      {"reduce_mean", MeanKernel},
      {"reduce_min", ExtremumKernel<false>},
      {"reduce_prod", ProdKernel},
      {"reduce_sum", SumKernel},
  };
}

}  // namespace kiln::ops

// The max and average pooling kernels (ops/pool.cc describes the ops).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/kernel_families.h"
#include "ops/kernel_util.h"
#include "ops/op_params.h"

namespace kiln::ops {
namespace {

// The taps [first, last) of a window starting at `start` that land inside [0, size). Loops run
// over these only, so a window far wider than the input costs no more than the input.
std::pair<int64_t, int64_t> TapsInside(int64_t start, int64_t kernel, int64_t dilation, int64_t size) {
  const int64_t first = std::clamp<int64_t>(CeilDiv(-start, dilation), 0, kernel);
  const int64_t last = std::clamp<int64_t>(CeilDiv(size - start, dilation), first, kernel);
  return {first, last};
}

void MaxPoolKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  PoolParams p;
  GetPoolParams(attrs, true, &p);
  const Shape& xs = inputs[0].shape;
  const size_t r = xs.size();
  const int64_t h = xs[r - 2], w = xs[r - 1], oh = out.shape[r - 2], ow = out.shape[r - 1];
  const int64_t planes = DimProduct(xs, 0, r - 2);
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* src = inputs[0].data + pl * h * w;
    float* dst = out.data + pl * oh * ow;
    for (int64_t y = 0; y < oh; ++y) {
      const int64_t h0 = y * p.stride[0] - p.padding[0];
      for (int64_t x = 0; x < ow; ++x) {
        const int64_t w0 = x * p.stride[1] - p.padding[1];
        // Padding never wins: it is -inf. NaN propagates, as in PyTorch.
        float m = -std::numeric_limits<float>::infinity();
        const auto [i0, i1] = TapsInside(h0, p.kernel[0], p.dilation[0], h);
        const auto [j0, j1] = TapsInside(w0, p.kernel[1], p.dilation[1], w);
        for (int64_t i = i0; i < i1; ++i) {
          const float* row = src + (h0 + i * p.dilation[0]) * w;
          for (int64_t j = j0; j < j1; ++j) {
            const float v = row[w0 + j * p.dilation[1]];
            if (v > m || std::isnan(v)) m = v;
          }
        }
        dst[y * ow + x] = m;
      }
    }
  }
}

void AvgPoolKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  PoolParams p;
  GetPoolParams(attrs, false, &p);
  const bool include_pad = attrs.Int("count_include_pad", 1) == 1;
  const int64_t divisor_override = attrs.Int("divisor_override", 0);
  const Shape& xs = inputs[0].shape;
  const size_t r = xs.size();
  const int64_t h = xs[r - 2], w = xs[r - 1], oh = out.shape[r - 2], ow = out.shape[r - 1];
  const int64_t planes = DimProduct(xs, 0, r - 2);
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* src = inputs[0].data + pl * h * w;
    float* dst = out.data + pl * oh * ow;
    for (int64_t y = 0; y < oh; ++y) {
      for (int64_t x = 0; x < ow; ++x) {
        // PyTorch: the padded window (clipped to input + padding) sizes count_include_pad's divisor;
        // the window clipped to the input sizes the other. Ceil-mode overhang counts for neither.
        int64_t hs = y * p.stride[0] - p.padding[0], ws = x * p.stride[1] - p.padding[1];
        int64_t he = std::min(hs + p.kernel[0], h + p.padding[0]);
        int64_t we = std::min(ws + p.kernel[1], w + p.padding[1]);
        // In double: a window of up to 2^40 x 2^40 taps overflows int64.
        const double padded_count = static_cast<double>(he - hs) * static_cast<double>(we - ws);
        hs = std::max<int64_t>(hs, 0);
        ws = std::max<int64_t>(ws, 0);
        he = std::min(he, h);
        we = std::min(we, w);
        if (hs >= he || ws >= we) {
          dst[y * ow + x] = 0.0f;
          continue;
        }
        float sum = 0.0f;
        for (int64_t ih = hs; ih < he; ++ih)
          for (int64_t iw = ws; iw < we; ++iw) sum += src[ih * w + iw];
        const double divisor = divisor_override > 0 ? static_cast<double>(divisor_override)
                               : include_pad        ? padded_count
                                                    : static_cast<double>((he - hs) * (we - ws));
        dst[y * ow + x] = sum / static_cast<float>(divisor);
      }
    }
  }
}

}  // namespace

std::vector<KernelDef> PoolKernels() {
  return {
      {"avg_pool2d", AvgPoolKernel},
      {"max_pool2d", MaxPoolKernel},
  };
}

}  // namespace kiln::ops

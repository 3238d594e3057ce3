// The loops of the elementwise kernels, shared by the op families whose ops are a scalar function
// applied per element (elementwise_kernels.cc, special_math_kernels.cc): each op is one captureless
// lambda instantiated into UnaryKernel or BinaryKernel (numpy broadcasting).
#ifndef KILN_OPS_ELEMENTWISE_KERNEL_UTIL_H_
#define KILN_OPS_ELEMENTWISE_KERNEL_UTIL_H_

#include <array>
#include <vector>

#include "ops/kernel_util.h"
#include "ops/kernels.h"

namespace kiln::ops {

// F is a captureless lambda passed as a template argument so it inlines into the loop.
template <auto F>
void UnaryKernel(const std::vector<ConstView>& inputs, const Attrs&, MutView out) {
  const float* x = inputs[0].data;
  const int64_t n = NumElements(out.shape);
  for (int64_t i = 0; i < n; ++i) out.data[i] = F(x[i]);
}

template <auto F>
void BinaryKernel(const std::vector<ConstView>& inputs, const Attrs&, MutView out) {
  const ConstView& a = inputs[0];
  const ConstView& b = inputs[1];
  float* o = out.data;
  const int64_t n = NumElements(out.shape);
  // Fast path for identical shapes: no index arithmetic at all.
  if (a.shape == out.shape && b.shape == out.shape) {
    for (int64_t i = 0; i < n; ++i) o[i] = F(a.data[i], b.data[i]);
    return;
  }
  // Everything else (scalars, bias-like leading/trailing broadcast, general) goes through merged
  // strided runs; the innermost run is specialized on whether each operand is contiguous or fixed.
  const std::array<std::vector<int64_t>, 3> strides = {
      ContiguousStrides(out.shape), BroadcastStrides(a.shape, out.shape),
      BroadcastStrides(b.shape, out.shape)};
  ForEachRun(out.shape, strides, [&](int64_t count, const std::array<int64_t, 3>& off,
                                     const std::array<int64_t, 3>& st) {
    float* __restrict dst = o + off[0];
    const float* pa = a.data + off[1];
    const float* pb = b.data + off[2];
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < count; ++i) dst[i] = F(pa[i], pb[i]);
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
      const float vb = *pb;
      for (int64_t i = 0; i < count; ++i) dst[i] = F(pa[i], vb);
    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
      const float va = *pa;
      for (int64_t i = 0; i < count; ++i) dst[i] = F(va, pb[i]);
    } else {
      for (int64_t i = 0; i < count; ++i) dst[i * st[0]] = F(pa[i * st[1]], pb[i * st[2]]);
    }
  });
}

}  // namespace kiln::ops

#endif  // KILN_OPS_ELEMENTWISE_KERNEL_UTIL_H_

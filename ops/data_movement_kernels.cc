// The data-movement kernels: copy, reshape, permute, rearrange, expand, slice, concat, pad (ops/data_movement.cc
// describes the ops).
#include <algorithm>
#include <cstring>

#include "ops/kernel_families.h"
#include "ops/kernel_util.h"
#include "ops/op_params.h"

namespace kiln::ops {
namespace {

// Copy and reshape: the same elements in row-major order.
void ReshapeKernel(const std::vector<ConstView>& inputs, const Attrs&, MutView out) {
  const int64_t n = NumElements(out.shape);
  if (n > 0) std::memcpy(out.data, inputs[0].data, n * sizeof(float));  // empty: buffers may be null
}

void PermuteKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  std::vector<int64_t> perm;
  PermutationDims(attrs, inputs[0].shape.size(), &perm);
  // Walk the output contiguously, reading the input through permuted strides.
  const std::vector<int64_t> in_strides = ContiguousStrides(inputs[0].shape);
  std::vector<int64_t> src_strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) src_strides[i] = in_strides[perm[i]];
  const std::array<std::vector<int64_t>, 2> strides = {ContiguousStrides(out.shape), src_strides};
  const float* src = inputs[0].data;
  ForEachRun(out.shape, strides, [&](int64_t n, const std::array<int64_t, 2>& off,
                                     const std::array<int64_t, 2>& st) {
    float* d = out.data + off[0];
    const float* s = src + off[1];
    if (st[1] == 1) {
      std::memcpy(d, s, n * sizeof(float));
    } else {
      for (int64_t i = 0; i < n; ++i) d[i] = s[i * st[1]];
    }
  });
}

// A permute of x read as `view`, written row-major whatever `shape` calls it.
void RearrangeKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const Shape& view = attrs.Ints("view");
  std::vector<int64_t> perm;
  PermutationDims(attrs, view.size(), &perm);
  Shape permuted(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) permuted[i] = view[perm[i]];
  PermuteKernel({{inputs[0].data, view}}, attrs, {out.data, permuted});
}

void ExpandKernel(const std::vector<ConstView>& inputs, const Attrs&, MutView out) {
  BroadcastCopy(inputs[0].data, inputs[0].shape, out.data, out.shape);
}

void SliceKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const Shape& x = inputs[0].shape;
  SliceRange r;
  GetSlice(x, attrs, &r);
  const int64_t outer = DimProduct(x, 0, r.dim);
  const int64_t inner = DimProduct(x, r.dim + 1, x.size());
  const int64_t in_dim = x[r.dim];
  if (r.size * inner == 0) return;  // empty result: nothing to copy (and no buffer to copy into)
  for (int64_t o = 0; o < outer; ++o) {
    const float* src = inputs[0].data + (o * in_dim + r.start) * inner;
    float* dst = out.data + o * r.size * inner;
    if (r.step == 1) {
      std::memcpy(dst, src, r.size * inner * sizeof(float));
      continue;
    }
    for (int64_t i = 0; i < r.size; ++i)
      std::memcpy(dst + i * inner, src + i * r.step * inner, inner * sizeof(float));
  }
}

void ConcatKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  int64_t dim = 0;
  NormalizeDim(attrs.Int("dim"), out.shape.size(), &dim);
  const int64_t outer = DimProduct(out.shape, 0, dim);
  const int64_t inner = DimProduct(out.shape, dim + 1, out.shape.size());
  // An empty result has nothing to copy, however many outer indices it has ([2^40, 0] along dim 1).
  if (NumElements(out.shape) == 0) return;
  float* dst = out.data;
  // Each outer index takes one contiguous chunk from every operand in turn.
  for (int64_t o = 0; o < outer; ++o)
    for (const ConstView& in : inputs) {
      const int64_t chunk = in.shape[dim] * inner;
      if (chunk == 0) continue;  // an empty operand's buffer may be null
      std::memcpy(dst, in.data + o * chunk, chunk * sizeof(float));
      dst += chunk;
    }
}

void PadKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const Shape& x = inputs[0].shape;
  std::vector<int64_t> pads;
  int64_t mode;
  GetPad(x, attrs, &pads, &mode);
  const int64_t n = NumElements(out.shape);
  if (n == 0) return;
  const float value = static_cast<float>(attrs.Float("value"));
  const std::vector<int64_t> strides = ContiguousStrides(x);
  std::vector<int64_t> pos(out.shape.size(), 0);
  for (int64_t e = 0; e < n; ++e) {
    int64_t offset = 0;
    bool inside = true;
    for (size_t d = 0; d < x.size(); ++d) {
      int64_t i = pos[d] - pads[2 * d];
      if (i < 0 || i >= x[d]) {
        if (mode == kConstant) {
          inside = false;
          break;
        }
        if (mode == kReflect) i = i < 0 ? -i : 2 * (x[d] - 1) - i;
        else i = i < 0 ? 0 : x[d] - 1;
      }
      offset += i * strides[d];
    }
    out.data[e] = inside ? inputs[0].data[offset] : value;
    for (size_t d = pos.size(); d-- > 0;) {  // row-major odometer over the output
      if (++pos[d] < out.shape[d]) break;
      pos[d] = 0;
    }
  }
}

}  // namespace

std::vector<KernelDef> DataMovementKernels() {
  return {
      {"concat", ConcatKernel},
      {"copy", ReshapeKernel},
      {"expand", ExpandKernel},
      {"pad", PadKernel},
      {"permute", PermuteKernel},
      {"rearrange", RearrangeKernel},
      {"reshape", ReshapeKernel},
      {"slice", SliceKernel},
  };
}

}  // namespace kiln::ops

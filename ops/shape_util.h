// Helpers shared by the op families: shape arithmetic, strided iteration, attribute checks, SGEMM.
// Shape arithmetic here is unchecked: it takes shapes InferOutputShape accepted (CheckShape), whose
// products fit int64 many times over.
#ifndef KILN_OPS_SHAPE_UTIL_H_
#define KILN_OPS_SHAPE_UTIL_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ops/attrs.h"
#include "ops/dtype.h"

namespace kiln::ops {

// Numpy broadcasting of two shapes (dims align right; equal or 1). "" on success, else e.g.
// "operand shapes [2, 3] and [4, 3] do not broadcast".
std::string BroadcastShapes(const Shape& a, const Shape& b, Shape* out);

// Maps `dim` in [-rank, rank) to [0, rank); "" on success, else "dim 5 is out of range for rank 2".
std::string NormalizeDim(int64_t dim, int64_t rank, int64_t* out);

// Row-major element strides of a contiguous tensor.
std::vector<int64_t> ContiguousStrides(const Shape& shape);

// Strides that read a contiguous tensor of `shape` as if broadcast to `target` (which it must
// broadcast to): dims align right, size-1 and missing dims get stride 0. Result has target's rank.
std::vector<int64_t> BroadcastStrides(const Shape& shape, const Shape& target);

// Product of shape[begin, end).
int64_t DimProduct(const Shape& shape, size_t begin, size_t end);

// Extent of a window of `kernel` taps spaced `dilation` apart, dilation * (kernel - 1) + 1;
// INT64_MAX, wider than any input, when that overflows. kernel and dilation must be >= 1.
int64_t DilatedWindow(int64_t kernel, int64_t dilation);

// Output extent of a convolution or pooling window along one dim (PyTorch's formula), 0 when the
// window is wider than the padded input. With ceil_mode the last window must still start inside
// the input or the left padding. Requires in and pad in [0, kMaxElements], stride in
// [1, kMaxElements] (as GetIntPair and CheckShape guarantee) and kernel, dilation >= 1 (any size).
int64_t WindowOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                         bool ceil_mode);

// ceil(a / b) for b > 0 and any sign of a.
inline int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? a / b + (a % b != 0) : -((-a) / b); }

// Reads attribute `name` as exactly two ints in [min_value, kMaxElements] (the upper bound keeps
// window arithmetic within int64); "" on success, else e.g. "attribute 'stride' must hold 2 ints
// in [1, 2^40], got [1, 0]".
std::string GetIntPair(const Attrs& attrs, std::string_view name, int64_t min_value,
                       std::array<int64_t, 2>* out);
// Reads an int attribute that must be 0 or 1; "" on success.
std::string GetFlag(const Attrs& attrs, std::string_view name, bool* out);

// C[m x n] (+)= A[m x k] * B[k x n], all row-major with leading dimensions lda/ldb/ldc. Cache-blocked
// and packed (Goto-style) with a register-tiled micro-kernel; shared by matmul and conv (im2col).
// With accumulate=false C is overwritten, so it need not be initialized.
void Sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
           float* c, int64_t ldc, bool accumulate);

// Copies a contiguous tensor of `shape` into a contiguous tensor of the broadcast shape `target`.
void BroadcastCopy(const float* src, const Shape& shape, float* dst, const Shape& target);

// Walks `shape` in row-major order for N operands with per-dim element strides, after dropping
// size-1 dims and merging dims that are contiguous for every operand, so the innermost run is as
// long as possible. Calls body(count, offsets, inner_strides) once per innermost run, where
// offsets[i] is operand i's element offset at the start of the run.
template <size_t N, typename Body>
void ForEachRun(const Shape& shape, const std::array<std::vector<int64_t>, N>& strides, Body&& body) {
  // Collapse dims (outermost first).
  std::vector<int64_t> dims;
  std::vector<std::array<int64_t, N>> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return;
    if (shape[d] == 1) continue;
    std::array<int64_t, N> s;
    for (size_t i = 0; i < N; ++i) s[i] = strides[i][d];
    if (!dims.empty()) {
      bool mergeable = true;
      for (size_t i = 0; i < N; ++i) mergeable &= st.back()[i] == s[i] * shape[d];
      if (mergeable) {
        dims.back() *= shape[d];
        st.back() = s;
        continue;
      }
    }
    dims.push_back(shape[d]);
    st.push_back(s);
  }
  std::array<int64_t, N> offsets{};
  if (dims.empty()) {
    std::array<int64_t, N> ones;
    ones.fill(1);
    body(int64_t{1}, offsets, ones);
    return;
  }
  const size_t inner = dims.size() - 1;
  const int64_t count = dims[inner];
  std::vector<int64_t> index(inner, 0);
  while (true) {
    body(count, offsets, st[inner]);
    // Odometer increment over the outer dims, updating offsets incrementally.
    size_t d = inner;
    while (d > 0) {
      --d;
      if (++index[d] < dims[d]) {
        for (size_t i = 0; i < N; ++i) offsets[i] += st[d][i];
        break;
      }
      for (size_t i = 0; i < N; ++i) offsets[i] -= st[d][i] * (dims[d] - 1);
      index[d] = 0;
      if (d == 0) return;
    }
    if (inner == 0) return;
  }
}

}  // namespace kiln::ops

#endif  // KILN_OPS_SHAPE_UTIL_H_

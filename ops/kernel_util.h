// Helpers shared by the kernels (//ops:kernels): SGEMM, broadcast copy, strided iteration.
#ifndef KILN_OPS_KERNEL_UTIL_H_
#define KILN_OPS_KERNEL_UTIL_H_

#include <array>
#include <cstdint>
#include <vector>

#include "ops/dtype.h"
#include "ops/shape_util.h"

namespace kiln::ops {

// C[m x n] (+)= A[m x k] * B[k x n], all row-major with leading dimensions lda/ldb/ldc: OpenBLAS's
// SGEMM (third_party/openblas.BUILD); shared by matmul and conv (im2col).
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

#endif  // KILN_OPS_KERNEL_UTIL_H_

#include "ops/kernel_util.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "cblas.h"

namespace kiln::ops {

void BroadcastCopy(const float* src, const Shape& shape, float* dst, const Shape& target) {
  const std::array<std::vector<int64_t>, 2> strides = {ContiguousStrides(target),
                                                       BroadcastStrides(shape, target)};
  ForEachRun(target, strides, [&](int64_t n, const std::array<int64_t, 2>& off,
                                  const std::array<int64_t, 2>& st) {
    float* d = dst + off[0];
    const float* s = src + off[1];
    if (st[1] == 1) {
      std::memcpy(d, s, n * sizeof(float));
    } else {
      for (int64_t i = 0; i < n; ++i) d[i] = s[i * st[1]];
    }
  });
}

// ---- SGEMM ----------------------------------------------------------------------------------------

void Sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
           float* c, int64_t ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  constexpr int64_t kBlasMax = std::numeric_limits<blasint>::max();
  if (std::max({m, n, k, lda, ldb, ldc}) <= kBlasMax) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
                static_cast<blasint>(k), 1.0f, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb),
                accumulate ? 1.0f : 0.0f, c, static_cast<blasint>(ldc));
    return;
  }
  // A dimension beyond BLAS's 32-bit indices (a long thin product a program may ask for): plain loops.
  for (int64_t i = 0; i < m; ++i) {
    float* crow = c + i * ldc;
    if (!accumulate) std::fill(crow, crow + n, 0.0f);
    for (int64_t p = 0; p < k; ++p) {
      const float s = a[i * lda + p];
      const float* brow = b + p * ldb;
      for (int64_t j = 0; j < n; ++j) crow[j] += s * brow[j];
    }
  }
}

}  // namespace kiln::ops

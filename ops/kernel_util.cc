#include "ops/kernel_util.h"

#include <algorithm>
#include <cstring>

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

namespace {

// GCC vector extension: portable SIMD (SSE2 on x86-64, NEON on arm64) without intrinsics.
typedef float V4 __attribute__((vector_size(16)));

inline V4 Load4(const float* p) {
  V4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void Store4(float* p, V4 v) { std::memcpy(p, &v, sizeof(v)); }

// Register tile: 6 rows x 8 columns = 12 accumulators + 2 B vectors + 1 A broadcast, which fits
// the 16 SIMD registers of SSE2/NEON without spilling.
constexpr int64_t kMR = 6;
constexpr int64_t kNR = 8;
// Cache blocking: an A block (kMC x kKC, 120 KB) stays in L2, a B micro-panel (kKC x kNR, 8 KB) in
// L1, and the packed B panel (kKC x kNC) in L3.
constexpr int64_t kKC = 256;
constexpr int64_t kMC = 120;
constexpr int64_t kNC = 3072;

// Packs rows [0, mc) x cols [0, kc) of A into kMR-row slivers, column-major within a sliver and
// zero-padded, so the micro-kernel reads A sequentially.
void PackA(int64_t mc, int64_t kc, const float* a, int64_t lda, float* packed) {
  for (int64_t i = 0; i < mc; i += kMR) {
    const int64_t rows = std::min(kMR, mc - i);
    for (int64_t p = 0; p < kc; ++p) {
      for (int64_t r = 0; r < rows; ++r) packed[r] = a[(i + r) * lda + p];
      for (int64_t r = rows; r < kMR; ++r) packed[r] = 0.0f;
      packed += kMR;
    }
  }
}

// Packs rows [0, kc) x cols [0, nc) of B into kNR-column slivers, row-major within a sliver.
void PackB(int64_t kc, int64_t nc, const float* b, int64_t ldb, float* packed) {
  for (int64_t j = 0; j < nc; j += kNR) {
    const int64_t cols = std::min(kNR, nc - j);
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = b + p * ldb + j;
      if (cols == kNR) {
        std::memcpy(packed, src, kNR * sizeof(float));
      } else {
        for (int64_t c = 0; c < cols; ++c) packed[c] = src[c];
        for (int64_t c = cols; c < kNR; ++c) packed[c] = 0.0f;
      }
      packed += kNR;
    }
  }
}

// C[mr x nr] (+)= packed A sliver * packed B sliver over kc. Accumulators are named scalars-of-vectors
// rather than an array so they live in registers at -O2.
void MicroKernel(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* c,
                 int64_t ldc, int64_t mr, int64_t nr, bool add) {
  V4 c00{}, c01{}, c10{}, c11{}, c20{}, c21{}, c30{}, c31{}, c40{}, c41{}, c50{}, c51{};
  for (int64_t p = 0; p < kc; ++p) {
    const V4 b0 = Load4(pb), b1 = Load4(pb + 4);
    c00 += pa[0] * b0; c01 += pa[0] * b1;
    c10 += pa[1] * b0; c11 += pa[1] * b1;
    c20 += pa[2] * b0; c21 += pa[2] * b1;
    c30 += pa[3] * b0; c31 += pa[3] * b1;
    c40 += pa[4] * b0; c41 += pa[4] * b1;
    c50 += pa[5] * b0; c51 += pa[5] * b1;
    pa += kMR;
    pb += kNR;
  }
  const V4 acc[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (mr == kMR && nr == kNR) {
    for (int64_t r = 0; r < kMR; ++r) {
      float* row = c + r * ldc;
      if (add) {
        Store4(row, Load4(row) + acc[r][0]);
        Store4(row + 4, Load4(row + 4) + acc[r][1]);
      } else {
        Store4(row, acc[r][0]);
        Store4(row + 4, acc[r][1]);
      }
    }
    return;
  }
  // Edge tile: only the valid part is written.
  float tile[kMR][kNR];
  std::memcpy(tile, acc, sizeof(tile));
  for (int64_t r = 0; r < mr; ++r)
    for (int64_t j = 0; j < nr; ++j) c[r * ldc + j] = add ? c[r * ldc + j] + tile[r][j] : tile[r][j];
}

// Few-row products (e.g. depthwise conv, GEMV): packing would pad every sliver to kMR rows, so
// stream rows of B instead (axpy per A element), 4 lanes at a time.
void SgemmFewRows(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                  int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  for (int64_t i = 0; i < m; ++i) {
    float* __restrict crow = c + i * ldc;
    if (!accumulate) std::fill(crow, crow + n, 0.0f);
    for (int64_t p = 0; p < k; ++p) {
      const float s = a[i * lda + p];
      const float* __restrict brow = b + p * ldb;
      int64_t j = 0;
      for (; j + 4 <= n; j += 4) Store4(crow + j, Load4(crow + j) + s * Load4(brow + j));
      for (; j < n; ++j) crow[j] += s * brow[j];
    }
  }
}

}  // namespace

void Sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
           float* c, int64_t ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  if (m < kMR / 2) return SgemmFewRows(m, n, k, a, lda, b, ldb, c, ldc, accumulate);

  // Reused across calls: conv calls Sgemm once per image and group.
  thread_local std::vector<float> packed_a, packed_b;
  packed_a.resize(kMC * kKC);
  packed_b.resize(std::min(kNC, (n + kNR - 1) / kNR * kNR) * kKC);

  for (int64_t jc = 0; jc < n; jc += kNC) {
    const int64_t nc = std::min(kNC, n - jc);
    for (int64_t pc = 0; pc < k; pc += kKC) {
      const int64_t kc = std::min(kKC, k - pc);
      const bool add = accumulate || pc > 0;
      PackB(kc, nc, b + pc * ldb + jc, ldb, packed_b.data());
      for (int64_t ic = 0; ic < m; ic += kMC) {
        const int64_t mc = std::min(kMC, m - ic);
        PackA(mc, kc, a + ic * lda + pc, lda, packed_a.data());
        for (int64_t jr = 0; jr < nc; jr += kNR) {
          const float* pb = packed_b.data() + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += kMR) {
            MicroKernel(kc, packed_a.data() + ir * kc, pb, c + (ic + ir) * ldc + jc + jr, ldc,
                        std::min(kMR, mc - ir), std::min(kNR, nc - jr), add);
          }
        }
      }
    }
  }
}

}  // namespace kiln::ops

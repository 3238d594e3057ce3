// The FFT as DFT matmuls, since the matrix unit is what the chip has: per transformed dim, the dim
// is moved last, flattened with the (real, imaginary) parts into rows, multiplied by a constant real
// matrix of cos and sin values built here, and moved back. A length-N transform is O(N^2) work and
// its float32 error grows like N * eps; the constant is [2N, 2K] floats, so lengths are capped.
#include <cmath>
#include <numbers>
#include <vector>

#include "absl/strings/str_cat.h"
#include "compiler/lowering/rules.h"

namespace kiln::compiler {
namespace {

// A transform of length N holds a [2N, 2N] constant: 2048 makes it 64 MiB.
constexpr int64_t kMaxDftLength = 2048;

enum class Norm { kNone = 0, kBySqrtN = 1, kByN = 2 };  // ATen's fft_norm_mode codes

double Scale(Norm norm, int64_t n) {
  if (norm == Norm::kBySqrtN) return 1.0 / std::sqrt(static_cast<double>(n));
  if (norm == Norm::kByN) return 1.0 / static_cast<double>(n);
  return 1.0;
}

// cos and sin of 2 pi k n / N, with k n reduced mod N in integers so that the angle stays exact, and
// exact at quarter turns: a bin that is real (DC, Nyquist) gets imaginary parts of exactly 0, as
// pocketfft's do, not sin(pi) ~ 1e-16 times the input (whose sign would flip angle() by 2 pi).
struct CosSin {
  double cos, sin;
};
CosSin Twiddle(int64_t k, int64_t n, int64_t len) {
  const int64_t m = (k * n) % len;
  if ((4 * m) % len == 0) {
    static constexpr CosSin kQuarters[] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}};
    return kQuarters[4 * m / len];
  }
  const double a = 2.0 * std::numbers::pi * static_cast<double>(m) / static_cast<double>(len);
  return {std::cos(a), std::sin(a)};
}

// A matrix entry: +0 rather than -0, so that a sum of zero terms is +0 as in pocketfft.
float Entry(double v) { return v == 0.0 ? 0.0f : static_cast<float>(v); }

// A transform along one dim: `matrix` is [rows, cols] row-major, mapping the dim's `in_len`
// entries (each `in_parts` floats: 1 real or 2 complex) to `out_len` entries of `out_parts`.
struct DimTransform {
  int64_t in_len, out_len;
  bool complex_in, complex_out;
  std::vector<float> matrix;
};

// Real input of length N to X_k = sum_n x_n e^{-2 pi i k n / N}, k < K (K = N/2 + 1 when onesided).
DimTransform RealToComplex(int64_t n_len, bool onesided, double scale) {
  const int64_t k_len = onesided ? n_len / 2 + 1 : n_len;
  DimTransform t{n_len, k_len, false, true, std::vector<float>(n_len * 2 * k_len)};
  for (int64_t n = 0; n < n_len; ++n)
    for (int64_t k = 0; k < k_len; ++k) {
      const CosSin w = Twiddle(k, n, n_len);
      t.matrix[n * 2 * k_len + 2 * k] = Entry(scale * w.cos);
      t.matrix[n * 2 * k_len + 2 * k + 1] = Entry(-scale * w.sin);
    }
  return t;
}

// Y_k = sum_n z_n e^{s 2 pi i k n / N}, s = -1 forward, +1 inverse: with z = a + ib,
// Re Y = a cos - s b sin, Im Y = s a sin + b cos.
DimTransform ComplexToComplex(int64_t n_len, bool forward, double scale) {
  const double s = forward ? -1.0 : 1.0;
  const int64_t cols = 2 * n_len;
  DimTransform t{n_len, n_len, true, true, std::vector<float>(2 * n_len * cols)};
  for (int64_t n = 0; n < n_len; ++n)
    for (int64_t k = 0; k < n_len; ++k) {
      const CosSin w = Twiddle(k, n, n_len);
      t.matrix[(2 * n) * cols + 2 * k] = Entry(scale * w.cos);
      t.matrix[(2 * n) * cols + 2 * k + 1] = Entry(s * scale * w.sin);
      t.matrix[(2 * n + 1) * cols + 2 * k] = Entry(-s * scale * w.sin);
      t.matrix[(2 * n + 1) * cols + 2 * k + 1] = Entry(scale * w.cos);
    }
  return t;
}

// The real signal of length N whose spectrum's first half is X (Hermitian symmetry gives the rest):
// x_n = sum_k c_k (Re X_k cos - Im X_k sin)(2 pi k n / N), c_k = 2 but 1 for DC and (N even) Nyquist,
// whose imaginary parts are ignored, as pocketfft does. Entries past N/2 of a longer input are unused.
DimTransform ComplexToReal(int64_t k_in, int64_t n_len, double scale) {
  DimTransform t{k_in, n_len, true, false, std::vector<float>(2 * k_in * n_len, 0.0f)};
  for (int64_t k = 0; k < k_in && k <= n_len / 2; ++k) {
    const bool edge = k == 0 || 2 * k == n_len;
    const double c = (edge ? 1.0 : 2.0) * scale;
    for (int64_t n = 0; n < n_len; ++n) {
      const CosSin w = Twiddle(k, n, n_len);
      t.matrix[(2 * k) * n_len + n] = Entry(c * w.cos);
      t.matrix[(2 * k + 1) * n_len + n] = edge ? 0.0f : Entry(-c * w.sin);
    }
  }
  return t;
}

// Applies `t` along logical dim `dim` of x (a complex x's device value has a trailing 2 beyond its
// logical dims): permute the dim last, flatten to [rows, in_len * in_parts], matmul, undo.
absl::StatusOr<int> Transform(LoweringContext& ctx, const AtenNode& node, int x, int64_t dim, DimTransform t) {
  const ops::Shape shape = ctx.graph().values[x].shape;
  const int64_t rank = static_cast<int64_t>(shape.size()) - (t.complex_in ? 1 : 0);
  std::vector<int64_t> perm;
  for (int64_t d = 0; d < rank; ++d)
    if (d != dim) perm.push_back(d);
  perm.push_back(dim);
  bool moved = false;
  for (int64_t d = 0; d < rank; ++d) moved |= perm[d] != d;
  if (moved) {
    std::vector<int64_t> dims = perm;
    if (t.complex_in) dims.push_back(rank);
    ops::Attrs attrs;
    attrs.SetInts("dims", dims);
    KILN_ASSIGN_OR_RETURN(x, ctx.Emit(node, "permute", {x}, attrs));
  }
  ops::Shape outer;
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < rank; ++d) {
    outer.push_back(shape[perm[d]]);
    rows *= shape[perm[d]];
  }
  const int64_t in_width = t.in_len * (t.complex_in ? 2 : 1), out_width = t.out_len * (t.complex_out ? 2 : 1);
  KILN_ASSIGN_OR_RETURN(x, Reshaped(ctx, node, x, {rows, in_width}));
  const int m = ctx.graph().AddConstant(absl::StrCat(node.name, "_dft_", dim), {in_width, out_width},
                                        std::move(t.matrix));
  KILN_ASSIGN_OR_RETURN(x, ctx.Emit(node, "matmul", {x, m}));
  ops::Shape moved_shape = outer;
  moved_shape.push_back(t.out_len);
  if (t.complex_out) moved_shape.push_back(2);
  KILN_ASSIGN_OR_RETURN(x, Reshaped(ctx, node, x, moved_shape));
  if (!moved) return x;
  std::vector<int64_t> back(rank);
  for (int64_t d = 0; d < rank; ++d) back[perm[d]] = d;
  if (t.complex_out) back.push_back(rank);
  ops::Attrs attrs;
  attrs.SetInts("dims", back);
  return ctx.Emit(node, "permute", {x}, attrs);
}

struct FftArgs {
  int x;
  std::vector<int64_t> dims;  // normalized, in the order given
  Norm norm;
};

absl::StatusOr<FftArgs> ReadArgs(LoweringContext& ctx, const AtenNode& node) {
  FftArgs a;
  KILN_ASSIGN_OR_RETURN(a.x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dims, ctx.Ints(node, "dim"));
  KILN_ASSIGN_OR_RETURN(auto norm, ctx.Int(node, "normalization"));
  if (norm < 0 || norm > 2)
    return ctx.NodeError(node, absl::StrCat("normalization ", norm, " is not one of ATen's 0 (none), 1 (1/sqrt(n)), "
                                            "2 (1/n)"));
  a.norm = static_cast<Norm>(norm);
  const ops::Shape& shape = ctx.graph().values[a.x].shape;
  const int64_t rank = static_cast<int64_t>(shape.size()) - (IsComplex(ctx.DTypeOf(node, "self")) ? 1 : 0);
  if (dims.empty()) return ctx.NodeError(node, "transforms no dim");
  for (int64_t d : dims) {
    const int64_t n = d < 0 ? d + rank : d;
    if (n < 0 || n >= rank)
      return ctx.NodeError(node, absl::StrCat("dim ", d, " is out of range for a signal of ", rank, " dims"));
    a.dims.push_back(n);
  }
  return a;
}

absl::Status CheckLength(LoweringContext& ctx, const AtenNode& node, int64_t dim, int64_t len) {
  if (len < 1) return ctx.NodeError(node, absl::StrCat("dim ", dim, " has length ", len, "; a transform needs 1 or more"));
  if (len > kMaxDftLength)
    return ctx.NodeError(node, absl::StrCat("dim ", dim, " has length ", len, "; the DFT-matmul lowering takes at most ",
                                            kMaxDftLength, " (a [2N, 2N] constant)"));
  return absl::OkStatus();
}

// Forward or inverse c2c along each of `dims` of the complex value x.
absl::StatusOr<int> ComplexTransforms(LoweringContext& ctx, const AtenNode& node, int x,
                                      const std::vector<int64_t>& dims, bool forward, Norm norm) {
  for (int64_t d : dims) {
    const int64_t len = ctx.graph().values[x].shape[d];
    KILN_RETURN_IF_ERROR(CheckLength(ctx, node, d, len));
    KILN_ASSIGN_OR_RETURN(x, Transform(ctx, node, x, d, ComplexToComplex(len, forward, Scale(norm, len))));
  }
  return x;
}

// _fft_c2c(self, dim, normalization, forward).
absl::Status FftC2C(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto a, ReadArgs(ctx, node));
  KILN_ASSIGN_OR_RETURN(auto forward, ctx.Bool(node, "forward"));
  KILN_ASSIGN_OR_RETURN(auto y, ComplexTransforms(ctx, node, a.x, a.dims, forward, a.norm));
  return ctx.Bind(node, y);
}

// _fft_r2c(self, dim, normalization, onesided): the last listed dim real-to-complex (halved when
// onesided), then forward c2c along the others.
absl::Status FftR2C(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto a, ReadArgs(ctx, node));
  KILN_ASSIGN_OR_RETURN(auto onesided, ctx.Bool(node, "onesided"));
  const int64_t last = a.dims.back();
  const int64_t len = ctx.graph().values[a.x].shape[last];
  KILN_RETURN_IF_ERROR(CheckLength(ctx, node, last, len));
  KILN_ASSIGN_OR_RETURN(auto y, Transform(ctx, node, a.x, last, RealToComplex(len, onesided, Scale(a.norm, len))));
  KILN_ASSIGN_OR_RETURN(y, ComplexTransforms(ctx, node, y, std::vector<int64_t>(a.dims.begin(), a.dims.end() - 1),
                                             /*forward=*/true, a.norm));
  return ctx.Bind(node, y);
}

// _fft_c2r(self, dim, normalization, last_dim_size): inverse c2c along all listed dims but the last,
// then complex-to-real along the last, of length last_dim_size.
absl::Status FftC2R(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto a, ReadArgs(ctx, node));
  KILN_ASSIGN_OR_RETURN(auto out_len, ctx.Int(node, "last_dim_size"));
  const int64_t last = a.dims.back();
  KILN_ASSIGN_OR_RETURN(auto y, ComplexTransforms(ctx, node, a.x, std::vector<int64_t>(a.dims.begin(), a.dims.end() - 1),
                                                  /*forward=*/false, a.norm));
  KILN_RETURN_IF_ERROR(CheckLength(ctx, node, last, out_len));
  const int64_t in_len = ctx.graph().values[y].shape[last];
  KILN_RETURN_IF_ERROR(CheckLength(ctx, node, last, in_len));
  KILN_ASSIGN_OR_RETURN(y, Transform(ctx, node, y, last, ComplexToReal(in_len, out_len, Scale(a.norm, out_len))));
  return ctx.Bind(node, y);
}

}  // namespace

void AddFftRules(RuleTable& rules) {
  const char* kHow = "permute, reshape, matmul (a constant DFT matrix per transformed dim), reshape, permute";
  Decomposed(rules, "aten._fft_r2c.default", FftR2C, kHow);
  Decomposed(rules, "aten._fft_c2c.default", FftC2C, kHow);
  Decomposed(rules, "aten._fft_c2r.default", FftC2R, kHow);
  for (const char* target : {"aten._fft_r2c.default", "aten._fft_c2c.default", "aten._fft_c2r.default"})
    rules.at(target).complex = ComplexSupport::kOwn;
}

}  // namespace kiln::compiler

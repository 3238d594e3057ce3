// Dense linear algebra on batched matrices [..., n, n] (or [..., m, n]): determinants, inverse,
// solves (general, triangular, LU, Cholesky, LDL), factorizations (LU, Cholesky, LDL, QR), LAPACK's
// info codes, singular values, symmetric eigenvalues, matrix exponential and square root. The
// kernels (linalg_kernels.cc) factor in double precision, so fp32 results match LAPACK's sgetrf/spotrf
// to fp32 rounding.
#include <algorithm>

#include "ops/op_families.h"
#include "ops/shape_util.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

// "" when `s` is a batch of square matrices.
std::string CheckSquare(const Shape& s, const char* what) {
  if (s.size() < 2 || s[s.size() - 1] != s[s.size() - 2])
    return std::string(what) + " must be a batch of square matrices [..., n, n], got " + ShapeToString(s);
  return "";
}

Shape BatchOf(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

// det, slogdet, info: one scalar per matrix.
std::string InferPerMatrix(const std::vector<Shape>& inputs, const Attrs&, Shape* out) {
  if (std::string err = CheckSquare(inputs[0], "a"); !err.empty()) return err;
  *out = BatchOf(inputs[0]);
  return "";
}

std::string InferSlogdet(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const int64_t part = attrs.Int("part");
  if (part != 0 && part != 1) return "attribute 'part' must be 0 (sign) or 1 (log|det|), got " + std::to_string(part);
  return InferPerMatrix(inputs, attrs, out);
}

std::string InferInfo(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const int64_t kind = attrs.Int("factorization");
  if (kind != 0 && kind != 1)
    return "attribute 'factorization' must be 0 (LU) or 1 (Cholesky), got " + std::to_string(kind);
  if (kind == 1) return InferPerMatrix(inputs, attrs, out);
  if (inputs[0].size() < 2) return "a must be a batch of matrices [..., m, n], got " + ShapeToString(inputs[0]);
  *out = BatchOf(inputs[0]);  // LU also factors rectangular matrices
  return "";
}

// lu_factor: part 0 is the compact LU [..., m, n], part 1 the 1-based pivots [..., min(m, n)].
std::string InferLuFactor(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const int64_t part = attrs.Int("part");
  if (part != 0 && part != 1) return "attribute 'part' must be 0 (LU) or 1 (pivots), got " + std::to_string(part);
  if (inputs[0].size() < 2) return "a must be a batch of matrices [..., m, n], got " + ShapeToString(inputs[0]);
  if (part == 0) {
    *out = inputs[0];
    return "";
  }
  *out = BatchOf(inputs[0]);
  out->push_back(std::min(inputs[0][inputs[0].size() - 2], inputs[0].back()));
  return "";
}


// inv, cholesky, cholesky_inverse: a matrix per matrix.
std::string InferSameSquare(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  if (std::string err = CheckSquare(inputs[0], "a"); !err.empty()) return err;
  if (attrs.Has("upper")) {
    bool upper;
    if (std::string err = GetFlag(attrs, "upper", &upper); !err.empty()) return err;
  }
  *out = inputs[0];
  return "";
}

// solve(a, b) and cholesky_solve(b, l): the coefficient matrix [..., n, n] and right-hand sides
// [..., n, k] with the same batch (the compiler broadcasts them first).
std::string InferSolve(const Shape& a, const Shape& b, Shape* out) {
  if (std::string err = CheckSquare(a, "the coefficient matrix"); !err.empty()) return err;
  if (b.size() != a.size() || BatchOf(b) != BatchOf(a) || b[b.size() - 2] != a.back())
    return "right-hand sides " + ShapeToString(b) + " must be [..., n, k] with the batch and n of the coefficient matrix " +
           ShapeToString(a);
  *out = b;
  return "";
}

// lu_solve(lu [..., n, n], pivots [..., n], b [..., n, k]) -> [..., n, k], one batch.
std::string InferLuSolve(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  bool adjoint;
  if (std::string err = GetFlag(attrs, "adjoint", &adjoint); !err.empty()) return err;
  const Shape& lu = inputs[0];
  const Shape& piv = inputs[1];
  if (std::string err = CheckSquare(lu, "lu"); !err.empty()) return err;
  if (piv != Shape(lu.begin(), lu.end() - 1))
    return "pivots " + ShapeToString(piv) + " must be [..., n] for lu " + ShapeToString(lu);
  return InferSolve(lu, inputs[2], out);
}

std::string InferLinalgSolve(const std::vector<Shape>& inputs, const Attrs&, Shape* out) {
  return InferSolve(inputs[0], inputs[1], out);
}

std::string InferCholeskySolve(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  bool upper;
  if (std::string err = GetFlag(attrs, "upper", &upper); !err.empty()) return err;
  return InferSolve(inputs[1], inputs[0], out);
}

// svdvals: [..., m, n] -> [..., min(m, n)].
std::string InferSvdvals(const std::vector<Shape>& inputs, const Attrs&, Shape* out) {
  const Shape& a = inputs[0];
  if (a.size() < 2) return "a must be a batch of matrices [..., m, n], got " + ShapeToString(a);
  *out = BatchOf(a);
  out->push_back(std::min(a[a.size() - 2], a.back()));
  return "";
}

// eigvalsh: [..., n, n] -> [..., n].
std::string InferEigvalsh(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  if (std::string err = CheckSquare(inputs[0], "a"); !err.empty()) return err;
  bool upper;
  if (std::string err = GetFlag(attrs, "upper", &upper); !err.empty()) return err;
  *out = Shape(inputs[0].begin(), inputs[0].end() - 1);
  return "";
}

// geqrf: part 0 is the compact factorization [..., m, n], part 1 the Householder scalars tau
// [..., min(m, n)].
std::string InferGeqrf(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const int64_t part = attrs.Int("part");
  if (part != 0 && part != 1) return "attribute 'part' must be 0 (a) or 1 (tau), got " + std::to_string(part);
  if (part == 0) {
    if (inputs[0].size() < 2) return "a must be a batch of matrices [..., m, n], got " + ShapeToString(inputs[0]);
    *out = inputs[0];
    return "";
  }
  return InferSvdvals(inputs, attrs, out);
}

// qr: Q [..., m, k] and R [..., k, n] with k = min(m, n), or k = m when complete.
std::string InferQr(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const Shape& a = inputs[0];
  if (a.size() < 2) return "a must be a batch of matrices [..., m, n], got " + ShapeToString(a);
  bool complete, r;
  if (std::string err = GetFlag(attrs, "complete", &complete); !err.empty()) return err;
  if (std::string err = GetFlag(attrs, "r", &r); !err.empty()) return err;
  const int64_t m = a[a.size() - 2], n = a.back(), k = complete ? m : std::min(m, n);
  *out = BatchOf(a);
  out->push_back(r ? k : m);
  out->push_back(r ? n : k);
  return "";
}

// householder_product(v [..., m, n], tau [..., k]) with k <= n <= m: the first n columns of
// H_1 ... H_k.
std::string InferHouseholderProduct(const std::vector<Shape>& inputs, const Attrs&, Shape* out) {
  const Shape& v = inputs[0];
  const Shape& tau = inputs[1];
  if (v.size() < 2 || v[v.size() - 2] < v.back() || tau.size() != v.size() - 1 ||
      Shape(tau.begin(), tau.end() - 1) != BatchOf(v) || tau.back() > v.back())
    return "reflectors " + ShapeToString(v) + " and tau " + ShapeToString(tau) +
           " must be [..., m, n] with m >= n and [..., k] with k <= n";
  *out = v;
  return "";
}

// pinv(a [..., m, n], atol [...], rtol [...]) -> [..., n, m]; the tolerances hold one value per
// matrix (the compiler expands them).
std::string InferPinv(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const Shape& a = inputs[0];
  if (a.size() < 2) return "a must be a batch of matrices [..., m, n], got " + ShapeToString(a);
  for (size_t i = 1; i < inputs.size(); ++i)
    if (inputs[i] != BatchOf(a))
      return std::string(i == 1 ? "atol " : "rtol ") + ShapeToString(inputs[i]) + " must have the batch shape " +
             ShapeToString(BatchOf(a)) + " of a " + ShapeToString(a);
  bool flag;
  if (std::string err = GetFlag(attrs, "hermitian", &flag); !err.empty()) return err;
  *out = BatchOf(a);
  out->push_back(a.back());
  out->push_back(a[a.size() - 2]);
  return "";
}

// triangular_solve(a [..., n, n], b [..., n, k]) -> [..., n, k], one batch.
std::string InferTriangularSolve(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  bool flag;
  if (std::string err = GetFlag(attrs, "upper", &flag); !err.empty()) return err;
  if (std::string err = GetFlag(attrs, "unitriangular", &flag); !err.empty()) return err;
  return InferSolve(inputs[0], inputs[1], out);
}

// lu_unpack(lu [..., m, n], pivots [..., k]), k = min(m, n): P [..., m, m], L [..., m, k] or
// U [..., k, n].
std::string InferLuUnpack(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const Shape& lu = inputs[0];
  const int64_t part = attrs.Int("part");
  if (part < 0 || part > 2) return "attribute 'part' must be 0 (P), 1 (L) or 2 (U), got " + std::to_string(part);
  if (lu.size() < 2) return "lu must be a batch of matrices [..., m, n], got " + ShapeToString(lu);
  const int64_t m = lu[lu.size() - 2], n = lu.back(), k = std::min(m, n);
  Shape pivots = BatchOf(lu);
  pivots.push_back(k);
  if (inputs[1] != pivots)
    return "pivots " + ShapeToString(inputs[1]) + " must be " + ShapeToString(pivots) + " for lu " + ShapeToString(lu);
  *out = BatchOf(lu);
  out->push_back(part == 2 ? k : m);
  out->push_back(part == 0 ? m : part == 1 ? k : n);
  return "";
}

// ldl_factor: part 0 is the compact L\D [..., n, n], part 1 the pivots [..., n], part 2 info [...].
std::string InferLdlFactor(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const int64_t part = attrs.Int("part");
  if (part < 0 || part > 2)
    return "attribute 'part' must be 0 (LD), 1 (pivots) or 2 (info), got " + std::to_string(part);
  if (std::string err = CheckSquare(inputs[0], "a"); !err.empty()) return err;
  *out = part == 0 ? inputs[0] : part == 1 ? Shape(inputs[0].begin(), inputs[0].end() - 1) : BatchOf(inputs[0]);
  return "";
}

// ldl_solve(ld [..., n, n], pivots [..., n], b [..., n, k]) -> [..., n, k], one batch.
std::string InferLdlSolve(const std::vector<Shape>& inputs, const Attrs&, Shape* out) {
  const Shape& ld = inputs[0];
  if (std::string err = CheckSquare(ld, "ld"); !err.empty()) return err;
  if (inputs[1] != Shape(ld.begin(), ld.end() - 1))
    return "pivots " + ShapeToString(inputs[1]) + " must be [..., n] for ld " + ShapeToString(ld);
  return InferSolve(ld, inputs[2], out);
}

// ormqr(reflectors [..., r, k'], tau [..., k], c [..., m, n]): r is m (left) or n (right), k <= k' and k <= r.
std::string InferOrmqr(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  bool left, transpose;
  if (std::string err = GetFlag(attrs, "left", &left); !err.empty()) return err;
  if (std::string err = GetFlag(attrs, "transpose", &transpose); !err.empty()) return err;
  const Shape& v = inputs[0];
  const Shape& tau = inputs[1];
  const Shape& c = inputs[2];
  if (v.size() < 2 || c.size() != v.size() || BatchOf(c) != BatchOf(v) || tau.size() != v.size() - 1 ||
      Shape(tau.begin(), tau.end() - 1) != BatchOf(v))
    return "reflectors " + ShapeToString(v) + ", tau " + ShapeToString(tau) + " and other " + ShapeToString(c) +
           " must be [..., r, k'], [..., k] and [..., m, n] with one batch";
  const int64_t r = v[v.size() - 2], want = left ? c[c.size() - 2] : c.back();
  if (r != want || tau.back() > v.back() || tau.back() > r)
    return "reflectors " + ShapeToString(v) + " must have " + std::to_string(want) + " rows (other's " +
           (left ? "rows" : "columns") + ") and at least tau's " + std::to_string(tau.back()) + " columns, with " +
           std::to_string(tau.back()) + " <= " + std::to_string(want);
  *out = c;
  return "";
}

// Factoring a matrix costs ~n^3 element operations (on tile-padded sizes), solving for k
// right-hand sides n^2 k more: each matrix operand [..., n, k] counts n * n * k per matrix (vectors
// such as tau add nothing).
double FactorWork(const std::vector<Shape>& inputs, const Shape&, const Attrs&) {
  double work = 0;
  for (const Shape& s : inputs) {
    if (s.size() < 2) continue;
    const double n = RoundUpToTile(s[s.size() - 2]);
    work += static_cast<double>(DimProduct(s, 0, s.size() - 2)) * n * n * RoundUpToTile(s.back());
  }
  return work;
}

OpDef Op(std::string_view name, std::string_view summary, std::vector<std::string_view> inputs, InferShapeFn infer,
         std::vector<AttrDef> attrs = {}, int num_optional = 0) {
  OpDef def;
  def.name = name;
  def.summary = summary;
  def.inputs = std::move(inputs);
  def.attrs = std::move(attrs);
  def.infer_shape = infer;
  def.work = FactorWork;
  def.num_optional_inputs = num_optional;
  return def;
}

}  // namespace

std::vector<OpDef> LinalgOps() {
  const AttrDef upper{"upper", AttrKind::kInt, "1: the factor is upper triangular U (a = U^T U); 0: lower L (a = L L^T)"};
  return {
      Op("linalg_det", "Determinant of each matrix (LU with partial pivoting)", {"a"}, InferPerMatrix),
      Op("linalg_slogdet", "Sign or log|det| of each matrix's determinant (torch.linalg.slogdet)", {"a"}, InferSlogdet,
         {{"part", AttrKind::kInt, "0: the sign (0 for a singular matrix); 1: log|det| (-inf when singular)"}}),
      Op("linalg_inv", "Inverse of each matrix (LU with partial pivoting; inf/nan where singular)", {"a"},
         InferSameSquare),
      Op("linalg_solve", "X with a X = b for each matrix a and right-hand sides b [..., n, k]", {"a", "b"},
         InferLinalgSolve),
      Op("linalg_cholesky",
         "Cholesky factor of each symmetric positive-definite matrix (reads a's lower triangle; NaN where not PD)",
         {"a"}, InferSameSquare, {upper}),
      Op("linalg_info",
         "LAPACK's info code of factoring each matrix: 0, or the 1-based index of the first zero pivot (LU) or "
         "non-positive leading minor (Cholesky)",
         {"a"}, InferInfo, {{"factorization", AttrKind::kInt, "0: LU with partial pivoting (getrf); 1: Cholesky (potrf)"}}),
      Op("cholesky_solve", "X with a X = b where a = L L^T (or U^T U) is given by its Cholesky factor", {"b", "factor"},
         InferCholeskySolve, {upper}),
      Op("linalg_svdvals", "Singular values of each matrix [..., m, n], in descending order", {"a"}, InferSvdvals),
      Op("linalg_eigvalsh", "Eigenvalues of each symmetric matrix, in ascending order", {"a"}, InferEigvalsh,
         {{"upper", AttrKind::kInt, "1: read a's upper triangle; 0: its lower triangle (the other is ignored)"}}),
      Op("linalg_geqrf", "LAPACK geqrf's Householder QR of each matrix: the compact factorization or its tau", {"a"},
         InferGeqrf, {{"part", AttrKind::kInt, "0: R on and above the diagonal, the reflectors below; 1: tau"}}),
      Op("linalg_qr", "Q or R of each matrix's Householder QR (LAPACK's signs: R's diagonal may be negative)", {"a"},
         InferQr,
         {{"r", AttrKind::kInt, "0: Q; 1: R"},
          {"complete", AttrKind::kInt, "1: Q is m x m and R m x n; 0: reduced, Q m x k and R k x n, k = min(m, n)"}}),
      Op("householder_product", "The first n columns of H_1 ... H_k from geqrf's reflectors and tau (LAPACK orgqr)",
         {"reflectors", "tau"}, InferHouseholderProduct),
      Op("linalg_pinv",
         "Moore-Penrose pseudo-inverse of each matrix, dropping singular values <= max(atol, rtol * largest); "
         "without rtol, rtol is 0 where atol > 0, else eps * max(m, n) (torch.linalg.pinv)",
         {"a", "atol", "rtol"}, InferPinv,
         {{"hermitian", AttrKind::kInt, "1: a is symmetric (only its lower triangle is read; eigendecomposition)"}},
         /*num_optional=*/2),
      Op("linalg_lu_factor", "LAPACK getrf's LU with partial pivoting: the compact L\\U or the 1-based row swaps",
         {"a"}, InferLuFactor, {{"part", AttrKind::kInt, "0: U on and above the diagonal, L's multipliers below; 1: pivots"}}),
      Op("linalg_lu_solve", "X with A X = b (or A^T X = b) from getrf's LU and pivots", {"lu", "pivots", "b"},
         InferLuSolve, {{"adjoint", AttrKind::kInt, "1: solve A^T X = b"}}),
      Op("cholesky_inverse", "Inverse of a = L L^T (or U^T U) from its Cholesky factor", {"factor"}, InferSameSquare,
         {upper}),
      Op("triangular_solve", "X with a X = b for each triangular matrix a (only its triangle is read)", {"a", "b"},
         InferTriangularSolve,
         {{"upper", AttrKind::kInt, "1: a is upper triangular; 0: lower"},
          {"unitriangular", AttrKind::kInt, "1: a's diagonal is taken as ones (not read)"}}),
      Op("lu_unpack", "P, L or U of A = P L U from getrf's compact LU and 1-based row swaps (torch.lu_unpack)",
         {"lu", "pivots"}, InferLuUnpack,
         {{"part", AttrKind::kInt, "0: the permutation P [m, m]; 1: unit lower L [m, k]; 2: upper U [k, n]"}}),
      Op("linalg_ldl_factor",
         "LAPACK sytrf's Bunch-Kaufman factorization a = L D L^T of each symmetric matrix (its lower triangle): "
         "the compact L\\D, the pivots (1-based; negative pairs mark 2x2 blocks of D) or info",
         {"a"}, InferLdlFactor,
         {{"part", AttrKind::kInt,
           "0: D's blocks on and below the diagonal, L's multipliers below them, zeros above; 1: pivots; 2: info (0, "
           "or the 1-based index of the first exactly zero block of D)"}}),
      Op("linalg_ldl_solve", "X with a X = b from sytrf's L\\D and pivots (LAPACK sytrs; NaN for pivots sytrf does not give)", {"ld", "pivots", "b"},
         InferLdlSolve),
      Op("linalg_matrix_exp", "Matrix exponential of each matrix (scaling and squaring with Pade approximants)", {"a"},
         InferSameSquare),
      Op("linalg_matrix_sqrth",
         "Principal square root of each symmetric positive semi-definite matrix (its lower triangle), V sqrt(W) V^T "
         "from its eigendecomposition (negative eigenvalues count as 0)",
         {"a"}, InferSameSquare),
      Op("ormqr", "other multiplied by Q (or Q^T), from the left or the right, Q = H_1 ... H_k from geqrf's reflectors "
         "and tau (LAPACK ormqr)",
         {"reflectors", "tau", "other"}, InferOrmqr,
         {{"left", AttrKind::kInt, "1: Q other; 0: other Q"}, {"transpose", AttrKind::kInt, "1: Q^T instead of Q"}}),
  };
}

}  // namespace kiln::ops

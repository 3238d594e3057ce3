// Lowering rules for the dense factorizations that torch.linalg decomposes to: determinants,
// inverse, solve, LU and its solve, Cholesky and its solves, Householder QR, pseudo-inverse, singular
// values and symmetric eigenvalues, onto the linalg device ops (ops/linalg.cc).
//
// LAPACK's byproducts that only autograd reads (the LU factors and pivots of _linalg_det,
// _linalg_slogdet and _linalg_solve_ex) are not produced: a graph that uses them gets an error
// naming the output. The info outputs are computed (linalg_info), but the device cannot stop a
// program, so _linalg_check_errors (and check_errors=True) resolve to nothing: where PyTorch raises
// on a singular or indefinite matrix, the device returns inf/NaN and a nonzero info.
#include "absl/strings/str_cat.h"
#include "compiler/lowering/linalg_args.h"
#include "compiler/lowering/op_builder.h"
#include "compiler/lowering/rules.h"
#include "ops/shape_util.h"

namespace kiln::compiler {
namespace {

// Why outputs are refused.
constexpr char kOnlyAutogradReads[] = "LAPACK's byproduct, which only autograd reads";
constexpr char kVectorsUpToSign[] =
    "each vector is defined only up to sign and the device does not reproduce LAPACK's choice; the values alone "
    "(torch.linalg.svdvals, eigvalsh) are supported";

// Errors when the graph reads output `i` (named `what`), which the device does not compute.
absl::Status RefuseOutput(OpBuilder& b, size_t i, const char* what, const char* why = kOnlyAutogradReads) {
  if (!b.Wants(i)) return absl::OkStatus();
  return b.Error(absl::StrCat("output ", i, " (", what, ") is not computed on the device: ", why));
}

absl::StatusOr<int> Info(OpBuilder& b, int a, int factorization) {
  ops::Attrs attrs;
  attrs.SetInt("factorization", factorization);
  return b.Op("linalg_info", {a}, attrs);
}

// _linalg_det(A) -> (det, LU, pivots).
absl::Status Det(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_RETURN_IF_ERROR(RefuseOutput(b, 1, "LU"));
  KILN_RETURN_IF_ERROR(RefuseOutput(b, 2, "pivots"));
  KILN_ASSIGN_OR_RETURN(auto a, SquareArg(ctx, node, "A"));
  return EmitAndBind(ctx, node, "linalg_det", {a});
}

// _linalg_slogdet(A) -> (sign, logabsdet, LU, pivots).
absl::Status Slogdet(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_RETURN_IF_ERROR(RefuseOutput(b, 2, "LU"));
  KILN_RETURN_IF_ERROR(RefuseOutput(b, 3, "pivots"));
  KILN_ASSIGN_OR_RETURN(auto a, SquareArg(ctx, node, "A"));
  return BindParts(b, ctx, node, "linalg_slogdet", {a}, 2);
}

// linalg_inv_ex(A) -> (inverse, info).
absl::Status InvEx(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto a, SquareArg(ctx, node, "A"));
  KILN_RETURN_IF_ERROR(EmitAndBind(ctx, node, "linalg_inv", {a}));
  if (!b.Wants(1)) return absl::OkStatus();
  KILN_ASSIGN_OR_RETURN(auto info, Info(b, a, 0));
  return ctx.Bind(node, info, 1);
}

// _linalg_solve_ex(A, B, left) -> (result, LU, pivots, info). B is a batch of vectors [..., n] when
// it is 1-D or A's shape without the last dim (PyTorch's linalg_solve_is_vector_rhs); left=False
// solves X A = B as A^T X^T = B^T.
absl::Status SolveEx(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_RETURN_IF_ERROR(RefuseOutput(b, 1, "LU"));
  KILN_RETURN_IF_ERROR(RefuseOutput(b, 2, "pivots"));
  KILN_ASSIGN_OR_RETURN(auto a, SquareArg(ctx, node, "A"));
  KILN_ASSIGN_OR_RETURN(auto rhs, ctx.Tensor(node, "B"));
  KILN_ASSIGN_OR_RETURN(auto left, ctx.Bool(node, "left", true));
  const ops::Shape sa = b.Shape(a), sb = b.Shape(rhs);
  const ops::Shape a_rows(sa.begin(), sa.end() - 1);
  const bool vector = sb.size() == 1 || sb == a_rows;
  if (vector) {
    ops::Shape column = sb;
    column.insert(left ? column.end() : column.end() - 1, 1);
    KILN_ASSIGN_OR_RETURN(rhs, b.Reshape(rhs, column));
  }
  const ops::Shape sr = b.Shape(rhs);
  const int64_t n = sa.back();
  if (sr.size() < 2 || (left ? sr[sr.size() - 2] : sr.back()) != n)
    return b.Error(absl::StrCat("B ", ops::ShapeToString(sb), " does not match A ", ops::ShapeToString(sa), " (",
                                left ? "A X = B" : "X A = B", ")"));
  int coeff = a;
  if (!left) {
    KILN_ASSIGN_OR_RETURN(coeff, Transposed(b, a));
    KILN_ASSIGN_OR_RETURN(rhs, Transposed(b, rhs));
  }
  KILN_RETURN_IF_ERROR(BroadcastBatch(b, &coeff, &rhs));
  KILN_ASSIGN_OR_RETURN(auto x, b.Op("linalg_solve", {coeff, rhs}));
  if (!left) {
    KILN_ASSIGN_OR_RETURN(x, Transposed(b, x));
  }
  if (vector) {
    ops::Shape out = b.Shape(x);
    out.erase(left ? out.end() - 1 : out.end() - 2);
    KILN_ASSIGN_OR_RETURN(x, b.Reshape(x, out));
  }
  KILN_RETURN_IF_ERROR(ctx.Bind(node, x, 0));
  if (!b.Wants(3)) return absl::OkStatus();
  KILN_ASSIGN_OR_RETURN(auto info, Info(b, a, 0));
  return ctx.Bind(node, info, 3);
}

// linalg_cholesky_ex(self, upper) -> (L, info).
absl::Status CholeskyEx(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto a, SquareArg(ctx, node, "self"));
  KILN_ASSIGN_OR_RETURN(auto upper, ctx.Bool(node, "upper", false));
  ops::Attrs attrs;
  attrs.SetInt("upper", upper ? 1 : 0);
  KILN_RETURN_IF_ERROR(EmitAndBind(ctx, node, "linalg_cholesky", {a}, attrs));
  if (!b.Wants(1)) return absl::OkStatus();
  KILN_ASSIGN_OR_RETURN(auto info, Info(b, a, 1));
  return ctx.Bind(node, info, 1);
}

// cholesky_solve(self=B, input2=factor, upper).
absl::Status CholeskySolve(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto rhs, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto factor, SquareArg(ctx, node, "input2"));
  KILN_ASSIGN_OR_RETURN(auto upper, ctx.Bool(node, "upper", false));
  if (b.Shape(rhs).size() < 2)
    return b.Error(absl::StrCat("self must be right-hand sides [..., n, k], got ", ops::ShapeToString(b.Shape(rhs))));
  KILN_RETURN_IF_ERROR(BroadcastBatch(b, &factor, &rhs));
  ops::Attrs attrs;
  attrs.SetInt("upper", upper ? 1 : 0);
  return EmitAndBind(ctx, node, "cholesky_solve", {rhs, factor}, attrs);
}

absl::Status CholeskyInverse(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto factor, SquareArg(ctx, node, "self"));
  KILN_ASSIGN_OR_RETURN(auto upper, ctx.Bool(node, "upper", false));
  ops::Attrs attrs;
  attrs.SetInt("upper", upper ? 1 : 0);
  return EmitAndBind(ctx, node, "cholesky_inverse", {factor}, attrs);
}

// _linalg_svd(A, full_matrices, compute_uv) -> (U, S, Vh): the singular values only.
absl::Status Svd(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_RETURN_IF_ERROR(RefuseOutput(b, 0, "U", kVectorsUpToSign));
  KILN_RETURN_IF_ERROR(RefuseOutput(b, 2, "Vh", kVectorsUpToSign));
  KILN_ASSIGN_OR_RETURN(auto a, ctx.Tensor(node, "A"));
  if (b.Shape(a).size() < 2)
    return b.Error(absl::StrCat("A must be a batch of matrices [..., m, n], got ", ops::ShapeToString(b.Shape(a))));
  KILN_ASSIGN_OR_RETURN(auto s, b.Op("linalg_svdvals", {a}));
  return ctx.Bind(node, s, 1);
}

// _linalg_eigh(A, UPLO, compute_v) -> (eigenvalues, eigenvectors): the eigenvalues only.
absl::Status Eigh(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_RETURN_IF_ERROR(RefuseOutput(b, 1, "eigenvectors", kVectorsUpToSign));
  KILN_ASSIGN_OR_RETURN(auto a, SquareArg(ctx, node, "A"));
  const Argument* uplo = node.Find("UPLO");
  const std::string triangle = uplo && uplo->kind == Argument::Kind::kString ? uplo->s : "L";
  if (triangle != "L" && triangle != "U") return b.Error("UPLO must be 'L' or 'U', got '" + triangle + "'");
  ops::Attrs attrs;
  attrs.SetInt("upper", triangle == "U" ? 1 : 0);
  return EmitAndBind(ctx, node, "linalg_eigvalsh", {a}, attrs);
}

// geqrf(self) -> (a, tau).
absl::Status Geqrf(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto a, MatrixArg(ctx, node, "self"));
  return BindParts(b, ctx, node, "linalg_geqrf", {a}, 2);
}

// linalg_qr(A, mode) -> (Q, R); mode "r" returns an empty Q.
absl::Status Qr(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto a, MatrixArg(ctx, node, "A"));
  const Argument* mode_arg = node.Find("mode");
  const std::string mode = mode_arg && mode_arg->kind == Argument::Kind::kString ? mode_arg->s : "reduced";
  if (mode != "reduced" && mode != "complete" && mode != "r")
    return b.Error("mode must be 'reduced', 'complete' or 'r', got '" + mode + "'");
  for (size_t r : {0, 1}) {
    if (!b.Wants(r)) continue;
    if (r == 0 && mode == "r") {
      KILN_RETURN_IF_ERROR(ctx.Bind(node, b.Constant("q", {0}, {}), 0));
      continue;
    }
    ops::Attrs attrs;
    attrs.SetInt("r", static_cast<int64_t>(r)).SetInt("complete", mode == "complete" ? 1 : 0);
    KILN_ASSIGN_OR_RETURN(auto v, b.Op("linalg_qr", {a}, attrs));
    KILN_RETURN_IF_ERROR(ctx.Bind(node, v, r));
  }
  return absl::OkStatus();
}

absl::Status HouseholderProduct(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto v, ctx.Tensor(node, "input"));
  KILN_ASSIGN_OR_RETURN(auto tau, ctx.Tensor(node, "tau"));
  return EmitAndBind(ctx, node, "householder_product", {v, tau});
}

// linalg_pinv.atol_rtol_tensor(self, atol?, rtol?, hermitian): the tolerances expanded to one per
// matrix; an absent atol is 0, an absent rtol is left to the op (its default depends on atol).
absl::Status Pinv(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto a, MatrixArg(ctx, node, "self"));
  KILN_ASSIGN_OR_RETURN(auto atol, ctx.OptionalTensor(node, "atol"));
  KILN_ASSIGN_OR_RETURN(auto rtol, ctx.OptionalTensor(node, "rtol"));
  KILN_ASSIGN_OR_RETURN(auto hermitian, ctx.Bool(node, "hermitian", false));
  const ops::Shape batch = BatchDims(b.Shape(a));
  std::vector<int> inputs = {a};
  if (rtol && !atol) atol = b.Scalar(0.0);
  for (auto [tol, name] : {std::pair{atol, "atol"}, std::pair{rtol, "rtol"}}) {
    if (!tol) continue;
    ops::Shape broadcast;
    if (std::string err = ops::BroadcastShapes(batch, b.Shape(*tol), &broadcast); !err.empty() || broadcast != batch)
      return b.Error(absl::StrCat(name, " ", ops::ShapeToString(b.Shape(*tol)), " does not broadcast to the batch ",
                                  ops::ShapeToString(batch), " of self ", ops::ShapeToString(b.Shape(a))));
    KILN_ASSIGN_OR_RETURN(auto expanded, b.Expand(*tol, batch));
    inputs.push_back(expanded);
  }
  ops::Attrs attrs;
  attrs.SetInt("hermitian", hermitian ? 1 : 0);
  return EmitAndBind(ctx, node, "linalg_pinv", inputs, attrs);
}

// linalg_lu_factor_ex(A, pivot, check_errors) -> (LU, pivots, info).
absl::Status LuFactorEx(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto a, MatrixArg(ctx, node, "A"));
  KILN_ASSIGN_OR_RETURN(auto pivot, ctx.Bool(node, "pivot", true));
  if (!pivot) return b.Error("LU without pivoting (pivot=False) is not supported; LAPACK's getrf always pivots");
  for (size_t part : {0, 1}) {
    if (!b.Wants(part)) continue;
    ops::Attrs attrs;
    attrs.SetInt("part", static_cast<int64_t>(part));
    KILN_ASSIGN_OR_RETURN(auto v, b.Op("linalg_lu_factor", {a}, attrs));
    KILN_RETURN_IF_ERROR(ctx.Bind(node, v, part));
  }
  if (!b.Wants(2)) return absl::OkStatus();
  KILN_ASSIGN_OR_RETURN(auto info, Info(b, a, 0));
  return ctx.Bind(node, info, 2);
}

// linalg_lu_solve(LU, pivots, B, left, adjoint); left=False solves X A = B as A^T X^T = B^T.
absl::Status LuSolve(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto lu, SquareArg(ctx, node, "LU"));
  KILN_ASSIGN_OR_RETURN(auto pivots, ctx.Tensor(node, "pivots"));
  KILN_ASSIGN_OR_RETURN(auto rhs, MatrixArg(ctx, node, "B"));
  KILN_ASSIGN_OR_RETURN(auto left, ctx.Bool(node, "left", true));
  KILN_ASSIGN_OR_RETURN(auto adjoint, ctx.Bool(node, "adjoint", false));
  const ops::Shape slu = b.Shape(lu);
  if (b.Shape(pivots) != ops::Shape(slu.begin(), slu.end() - 1))
    return b.Error(absl::StrCat("pivots ", ops::ShapeToString(b.Shape(pivots)), " must be [..., n] for LU ",
                                ops::ShapeToString(slu)));
  if (!left) {
    KILN_ASSIGN_OR_RETURN(rhs, Transposed(b, rhs));
    adjoint = !adjoint;
  }
  const int lu_before = lu;
  KILN_RETURN_IF_ERROR(BroadcastBatch(b, &lu, &rhs));
  if (lu != lu_before) {
    ops::Shape piv_shape = b.Shape(lu);
    piv_shape.pop_back();
    KILN_ASSIGN_OR_RETURN(pivots, b.Expand(pivots, piv_shape));
  }
  ops::Attrs attrs;
  attrs.SetInt("adjoint", adjoint ? 1 : 0);
  KILN_ASSIGN_OR_RETURN(auto x, b.Op("linalg_lu_solve", {lu, pivots, rhs}, attrs));
  if (!left) {
    KILN_ASSIGN_OR_RETURN(x, Transposed(b, x));
  }
  return ctx.Bind(node, x);
}

absl::Status CheckErrors(LoweringContext&, const AtenNode&) { return absl::OkStatus(); }

}  // namespace

void AddLinalgFactorRules(RuleTable& rules) {
  Lowered(rules, "aten._linalg_det.default", Det, "linalg_det");
  Lowered(rules, "aten._linalg_slogdet.default", Slogdet, "linalg_slogdet (one per output: sign and log|det|)");
  Decomposed(rules, "aten.linalg_inv_ex.default", InvEx, "linalg_inv, linalg_info");
  Decomposed(rules, "aten._linalg_solve_ex.default", SolveEx, "linalg_solve, linalg_info, permute, expand, reshape");
  Decomposed(rules, "aten.linalg_cholesky_ex.default", CholeskyEx, "linalg_cholesky, linalg_info");
  Decomposed(rules, "aten.cholesky_solve.default", CholeskySolve, "cholesky_solve, expand");
  Lowered(rules, "aten.cholesky_inverse.default", CholeskyInverse, "cholesky_inverse");
  Lowered(rules, "aten._linalg_svd.default", Svd, "linalg_svdvals (the singular values only)");
  Lowered(rules, "aten._linalg_eigh.default", Eigh, "linalg_eigvalsh (the eigenvalues only)");
  Lowered(rules, "aten.geqrf.default", Geqrf, "linalg_geqrf (one per output: a and tau)");
  Lowered(rules, "aten.linalg_qr.default", Qr, "linalg_qr (one per output: Q and R)");
  Lowered(rules, "aten.linalg_householder_product.default", HouseholderProduct, "householder_product");
  Decomposed(rules, "aten.linalg_pinv.atol_rtol_tensor", Pinv, "linalg_pinv, expand");
  Decomposed(rules, "aten.linalg_lu_factor_ex.default", LuFactorEx, "linalg_lu_factor, linalg_info");
  Decomposed(rules, "aten.linalg_lu_solve.default", LuSolve, "linalg_lu_solve, permute, expand");
  Resolved(rules, "aten._linalg_check_errors.default", CheckErrors,
           "nothing: the device cannot raise; a singular or indefinite matrix gives inf/NaN and a nonzero info");
}

}  // namespace kiln::compiler

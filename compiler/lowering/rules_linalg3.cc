// Lowering rules for triangular solves, LU unpacking, the LDL factorization and its solve, ormqr,
// and the matrix exponential and symmetric square root, onto the linalg device ops (ops/linalg.cc).
// left=False solves X A = B as A^T X^T = B^T; a transposed triangle swaps upper and lower.
#include "absl/strings/str_cat.h"
#include "compiler/lowering/linalg_args.h"
#include "compiler/lowering/op_builder.h"
#include "compiler/lowering/rules.h"

namespace kiln::compiler {
namespace {

// X with A X = B (or X A = B) for triangular A, with A and B's batches broadcast first.
absl::StatusOr<int> SolveTriangular(OpBuilder& b, int a, int rhs, bool upper, bool left, bool unitriangular) {
  const ops::Shape sa = b.Shape(a), sb = b.Shape(rhs);
  if ((left ? sb[sb.size() - 2] : sb.back()) != sa.back())
    return b.Error(absl::StrCat("B ", ops::ShapeToString(sb), " does not match A ", ops::ShapeToString(sa), " (",
                                left ? "A X = B" : "X A = B", ")"));
  if (!left) {
    KILN_ASSIGN_OR_RETURN(a, Transposed(b, a));
    KILN_ASSIGN_OR_RETURN(rhs, Transposed(b, rhs));
    upper = !upper;
  }
  KILN_RETURN_IF_ERROR(BroadcastBatch(b, &a, &rhs));
  ops::Attrs attrs;
  attrs.SetInt("upper", upper ? 1 : 0).SetInt("unitriangular", unitriangular ? 1 : 0);
  KILN_ASSIGN_OR_RETURN(auto x, b.Op("triangular_solve", {a, rhs}, attrs));
  if (left) return x;
  return Transposed(b, x);
}

// linalg_solve_triangular(self=A, B, upper, left, unitriangular).
absl::Status LinalgSolveTriangular(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto a, SquareArg(ctx, node, "self"));
  KILN_ASSIGN_OR_RETURN(auto rhs, MatrixArg(ctx, node, "B"));
  KILN_ASSIGN_OR_RETURN(auto upper, ctx.Bool(node, "upper", false));
  KILN_ASSIGN_OR_RETURN(auto left, ctx.Bool(node, "left", true));
  KILN_ASSIGN_OR_RETURN(auto unitriangular, ctx.Bool(node, "unitriangular", false));
  KILN_ASSIGN_OR_RETURN(auto x, SolveTriangular(b, a, rhs, upper, left, unitriangular));
  return ctx.Bind(node, x);
}

// triangular_solve(self=b, A, upper, transpose, unitriangular) -> (solution, cloned_coefficient):
// the coefficient comes back as A broadcast to the common batch.
absl::Status TriangularSolve(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto rhs, MatrixArg(ctx, node, "self"));
  KILN_ASSIGN_OR_RETURN(auto a, SquareArg(ctx, node, "A"));
  KILN_ASSIGN_OR_RETURN(auto upper, ctx.Bool(node, "upper", true));
  KILN_ASSIGN_OR_RETURN(auto transpose, ctx.Bool(node, "transpose", false));
  KILN_ASSIGN_OR_RETURN(auto unitriangular, ctx.Bool(node, "unitriangular", false));
  if (b.Shape(rhs)[b.Shape(rhs).size() - 2] != b.Shape(a).back())
    return b.Error(absl::StrCat("self ", ops::ShapeToString(b.Shape(rhs)), " does not match A ",
                                ops::ShapeToString(b.Shape(a)), " (A X = self)"));
  KILN_RETURN_IF_ERROR(BroadcastBatch(b, &a, &rhs));
  int coeff = a;
  if (transpose) {
    KILN_ASSIGN_OR_RETURN(coeff, Transposed(b, a));
  }
  KILN_ASSIGN_OR_RETURN(auto x, SolveTriangular(b, coeff, rhs, transpose ? !upper : upper, true, unitriangular));
  KILN_RETURN_IF_ERROR(ctx.Bind(node, x, 0));
  return b.Wants(1) ? ctx.Bind(node, a, 1) : absl::OkStatus();
}

// Binds the wanted parts (P, L, U) of A = P L U from getrf's compact LU and pivots; a part left out
// (unpack_pivots / unpack_data false) is an empty tensor, as ATen returns.
absl::Status BindLuParts(OpBuilder& b, LoweringContext& ctx, const AtenNode& node, int lu, int pivots,
                         bool with_p, bool with_lu) {
  for (size_t part : {0, 1, 2}) {
    if (!b.Wants(part)) continue;
    if (part == 0 ? !with_p : !with_lu) {
      KILN_RETURN_IF_ERROR(ctx.Bind(node, b.Constant(part == 0 ? "p" : part == 1 ? "l" : "u", {0}, {}), part));
      continue;
    }
    ops::Attrs attrs;
    attrs.SetInt("part", static_cast<int64_t>(part));
    KILN_ASSIGN_OR_RETURN(auto v, b.Op("lu_unpack", {lu, pivots}, attrs));
    KILN_RETURN_IF_ERROR(ctx.Bind(node, v, part));
  }
  return absl::OkStatus();
}

// lu_unpack(LU_data, LU_pivots, unpack_data, unpack_pivots) -> (P, L, U).
absl::Status LuUnpack(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto lu, MatrixArg(ctx, node, "LU_data"));
  KILN_ASSIGN_OR_RETURN(auto pivots, ctx.Tensor(node, "LU_pivots"));
  KILN_ASSIGN_OR_RETURN(auto unpack_data, ctx.Bool(node, "unpack_data", true));
  KILN_ASSIGN_OR_RETURN(auto unpack_pivots, ctx.Bool(node, "unpack_pivots", true));
  return BindLuParts(b, ctx, node, lu, pivots, unpack_pivots, unpack_data);
}

// linalg_lu(A, pivot) -> (P, L, U): getrf, then unpacked.
absl::Status LinalgLu(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto a, MatrixArg(ctx, node, "A"));
  KILN_ASSIGN_OR_RETURN(auto pivot, ctx.Bool(node, "pivot", true));
  if (!pivot) return b.Error("LU without pivoting (pivot=False) is not supported; LAPACK's getrf always pivots");
  ops::Attrs lu_attrs, pivots_attrs;
  lu_attrs.SetInt("part", 0);
  pivots_attrs.SetInt("part", 1);
  KILN_ASSIGN_OR_RETURN(auto lu, b.Op("linalg_lu_factor", {a}, lu_attrs));
  KILN_ASSIGN_OR_RETURN(auto pivots, b.Op("linalg_lu_factor", {a}, pivots_attrs));
  return BindLuParts(b, ctx, node, lu, pivots, true, true);
}

// linalg_ldl_factor_ex(self, hermitian, check_errors) -> (LD, pivots, info). For real matrices
// hermitian and symmetric are the same factorization.
absl::Status LdlFactorEx(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto a, SquareArg(ctx, node, "self"));
  return BindParts(b, ctx, node, "linalg_ldl_factor", {a}, 3);
}

// linalg_ldl_solve(LD, pivots, B, hermitian).
absl::Status LdlSolve(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto ld, SquareArg(ctx, node, "LD"));
  KILN_ASSIGN_OR_RETURN(auto pivots, ctx.Tensor(node, "pivots"));
  KILN_ASSIGN_OR_RETURN(auto rhs, MatrixArg(ctx, node, "B"));
  const ops::Shape sld = b.Shape(ld);
  if (b.Shape(pivots) != ops::Shape(sld.begin(), sld.end() - 1))
    return b.Error(absl::StrCat("pivots ", ops::ShapeToString(b.Shape(pivots)), " must be [..., n] for LD ",
                                ops::ShapeToString(sld)));
  const int ld_before = ld;
  KILN_RETURN_IF_ERROR(BroadcastBatch(b, &ld, &rhs));
  if (ld != ld_before) {
    ops::Shape pivots_shape = b.Shape(ld);
    pivots_shape.pop_back();
    KILN_ASSIGN_OR_RETURN(pivots, b.Expand(pivots, pivots_shape));
  }
  return EmitAndBind(ctx, node, "linalg_ldl_solve", {ld, pivots, rhs});
}

template <const char* kOp>
absl::Status PerSquareMatrix(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto a, SquareArg(ctx, node, "self"));
  return EmitAndBind(ctx, node, kOp, {a});
}
constexpr char kMatrixExp[] = "linalg_matrix_exp";
constexpr char kMatrixSqrth[] = "linalg_matrix_sqrth";

// ormqr(self=reflectors, input2=tau, input3=other, left, transpose).
absl::Status Ormqr(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto v, MatrixArg(ctx, node, "self"));
  KILN_ASSIGN_OR_RETURN(auto tau, ctx.Tensor(node, "input2"));
  KILN_ASSIGN_OR_RETURN(auto other, MatrixArg(ctx, node, "input3"));
  KILN_ASSIGN_OR_RETURN(auto left, ctx.Bool(node, "left", true));
  KILN_ASSIGN_OR_RETURN(auto transpose, ctx.Bool(node, "transpose", false));
  ops::Attrs attrs;
  attrs.SetInt("left", left ? 1 : 0).SetInt("transpose", transpose ? 1 : 0);
  return EmitAndBind(ctx, node, "ormqr", {v, tau, other}, attrs);
}

}  // namespace

void AddLinalgSolveRules(RuleTable& rules) {
  Decomposed(rules, "aten.linalg_solve_triangular.default", LinalgSolveTriangular,
             "triangular_solve, expand (permute where left=False)");
  Decomposed(rules, "aten.triangular_solve.default", TriangularSolve,
             "triangular_solve, expand (permute where transpose=True)");
  Lowered(rules, "aten.lu_unpack.default", LuUnpack, "lu_unpack (one per output: P; L; U)");
  Decomposed(rules, "aten.linalg_lu.default", LinalgLu, "linalg_lu_factor, lu_unpack");
  Lowered(rules, "aten.linalg_ldl_factor_ex.default", LdlFactorEx, "linalg_ldl_factor (one per output: LD; pivots; info)");
  Decomposed(rules, "aten.linalg_ldl_solve.default", LdlSolve, "linalg_ldl_solve, expand");
  Lowered(rules, "aten.linalg_matrix_exp.default", PerSquareMatrix<kMatrixExp>, "linalg_matrix_exp");
  Lowered(rules, "aten.linalg_matrix_sqrth.default", PerSquareMatrix<kMatrixSqrth>, "linalg_matrix_sqrth");
  Lowered(rules, "aten.ormqr.default", Ormqr, "ormqr");
}

}  // namespace kiln::compiler

// Lowering rules for the special functions (ops/special_math.cc): most ATen overloads here are one
// device op applied to one or two operands, so they share one table-driven rule; polygamma (an int
// order), ldexp and frexp (decompositions) have their own.
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "compiler/lowering/rules.h"

namespace kiln::compiler {
namespace {

// An ATen overload that is the device op `op` of its tensor-or-scalar operands `a` (and `b`).
struct Mapping {
  std::string_view aten;
  const char* op;
  const char* a;
  const char* b = nullptr;
};

constexpr Mapping kUnary[] = {
    {"aten.lgamma.default", "lgamma", "self"},
    {"aten.digamma.default", "digamma", "self"},
    {"aten.erfc.default", "erfc", "self"},
    {"aten.erfinv.default", "erfinv", "self"},
    {"aten.exp2.default", "exp2", "self"},
    {"aten.special_erfcx.default", "erfcx", "self"},
    {"aten.special_ndtri.default", "ndtri", "self"},
    // torch.special.modified_bessel_i0/i1 are i0 and special_i1 again.
    {"aten.i0.default", "i0", "self"},
    {"aten.special_modified_bessel_i0.default", "i0", "self"},
    {"aten.special_i0e.default", "i0e", "self"},
    {"aten.special_i1.default", "i1", "self"},
    {"aten.special_modified_bessel_i1.default", "i1", "self"},
    {"aten.special_i1e.default", "i1e", "self"},
    {"aten.special_bessel_j0.default", "bessel_j0", "self"},
    {"aten.special_bessel_j1.default", "bessel_j1", "self"},
    {"aten.special_bessel_y0.default", "bessel_y0", "self"},
    {"aten.special_bessel_y1.default", "bessel_y1", "self"},
    {"aten.special_modified_bessel_k0.default", "modified_bessel_k0", "self"},
    {"aten.special_modified_bessel_k1.default", "modified_bessel_k1", "self"},
    {"aten.special_scaled_modified_bessel_k0.default", "scaled_modified_bessel_k0", "x"},
    {"aten.special_scaled_modified_bessel_k1.default", "scaled_modified_bessel_k1", "x"},
    {"aten.special_spherical_bessel_j0.default", "spherical_bessel_j0", "x"},
    {"aten.special_airy_ai.default", "airy_ai", "x"},
    {"aten.signbit.default", "signbit", "self"},
    // Real inputs only: Kiln has no complex dtype, so there is no other kind to meet here.
    {"aten.angle.default", "angle", "self"},
};

constexpr Mapping kBinary[] = {
    {"aten.special_zeta.default", "zeta", "self", "other"},
    {"aten.special_zeta.self_scalar", "zeta", "self", "other"},
    {"aten.special_zeta.other_scalar", "zeta", "self", "other"},
    {"aten.igamma.default", "igamma", "self", "other"},
    {"aten.igammac.default", "igammac", "self", "other"},
    {"aten.copysign.Tensor", "copysign", "self", "other"},
    {"aten.copysign.Scalar", "copysign", "self", "other"},
    {"aten.fmax.default", "fmax", "self", "other"},
    {"aten.fmin.default", "fmin", "self", "other"},
    {"aten.hypot.default", "hypot", "self", "other"},
    {"aten.nextafter.default", "nextafter", "self", "other"},
};

// The orthogonal polynomials: (x, n), each of them a tensor or a scalar (x_scalar, n_scalar).
constexpr std::string_view kPolynomials[] = {
    "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
    "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
    "legendre_polynomial_p"};

// Every Mapping, by ATen overload (the polynomials' spelled out), built once.
const std::map<std::string, Mapping>& Mappings() {
  static const auto* table = [] {
    auto* t = new std::map<std::string, Mapping>;
    for (const Mapping& m : kUnary) (*t)[std::string(m.aten)] = m;
    for (const Mapping& m : kBinary) (*t)[std::string(m.aten)] = m;
    for (std::string_view p : kPolynomials)
      for (const char* overload : {"default", "x_scalar", "n_scalar"}) {
        const std::string aten = "aten.special_" + std::string(p) + "." + overload;
        // The op name is a view into kPolynomials, which are NUL-terminated string literals.
        (*t)[aten] = Mapping{"", p.data(), "x", "n"};
      }
    return t;
  }();
  return *table;
}

absl::Status LowerMapped(LoweringContext& ctx, const AtenNode& node) {
  const Mapping& m = Mappings().at(ShortTarget(node.target));
  std::vector<int> operands;
  KILN_ASSIGN_OR_RETURN(auto a, ctx.TensorOrScalar(node, m.a));
  operands.push_back(a);
  if (m.b) {
    KILN_ASSIGN_OR_RETURN(auto b, ctx.TensorOrScalar(node, m.b));
    operands.push_back(b);
  }
  return EmitAndBind(ctx, node, m.op, std::move(operands));
}

// polygamma(n, self): the order is a Python int, the device op's attribute.
absl::Status Polygamma(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto n, ctx.Int(node, "n"));
  if (n < 0) return ctx.NodeError(node, absl::StrCat("polygamma needs an order n >= 0, got ", n));
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  return EmitAndBind(ctx, node, "polygamma", {x}, ops::Attrs().SetInt("n", n));
}

// ldexp(self, other) is self * 2^other, as ATen computes it (mul by pow(2, other)).
absl::Status Ldexp(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto e, ctx.TensorOrScalar(node, "other"));
  KILN_ASSIGN_OR_RETURN(auto scale, ctx.Emit(node, "exp2", {e}));
  return EmitAndBind(ctx, node, "mul", {x, scale});
}

// frexp(self) -> (mantissa, exponent): x = mantissa * 2^exponent with 0.5 <= |mantissa| < 1, and
// (x, 0) for 0, inf and NaN. The exponent is floor(log2|x|) + 1, corrected by one where log2 rounded
// across a power of two; the scale 2^-exponent is applied in two halves so that neither overflows for
// the largest and the subnormal x, which keeps both products exact.
absl::Status Frexp(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  const int zero = ctx.ScalarConstant(0.0), one = ctx.ScalarConstant(1.0), two = ctx.ScalarConstant(2.0);
  const int half = ctx.ScalarConstant(0.5), inf = ctx.ScalarConstant(std::numeric_limits<double>::infinity());
  KILN_ASSIGN_OR_RETURN(auto mag, ctx.Emit(node, "abs", {x}));
  KILN_ASSIGN_OR_RETURN(auto nonzero, ctx.Emit(node, "lt", {zero, mag}));
  KILN_ASSIGN_OR_RETURN(auto finite, ctx.Emit(node, "lt", {mag, inf}));
  KILN_ASSIGN_OR_RETURN(auto normal, ctx.Emit(node, "logical_and", {nonzero, finite}));  // NaN: neither
  KILN_ASSIGN_OR_RETURN(auto safe, ctx.Emit(node, "where", {normal, mag, one}));
  KILN_ASSIGN_OR_RETURN(auto log, ctx.Emit(node, "log2", {safe}));
  KILN_ASSIGN_OR_RETURN(auto floor, ctx.Emit(node, "floor", {log}));
  KILN_ASSIGN_OR_RETURN(auto e, ctx.Emit(node, "add", {floor, one}));
  KILN_ASSIGN_OR_RETURN(auto neg, ctx.Emit(node, "neg", {e}));
  KILN_ASSIGN_OR_RETURN(auto neg_half, ctx.Emit(node, "mul", {neg, half}));
  KILN_ASSIGN_OR_RETURN(auto first, ctx.Emit(node, "floor", {neg_half}));
  KILN_ASSIGN_OR_RETURN(auto second, ctx.Emit(node, "sub", {neg, first}));
  KILN_ASSIGN_OR_RETURN(auto scale1, ctx.Emit(node, "exp2", {first}));
  KILN_ASSIGN_OR_RETURN(auto scale2, ctx.Emit(node, "exp2", {second}));
  KILN_ASSIGN_OR_RETURN(auto m, ctx.Emit(node, "mul", {safe, scale1}));
  KILN_ASSIGN_OR_RETURN(m, ctx.Emit(node, "mul", {m, scale2}));
  KILN_ASSIGN_OR_RETURN(auto too_big, ctx.Emit(node, "le", {one, m}));
  KILN_ASSIGN_OR_RETURN(auto too_small, ctx.Emit(node, "lt", {m, half}));
  KILN_ASSIGN_OR_RETURN(auto down, ctx.Emit(node, "mul", {m, half}));
  KILN_ASSIGN_OR_RETURN(auto up, ctx.Emit(node, "mul", {m, two}));
  KILN_ASSIGN_OR_RETURN(m, ctx.Emit(node, "where", {too_big, down, m}));
  KILN_ASSIGN_OR_RETURN(m, ctx.Emit(node, "where", {too_small, up, m}));
  KILN_ASSIGN_OR_RETURN(e, ctx.Emit(node, "add", {e, too_big}));
  KILN_ASSIGN_OR_RETURN(e, ctx.Emit(node, "sub", {e, too_small}));
  if (node.outputs.size() > 1 && !node.outputs[1].empty()) {
    KILN_ASSIGN_OR_RETURN(auto exponent, ctx.Emit(node, "where", {normal, e, zero}));
    KILN_RETURN_IF_ERROR(ctx.Bind(node, exponent, 1));
  }
  if (node.outputs.empty() || node.outputs[0].empty()) return absl::OkStatus();
  KILN_ASSIGN_OR_RETURN(auto sign, ctx.Emit(node, "copysign", {m, x}));
  return EmitAndBind(ctx, node, "where", {normal, sign, x});
}

}  // namespace

void AddSpecialRules(RuleTable& rules) {
  for (const auto& [aten, m] : Mappings()) Lowered(rules, aten, LowerMapped, m.op);
  Lowered(rules, "aten.polygamma.default", Polygamma, "polygamma");
  Decomposed(rules, "aten.ldexp.Tensor", Ldexp, "exp2, mul");
  Decomposed(rules, "aten.frexp.Tensor", Frexp,
             "abs, lt, logical_and, where, log2, floor, add, neg, mul, sub, exp2 (2^-exponent in two halves), mul, le, "
             "where (a correction by one), copysign, where (zeros and non-finite values as they are)");
}

}  // namespace kiln::compiler

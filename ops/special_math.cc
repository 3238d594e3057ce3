// Special mathematical functions applied per element (their kernels: special_math_kernels.cc): the
// gamma family, error-function relatives, Bessel and Airy functions, the orthogonal polynomials of
// torch.special, and the IEEE helpers (copysign, fmin, nextafter, ...). Each follows the definition
// PyTorch gives it, including its values outside the mathematical domain (NaN, +-inf, 0), and
// takes fp32 like every device op: integer and bool inputs arrive converted.
#include <string>
#include <string_view>
#include <vector>

#include "ops/elementwise_defs.h"
#include "ops/op_families.h"

namespace kiln::ops {
namespace {

struct SpecialSpec {
  std::string_view name;
  std::string_view summary;
  std::string_view first = "", second = "";  // a binary op's operand names, when not "a", "b"
};

constexpr SpecialSpec kUnary[] = {
    {"lgamma", "log(abs(Gamma(x))); +inf at 0 and the negative integers"},
    {"digamma", "psi(x) = d/dx log Gamma(x); -inf at +0, +inf at -0, NaN at the negative integers"},
    {"erfc", "Complementary error function 1 - erf(x), accurate where erf(x) is near 1"},
    {"erfcx", "Scaled complementary error function e^(x^2) erfc(x); +inf for x below about -9.4"},
    {"erfinv", "Inverse error function on [-1, 1] (+-inf at +-1, NaN outside)"},
    {"ndtri", "Inverse of the standard normal CDF on [0, 1] (+-inf at 1 and 0, NaN outside)"},
    {"exp2", "2^x"},
    {"i0", "Modified Bessel function of the first kind, order 0: I0(x)"},
    {"i0e", "Exponentially scaled I0: e^-abs(x) I0(x)"},
    {"i1", "Modified Bessel function of the first kind, order 1: I1(x)"},
    {"i1e", "Exponentially scaled I1: e^-abs(x) I1(x)"},
    {"bessel_j0", "Bessel function of the first kind, order 0: J0(x)"},
    {"bessel_j1", "Bessel function of the first kind, order 1: J1(x)"},
    {"bessel_y0", "Bessel function of the second kind, order 0: Y0(x) for x > 0 (-inf at 0, NaN below)"},
    {"bessel_y1", "Bessel function of the second kind, order 1: Y1(x) for x > 0 (-inf at 0, NaN below)"},
    {"modified_bessel_k0", "Modified Bessel function of the second kind, order 0: K0(x), x > 0 (+inf at 0, NaN below)"},
    {"modified_bessel_k1", "Modified Bessel function of the second kind, order 1: K1(x), x > 0 (+inf at 0, NaN below)"},
    {"scaled_modified_bessel_k0", "Exponentially scaled K0: e^x K0(x) for x > 0 (+inf at 0, NaN below)"},
    {"scaled_modified_bessel_k1", "Exponentially scaled K1: e^x K1(x) for x > 0 (+inf at 0, NaN below)"},
    {"spherical_bessel_j0", "Spherical Bessel function of the first kind, order 0: sin(x) / x (1 at 0, 0 at +-inf)"},
    {"airy_ai", "Airy function Ai(x)"},
    {"signbit", "1 where the sign bit of x is set (-0.0 and negative NaN included), else 0"},
    {"angle", "Argument of a real number: pi for x < 0, 0 for x >= 0, NaN for NaN"},
};

// The polynomials take their degree n per element, as a float: PyTorch truncates it to an integer,
// and n < 0, NaN or +-inf gives 0.
constexpr SpecialSpec kBinary[] = {
    {"zeta", "Hurwitz zeta function zeta(x, q) = sum over k >= 0 of (k + q)^-x, for x > 1 (+inf at x = 1, NaN below)",
     "x", "q"},
    {"igamma", "Regularized lower incomplete gamma P(a, x) for a, x >= 0", "a", "x"},
    {"igammac", "Regularized upper incomplete gamma Q(a, x) = 1 - P(a, x) for a, x >= 0", "a", "x"},
    {"chebyshev_polynomial_t", "Chebyshev polynomial of the first kind T_n(x); n truncated, 0 for n < 0", "x", "n"},
    {"chebyshev_polynomial_u", "Chebyshev polynomial of the second kind U_n(x); n truncated, 0 for n < 0", "x", "n"},
    {"chebyshev_polynomial_v", "Chebyshev polynomial of the third kind V_n(x); n truncated, 0 for n < 0", "x", "n"},
    {"chebyshev_polynomial_w", "Chebyshev polynomial of the fourth kind W_n(x); n truncated, 0 for n < 0", "x", "n"},
    {"shifted_chebyshev_polynomial_t", "Shifted Chebyshev polynomial T_n(2x - 1); n truncated, 0 for n < 0", "x", "n"},
    {"shifted_chebyshev_polynomial_u", "Shifted Chebyshev polynomial U_n(2x - 1); n truncated, 0 for n < 0", "x", "n"},
    {"shifted_chebyshev_polynomial_v", "Shifted Chebyshev polynomial V_n(2x - 1); n truncated, 0 for n < 0", "x", "n"},
    {"shifted_chebyshev_polynomial_w", "Shifted Chebyshev polynomial W_n(2x - 1); n truncated, 0 for n < 0", "x", "n"},
    {"hermite_polynomial_h",
     "Physicists' Hermite polynomial H_n(x); n truncated, 0 for n < 0, NaN for n > 128 (PyTorch's float32 limit)",
     "x", "n"},
    {"hermite_polynomial_he",
     "Probabilists' Hermite polynomial He_n(x); n truncated, 0 for n < 0, NaN for n > 128 (PyTorch's float32 limit)",
     "x", "n"},
    {"laguerre_polynomial_l",
     "Laguerre polynomial L_n(x); n truncated, 0 for n < 0, NaN for n > 2^16 (bounds the recurrence's steps)",
     "x", "n"},
    {"legendre_polynomial_p",
     "Legendre polynomial P_n(x); n truncated, 0 for n < 0, NaN for n > 2^16 (bounds the recurrence's steps)",
     "x", "n"},
    {"copysign", "abs(a) with the sign of b (its sign bit: -0.0 counts as negative), numpy broadcasting"},
    {"fmax", "Elementwise max ignoring NaN (NaN only where both are), numpy broadcasting"},
    {"fmin", "Elementwise min ignoring NaN (NaN only where both are), numpy broadcasting"},
    {"hypot", "sqrt(a^2 + b^2) without intermediate overflow, numpy broadcasting"},
    {"nextafter", "The next float32 after a in the direction of b, numpy broadcasting"},
};

// polygamma's order is an attribute: ATen takes it as a Python int, and PyTorch rejects n < 0.
std::string InferPolygamma(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  if (attrs.Int("n") < 0) return "attribute 'n' must be >= 0, got " + std::to_string(attrs.Int("n"));
  *out = inputs[0];
  return "";
}

}  // namespace

std::vector<OpDef> SpecialMathOps() {
  std::vector<OpDef> ops;
  for (const SpecialSpec& s : kUnary) ops.push_back(UnaryOpDef(s.name, s.summary));
  for (const SpecialSpec& s : kBinary) {
    OpDef def = BinaryOpDef(s.name, s.summary);
    if (!s.first.empty()) def.inputs = {s.first, s.second};
    ops.push_back(std::move(def));
  }
  OpDef polygamma = UnaryOpDef("polygamma",
                               "n-th derivative of digamma, psi^(n)(x); n = 0 is digamma; at the poles x = 0, -1, "
                               "-2, ... +inf for odd n, -inf for even n >= 2");
  polygamma.attrs = {{"n", AttrKind::kInt, "Order of the derivative, >= 0"}};
  polygamma.infer_shape = InferPolygamma;
  ops.push_back(std::move(polygamma));
  return ops;
}

}  // namespace kiln::ops

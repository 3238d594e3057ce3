// The special-function kernels (ops/special_math_kernels.cc) against ATen's float32 functions, over
// each function's domain and at its edges: poles, the domain's ends, +-0, +-inf, NaN, and arguments
// large enough to reach the asymptotic branches.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "ops/ops_test_util.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

at::Tensor Values(const std::vector<float>& v) { return at::tensor(v, at::kFloat); }

// AllClose, naming the first mismatching elements with their inputs (broadcast to the output).
::testing::AssertionResult Close(const at::Tensor& got, const at::Tensor& want, const std::vector<at::Tensor>& inputs,
                                 double rtol, double atol) {
  ::testing::AssertionResult r = AllClose(got, want, rtol, atol);
  if (r || !got.defined() || got.sizes() != want.sizes()) return r;
  const at::Tensor w = want.to(at::kFloat);
  const at::Tensor bad = at::logical_not(at::isclose(got, w, rtol, atol, /*equal_nan=*/true)).flatten();
  const at::Tensor idx = bad.nonzero().flatten();
  for (int64_t i = 0; i < std::min<int64_t>(idx.numel(), 5); ++i) {
    const int64_t k = idx[i].item<int64_t>();
    r << "\n  at " << k << ": inputs (";
    for (const at::Tensor& in : inputs) r << in.to(at::kFloat).expand(got.sizes()).flatten()[k].item<float>() << " ";
    r << ") got " << got.flatten()[k].item<float>() << ", want " << w.flatten()[k].item<float>();
  }
  return r;
}

using UnaryRef = std::function<at::Tensor(const at::Tensor&)>;
using BinaryRef = std::function<at::Tensor(const at::Tensor&, const at::Tensor&)>;

struct UnaryCase {
  const char* name;
  UnaryRef ref;
  double lo, hi;             // random inputs uniform in [lo, hi)
  std::vector<float> edges;  // exact inputs checked as well
  double rtol = 1e-4, atol = 1e-5;
};

const bool kUnaryCovered = Covers({"lgamma", "digamma", "erfc", "erfcx", "erfinv", "ndtri", "exp2", "i0", "i0e",
                                   "i1", "i1e", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1",
                                   "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0",
                                   "scaled_modified_bessel_k1", "spherical_bessel_j0", "airy_ai", "signbit",
                                   "angle"});

TEST(SpecialMath, UnaryMatchesATen) {
  const std::vector<float> kCommon = {0.0f, -0.0f, 1.0f, -1.0f, kInf, -kInf, kNaN};
  const std::vector<UnaryCase> cases = {
      {"lgamma", [](const at::Tensor& x) { return at::lgamma(x); }, -10, 30, {-2, -1.5f, 2, 1e30f, -1e30f}},
      // Near its root (1.4616) digamma's float32 value is only good to absolute 1e-6.
      {"digamma", [](const at::Tensor& x) { return at::digamma(x); }, -10, 30, {-3, -2.5f, 1e20f}, 1e-4, 1e-5},
      {"erfc", [](const at::Tensor& x) { return at::erfc(x); }, -5, 12, {10, 30}},
      {"erfcx", [](const at::Tensor& x) { return at::special_erfcx(x); }, -9, 60, {-9.5f, -30, 24.9f, 25, 1e3f, 1e30f}},
      {"erfinv", [](const at::Tensor& x) { return at::erfinv(x); }, -1, 1, {0.999999f, -0.999999f, 1.5f, -2}},
      {"ndtri", [](const at::Tensor& x) { return at::special_ndtri(x); }, 0, 1, {1e-30f, 1e-6f, 0.5f, 0.999f, 2, -0.5f}},
      {"exp2", [](const at::Tensor& x) { return at::exp2(x); }, -30, 30, {127, 128, -149, -150, 0.5f}},
      // Not (88.7, 91.9]: see SpecialMath.DomainEdges.
      {"i0", [](const at::Tensor& x) { return at::i0(x); }, -80, 80, {88, 95, -100, 1e4f}},
      {"i0e", [](const at::Tensor& x) { return at::special_i0e(x); }, -100, 100, {699, 701, -800, 1e6f, -1e30f}},
      {"i1", [](const at::Tensor& x) { return at::special_i1(x); }, -80, 80, {88, 95, -100, 1e4f}},
      {"i1e", [](const at::Tensor& x) { return at::special_i1e(x); }, -100, 100, {699, 701, -800, 1e6f, -1e30f}},
      // Near the zeros of the oscillating functions the relative error of float32 is unbounded.
      {"bessel_j0", [](const at::Tensor& x) { return at::special_bessel_j0(x); }, -30, 30, {2.4048f, 1e4f}, 1e-3, 1e-5},
      {"bessel_j1", [](const at::Tensor& x) { return at::special_bessel_j1(x); }, -30, 30, {3.8317f, -1e4f}, 1e-3, 1e-5},
      {"bessel_y0", [](const at::Tensor& x) { return at::special_bessel_y0(x); }, -1, 30, {1e-20f, 0.8936f, 1e4f}, 1e-3, 1e-5},
      {"bessel_y1", [](const at::Tensor& x) { return at::special_bessel_y1(x); }, -1, 30, {1e-20f, 2.1971f, 1e4f}, 1e-3, 1e-5},
      {"modified_bessel_k0", [](const at::Tensor& x) { return at::special_modified_bessel_k0(x); }, -1, 80, {1e-30f, 1e3f}},
      {"modified_bessel_k1", [](const at::Tensor& x) { return at::special_modified_bessel_k1(x); }, -1, 80, {1e-30f, 1e3f}},
      {"scaled_modified_bessel_k0", [](const at::Tensor& x) { return at::special_scaled_modified_bessel_k0(x); },
       -1, 100, {1e-30f, 699, 701, 1e6f, 1e30f}},
      {"scaled_modified_bessel_k1", [](const at::Tensor& x) { return at::special_scaled_modified_bessel_k1(x); },
       -1, 100, {1e-30f, 699, 701, 1e6f, 1e30f}},
      {"spherical_bessel_j0", [](const at::Tensor& x) { return at::special_spherical_bessel_j0(x); }, -30, 30,
       {1e-20f, 0.49f, 0.5f, 3.14159265f}, 1e-4, 1e-6},
      {"airy_ai", [](const at::Tensor& x) { return at::special_airy_ai(x); }, -20, 20, {-2.3381f, 100, 110, -50},
       1e-3, 1e-5},
      {"signbit", [](const at::Tensor& x) { return at::signbit(x); }, -5, 5, {-kNaN}},
      {"angle", [](const at::Tensor& x) { return at::angle(x); }, -5, 5, {}},
  };
  at::manual_seed(11);
  for (const UnaryCase& c : cases) {
    SCOPED_TRACE(c.name);
    for (const Shape& shape : {Shape{5, 37}, Shape{}, Shape{0, 3}}) {
      SCOPED_TRACE(ShapeToString(shape));
      const at::Tensor x = Uniform(shape, c.lo, c.hi);
      EXPECT_TRUE(Close(RunOp(c.name, {x}), c.ref(x), {x}, c.rtol, c.atol));
    }
    std::vector<float> edges = kCommon;
    edges.insert(edges.end(), c.edges.begin(), c.edges.end());
    const at::Tensor x = Values(edges);
    SCOPED_TRACE("edges " + ::testing::PrintToString(edges));
    EXPECT_TRUE(Close(RunOp(c.name, {x}), c.ref(x), {x}, c.rtol, c.atol));
  }
}

// PyTorch's conventions at the poles and outside the domains, spelled out (AllClose above checks
// them against ATen too; these say what they are).
TEST(SpecialMath, DomainEdges) {
  auto one = [](const char* op, float x) { return RunOp(op, {Values({x})})[0].item<float>(); };
  EXPECT_EQ(one("digamma", 0.0f), -kInf);
  EXPECT_EQ(one("digamma", -0.0f), kInf);
  EXPECT_TRUE(std::isnan(one("digamma", -2.0f)));
  EXPECT_EQ(one("lgamma", -2.0f), kInf);
  EXPECT_EQ(one("erfinv", 1.0f), kInf);
  EXPECT_TRUE(std::isnan(one("erfinv", 1.5f)));
  EXPECT_EQ(one("ndtri", 0.0f), -kInf);
  EXPECT_EQ(one("bessel_y0", 0.0f), -kInf);
  EXPECT_TRUE(std::isnan(one("bessel_y1", -1.0f)));
  EXPECT_EQ(one("modified_bessel_k0", 0.0f), kInf);
  EXPECT_TRUE(std::isnan(one("scaled_modified_bessel_k1", -1.0f)));
  EXPECT_EQ(one("spherical_bessel_j0", 0.0f), 1.0f);
  EXPECT_EQ(one("erfcx", -30.0f), kInf);
  EXPECT_EQ(one("signbit", -0.0f), 1.0f);
  EXPECT_FLOAT_EQ(one("angle", -2.0f), static_cast<float>(M_PI));
  // ATen's float32 I0 and I1 overflow in e^|x| from |x| = 88.73, though the functions stay finite up
  // to 91.9: the kernels return the finite value there.
  EXPECT_EQ(at::i0(Values({90.0f}))[0].item<float>(), kInf);
  EXPECT_NEAR(one("i0", 90.0f) / 5.1392383e37f, 1.0f, 1e-5);
  EXPECT_NEAR(one("i1", -90.0f) / -5.1106068e37f, 1.0f, 1e-5);
  EXPECT_EQ(one("i0", 92.0f), kInf);
}

const bool kPolygammaCovered = Covers({"polygamma"});

TEST(SpecialMath, PolygammaMatchesATen) {
  at::manual_seed(12);
  const at::Tensor random = Uniform({4, 33}, -6, 20);
  const at::Tensor edges = Values({0.0f, -0.0f, -1, -2, -2.5f, 1, 0.5f, 1e-3f, 1e4f, kInf, -kInf, kNaN});
  for (int64_t n : {0, 1, 2, 3, 4, 7}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    for (const at::Tensor& x : {random, edges}) {
      // Trigamma at the negative poles: ATen's float32 gives a huge finite value, 1 / sin(pi x)^2 of
      // a rounded pi x; the pole is +inf, which is what the kernel returns.
      const at::Tensor want = n == 1 ? at::where(x.le(0) & x.eq(x.floor()), kInf, at::polygamma(n, x)) : at::polygamma(n, x);
      EXPECT_TRUE(Close(RunOp("polygamma", {x}, Attrs().SetInt("n", n)), want, {x}, 1e-3, 1e-5));
    }
  }
  EXPECT_EQ(InferError("polygamma", {{3}}, Attrs().SetInt("n", -1)), "attribute 'n' must be >= 0, got -1");
  EXPECT_EQ(InferError("polygamma", {{3}}), "missing attribute 'n'");
}

const bool kPolynomialsCovered =
    Covers({"chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
            "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
            "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
            "legendre_polynomial_p"});

TEST(SpecialMath, PolynomialsMatchATen) {
  const std::vector<std::pair<const char*, BinaryRef>> ops = {
      {"chebyshev_polynomial_t", [](const at::Tensor& x, const at::Tensor& n) { return at::special_chebyshev_polynomial_t(x, n); }},
      {"chebyshev_polynomial_u", [](const at::Tensor& x, const at::Tensor& n) { return at::special_chebyshev_polynomial_u(x, n); }},
      {"chebyshev_polynomial_v", [](const at::Tensor& x, const at::Tensor& n) { return at::special_chebyshev_polynomial_v(x, n); }},
      {"chebyshev_polynomial_w", [](const at::Tensor& x, const at::Tensor& n) { return at::special_chebyshev_polynomial_w(x, n); }},
      {"shifted_chebyshev_polynomial_t",
       [](const at::Tensor& x, const at::Tensor& n) { return at::special_shifted_chebyshev_polynomial_t(x, n); }},
      {"shifted_chebyshev_polynomial_u",
       [](const at::Tensor& x, const at::Tensor& n) { return at::special_shifted_chebyshev_polynomial_u(x, n); }},
      {"shifted_chebyshev_polynomial_v",
       [](const at::Tensor& x, const at::Tensor& n) { return at::special_shifted_chebyshev_polynomial_v(x, n); }},
      {"shifted_chebyshev_polynomial_w",
       [](const at::Tensor& x, const at::Tensor& n) { return at::special_shifted_chebyshev_polynomial_w(x, n); }},
      {"hermite_polynomial_h", [](const at::Tensor& x, const at::Tensor& n) { return at::special_hermite_polynomial_h(x, n); }},
      {"hermite_polynomial_he", [](const at::Tensor& x, const at::Tensor& n) { return at::special_hermite_polynomial_he(x, n); }},
      {"laguerre_polynomial_l", [](const at::Tensor& x, const at::Tensor& n) { return at::special_laguerre_polynomial_l(x, n); }},
      {"legendre_polynomial_p", [](const at::Tensor& x, const at::Tensor& n) { return at::special_legendre_polynomial_p(x, n); }},
  };
  at::manual_seed(13);
  // x: both domains' ends, inside and outside them, just past 1; n: negative, small (recurrence),
  // past the closed-form thresholds, Hermite's limit, non-integer (truncated), NaN and inf (0).
  const at::Tensor x = at::cat({Values({-1, 0, 1, 0.5f, -0.5f, 1.0000001f, -1.0000001f, 0.99999994f, 2, -3, 1e-8f, kNaN,
                                        kInf}),
                                Uniform({20}, -1.5, 1.5)})
                           .unsqueeze(1);
  const at::Tensor n = Values({-3, -0.5f, 0, 1, 2, 3, 4.7f, 5, 6, 7, 8, 9, 10, 13, 30, 100, 128, 129, 1000, kNaN, kInf,
                               -kInf})
                           .unsqueeze(0);
  for (const auto& [name, ref] : ops) {
    SCOPED_TRACE(name);
    // Values reach 1e38 before they overflow: compare relatively.
    EXPECT_TRUE(Close(RunOp(name, {x, n}), ref(x, n), {x, n}, 1e-3, 1e-5));
    // Broadcasting either way, and a scalar degree.
    EXPECT_TRUE(Close(RunOp(name, {n.t(), x.t()}), ref(n.t(), x.t()), {n.t(), x.t()}, 1e-3, 1e-5));
    const at::Tensor n3 = at::scalar_tensor(3.0, at::kFloat);
    EXPECT_TRUE(Close(RunOp(name, {x, n3}), ref(x, n3), {x, n3}, 1e-3, 1e-5));
  }
}

// A recurrence that overflows ends at NaN, as in PyTorch, however large n is; one that stays
// bounded (Legendre on |x| < 1, Laguerre on x > 0) gives NaN beyond 2^16 steps instead of running
// n steps per element.
TEST(SpecialMath, PolynomialWorkIsBounded) {
  const at::Tensor x = Values({1.0000001f, -1.0000001f, 3.0f});
  const at::Tensor huge = at::scalar_tensor(1e18, at::kFloat);
  for (const char* name : {"chebyshev_polynomial_t", "chebyshev_polynomial_u", "legendre_polynomial_p"}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(at::isnan(RunOp(name, {x, huge})).all().item<bool>());
  }
  // Next to 1 the Chebyshev recurrence runs longest (to n = 183000 or so) before it overflows; up
  // to there it agrees with ATen.
  const at::Tensor near_one = Values({1.0000001f, -1.0000001f});
  const at::Tensor long_n = Values({100000, 150000}).unsqueeze(1);
  EXPECT_TRUE(Close(RunOp("chebyshev_polynomial_t", {near_one, long_n}),
                    at::special_chebyshev_polynomial_t(near_one, long_n), {near_one, long_n}, 1e-2, 0));
  // zeta(x, q) for q far below 0 sums 2^23 terms one by one in PyTorch; here in constant time.
  const at::Tensor zx = Values({2, 3, 4, 5, 400, 1e30f, kInf}).unsqueeze(1);
  const at::Tensor q = Values({-8388607.5f, -1000.25f, -64.5f, -63.5f, -3.75f});
  // For odd x the negative and positive terms cancel to about 1e-15 (ATen's sum of 2^23 terms
  // and this difference of sums both round there): compare to that absolute tolerance.
  EXPECT_TRUE(Close(RunOp("zeta", {zx, q}), at::special_zeta(zx, q), {zx, q}, 1e-5, 1e-13));
  const at::Tensor bounded = Values({0.5f, -0.25f});
  const at::Tensor past = at::scalar_tensor(static_cast<double>((1 << 16) + 1), at::kFloat);
  EXPECT_TRUE(at::isnan(RunOp("legendre_polynomial_p", {bounded, past})).all().item<bool>());
  EXPECT_TRUE(at::isnan(RunOp("laguerre_polynomial_l", {at::abs(bounded), past})).all().item<bool>());
  // At the cap itself the recurrence still runs, and agrees with ATen.
  const at::Tensor at_cap = at::scalar_tensor(static_cast<double>(1 << 16), at::kFloat);
  EXPECT_TRUE(AllClose(RunOp("legendre_polynomial_p", {bounded, at_cap}),
                       at::special_legendre_polynomial_p(bounded, at_cap), 1e-3, 1e-5));
}

const bool kBinaryCovered = Covers({"zeta", "igamma", "igammac", "copysign", "fmax", "fmin", "hypot", "nextafter"});

TEST(SpecialMath, BinaryMatchesATen) {
  struct Case {
    const char* name;
    BinaryRef ref;
    double alo, ahi, blo, bhi;
    double rtol = 1e-4, atol = 1e-5;
  };
  const std::vector<Case> cases = {
      {"zeta", [](const at::Tensor& a, const at::Tensor& b) { return at::special_zeta(a, b); }, 0.5, 12, -5, 20},
      {"igamma", [](const at::Tensor& a, const at::Tensor& b) { return at::igamma(a, b); }, -0.5, 250, -0.5, 300},
      {"igammac", [](const at::Tensor& a, const at::Tensor& b) { return at::igammac(a, b); }, -0.5, 250, -0.5, 300},
      {"copysign", [](const at::Tensor& a, const at::Tensor& b) { return at::copysign(a, b); }, -5, 5, -5, 5},
      {"fmax", [](const at::Tensor& a, const at::Tensor& b) { return at::fmax(a, b); }, -5, 5, -5, 5},
      {"fmin", [](const at::Tensor& a, const at::Tensor& b) { return at::fmin(a, b); }, -5, 5, -5, 5},
      {"hypot", [](const at::Tensor& a, const at::Tensor& b) { return at::hypot(a, b); }, -5, 5, -5, 5},
      {"nextafter", [](const at::Tensor& a, const at::Tensor& b) { return at::nextafter(a, b); }, -5, 5, -5, 5, 0, 0},
  };
  // Every pair of these: signed zeros, infinities, NaN, the poles and boundaries of zeta and igamma.
  const at::Tensor edges = Values({0.0f, -0.0f, 1, -1, 2, -2.5f, 0.5f, 1e-30f, 3e38f, kInf, -kInf, kNaN});
  at::manual_seed(14);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{{{4, 37}, {4, 37}}, {{3, 1}, {1, 5}}, {{}, {2, 7}}}) {
      SCOPED_TRACE(ShapeToString(sa) + " x " + ShapeToString(sb));
      const at::Tensor a = Uniform(sa, c.alo, c.ahi), b = Uniform(sb, c.blo, c.bhi);
      EXPECT_TRUE(Close(RunOp(c.name, {a, b}), c.ref(a, b), {a, b}, c.rtol, c.atol));
    }
    const at::Tensor a = edges.unsqueeze(1), b = edges.unsqueeze(0);
    EXPECT_TRUE(Close(RunOp(c.name, {a, b}), c.ref(a, b), {a, b}, c.rtol, c.atol));
  }
}

}  // namespace
}  // namespace kiln::ops

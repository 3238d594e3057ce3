// The linear-algebra kernels (ops/linalg_kernels.cc) against ATen's LAPACK-backed float32
// functions, on batches of well-conditioned, singular and indefinite matrices.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "ops/ops_test_util.h"

namespace kiln::ops {
namespace {

const bool kCovered = Covers({"linalg_det", "linalg_slogdet", "linalg_inv", "linalg_solve", "linalg_cholesky",
                              "linalg_info", "cholesky_solve", "cholesky_inverse", "linalg_svdvals",
                              "linalg_eigvalsh", "linalg_geqrf", "linalg_qr", "householder_product",
                              "linalg_pinv", "linalg_lu_factor", "linalg_lu_solve"});

// Well conditioned: random plus a dominant diagonal.
at::Tensor Square(Shape batch, int64_t n) {
  batch.push_back(n);
  batch.push_back(n);
  return Randn(batch) + 2.0 * at::eye(n, at::kFloat);
}
// Symmetric positive definite.
at::Tensor Spd(Shape batch, int64_t n) {
  const at::Tensor a = Square(batch, n);
  return at::matmul(a, a.transpose(-2, -1)) + at::eye(n, at::kFloat);
}
Attrs Int(const char* name, int64_t v) {
  Attrs a;
  a.SetInt(name, v);
  return a;
}

TEST(Linalg, DetAndSlogdet) {
  for (int64_t n : {0, 1, 3, 7}) {
    const at::Tensor a = Square({2, 3}, n);
    EXPECT_TRUE(AllClose(RunOp("linalg_det", {a}), at::linalg_det(a), 1e-4, 1e-4)) << n;
    const auto [sign, logabs] = at::linalg_slogdet(a);
    EXPECT_TRUE(AllClose(RunOp("linalg_slogdet", {a}, Int("part", 0)), sign)) << n;
    EXPECT_TRUE(AllClose(RunOp("linalg_slogdet", {a}, Int("part", 1)), logabs, 1e-4, 1e-4)) << n;
  }
}

TEST(Linalg, SingularMatrix) {
  const at::Tensor a = at::tensor({1.0f, 2.0f, 2.0f, 4.0f}).reshape({1, 2, 2});
  EXPECT_TRUE(AllClose(RunOp("linalg_det", {a}), at::linalg_det(a)));
  const auto [sign, logabs] = at::linalg_slogdet(a);
  EXPECT_TRUE(AllClose(RunOp("linalg_slogdet", {a}, Int("part", 0)), sign));
  EXPECT_TRUE(AllClose(RunOp("linalg_slogdet", {a}, Int("part", 1)), logabs));
  const auto [lu, pivots, info] = at::linalg_lu_factor_ex(a);
  EXPECT_TRUE(AllClose(RunOp("linalg_info", {a}, Int("factorization", 0)), info));
}

TEST(Linalg, InvAndSolve) {
  const at::Tensor a = Square({4}, 5);
  EXPECT_TRUE(AllClose(RunOp("linalg_inv", {a}), at::linalg_inv(a), 1e-4, 1e-4));
  const at::Tensor b = Randn({4, 5, 3});
  EXPECT_TRUE(AllClose(RunOp("linalg_solve", {a, b}), at::linalg_solve(a, b), 1e-4, 1e-4));
  const auto [inv, info] = at::linalg_inv_ex(a);
  EXPECT_TRUE(AllClose(RunOp("linalg_info", {a}, Int("factorization", 0)), info));
}

TEST(Linalg, Cholesky) {
  const at::Tensor a = Spd({3}, 6);
  for (bool upper : {false, true}) {
    const at::Tensor l = at::linalg_cholesky(a, upper);
    EXPECT_TRUE(AllClose(RunOp("linalg_cholesky", {a}, Int("upper", upper)), l, 1e-4, 1e-4)) << upper;
    const at::Tensor b = Randn({3, 6, 2});
    EXPECT_TRUE(AllClose(RunOp("cholesky_solve", {b, l}, Int("upper", upper)), at::cholesky_solve(b, l, upper), 1e-3,
                         1e-3))
        << upper;
    EXPECT_TRUE(
        AllClose(RunOp("cholesky_inverse", {l[0]}, Int("upper", upper)), at::cholesky_inverse(l[0], upper), 1e-3, 1e-3))
        << upper;
  }
  EXPECT_TRUE(AllClose(RunOp("linalg_info", {a}, Int("factorization", 1)), at::zeros({3})));
}

TEST(Linalg, CholeskyInfoNamesTheFirstFailingMinor) {
  // Leading minors 1, -3, ...: potrf stops at column 2.
  const at::Tensor a = at::tensor({1.0f, 2.0f, 0.0f, 2.0f, 1.0f, 0.0f, 0.0f, 0.0f, 1.0f}).reshape({3, 3});
  const auto [l, info] = at::linalg_cholesky_ex(a);
  EXPECT_EQ(info.item<int>(), 2);
  EXPECT_TRUE(AllClose(RunOp("linalg_info", {a}, Int("factorization", 1)), info.to(at::kFloat)));
}

TEST(Linalg, SingularValuesAndSymmetricEigenvalues) {
  for (Shape s : {Shape{2, 5, 3}, Shape{3, 4}, Shape{2, 0, 3}}) {
    const at::Tensor a = Randn(s);
    EXPECT_TRUE(AllClose(RunOp("linalg_svdvals", {a}), at::linalg_svdvals(a), 1e-4, 1e-4)) << a.sizes();
  }
  // Only the named triangle is read: garbage in the other must not matter.
  const at::Tensor sym = Spd({2}, 5) - 3.0 * at::eye(5, at::kFloat);
  const at::Tensor lower = sym.tril() + 100.0 * at::ones({5, 5}).triu(1);
  const at::Tensor upper = sym.triu() + 100.0 * at::ones({5, 5}).tril(-1);
  EXPECT_TRUE(AllClose(RunOp("linalg_eigvalsh", {lower}, Int("upper", 0)), at::linalg_eigvalsh(sym), 1e-4, 1e-4));
  EXPECT_TRUE(AllClose(RunOp("linalg_eigvalsh", {upper}, Int("upper", 1)), at::linalg_eigvalsh(sym, "U"), 1e-4, 1e-4));
}

Attrs QrAttrs(bool r, bool complete) {
  Attrs a;
  a.SetInt("r", r).SetInt("complete", complete);
  return a;
}

// Same signs as LAPACK: Q and R are compared directly, not up to sign.
TEST(Linalg, HouseholderQr) {
  for (Shape s : {Shape{2, 5, 3}, Shape{3, 4}, Shape{4, 4}}) {
    const at::Tensor a = Randn(s);
    const auto [ga, gtau] = at::geqrf(a);
    EXPECT_TRUE(AllClose(RunOp("linalg_geqrf", {a}, Int("part", 0)), ga, 1e-4, 1e-4)) << a.sizes();
    EXPECT_TRUE(AllClose(RunOp("linalg_geqrf", {a}, Int("part", 1)), gtau, 1e-4, 1e-4)) << a.sizes();
    for (bool complete : {false, true}) {
      const auto [q, r] = at::linalg_qr(a, complete ? "complete" : "reduced");
      EXPECT_TRUE(AllClose(RunOp("linalg_qr", {a}, QrAttrs(false, complete)), q, 1e-4, 1e-4)) << a.sizes();
      EXPECT_TRUE(AllClose(RunOp("linalg_qr", {a}, QrAttrs(true, complete)), r, 1e-4, 1e-4)) << a.sizes();
    }
  }
  // OpInfo's shapes: k = n, k < n, k = 0, m > n, batched, empty.
  for (auto [vs, ts] : std::vector<std::pair<Shape, Shape>>{{{5, 5}, {5}},
                                                           {{6, 5}, {5}},
                                                           {{2, 1, 6, 5}, {2, 1, 5}},
                                                           {{5, 4}, {3}},
                                                           {{5, 5}, {0}},
                                                           {{0, 0}, {0}}}) {
    const at::Tensor v = Randn(vs), tau = Randn(ts);
    EXPECT_TRUE(AllClose(RunOp("householder_product", {v, tau}), at::linalg_householder_product(v, tau), 1e-4, 1e-4))
        << v.sizes() << " " << tau.sizes();
  }
  EXPECT_EQ(Work("householder_product", {{5, 5}, {5}}), 32.0 * 32 * 32);  // tau, a vector, adds nothing
  EXPECT_EQ(Work("linalg_solve", {{2, 3, 3}, {2, 3, 1}}), 2 * 2 * 32.0 * 32 * 32);
  EXPECT_EQ(InferError("householder_product", {{3, 4}, {2}}),
            "reflectors [3, 4] and tau [2] must be [..., m, n] with m >= n and [..., k] with k <= n");
}

TEST(Linalg, PseudoInverse) {
  for (Shape s : {Shape{2, 5, 3}, Shape{3, 4}}) {
    const at::Tensor a = Randn(s);
    EXPECT_TRUE(AllClose(RunOp("linalg_pinv", {a}, Int("hermitian", 0)), at::linalg_pinv(a), 1e-4, 1e-4)) << a.sizes();
  }
  // Rank 2 of 4: the tolerance drops the two (numerically) zero singular values.
  const at::Tensor low = at::matmul(Randn({4, 2}), Randn({2, 4}));
  EXPECT_TRUE(AllClose(RunOp("linalg_pinv", {low}, Int("hermitian", 0)), at::linalg_pinv(low), 1e-3, 1e-3));
  // atol per matrix: drops what is below it.
  const at::Tensor d = at::diag(at::tensor({4.0f, 2.0f, 0.5f})).expand({2, 3, 3}).contiguous();
  const at::Tensor atol = at::tensor({1.0f, 0.1f});
  EXPECT_TRUE(AllClose(RunOp("linalg_pinv", {d, atol}, Int("hermitian", 0)),
                       at::linalg_pinv(d, atol, std::optional<at::Tensor>(), false), 1e-5, 1e-5));
  const at::Tensor sym = Spd({}, 4) - 4.0 * at::eye(4, at::kFloat);
  EXPECT_TRUE(AllClose(RunOp("linalg_pinv", {sym.tril()}, Int("hermitian", 1)), at::linalg_pinv(sym, 1e-30, true), 1e-3, 1e-3));
}

TEST(Linalg, LuFactorAndSolve) {
  for (Shape s : {Shape{2, 4, 4}, Shape{5, 3}, Shape{3, 5}}) {
    const at::Tensor a = Randn(s);
    const auto [lu, pivots, info] = at::linalg_lu_factor_ex(a);
    EXPECT_TRUE(AllClose(RunOp("linalg_lu_factor", {a}, Int("part", 0)), lu, 1e-4, 1e-4)) << a.sizes();
    EXPECT_TRUE(AllClose(RunOp("linalg_lu_factor", {a}, Int("part", 1)), pivots)) << a.sizes();
    EXPECT_TRUE(AllClose(RunOp("linalg_info", {a}, Int("factorization", 0)), info)) << a.sizes();
  }
  const at::Tensor a = Square({2}, 4), b = Randn({2, 4, 3});
  const auto [lu, pivots] = at::linalg_lu_factor(a);
  for (bool adjoint : {false, true})
    EXPECT_TRUE(AllClose(RunOp("linalg_lu_solve", {lu, pivots, b}, Int("adjoint", adjoint)),
                         at::linalg_lu_solve(lu, pivots, b, true, adjoint), 1e-4, 1e-4))
        << adjoint;
  // A zero column: getrf's info names it and leaves it unscaled.
  const at::Tensor z = at::tensor({1.0f, 0.0f, 2.0f, 0.0f}).reshape({2, 2});
  const auto [zlu, zpiv, zinfo] = at::linalg_lu_factor_ex(z);
  EXPECT_TRUE(AllClose(RunOp("linalg_lu_factor", {z}, Int("part", 0)), zlu));
  EXPECT_TRUE(AllClose(RunOp("linalg_info", {z}, Int("factorization", 0)), zinfo));
}

// 0 x 0 matrices and empty batches: no kernel may touch Eigen's empty-matrix assertions.
TEST(Linalg, EmptyMatrices) {
  for (Shape s : {Shape{2, 0, 0}, Shape{0, 3, 3}}) {
    const at::Tensor a = at::zeros(s), b = at::zeros({s[0], s[1], 2});
    EXPECT_TRUE(AllClose(RunOp("linalg_det", {a}), at::linalg_det(a)));
    EXPECT_TRUE(AllClose(RunOp("linalg_slogdet", {a}, Int("part", 1)), std::get<1>(at::linalg_slogdet(a))));
    EXPECT_TRUE(AllClose(RunOp("linalg_inv", {a}), a));
    EXPECT_TRUE(AllClose(RunOp("linalg_solve", {a, b}), b));
    EXPECT_TRUE(AllClose(RunOp("linalg_cholesky", {a}, Int("upper", 0)), a));
    EXPECT_TRUE(AllClose(RunOp("linalg_info", {a}, Int("factorization", 0)), at::zeros({s[0]})));
    EXPECT_TRUE(AllClose(RunOp("cholesky_solve", {b, a}, Int("upper", 0)), b));
    EXPECT_TRUE(AllClose(RunOp("cholesky_inverse", {a}, Int("upper", 0)), a));
    EXPECT_TRUE(AllClose(RunOp("linalg_svdvals", {a}), at::linalg_svdvals(a)));
    EXPECT_TRUE(AllClose(RunOp("linalg_eigvalsh", {a}, Int("upper", 0)), at::linalg_eigvalsh(a)));
  }
}

TEST(Linalg, ShapeErrors) {
  EXPECT_EQ(InferError("linalg_det", {{2, 3}}), "a must be a batch of square matrices [..., n, n], got [2, 3]");
  EXPECT_EQ(InferError("linalg_solve", {{2, 3, 3}, {2, 4, 1}}),
            "right-hand sides [2, 4, 1] must be [..., n, k] with the batch and n of the coefficient matrix [2, 3, 3]");
  EXPECT_EQ(InferError("linalg_slogdet", {{3, 3}}, Int("part", 2)),
            "attribute 'part' must be 0 (sign) or 1 (log|det|), got 2");
  EXPECT_EQ(InferError("cholesky_solve", {{3, 1}, {3, 3}}, Int("upper", 3)), "attribute 'upper' must be 0 or 1, got 3");
  EXPECT_EQ(InferOk("linalg_det", {{4, 2, 2}}), (Shape{4}));
}

}  // namespace
}  // namespace kiln::ops

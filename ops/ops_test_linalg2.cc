// The triangular solve, LU unpacking, LDL (Bunch-Kaufman), ormqr, matrix exponential and square root
// kernels (ops/linalg_kernels.cc) against ATen's LAPACK-backed float32 functions.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "ops/ops_test_util.h"

namespace kiln::ops {
namespace {

const bool kCovered = Covers({"triangular_solve", "lu_unpack", "linalg_ldl_factor", "linalg_ldl_solve",
                              "linalg_matrix_exp", "linalg_matrix_sqrth", "ormqr"});

Attrs Flags(std::initializer_list<std::pair<const char*, int64_t>> flags) {
  Attrs a;
  for (const auto& [name, v] : flags) a.SetInt(name, v);
  return a;
}

at::Tensor Symmetric(Shape batch, int64_t n) {
  batch.push_back(n);
  batch.push_back(n);
  const at::Tensor a = Randn(batch);
  return a + a.transpose(-2, -1);
}

// Only the named triangle is read: the other one holds garbage.
TEST(Linalg2, TriangularSolve) {
  for (int64_t n : {0, 1, 4, 9}) {
    const at::Tensor a = Randn({2, 3, n, n}) + 3.0 * at::eye(n, at::kFloat);
    const at::Tensor b = Randn({2, 3, n, 2});
    for (bool upper : {false, true}) {
      for (bool unit : {false, true}) {
        const at::Tensor want = at::linalg_solve_triangular(a, b, upper, /*left=*/true, unit);
        EXPECT_TRUE(AllClose(RunOp("triangular_solve", {a, b}, Flags({{"upper", upper}, {"unitriangular", unit}})),
                             want, 1e-4, 1e-4))
            << n << upper << unit;
      }
    }
  }
  EXPECT_EQ(InferError("triangular_solve", {{3, 3}, {2, 1}}, Flags({{"upper", 1}, {"unitriangular", 0}})),
            "right-hand sides [2, 1] must be [..., n, k] with the batch and n of the coefficient matrix [3, 3]");
}

TEST(Linalg2, LuUnpack) {
  for (const Shape& shape : {Shape{3, 4, 6}, Shape{2, 6, 4}, Shape{5, 5}, Shape{2, 0, 3}}) {
    const at::Tensor a = Randn(shape);
    const auto [lu, pivots] = at::linalg_lu_factor(a);
    const auto [p, l, u] = at::lu_unpack(lu, pivots);
    EXPECT_TRUE(AllClose(RunOp("lu_unpack", {lu, pivots}, Flags({{"part", 0}})), p, 0, 0)) << shape.size();
    EXPECT_TRUE(AllClose(RunOp("lu_unpack", {lu, pivots}, Flags({{"part", 1}})), l, 0, 0));
    EXPECT_TRUE(AllClose(RunOp("lu_unpack", {lu, pivots}, Flags({{"part", 2}})), u, 0, 0));
  }
  EXPECT_EQ(InferError("lu_unpack", {{3, 5}, {5}}, Flags({{"part", 0}})),
            "pivots [5] must be [3] for lu [3, 5]");
}

// sytrf's pivots are a choice (Bunch-Kaufman's 1x1 and 2x2 blocks): they, and the factor, must be
// exactly LAPACK's. Random symmetric (indefinite) matrices take 2x2 blocks often.
TEST(Linalg2, LdlFactorMatchesSytrf) {
  int two_by_two = 0;
  for (int64_t n : {1, 2, 5, 8, 16}) {
    const at::Tensor a = Symmetric({6}, n);
    const auto [ld, pivots, info] = at::linalg_ldl_factor_ex(a);
    two_by_two += (pivots < 0).sum().item<int>();
    EXPECT_TRUE(AllClose(RunOp("linalg_ldl_factor", {a}, Flags({{"part", 0}})), ld, 1e-4, 1e-4)) << n;
    EXPECT_TRUE(AllClose(RunOp("linalg_ldl_factor", {a}, Flags({{"part", 1}})), pivots, 0, 0)) << n;
    EXPECT_TRUE(AllClose(RunOp("linalg_ldl_factor", {a}, Flags({{"part", 2}})), info, 0, 0)) << n;
  }
  EXPECT_GT(two_by_two, 0);
  // Only the lower triangle is read.
  const at::Tensor a = Symmetric({}, 6);
  const at::Tensor scrambled = a.tril() + Randn({6, 6}).triu(1);
  EXPECT_TRUE(AllClose(RunOp("linalg_ldl_factor", {scrambled}, Flags({{"part", 0}})),
                       std::get<0>(at::linalg_ldl_factor_ex(a)), 1e-4, 1e-4));
  // A zero column: info names it.
  at::Tensor singular = Symmetric({}, 4);
  singular.index_put_({1}, 0.0f);
  singular.index_put_({at::indexing::Slice(), 1}, 0.0f);
  const auto [ld, pivots, info] = at::linalg_ldl_factor_ex(singular);
  EXPECT_TRUE(AllClose(RunOp("linalg_ldl_factor", {singular}, Flags({{"part", 2}})), info, 0, 0));
  EXPECT_TRUE(AllClose(RunOp("linalg_ldl_factor", {singular}, Flags({{"part", 1}})), pivots, 0, 0));
  EXPECT_GT(info.item<int>(), 0);
}

TEST(Linalg2, LdlSolve) {
  const at::Tensor a = Symmetric({3}, 7) + at::eye(7, at::kFloat);
  const auto [ld, pivots, info] = at::linalg_ldl_factor_ex(a);
  const at::Tensor b = Randn({3, 7, 2});
  EXPECT_TRUE(AllClose(RunOp("linalg_ldl_solve", {ld, pivots, b}), at::linalg_ldl_solve(ld, pivots, b), 1e-3, 1e-3));
  // Pivots sytrf cannot give (0, beyond n, an unpaired negative): NaN rather than a read out of bounds.
  for (const std::vector<float>& bad : {std::vector<float>{1, 0, 3}, {1, 9, 3}, {1, 2, -3}, {-2, 2, 3}}) {
    const at::Tensor out = RunOp("linalg_ldl_solve", {at::eye(3, at::kFloat), at::tensor(bad), Randn({3, 1})});
    EXPECT_TRUE(out.isnan().all().item<bool>()) << bad[0] << bad[1] << bad[2];
  }
}

TEST(Linalg2, MatrixExp) {
  for (int64_t n : {0, 1, 3, 8}) {
    const at::Tensor a = Randn({2, n, n}) * 2.0;
    EXPECT_TRUE(AllClose(RunOp("linalg_matrix_exp", {a}), at::linalg_matrix_exp(a), 1e-4, 1e-4)) << n;
  }
  // A large norm takes many squarings; a non-finite entry gives NaN (as torch does) in bounded time.
  const at::Tensor big = Randn({4, 4}) * 8.0;
  EXPECT_TRUE(AllClose(RunOp("linalg_matrix_exp", {big}), at::linalg_matrix_exp(big), 1e-3, 1e-3));
  const at::Tensor inf = at::tensor({INFINITY, 0.0f, 0.0f, 1.0f}).reshape({2, 2});
  EXPECT_TRUE(AllClose(RunOp("linalg_matrix_exp", {inf}), at::linalg_matrix_exp(inf)));
}

TEST(Linalg2, MatrixSqrth) {
  const at::Tensor r = Randn({3, 5, 5});
  const at::Tensor spd = at::matmul(r, r.transpose(-2, -1)) + at::eye(5, at::kFloat);
  EXPECT_TRUE(AllClose(RunOp("linalg_matrix_sqrth", {spd}), at::linalg_matrix_sqrth(spd), 1e-4, 1e-4));
  // Indefinite, and the upper triangle ignored.
  const at::Tensor sym = Symmetric({2}, 4);
  const at::Tensor lower = sym.tril() + Randn({2, 4, 4}).triu(1);
  EXPECT_TRUE(AllClose(RunOp("linalg_matrix_sqrth", {lower}), at::linalg_matrix_sqrth(sym), 1e-4, 1e-4));
}

TEST(Linalg2, Ormqr) {
  const auto [v, tau] = at::geqrf(Randn({2, 6, 4}));
  for (bool transpose : {false, true}) {
    const at::Tensor c = Randn({2, 6, 3});
    EXPECT_TRUE(AllClose(RunOp("ormqr", {v, tau, c}, Flags({{"left", 1}, {"transpose", transpose}})),
                         at::ormqr(v, tau, c, /*left=*/true, transpose), 1e-4, 1e-4))
        << transpose;
    const at::Tensor d = Randn({2, 5, 6});  // torch wants tau's length to be min(other's rows, input's columns)
    EXPECT_TRUE(AllClose(RunOp("ormqr", {v, tau, d}, Flags({{"left", 0}, {"transpose", transpose}})),
                         at::ormqr(v, tau, d, /*left=*/false, transpose), 1e-4, 1e-4))
        << transpose;
  }
  // Fewer reflectors than columns: the first k, as if the others' tau were 0 (H = I). (torch.ormqr
  // refuses a short tau.)
  const at::Tensor c = Randn({2, 6, 3});
  const at::Tensor tau2 = tau.narrow(-1, 0, 2).contiguous();
  EXPECT_TRUE(AllClose(RunOp("ormqr", {v, tau2, c}, Flags({{"left", 1}, {"transpose", 0}})),
                       at::ormqr(v, at::cat({tau2, at::zeros({2, 2})}, -1), c, true, false), 1e-4, 1e-4));
  EXPECT_EQ(InferError("ormqr", {{6, 4}, {4}, {5, 3}}, Flags({{"left", 1}, {"transpose", 0}})),
            "reflectors [6, 4] must have 5 rows (other's rows) and at least tau's 4 columns, with 4 <= 5");
}

}  // namespace
}  // namespace kiln::ops

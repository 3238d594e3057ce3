// The linear-algebra kernels (ops/linalg.cc describes them), with Eigen. Each matrix is factored
// in double precision: the fp32 results then round like LAPACK's, and singular or indefinite input
// gives the values LAPACK-backed PyTorch gives (0 determinant, -inf log|det|, info codes).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

#include <Eigen/Dense>
#include <unsupported/Eigen/MatrixFunctions>

#include "ops/kernel_families.h"
#include "ops/kernel_util.h"

namespace kiln::ops {
namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using FloatMap = Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
using ConstFloatMap = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int64_t Rows(const Shape& s) { return s[s.size() - 2]; }
int64_t Batch(const Shape& s) { return DimProduct(s, 0, s.size() - 2); }

// Matrix `i` of a batch [..., rows, cols], widened to double.
Matrix Load(const ConstView& v, int64_t i) {
  const int64_t r = Rows(v.shape), c = v.shape.back();
  return ConstFloatMap(v.data + i * r * c, r, c).cast<double>();
}
void Store(const Matrix& m, float* out, int64_t i) {
  FloatMap(out + i * m.rows() * m.cols(), m.rows(), m.cols()) = m.cast<float>();
}

// The lower Cholesky factor of a's lower triangle, as LAPACK's potrf computes it. Returns 0, or the
// 1-based index of the first leading minor that is not positive definite (the factor is then NaN
// from that column on, where potrf leaves unspecified values).
int64_t Cholesky(const Matrix& a, Matrix* l) {
  const int64_t n = a.rows();
  *l = Matrix::Zero(n, n);
  for (int64_t j = 0; j < n; ++j) {
    const double d = a(j, j) - l->row(j).head(j).squaredNorm();
    if (!(d > 0)) {  // also NaN
      l->bottomRightCorner(n - j, n - j).triangularView<Eigen::Lower>().setConstant(kNaN);
      return j + 1;
    }
    const double ljj = std::sqrt(d);
    (*l)(j, j) = ljj;
    for (int64_t i = j + 1; i < n; ++i) (*l)(i, j) = (a(i, j) - l->row(i).head(j).dot(l->row(j).head(j))) / ljj;
  }
  return 0;
}

// The lower factor L of a = L L^T from a kernel's factor operand (stored as U = L^T when upper).
Matrix LowerFactor(const ConstView& v, int64_t i, bool upper) {
  Matrix f = Load(v, i);
  return upper ? Matrix(f.transpose().triangularView<Eigen::Lower>()) : Matrix(f.triangularView<Eigen::Lower>());
}

// Solves (L L^T) X = B in place.
void CholeskySolveInPlace(const Matrix& l, Matrix* b) {
  l.triangularView<Eigen::Lower>().solveInPlace(*b);
  l.transpose().triangularView<Eigen::Upper>().solveInPlace(*b);
}

// LAPACK's getf2 on `a` in place: partial pivoting on the first largest magnitude, pivots 1-based
// (row j was swapped with row pivots[j] - 1). Returns info: 0, or 1 + the first exactly zero pivot.
int64_t Getrf(Matrix* a, std::vector<int64_t>* pivots) {
  const int64_t m = a->rows(), n = a->cols(), k = std::min(m, n);
  pivots->assign(k, 0);
  int64_t info = 0;
  for (int64_t j = 0; j < k; ++j) {
    int64_t p = j;
    for (int64_t i = j + 1; i < m; ++i)
      if (std::abs((*a)(i, j)) > std::abs((*a)(p, j))) p = i;
    (*pivots)[j] = p + 1;
    if ((*a)(p, j) == 0) {
      if (info == 0) info = j + 1;
      continue;
    }
    if (p != j) a->row(p).swap(a->row(j));
    a->col(j).tail(m - j - 1) /= (*a)(j, j);
    a->bottomRightCorner(m - j - 1, n - j - 1).noalias() -=
        a->col(j).tail(m - j - 1) * a->row(j).tail(n - j - 1);
  }
  return info;
}

void DetKernel(const std::vector<ConstView>& in, const Attrs&, MutView out) {
  for (int64_t i = 0, n = Batch(in[0].shape); i < n; ++i)
    out.data[i] = static_cast<float>(Load(in[0], i).partialPivLu().determinant());
}

void SlogdetKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const bool log_abs = attrs.Int("part") == 1;
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    const Eigen::PartialPivLU<Matrix> lu(Load(in[0], i));
    double sign = lu.permutationP().determinant(), log_abs_det = 0;
    const auto diag = lu.matrixLU().diagonal();
    for (int64_t j = 0; j < diag.size(); ++j) {
      if (diag(j) < 0) sign = -sign;
      log_abs_det += std::log(std::abs(diag(j)));
    }
    if (log_abs_det == -std::numeric_limits<double>::infinity()) sign = 0;  // singular
    out.data[i] = static_cast<float>(log_abs ? log_abs_det : sign);
  }
}

void InvKernel(const std::vector<ConstView>& in, const Attrs&, MutView out) {
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i)
    Store(Load(in[0], i).partialPivLu().inverse(), out.data, i);
}

void SolveKernel(const std::vector<ConstView>& in, const Attrs&, MutView out) {
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i)
    Store(Load(in[0], i).partialPivLu().solve(Load(in[1], i)), out.data, i);
}

void CholeskyKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const bool upper = attrs.Int("upper") == 1;
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    Matrix l;
    Cholesky(Load(in[0], i), &l);
    Store(upper ? Matrix(l.transpose()) : l, out.data, i);
  }
}

void InfoKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const bool cholesky = attrs.Int("factorization") == 1;
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    const Matrix a = Load(in[0], i);
    int64_t info = 0;
    if (cholesky) {
      Matrix l;
      info = Cholesky(a, &l);
    } else {
      Matrix lu = a;
      std::vector<int64_t> pivots;
      info = Getrf(&lu, &pivots);
    }
    out.data[i] = static_cast<float>(info);
  }
}

void CholeskySolveKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const bool upper = attrs.Int("upper") == 1;
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    Matrix x = Load(in[0], i);
    CholeskySolveInPlace(LowerFactor(in[1], i, upper), &x);
    Store(x, out.data, i);
  }
}

void CholeskyInverseKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const bool upper = attrs.Int("upper") == 1;
  const int64_t n = Rows(in[0].shape);
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    Matrix x = Matrix::Identity(n, n);
    CholeskySolveInPlace(LowerFactor(in[0], i, upper), &x);
    Store(x, out.data, i);
  }
}

void SvdvalsKernel(const std::vector<ConstView>& in, const Attrs&, MutView out) {
  const int64_t k = out.shape.back();
  if (k == 0) return;  // Eigen asserts on empty matrices
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    // Singular values only (no vectors): unique, and JacobiSVD returns them in descending order.
    const Eigen::JacobiSVD<Matrix> svd(Load(in[0], i));
    for (int64_t j = 0; j < k; ++j) out.data[i * k + j] = static_cast<float>(svd.singularValues()(j));
  }
}

void EigvalshKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const bool upper = attrs.Int("upper") == 1;
  const int64_t n = out.shape.back();
  if (n == 0) return;  // Eigen asserts on empty matrices
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    const Matrix a = Load(in[0], i);
    // The triangle PyTorch reads, mirrored: the other one may hold anything.
    const Matrix sym = upper ? Matrix(a.selfadjointView<Eigen::Upper>()) : Matrix(a.selfadjointView<Eigen::Lower>());
    const Eigen::SelfAdjointEigenSolver<Matrix> eig(sym, Eigen::EigenvaluesOnly);  // ascending
    for (int64_t j = 0; j < n; ++j) out.data[i * n + j] = static_cast<float>(eig.eigenvalues()(j));
  }
}

// Eigen's Householder reflectors are LAPACK's (dlarfg: beta = -sign(alpha) * norm, tau = 0 for a
// zero tail), so the compact factorization, tau, Q and R's signs match geqrf/orgqr's.
void GeqrfKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const bool tau = attrs.Int("part") == 1;
  const int64_t per = NumElements(out.shape) / std::max<int64_t>(Batch(in[0].shape), 1);
  if (per == 0) return;
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    const Eigen::HouseholderQR<Matrix> qr(Load(in[0], i));
    if (tau) {
      for (int64_t j = 0; j < per; ++j) out.data[i * per + j] = static_cast<float>(qr.hCoeffs()(j));
    } else {
      Store(qr.matrixQR(), out.data, i);
    }
  }
}

void QrKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const bool r = attrs.Int("r") == 1;
  const int64_t rows = Rows(out.shape), cols = out.shape.back();
  if (rows == 0 || cols == 0) return;
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    const Matrix a = Load(in[0], i);
    if (a.size() == 0) {  // Q of an m x 0 matrix (complete mode): the identity
      Store(Matrix::Identity(rows, cols), out.data, i);
      continue;
    }
    const Eigen::HouseholderQR<Matrix> qr(a);
    if (r) {
      Store(Matrix(qr.matrixQR().topRows(rows).triangularView<Eigen::Upper>()), out.data, i);
    } else {
      Store(Matrix(qr.householderQ() * Matrix::Identity(rows, cols)), out.data, i);
    }
  }
}

void HouseholderProductKernel(const std::vector<ConstView>& in, const Attrs&, MutView out) {
  const int64_t m = Rows(out.shape), n = out.shape.back(), k = in[1].shape.back();
  if (m == 0 || n == 0) return;
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    const Matrix v = Load(in[0], i);
    Eigen::VectorXd tau(k);
    for (int64_t j = 0; j < k; ++j) tau(j) = in[1].data[i * k + j];
    Eigen::HouseholderSequence<Matrix, Eigen::VectorXd> h(v, tau);
    h.setLength(k);
    Store(Matrix(h * Matrix::Identity(m, n)), out.data, i);
  }
}

void PinvKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const bool hermitian = attrs.Int("hermitian") == 1;
  const int64_t m = Rows(in[0].shape), n = in[0].shape.back();
  if (m == 0 || n == 0) return;
  const double default_rtol = std::numeric_limits<float>::epsilon() * static_cast<double>(std::max(m, n));
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    const double atol = in.size() > 1 ? in[1].data[i] : 0.0;
    const double rtol = in.size() > 2 ? in[2].data[i] : (atol > 0 ? 0.0 : default_rtol);
    const Matrix a = Load(in[0], i);
    Matrix u, v;
    Eigen::VectorXd s;  // a = u diag(s) v^T
    if (hermitian) {
      const Eigen::SelfAdjointEigenSolver<Matrix> eig(Matrix(a.selfadjointView<Eigen::Lower>()));
      u = eig.eigenvectors();
      s = eig.eigenvalues();
      v = u;
    } else {
      const Eigen::JacobiSVD<Matrix> svd(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
      u = svd.matrixU();
      v = svd.matrixV();
      s = svd.singularValues();
    }
    const double tol = std::max(atol, rtol * s.cwiseAbs().maxCoeff());
    Eigen::VectorXd inv_s(s.size());
    for (int64_t j = 0; j < s.size(); ++j) inv_s(j) = std::abs(s(j)) > tol ? 1.0 / s(j) : 0.0;
    Store(Matrix(v * inv_s.asDiagonal() * u.transpose()), out.data, i);
  }
}

void LuFactorKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const bool pivots_part = attrs.Int("part") == 1;
  if (NumElements(out.shape) == 0) return;
  const int64_t k = out.shape.back();
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    Matrix lu = Load(in[0], i);
    std::vector<int64_t> pivots;
    Getrf(&lu, &pivots);
    if (pivots_part) {
      for (int64_t j = 0; j < k; ++j) out.data[i * k + j] = static_cast<float>(pivots[j]);
    } else {
      Store(lu, out.data, i);
    }
  }
}

void LuSolveKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const bool adjoint = attrs.Int("adjoint") == 1;
  const int64_t n = Rows(in[0].shape);
  if (NumElements(out.shape) == 0) return;
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    const Matrix lu = Load(in[0], i);
    Matrix x = Load(in[2], i);
    // Pivots out of [1, n] (not getrf's) are skipped rather than read out of bounds.
    auto swap = [&](int64_t j) {
      const int64_t p = static_cast<int64_t>(in[1].data[i * n + j]) - 1;
      if (p >= 0 && p < n && p != j) x.row(p).swap(x.row(j));
    };
    if (!adjoint) {  // A = P L U: X = U^-1 L^-1 P^T b
      for (int64_t j = 0; j < n; ++j) swap(j);
      lu.triangularView<Eigen::UnitLower>().solveInPlace(x);
      lu.triangularView<Eigen::Upper>().solveInPlace(x);
    } else {  // A^T = U^T L^T P^T: X = P L^-T U^-T b
      lu.transpose().triangularView<Eigen::Lower>().solveInPlace(x);
      lu.transpose().triangularView<Eigen::UnitUpper>().solveInPlace(x);
      for (int64_t j = n; j-- > 0;) swap(j);
    }
    Store(x, out.data, i);
  }
}

void TriangularSolveKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const bool upper = attrs.Int("upper") == 1, unit = attrs.Int("unitriangular") == 1;
  if (NumElements(out.shape) == 0) return;
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    const Matrix a = Load(in[0], i);
    Matrix x = Load(in[1], i);
    if (upper && unit) a.triangularView<Eigen::UnitUpper>().solveInPlace(x);
    else if (upper) a.triangularView<Eigen::Upper>().solveInPlace(x);
    else if (unit) a.triangularView<Eigen::UnitLower>().solveInPlace(x);
    else a.triangularView<Eigen::Lower>().solveInPlace(x);
    Store(x, out.data, i);
  }
}

void LuUnpackKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const int64_t part = attrs.Int("part");
  if (NumElements(out.shape) == 0) return;
  const int64_t m = Rows(in[0].shape), n = in[0].shape.back(), k = std::min(m, n);
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    if (part == 0) {
      // getrf swapped row j with row pivots[j] - 1, in order: P^T A = L U, so P's column r has its
      // one in the row of A that ended up in row r. Pivots out of [1, m] are skipped.
      std::vector<int64_t> row(m);
      std::iota(row.begin(), row.end(), 0);
      for (int64_t j = 0; j < k; ++j) {
        const int64_t p = static_cast<int64_t>(in[1].data[i * k + j]) - 1;
        if (p >= 0 && p < m) std::swap(row[j], row[p]);
      }
      Matrix perm = Matrix::Zero(m, m);
      for (int64_t r = 0; r < m; ++r) perm(row[r], r) = 1;
      Store(perm, out.data, i);
    } else {
      const Matrix lu = Load(in[0], i);
      Store(part == 1 ? Matrix(lu.leftCols(k).triangularView<Eigen::UnitLower>())
                      : Matrix(lu.topRows(k).triangularView<Eigen::Upper>()),
            out.data, i);
    }
  }
}

// LAPACK's dsytf2 with uplo 'L' (what sytrf runs for n up to its block size, 64; the blocked code
// makes the same pivot choices): Bunch-Kaufman diagonal pivoting on `a`'s lower triangle, in place.
// pivots are 1-based, a 2x2 block of D at (k, k+1) has both set to -(the row swapped with k+1).
// Returns info: 0, or 1 + the first column whose pivot block is exactly zero.
int64_t Sytf2Lower(Matrix* matrix, std::vector<int64_t>* pivots) {
  Matrix& a = *matrix;
  const int64_t n = a.rows();
  const double alpha = (1.0 + std::sqrt(17.0)) / 8.0;
  // The first index of the largest |a(r, c)| over r in [from, to) at column c (BLAS idamax).
  auto argmax_col = [&](int64_t c, int64_t from, int64_t to) {
    int64_t best = from;
    for (int64_t r = from + 1; r < to; ++r)
      if (std::abs(a(r, c)) > std::abs(a(best, c))) best = r;
    return best;
  };
  pivots->assign(n, 0);
  int64_t info = 0;
  for (int64_t k = 0; k < n;) {
    int64_t kstep = 1, kp = k;
    const double absakk = std::abs(a(k, k));
    const int64_t imax = k + 1 < n ? argmax_col(k, k + 1, n) : k;
    const double colmax = k + 1 < n ? std::abs(a(imax, k)) : 0.0;
    if (std::max(absakk, colmax) == 0 || std::isnan(absakk)) {
      if (info == 0) info = k + 1;
    } else {
      if (absakk < alpha * colmax) {
        // The largest off-diagonal magnitude in row/column imax of the trailing matrix.
        int64_t jmax = k;
        for (int64_t j = k + 1; j < imax; ++j)
          if (std::abs(a(imax, j)) > std::abs(a(imax, jmax))) jmax = j;
        double rowmax = std::abs(a(imax, jmax));
        if (imax + 1 < n) rowmax = std::max(rowmax, std::abs(a(argmax_col(imax, imax + 1, n), imax)));
        if (absakk >= alpha * colmax * (colmax / rowmax)) {
          kp = k;
        } else if (std::abs(a(imax, imax)) >= alpha * rowmax) {
          kp = imax;
        } else {
          kp = imax;
          kstep = 2;
        }
      }
      const int64_t kk = k + kstep - 1;
      if (kp != kk) {  // swap rows and columns kk and kp of the trailing lower triangle
        for (int64_t r = kp + 1; r < n; ++r) std::swap(a(r, kk), a(r, kp));
        for (int64_t j = kk + 1; j < kp; ++j) std::swap(a(j, kk), a(kp, j));
        std::swap(a(kk, kk), a(kp, kp));
        if (kstep == 2) std::swap(a(k + 1, k), a(kp, k));
      }
      if (kstep == 1) {
        const double d11 = 1.0 / a(k, k);
        for (int64_t j = k + 1; j < n; ++j) {
          const double t = -d11 * a(j, k);
          for (int64_t r = j; r < n; ++r) a(r, j) += a(r, k) * t;
        }
        for (int64_t r = k + 1; r < n; ++r) a(r, k) *= d11;
      } else if (k + 2 < n) {
        double d21 = a(k + 1, k);
        const double d11 = a(k + 1, k + 1) / d21, d22 = a(k, k) / d21, t = 1.0 / (d11 * d22 - 1.0);
        d21 = t / d21;
        for (int64_t j = k + 2; j < n; ++j) {
          const double wk = d21 * (d11 * a(j, k) - a(j, k + 1));
          const double wkp1 = d21 * (d22 * a(j, k + 1) - a(j, k));
          for (int64_t r = j; r < n; ++r) a(r, j) -= a(r, k) * wk + a(r, k + 1) * wkp1;
          a(j, k) = wk;
          a(j, k + 1) = wkp1;
        }
      }
    }
    if (kstep == 1) {
      (*pivots)[k] = kp + 1;
    } else {
      (*pivots)[k] = (*pivots)[k + 1] = -(kp + 1);
    }
    k += kstep;
  }
  a.triangularView<Eigen::StrictlyUpper>().setZero();  // what torch returns above the diagonal
  return info;
}

void LdlFactorKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const int64_t part = attrs.Int("part");
  const int64_t n = Rows(in[0].shape);
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    Matrix a = Load(in[0], i);
    std::vector<int64_t> pivots;
    const int64_t info = Sytf2Lower(&a, &pivots);
    if (part == 0) Store(a, out.data, i);
    if (part == 1)
      for (int64_t j = 0; j < n; ++j) out.data[i * n + j] = static_cast<float>(pivots[j]);
    if (part == 2) out.data[i] = static_cast<float>(info);
  }
}

// sytrf's pivots as integers, or nullopt when they are not such pivots: each in [1, n] or
// [-n, -1], the negative ones in equal pairs.
std::optional<std::vector<int64_t>> LdlPivots(const float* p, int64_t n) {
  std::vector<int64_t> pivots(n);
  for (int64_t k = 0; k < n; ++k) {
    if (!(std::abs(p[k]) >= 1 && std::abs(p[k]) <= static_cast<float>(n)) || p[k] != std::trunc(p[k]))
      return std::nullopt;
    pivots[k] = static_cast<int64_t>(p[k]);
  }
  for (int64_t k = 0; k < n; ++k) {
    if (pivots[k] > 0) continue;
    if (k + 1 >= n || pivots[k + 1] != pivots[k]) return std::nullopt;
    ++k;
  }
  return pivots;
}

// LAPACK's dsytrs with uplo 'L': solves L D L^T X = P^T b, P the pivots' row swaps. Pivots that
// are not sytrf's give a NaN solution for that matrix.
void LdlSolveKernel(const std::vector<ConstView>& in, const Attrs&, MutView out) {
  const int64_t n = Rows(in[0].shape);
  if (NumElements(out.shape) == 0) return;
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    const Matrix a = Load(in[0], i);
    Matrix x = Load(in[2], i);
    const std::optional<std::vector<int64_t>> pivots = LdlPivots(in[1].data + i * n, n);
    if (!pivots) {
      Store(Matrix::Constant(x.rows(), x.cols(), kNaN), out.data, i);
      continue;
    }
    const std::vector<int64_t>& ipiv = *pivots;
    auto swap = [&](int64_t r, int64_t p) {
      if (p != r) x.row(r).swap(x.row(p));
    };
    for (int64_t k = 0; k < n;) {  // L D y = P^T b
      if (ipiv[k] > 0) {
        swap(k, ipiv[k] - 1);
        x.bottomRows(n - k - 1) -= a.col(k).tail(n - k - 1) * x.row(k);
        x.row(k) /= a(k, k);
        k += 1;
      } else {
        swap(k + 1, -ipiv[k] - 1);
        x.bottomRows(n - k - 2) -= a.col(k).tail(n - k - 2) * x.row(k) + a.col(k + 1).tail(n - k - 2) * x.row(k + 1);
        const double akm1k = a(k + 1, k), akm1 = a(k, k) / akm1k, ak = a(k + 1, k + 1) / akm1k;
        const double denom = akm1 * ak - 1.0;
        const Eigen::RowVectorXd bkm1 = x.row(k) / akm1k, bk = x.row(k + 1) / akm1k;
        x.row(k) = (ak * bkm1 - bk) / denom;
        x.row(k + 1) = (akm1 * bk - bkm1) / denom;
        k += 2;
      }
    }
    for (int64_t k = n - 1; k >= 0;) {  // L^T P^T x = y
      const int64_t below = n - k - 1;
      x.row(k) -= a.col(k).tail(below).transpose() * x.bottomRows(below);
      if (ipiv[k] > 0) {
        swap(k, ipiv[k] - 1);
        k -= 1;
      } else {
        x.row(k - 1) -= a.col(k - 1).tail(below).transpose() * x.bottomRows(below);
        swap(k, -ipiv[k] - 1);
        k -= 2;
      }
    }
    Store(x, out.data, i);
  }
}

void MatrixExpKernel(const std::vector<ConstView>& in, const Attrs&, MutView out) {
  const int64_t n = Rows(in[0].shape);
  if (NumElements(out.shape) == 0) return;
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    const Matrix a = Load(in[0], i);
    // Eigen derives the number of squarings from the norm: an inf or NaN would make it unbounded.
    Store(a.allFinite() ? Matrix(a.exp()) : Matrix::Constant(n, n, kNaN), out.data, i);
  }
}

void MatrixSqrthKernel(const std::vector<ConstView>& in, const Attrs&, MutView out) {
  if (NumElements(out.shape) == 0) return;
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    const Eigen::SelfAdjointEigenSolver<Matrix> eig(Matrix(Load(in[0], i).selfadjointView<Eigen::Lower>()));
    // Negative eigenvalues (an indefinite input) count as 0, as torch's eigh-based sqrth clamps them.
    const Eigen::VectorXd root = eig.eigenvalues().cwiseMax(0.0).cwiseSqrt();
    Store(Matrix(eig.eigenvectors() * root.asDiagonal() * eig.eigenvectors().transpose()), out.data, i);
  }
}

void OrmqrKernel(const std::vector<ConstView>& in, const Attrs& attrs, MutView out) {
  const bool left = attrs.Int("left") == 1, transpose = attrs.Int("transpose") == 1;
  if (NumElements(out.shape) == 0) return;
  const int64_t r = Rows(in[0].shape), k = in[1].shape.back();
  for (int64_t i = 0, count = Batch(in[0].shape); i < count; ++i) {
    const Matrix v = Load(in[0], i), c = Load(in[2], i);
    Eigen::VectorXd tau(k);
    for (int64_t j = 0; j < k; ++j) tau(j) = in[1].data[i * k + j];
    Eigen::HouseholderSequence<Matrix, Eigen::VectorXd> h(v, tau);
    h.setLength(k);
    Matrix q = h * Matrix::Identity(r, r);
    if (transpose) q.transposeInPlace();
    Store(left ? Matrix(q * c) : Matrix(c * q), out.data, i);
  }
}

}  // namespace

std::vector<KernelDef> LinalgKernels() {
  return {
      {"linalg_det", DetKernel},
      {"linalg_slogdet", SlogdetKernel},
      {"linalg_inv", InvKernel},
      {"linalg_solve", SolveKernel},
      {"linalg_cholesky", CholeskyKernel},
      {"linalg_info", InfoKernel},
      {"cholesky_solve", CholeskySolveKernel},
      {"cholesky_inverse", CholeskyInverseKernel},
      {"linalg_svdvals", SvdvalsKernel},
      {"linalg_eigvalsh", EigvalshKernel},
      {"linalg_geqrf", GeqrfKernel},
      {"linalg_qr", QrKernel},
      {"householder_product", HouseholderProductKernel},
      {"linalg_pinv", PinvKernel},
      {"linalg_lu_factor", LuFactorKernel},
      {"linalg_lu_solve", LuSolveKernel},
      {"triangular_solve", TriangularSolveKernel},
      {"lu_unpack", LuUnpackKernel},
      {"linalg_ldl_factor", LdlFactorKernel},
      {"linalg_ldl_solve", LdlSolveKernel},
      {"linalg_matrix_exp", MatrixExpKernel},
      {"linalg_matrix_sqrth", MatrixSqrthKernel},
      {"ormqr", OrmqrKernel},
  };
}

}  // namespace kiln::ops

#include "tools/metrics.h"

#include <cmath>
#include <limits>

namespace kiln::tools {

double Pcc(const float* a, const float* b, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return std::numeric_limits<double>::quiet_NaN();
  if (n == 0) return 1.0;
  // Constancy is tested exactly: a float mean of equal values need not equal them.
  bool a_const = true, b_const = true, equal = true;
  for (size_t i = 0; i < n; ++i) {
    a_const &= a[i] == a[0];
    b_const &= b[i] == b[0];
    equal &= a[i] == b[i];
  }
  if (a_const || b_const) return (a_const && b_const && a[0] == b[0]) ? 1.0 : 0.0;
  if (equal) return 1.0;
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= static_cast<double>(n);
  mb /= static_cast<double>(n);
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; ++i) {
    const double da = a[i] - ma, db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return std::fmin(1.0, std::fmax(-1.0, sab / std::sqrt(saa * sbb)));
}

double MaxAbsError(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::fmax(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

bool AllClose(const float* a, const float* b, size_t n, double rtol, double atol) {
  for (size_t i = 0; i < n; ++i)
    if (!(std::fabs(static_cast<double>(a[i]) - b[i]) <= atol + rtol * std::fabs(static_cast<double>(b[i]))))
      return false;
  return true;
}

}  // namespace kiln::tools

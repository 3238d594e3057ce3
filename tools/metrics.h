// Accuracy metrics against a PyTorch reference (the same definitions as torch_frontend/compare.py).
#ifndef KILN_TOOLS_METRICS_H_
#define KILN_TOOLS_METRICS_H_

#include <cstddef>

namespace kiln::tools {

// Pearson correlation over flattened values, in double. Any NaN or Inf: NaN; empty or identical:
// 1; both constant but different, or exactly one constant: 0.
double Pcc(const float* a, const float* b, size_t n);
double MaxAbsError(const float* a, const float* b, size_t n);
// numpy.allclose: |a - b| <= atol + rtol * |b| everywhere.
bool AllClose(const float* a, const float* b, size_t n, double rtol, double atol);

}  // namespace kiln::tools

#endif  // KILN_TOOLS_METRICS_H_

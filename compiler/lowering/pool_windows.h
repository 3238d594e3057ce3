// The constant matrices of separable pooling: row o of an [out, in] matrix holds the weights output
// position o gives each input position along one axis. Forward pooling is M_H x M_W^T; its backward
// is M_H^T g M_W, so both directions share these.
#ifndef KILN_COMPILER_LOWERING_POOL_WINDOWS_H_
#define KILN_COMPILER_LOWERING_POOL_WINDOWS_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace kiln::compiler {

// ATen lets one value stand for every spatial dim ([3] means [3, 3] for 2-D pooling): each list of
// one value becomes `dims` copies of it; other lengths are left for the caller to check.
inline void ExpandToSpatial(std::size_t dims, std::initializer_list<std::vector<int64_t>*> lists) {
  for (std::vector<int64_t>* v : lists)
    if (v->size() == 1) v->resize(dims, (*v)[0]);
}

// ATen's adaptive windows: row i averages [floor(i * in / out), ceil((i + 1) * in / out)).
std::vector<float> AdaptiveWindows(int64_t in, int64_t out);

// avg_pool's windows along one axis (ATen's AvgPoolKernel): output o covers [o * stride - pad,
// + kernel) clipped to the padded input; each covered input position gets 1 / (the window's size,
// clipped to the unpadded input unless count_include_pad), or 1 with a divisor override (applied
// by the caller, as it is not per axis).
std::vector<float> AvgPoolWindows(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad,
                                  bool count_include_pad, bool divisor_override);

// avg_pool's divisor for each output position along one axis (the window's size as above); the
// divisor of an output is the product over its axes.
std::vector<float> AvgPoolDivisors(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad,
                                   bool count_include_pad);

// The transpose of a row-major [rows, cols] matrix.
std::vector<float> Transposed(const std::vector<float>& m, int64_t rows, int64_t cols);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_LOWERING_POOL_WINDOWS_H_

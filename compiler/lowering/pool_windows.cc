#include "compiler/lowering/pool_windows.h"

#include <algorithm>

namespace kiln::compiler {

std::vector<float> AdaptiveWindows(int64_t in, int64_t out) {
  std::vector<float> m(out * in, 0.0f);
  for (int64_t i = 0; i < out; ++i) {
    const int64_t start = (i * in) / out, end = ((i + 1) * in + out - 1) / out;
    for (int64_t j = start; j < end; ++j) m[i * in + j] = 1.0f / static_cast<float>(end - start);
  }
  return m;
}

namespace {
struct AvgWindow {
  int64_t start, end, divisor;  // [start, end) within the input
};
AvgWindow AvgPoolWindow(int64_t o, int64_t in, int64_t kernel, int64_t stride, int64_t pad, bool count_include_pad) {
  int64_t start = o * stride - pad, end = std::min(start + kernel, in + pad);
  const int64_t padded_size = end - start;
  start = std::max<int64_t>(start, 0);
  end = std::min(end, in);
  return {start, end, count_include_pad ? padded_size : end - start};
}
}  // namespace

std::vector<float> AvgPoolWindows(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad,
                                  bool count_include_pad, bool divisor_override) {
  std::vector<float> m(out * in, 0.0f);
  for (int64_t o = 0; o < out; ++o) {
    const AvgWindow w = AvgPoolWindow(o, in, kernel, stride, pad, count_include_pad);
    const float weight = divisor_override ? 1.0f : 1.0f / static_cast<float>(w.divisor);
    for (int64_t i = w.start; i < w.end; ++i) m[o * in + i] = weight;
  }
  return m;
}

std::vector<float> AvgPoolDivisors(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad,
                                   bool count_include_pad) {
  std::vector<float> d(out);
  for (int64_t o = 0; o < out; ++o)
    d[o] = static_cast<float>(AvgPoolWindow(o, in, kernel, stride, pad, count_include_pad).divisor);
  return d;
}

std::vector<float> Transposed(const std::vector<float>& m, int64_t rows, int64_t cols) {
  std::vector<float> t(m.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = m[r * cols + c];
  return t;
}

}  // namespace kiln::compiler

// The conversion kernels (ops/convert.cc describes the ops).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops/dtype.h"
#include "ops/kernel_families.h"

namespace kiln::ops {
namespace {

// ATen computes an integer result in integer arithmetic (int64 avg_pool2d: sum / count, truncated);
// the device divides in fp32, where a chain of divisions may land an ulp below an exact quotient.
float ToIntegerValue(float x) {
  if (!std::isfinite(x)) return x;
  const float r = std::nearbyint(x);
  if (std::fabs(x - r) <= 2.0f * std::numeric_limits<float>::epsilon() * std::max(std::fabs(x), 1.0f)) return r;
  return std::trunc(x);
}

template <auto F>
void UnaryKernel(const std::vector<ConstView>& inputs, const Attrs&, MutView out) {
  const int64_t n = NumElements(out.shape);
  for (int64_t i = 0; i < n; ++i) out.data[i] = F(inputs[0].data[i]);
}

}  // namespace

std::vector<KernelDef> ConvertKernels() {
  return {
      {"to_int", &UnaryKernel<ToIntegerValue>},
      {"round_to_f16", &UnaryKernel<[](float x) { return F16ToFloat(FloatToF16(x)); }>},
      {"round_to_bf16", &UnaryKernel<[](float x) { return BF16ToFloat(FloatToBF16(x)); }>},
  };
}

}  // namespace kiln::ops

#include "ops/epilogue_kernel.h"

#include "ops/activation_fns.h"
#include "ops/epilogue.h"

namespace kiln::ops {
namespace {

// `act` is a lambda, not a function pointer: each activation gets its own instantiation, inlined and
// vectorized, where one instantiation over float(*)(float) made an indirect call per element.
template <typename F>
void Apply(const float* residual, float* out, int64_t n, F act) {
  if (residual != nullptr) {
    for (int64_t i = 0; i < n; ++i) out[i] = act(out[i] + residual[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = act(out[i]);
  }
}

}  // namespace

void ApplyEpilogue(const Attrs& attrs, const float* residual, float* out, int64_t n) {
  const std::string_view act = EpilogueActivationName(attrs);
  if (act.empty()) {
    if (residual != nullptr) Apply(residual, out, n, [](float x) { return x; });
  } else if (act == "relu") {
    Apply(residual, out, n, [](float x) { return Relu(x); });
  } else if (act == "sigmoid") {
    Apply(residual, out, n, [](float x) { return Sigmoid(x); });
  } else if (act == "gelu") {
    Apply(residual, out, n, [](float x) { return Gelu(x); });
  } else if (act == "gelu_tanh") {
    Apply(residual, out, n, [](float x) { return GeluTanh(x); });
  } else if (act == "silu") {
    Apply(residual, out, n, [](float x) { return Silu(x); });
  } else if (act == "hardsigmoid") {
    Apply(residual, out, n, [](float x) { return Hardsigmoid(x); });
  } else if (act == "hardswish") {
    Apply(residual, out, n, [](float x) { return Hardswish(x); });
  } else {  // clamp
    const bool has_min = attrs.Has("min"), has_max = attrs.Has("max");
    const float lo = static_cast<float>(attrs.Float("min")), hi = static_cast<float>(attrs.Float("max"));
    Apply(residual, out, n, [&](float x) { return Clamp(x, has_min, lo, has_max, hi); });
  }
}

}  // namespace kiln::ops

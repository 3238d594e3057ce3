#include "ops/epilogue.h"

#include <iterator>

namespace kiln::ops {

std::vector<AttrDef> EpilogueAttrs() {
  return {
      {"activation", AttrKind::kInt, "Fused activation: 0 relu, 1 sigmoid, 2 gelu, 3 silu, 4 clamp, 5 hardsigmoid, 6 hardswish, 7 gelu_tanh", true},
      {"min", AttrKind::kFloat, "Lower bound of a fused clamp", true},
      {"max", AttrKind::kFloat, "Upper bound of a fused clamp", true},
  };
}

std::string CheckEpilogue(const Attrs& attrs) {
  constexpr int64_t kCount = static_cast<int64_t>(std::size(kEpilogueActivations));
  if (attrs.Has("activation")) {
    const int64_t a = attrs.Int("activation");
    if (a < 0 || a >= kCount)
      return "attribute 'activation' must be in [0, " + std::to_string(kCount - 1) + "], got " + std::to_string(a);
    if (a == kClampActivation) return "";
  }
  if (attrs.Has("min") || attrs.Has("max")) return "attributes 'min' and 'max' belong to a clamp activation";
  return "";
}

int EpilogueActivation(std::string_view op) {
  for (size_t i = 0; i < std::size(kEpilogueActivations); ++i)
    if (kEpilogueActivations[i] == op) return static_cast<int>(i);
  return -1;
}

std::string_view EpilogueActivationName(const Attrs& attrs) {
  if (!attrs.Has("activation")) return "";
  const int64_t a = attrs.Int("activation");
  if (a < 0 || a >= static_cast<int64_t>(std::size(kEpilogueActivations))) return "";
  return kEpilogueActivations[a];
}

}  // namespace kiln::ops

// A matrix op's epilogue: what conv2d and matmul apply to their result before they write it, so a
// bias, a residual add and an activation cost no op launch and no DRAM round trip of their own
// (compiler/passes/fuse_epilogue.cc forms them). The result is act(acc + bias + residual):
//   - `residual`: an optional operand of exactly the output's shape, added elementwise;
//   - `activation`: an optional attribute, the index of a unary op in kEpilogueActivations,
//     with `min`/`max` for clamp (either may be absent, as in the clamp op).
// The activations compute exactly as their standalone ops do (ops/activation_fns.h holds both).
#ifndef KILN_OPS_EPILOGUE_H_
#define KILN_OPS_EPILOGUE_H_

#include <string>
#include <string_view>
#include <vector>

#include "ops/attrs.h"
#include "ops/op_def.h"

namespace kiln::ops {

inline constexpr std::string_view kEpilogueActivations[] = {"relu",  "sigmoid",     "gelu",      "silu",
                                                             "clamp", "hardsigmoid", "hardswish", "gelu_tanh"};
inline constexpr int kClampActivation = 4;

// The attributes an op with an epilogue declares.
std::vector<AttrDef> EpilogueAttrs();
// "" when the epilogue attributes are valid (activation in range; min/max only for clamp).
std::string CheckEpilogue(const Attrs& attrs);
// Index of `op` in kEpilogueActivations; -1 when the op cannot be an epilogue.
int EpilogueActivation(std::string_view op);
// "relu", "clamp", ...; "" when the attributes name no activation.
std::string_view EpilogueActivationName(const Attrs& attrs);

}  // namespace kiln::ops

#endif  // KILN_OPS_EPILOGUE_H_

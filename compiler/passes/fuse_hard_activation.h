// Hard-activation recognition: torch.export writes MobileNetV3's hardsigmoid and hardswish as four and
// five ops; each chain becomes one op (ops/elementwise.cc), which fuse-epilogues can then fuse into the
// conv2d or matmul producing x:
//   %a = add(%x, 3); %r = clamp(clamp(%a) {min=0}) {max=6}; %y = div(%r, 6)           ->  %y = hardsigmoid(%x)
//   %a = add(%x, 3); %r = clamp(clamp(%a) {min=0}) {max=6}; %y = div(mul(%x, %r), 6)  ->  %y = hardswish(%x)
// (add and mul in either operand order; one clamp {min=0, max=6} as well as the two). 3 and 6 are scalar
// constants. It applies when each op of the chain but the last is read only by the next (no graph
// output or state update either) and all its values have x's dtype; x may have other readers. The
// new op takes the final div's place and computes exactly what the chain did (ops/activation_fns.h).
#ifndef KILN_COMPILER_PASSES_FUSE_HARD_ACTIVATION_H_
#define KILN_COMPILER_PASSES_FUSE_HARD_ACTIVATION_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

struct HardActivationStats {
  int hardsigmoids = 0;
  int hardswishes = 0;
};

absl::Status FuseHardActivations(DeviceGraph& graph, HardActivationStats* stats = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_FUSE_HARD_ACTIVATION_H_

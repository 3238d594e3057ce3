// GELU-tanh fusion: GPT-2's NewGELUActivation (and other models that write GELU's tanh
// approximation out by hand) reaches Kiln as eight elementwise ops over x,
//   mul(mul(x, 0.5), add(tanh(mul(add(x, mul(pow(x, 3), 0.044715)), sqrt(2/pi))), 1))
// (any operand order of mul and add; x^3 also as mul(mul(x, x), x); BLOOM's tanh argument
// mul(mul(x, sqrt(2/pi)), add(mul(mul(x, 0.044715), x), 1)) too), each a DRAM round trip of the
// MLP's widest activation. The op library's gelu_tanh computes the same function in one op, so the
// outer mul becomes gelu_tanh(x); the other seven are left for dce when nothing else reads them.
// Constants match to float precision (1e-6 relative), as a model writes them in float32.
#ifndef KILN_COMPILER_PASSES_FUSE_GELU_TANH_H_
#define KILN_COMPILER_PASSES_FUSE_GELU_TANH_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

struct GeluTanhStats {
  int fused = 0;  // written-out tanh GELUs now one gelu_tanh
};

absl::Status FuseGeluTanh(DeviceGraph& graph, GeluTanhStats* stats = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_FUSE_GELU_TANH_H_

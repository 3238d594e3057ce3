// SiLU recognition: torch.export writes silu (swish) as two ops, x * sigmoid(x); they become one silu
// op, so the sigmoid's result makes no DRAM round trip and costs no launch of its own, and
// fuse-epilogues can then fuse the silu into the conv2d or matmul that produces x (EfficientNet's
// convolutions all end in one):
//   %s = sigmoid(%x); %y = mul(%x, %s)   (either operand order)   ->   %y = silu(%x)
// It applies when the mul alone reads %s (no graph output or state update either) and all three
// values have one dtype. x itself may have other readers. The silu takes the mul's place.
#ifndef KILN_COMPILER_PASSES_FUSE_SILU_H_
#define KILN_COMPILER_PASSES_FUSE_SILU_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

// `fused` (optional) receives how many sigmoid + mul pairs became a silu.
absl::Status FuseSilu(DeviceGraph& graph, int* fused = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_FUSE_SILU_H_

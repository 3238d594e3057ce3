// Epilogue fusion: the elementwise ops that finish a conv2d or matmul move into it (ops/epilogue.h), so
// they cost no launch and no DRAM round trip of the intermediate result. Two patterns, in this order:
//   add(mm, r)  where r has exactly mm's shape and dtype     -> mm's `residual` operand
//   add(mm, m)  mm a matmul without bias, m broadcasting to mm's shape (an attention mask) -> mm's bias
//   act(mm)     for act in ops::kEpilogueActivations (relu, gelu, gelu_tanh, ...) -> mm's `activation`
// so conv -> add -> relu (a ResNet block's tail) becomes one conv2d. Each fused op must be the only
// reader of the value it consumes (and that value no graph output), so nothing else sees the
// intermediate. The fused node takes the position of the last op it absorbs (its operands, the
// residual included, are all computed by then). A residual on an op without bias gets a zero bias,
// because the operands are positional.
#ifndef KILN_COMPILER_PASSES_FUSE_EPILOGUE_H_
#define KILN_COMPILER_PASSES_FUSE_EPILOGUE_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

struct EpilogueFusionStats {
  int residuals = 0;    // adds fused as a residual operand
  int biases = 0;       // adds fused as the bias of a matmul without one
  int activations = 0;  // activations fused as an attribute
};

absl::Status FuseEpilogues(DeviceGraph& graph, EpilogueFusionStats* stats = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_FUSE_EPILOGUE_H_

// Constant folding: a device op whose operands are all constants runs once, at compile time, with the
// op library's own kernel (e.g. the transpose of a Linear weight), and its result becomes a constant.
#ifndef KILN_COMPILER_PASSES_CONSTANT_FOLDING_H_
#define KILN_COMPILER_PASSES_CONSTANT_FOLDING_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

struct FoldingStats {
  int folded_nodes = 0;
};

absl::Status FoldConstants(DeviceGraph& graph, FoldingStats* stats = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_CONSTANT_FOLDING_H_

// Common-subexpression elimination over the device graph: two constants with the same dtype, shape
// and bytes become one, and two nodes with the same op, the same attributes and the same operands
// (after that merging) become one, their readers reading the first. Device ops are pure, and state
// tensors change only when a run ends, so a second computation of a value is pure waste: a launch
// and a DRAM round trip. BERT's attention mask (the same where(mask, 0, -inf) in all 12 layers, each
// over its own copy of the scalars) and the three reshapes of a layer's input that feed Q, K and V
// are what it removes in practice. A node whose result is a graph output or takes part in a state
// update keeps its own value (the caller and the state each need theirs).
#ifndef KILN_COMPILER_PASSES_COMMON_SUBEXPRESSIONS_H_
#define KILN_COMPILER_PASSES_COMMON_SUBEXPRESSIONS_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

struct CseStats {
  int constants = 0;  // constants that turned out to repeat an earlier one
  int nodes = 0;      // nodes removed as repeats of an earlier one
};

absl::Status EliminateCommonSubexpressions(DeviceGraph& graph, CseStats* stats = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_COMMON_SUBEXPRESSIONS_H_

// Op ordering: chooses the order the device runs ops in so that fewer activation bytes are live at
// once, which is what the memory plan (and so eviction) has to fit. Greedy list scheduling: of the ops
// whose operands are ready, run the one that grows live memory least (the bytes it allocates, its
// result and any input uploaded for it, minus the operands it reads last), ties in graph order. Greedy
// is not optimal, so the pass keeps whichever of its order and the graph's order peaks lower.
// Bytes here are fp32 elements before tile padding: a model of the plan, not the plan itself.
// Lifetimes follow the schedule pass: an input's upload comes just before its first reader, an
// output's download just after its producer.
#ifndef KILN_COMPILER_PASSES_OP_ORDERING_H_
#define KILN_COMPILER_PASSES_OP_ORDERING_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

struct OpOrderStats {
  uint64_t graph_order_peak = 0;  // peak live activation bytes in the graph's order
  uint64_t chosen_peak = 0;       // ... in the order the pass kept
  int ops_moved = 0;              // ops not at their graph-order position

  std::string ToString() const;
};

absl::Status OrderOpsForMemory(DeviceGraph& graph, OpOrderStats* stats = nullptr);

// Peak live activation bytes when the nodes run in `order` (indices into graph.nodes), by the model above.
uint64_t PeakLiveBytes(const DeviceGraph& graph, const std::vector<int>& order);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_OP_ORDERING_H_

// Dead-code elimination: drops nodes whose results reach no output, and constants nobody reads
// (their bytes would otherwise be shipped in the .kiln file and loaded onto the device).
#ifndef KILN_COMPILER_PASSES_DEAD_CODE_ELIMINATION_H_
#define KILN_COMPILER_PASSES_DEAD_CODE_ELIMINATION_H_

#include <vector>

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

absl::Status EliminateDeadCode(DeviceGraph& graph);

// DeviceGraph::ReadCounts without the reads of nodes whose results reach no output: what a fusion
// pass before dce should count, since a rewrite such as compose-permutes leaves the node it bypassed
// reading the value until dce drops it. `dead` (one flag per node) marks those nodes: a pass that
// fuses by these counts drops them too, since their reads of a value it no longer produces would dangle.
std::vector<int> LiveReadCounts(const DeviceGraph& graph, std::vector<bool>* dead);

// What the fusion passes before dce match patterns on: LiveReadCounts with, per value, the node that
// writes it and a live node that reads it. A pass works on its own copy, marking the nodes it absorbs
// in `dead` (DeviceGraph::EraseNodes then drops them with the dead ones).
struct LiveUses {
  std::vector<bool> dead;     // per node
  std::vector<int> readers;   // per value: live reads, graph outputs and state updates included
  std::vector<int> producer;  // per value: its node, or -1 (inputs and constants)
  std::vector<int> reader;    // per value: the last live node reading it, or -1
  // The node that alone reads v, or -1 (also when the one read is a graph output).
  int OnlyReader(int v) const { return readers[v] == 1 ? reader[v] : -1; }
};
LiveUses FindLiveUses(const DeviceGraph& graph);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_DEAD_CODE_ELIMINATION_H_

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

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_DEAD_CODE_ELIMINATION_H_

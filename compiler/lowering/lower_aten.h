// Lowering: ATen graph -> device graph, one rule per ATen op (rules_*.cc).
#ifndef KILN_COMPILER_LOWERING_LOWER_ATEN_H_
#define KILN_COMPILER_LOWERING_LOWER_ATEN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "compiler/aten/aten_graph.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

// Fails with one error listing every ATen op without a lowering rule and the nodes using it, so a
// user sees the whole gap at once; other errors name the node. What compiles but may surprise the
// user (a float64 input computed in float32) is appended to `warnings` when given.
absl::StatusOr<DeviceGraph> LowerAtenGraph(const AtenGraph& aten, std::vector<std::string>* warnings = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_LOWERING_LOWER_ATEN_H_

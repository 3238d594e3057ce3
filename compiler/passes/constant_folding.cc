#include "compiler/passes/constant_folding.h"

#include <algorithm>
#include <string>

#include "ops/kernels.h"

namespace kiln::compiler {

absl::Status FoldConstants(DeviceGraph& graph, FoldingStats* stats) {
  std::vector<DeviceNode> kept;
  for (DeviceNode& node : graph.nodes) {
    const bool all_constant = std::all_of(node.inputs.begin(), node.inputs.end(), [&](int v) {
      return graph.values[v].kind == DeviceValue::Kind::kConstant;
    });
    if (!all_constant || node.inputs.empty()) {
      kept.push_back(std::move(node));
      continue;
    }
    const ops::KernelFn kernel = ops::FindKernel(*node.op);
    if (!kernel)
      return absl::InternalError("node '" + node.source + "' (" + std::string(node.op->name) +
                                 "): no kernel is registered for this op");
    std::vector<ops::ConstView> views;
    for (int v : node.inputs) views.push_back({graph.values[v].constant.data(), graph.values[v].shape});
    DeviceValue& out = graph.values[node.output];
    out.constant.assign(ops::NumElements(out.shape), 0.0f);
    kernel(views, node.attrs, {out.constant.data(), out.shape});
    out.kind = DeviceValue::Kind::kConstant;
    if (stats) stats->folded_nodes++;
  }
  graph.nodes = std::move(kept);
  return absl::OkStatus();
}

}  // namespace kiln::compiler

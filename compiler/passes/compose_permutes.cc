#include "compiler/passes/compose_permutes.h"

#include <string>
#include <vector>

#include "ops/op_params.h"

namespace kiln::compiler {

absl::Status ComposePermutes(DeviceGraph& graph, PermuteStats* stats) {
  std::vector<int> producer(graph.values.size(), -1);
  for (int n = 0; n < static_cast<int>(graph.nodes.size()); ++n) producer[graph.nodes[n].output] = n;
  const ops::OpDef* reshape = ops::FindOp("reshape");
  // A permute that composed to the identity: the value of its operand, under the same shape.
  auto is_identity = [&](int n) {
    return n >= 0 && graph.nodes[n].op == reshape &&
           graph.values[graph.nodes[n].inputs[0]].shape == graph.values[graph.nodes[n].output].shape;
  };
  for (DeviceNode& node : graph.nodes) {
    if (node.op->name != "permute") continue;
    int source = node.inputs[0];
    while (is_identity(producer[source])) source = graph.nodes[producer[source]].inputs[0];
    const int q = producer[source];
    if (q < 0 || graph.nodes[q].op->name != "permute") {
      if (stats) stats->composed += source != node.inputs[0];
      node.inputs = {source};
      continue;
    }
    const DeviceNode& inner = graph.nodes[q];  // earlier in topological order: already composed
    const size_t rank = graph.values[inner.inputs[0]].shape.size();
    std::vector<int64_t> outer_dims, inner_dims;
    if (!ops::PermutationDims(node.attrs, rank, &outer_dims).empty() ||
        !ops::PermutationDims(inner.attrs, rank, &inner_dims).empty())
      return absl::InternalError("node '" + node.source + "': permute dims do not match the operand's rank " +
                                 std::to_string(rank));
    std::vector<int64_t> dims(rank);
    bool identity = true;
    for (size_t i = 0; i < rank; ++i) {
      dims[i] = inner_dims[outer_dims[i]];
      identity = identity && dims[i] == static_cast<int64_t>(i);
    }
    node.inputs = {inner.inputs[0]};
    node.attrs = ops::Attrs();
    if (identity) {
      node.op = reshape;
      node.attrs.SetInts("shape", graph.values[node.output].shape);
    } else {
      node.attrs.SetInts("dims", dims);
    }
    if (stats) {
      stats->composed++;
      stats->identity += identity;
    }
  }
  return absl::OkStatus();
}

}  // namespace kiln::compiler

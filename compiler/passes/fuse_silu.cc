#include "compiler/passes/fuse_silu.h"

#include <vector>

#include "ops/op_def.h"

namespace kiln::compiler {

absl::Status FuseSilu(DeviceGraph& graph, int* fused) {
  const int num_nodes = static_cast<int>(graph.nodes.size());
  const std::vector<int> readers = graph.ReadCounts();  // outputs and state updates count: never fused away
  std::vector<int> producer(graph.values.size(), -1);
  for (int n = 0; n < num_nodes; ++n) producer[graph.nodes[n].output] = n;
  const ops::OpDef* silu = ops::FindOp("silu");
  if (silu == nullptr) return absl::InternalError("fuse-silu: the op library has no silu op");
  std::vector<bool> removed(num_nodes, false);
  int count = 0;
  for (int n = 0; n < num_nodes; ++n) {
    DeviceNode& mul = graph.nodes[n];
    if (mul.op->name != "mul" || mul.inputs.size() != 2) continue;
    for (int side = 0; side < 2; ++side) {
      const int x = mul.inputs[1 - side], s = mul.inputs[side];
      const int p = producer[s];
      if (p < 0 || removed[p] || readers[s] != 1) continue;
      const DeviceNode& sigmoid = graph.nodes[p];
      if (sigmoid.op->name != "sigmoid" || sigmoid.inputs[0] != x) continue;
      const ops::DType dtype = graph.values[x].dtype;
      if (graph.values[s].dtype != dtype || graph.values[mul.output].dtype != dtype) continue;
      mul.source = sigmoid.source + "+" + mul.source;
      mul.op = silu;
      mul.inputs = {x};
      mul.attrs = ops::Attrs();
      removed[p] = true;
      ++count;
      break;
    }
  }
  graph.EraseNodes(removed);
  if (fused) *fused = count;
  return absl::OkStatus();
}

}  // namespace kiln::compiler

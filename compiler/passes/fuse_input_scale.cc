#include "compiler/passes/fuse_input_scale.h"

#include <string>
#include <vector>

namespace kiln::compiler {

absl::Status FuseInputScales(DeviceGraph& graph, int* fused) {
  const int num_nodes = static_cast<int>(graph.nodes.size());
  const std::vector<int> readers = graph.ReadCounts();  // outputs and state updates count: never fused away
  std::vector<int> reader(graph.values.size(), -1);     // a node that reads the value
  for (int n = 0; n < num_nodes; ++n)
    for (int v : graph.nodes[n].inputs) reader[v] = n;
  std::vector<bool> removed(num_nodes, false);
  int count = 0;
  for (int n = 0; n < num_nodes; ++n) {
    const DeviceNode& mul = graph.nodes[n];
    if (mul.op->name != "mul" || mul.inputs.size() != 2 || readers[mul.output] != 1) continue;
    const int c = reader[mul.output];  // -1 when the one read is a graph output
    if (c < 0) continue;
    DeviceNode& conv = graph.nodes[c];
    if (conv.op->name != "conv2d" || conv.inputs[0] != mul.output || conv.attrs.Int("input_scale", 0) == 1) continue;
    const DeviceValue& y = graph.values[mul.output];
    if (y.shape.size() != 4) continue;
    const ops::Shape gate_shape = {y.shape[0], y.shape[1], 1, 1};
    // The gate is the [N, C, 1, 1] operand; the other has the product's shape.
    int x = -1, gate = -1;
    for (int side = 0; side < 2 && x < 0; ++side) {
      const int a = mul.inputs[side], b = mul.inputs[1 - side];
      if (graph.values[a].shape == y.shape && graph.values[b].shape == gate_shape) x = a, gate = b;
    }
    if (x < 0 || graph.values[x].dtype != y.dtype || graph.values[gate].dtype != y.dtype) continue;
    if (conv.inputs.size() == 2) {
      const int64_t channels = graph.values[conv.output].shape[1];
      const std::string name = graph.values[conv.inputs[1]].name + ".zero_bias";
      const int bias = graph.AddConstant(name, {channels}, std::vector<float>(channels, 0.0f));
      graph.nodes[c].inputs.push_back(bias);  // `conv` stays valid: nodes do not move
    }
    conv.inputs[0] = x;
    conv.inputs.push_back(gate);
    conv.attrs.SetInt("input_scale", 1);
    conv.source = mul.source + "+" + conv.source;
    removed[n] = true;
    ++count;
  }
  graph.EraseNodes(removed);
  if (fused) *fused = count;
  return absl::OkStatus();
}

}  // namespace kiln::compiler

#include "compiler/passes/fold_matmul_scale.h"

#include <cmath>
#include <string>
#include <vector>

#include "compiler/passes/dead_code_elimination.h"
namespace kiln::compiler {

absl::Status FoldMatmulScales(DeviceGraph& graph, int* folded) {
  const int num_nodes = static_cast<int>(graph.nodes.size());
  LiveUses uses = FindLiveUses(graph);
  std::vector<bool>& removed = uses.dead;  // starts as the dead nodes
  const std::vector<int>& readers = uses.readers;
  std::vector<int>& producer = uses.producer;  // follows the muls folded away
  auto is_f32_constant = [&](int v) {
    return graph.values[v].kind == DeviceValue::Kind::kConstant && graph.values[v].dtype == ops::DType::kF32;
  };
  int count = 0;
  for (int n = 0; n < num_nodes; ++n) {
    const DeviceNode& mul = graph.nodes[n];
    if (mul.op->name != "mul" || mul.inputs.size() != 2) continue;
    const DeviceValue& product = graph.values[mul.output];
    int scale = -1, v = -1;
    for (int side = 0; side < 2 && scale < 0; ++side) {
      const int c = mul.inputs[side], x = mul.inputs[1 - side];
      // A finite scale: w * inf would turn the zeros of w into NaNs that (x @ w) * inf need not have.
      if (is_f32_constant(c) && graph.values[c].constant.size() == 1 && std::isfinite(graph.values[c].constant[0]) &&
          graph.values[x].shape == product.shape &&
          graph.values[x].dtype == product.dtype)
        scale = c, v = x;
    }
    if (scale < 0) continue;
    // Back from the mul through element-moving ops, each value read by the next op alone.
    const int last = producer[v];  // the op whose result the mul reads; it will produce the product
    int p = last;
    while (p >= 0 && readers[graph.nodes[p].output] == 1 &&
           (graph.nodes[p].op->name == "reshape" || graph.nodes[p].op->name == "permute"))
      p = producer[graph.nodes[p].inputs[0]];
    if (p < 0 || readers[graph.nodes[p].output] != 1) continue;
    DeviceNode& mm = graph.nodes[p];
    if (mm.op->name != "matmul" || mm.inputs.size() > 3 || mm.attrs.Has("activation") ||
        graph.values[mm.output].dtype != ops::DType::kF32)
      continue;
    bool constant_operands = true;
    for (size_t i = 1; i < mm.inputs.size(); ++i) constant_operands = constant_operands && is_f32_constant(mm.inputs[i]);
    if (!constant_operands) continue;

    const float c = graph.values[scale].constant[0];
    for (size_t i = 1; i < mm.inputs.size(); ++i) {
      const DeviceValue& w = graph.values[mm.inputs[i]];
      std::vector<float> scaled = w.constant;
      for (float& x : scaled) x *= c;
      const std::string name = w.name + ".scaled";
      const ops::Shape shape = w.shape;  // AddConstant grows graph.values
      mm.inputs[i] = graph.AddConstant(name, shape, std::move(scaled));
    }
    mm.source += "+" + mul.source;
    graph.nodes[last].output = mul.output;
    producer[mul.output] = last;
    removed[n] = true;
    ++count;
  }
  graph.EraseNodes(removed);
  if (folded) *folded = count;
  return absl::OkStatus();
}

}  // namespace kiln::compiler

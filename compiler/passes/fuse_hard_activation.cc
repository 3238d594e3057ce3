#include "compiler/passes/fuse_hard_activation.h"

#include <string>
#include <vector>

#include "ops/op_def.h"

namespace kiln::compiler {
namespace {

class Matcher {
 public:
  explicit Matcher(const DeviceGraph& graph) : graph_(graph), readers_(graph.ReadCounts()) {
    producer_.assign(graph.values.size(), -1);
    for (int n = 0; n < static_cast<int>(graph.nodes.size()); ++n) producer_[graph.nodes[n].output] = n;
  }

  // The node producing v when only one op reads v and it has `dtype`; -1 otherwise.
  int InnerNode(int v, ops::DType dtype) const {
    if (readers_[v] != 1 || graph_.values[v].dtype != dtype) return -1;
    return producer_[v];
  }
  const DeviceNode& node(int n) const { return graph_.nodes[n]; }
  bool IsScalar(int v, float value) const {
    const DeviceValue& c = graph_.values[v];
    return c.kind == DeviceValue::Kind::kConstant && c.constant.size() == 1 && c.constant[0] == value;
  }
  static bool Is(const DeviceNode& n, std::string_view op) { return n.op->name == op; }

  // If v is relu6(x + 3) (the clamps and the add each read only by the next), the add's node and x;
  // the chain's nodes are appended to `chain`.
  int Relu6Of3Plus(int v, ops::DType dtype, std::vector<int>* chain) const {
    int n = InnerNode(v, dtype);
    if (n < 0 || !Is(node(n), "clamp")) return -1;
    const ops::Attrs& outer = node(n).attrs;
    chain->push_back(n);
    if (outer.Has("min") && outer.Has("max")) {
      if (outer.Float("min") != 0.0 || outer.Float("max") != 6.0) return -1;
    } else {
      if (!outer.Has("max") || outer.Has("min") || outer.Float("max") != 6.0) return -1;
      n = InnerNode(node(n).inputs[0], dtype);
      if (n < 0 || !Is(node(n), "clamp")) return -1;
      const ops::Attrs& inner = node(n).attrs;
      if (!inner.Has("min") || inner.Has("max") || inner.Float("min") != 0.0) return -1;
      chain->push_back(n);
    }
    n = InnerNode(node(n).inputs[0], dtype);
    if (n < 0 || !Is(node(n), "add")) return -1;
    chain->push_back(n);
    const DeviceNode& add = node(n);
    for (int side = 0; side < 2; ++side)
      if (IsScalar(add.inputs[1 - side], 3.0f) && graph_.values[add.inputs[side]].dtype == dtype) return add.inputs[side];
    return -1;
  }

 private:
  const DeviceGraph& graph_;
  std::vector<int> readers_;
  std::vector<int> producer_;
};

}  // namespace

absl::Status FuseHardActivations(DeviceGraph& graph, HardActivationStats* stats) {
  const ops::OpDef* hardsigmoid = ops::FindOp("hardsigmoid");
  const ops::OpDef* hardswish = ops::FindOp("hardswish");
  if (!hardsigmoid || !hardswish) return absl::InternalError("fuse-hard-activations: the op library lacks them");
  const int num_nodes = static_cast<int>(graph.nodes.size());
  std::vector<bool> removed(num_nodes, false);
  std::vector<std::pair<int, DeviceNode>> replaced;  // applied after matching, which reads the graph
  {
    const Matcher m(graph);
    for (int n = 0; n < num_nodes; ++n) {
      const DeviceNode& div = graph.nodes[n];
      if (!Matcher::Is(div, "div") || !m.IsScalar(div.inputs[1], 6.0f)) continue;
      const ops::DType dtype = graph.values[div.output].dtype;
      std::vector<int> chain;
      const ops::OpDef* op = hardsigmoid;
      int x = m.Relu6Of3Plus(div.inputs[0], dtype, &chain);
      if (x < 0) {  // hardswish: div(mul(x, relu6(x + 3)), 6)
        chain.clear();
        const int p = m.InnerNode(div.inputs[0], dtype);
        if (p < 0 || !Matcher::Is(m.node(p), "mul")) continue;
        const DeviceNode& mul = m.node(p);
        for (int side = 0; side < 2 && x < 0; ++side) {
          chain.assign(1, p);
          const int r = m.Relu6Of3Plus(mul.inputs[side], dtype, &chain);
          if (r >= 0 && r == mul.inputs[1 - side]) x = r;
        }
        op = hardswish;
      }
      if (x < 0) continue;
      bool taken = false;  // a node of the chain already absorbed elsewhere
      for (int c : chain) taken |= removed[c];
      if (taken) continue;
      std::string source;
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) source += m.node(*it).source + "+";
      DeviceNode out;
      out.op = op;
      out.inputs = {x};
      out.output = div.output;
      out.source = source + div.source;
      for (int c : chain) removed[c] = true;
      replaced.push_back({n, std::move(out)});
      if (stats) (op == hardswish ? stats->hardswishes : stats->hardsigmoids)++;
    }
  }
  for (auto& [n, node] : replaced) graph.nodes[n] = std::move(node);
  graph.EraseNodes(removed);
  return absl::OkStatus();
}

}  // namespace kiln::compiler

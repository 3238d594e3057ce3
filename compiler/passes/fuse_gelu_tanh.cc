#include "compiler/passes/fuse_gelu_tanh.h"

#include <cmath>
#include <vector>

namespace kiln::compiler {

absl::Status FuseGeluTanh(DeviceGraph& graph, GeluTanhStats* stats) {
  std::vector<int> producer(graph.values.size(), -1);
  for (int n = 0; n < static_cast<int>(graph.nodes.size()); ++n) producer[graph.nodes[n].output] = n;
  auto node_of = [&](int v, std::string_view op, size_t arity) -> const DeviceNode* {
    const int n = v < 0 ? -1 : producer[v];
    if (n < 0 || graph.nodes[n].op->name != op || graph.nodes[n].inputs.size() != arity) return nullptr;
    return &graph.nodes[n];
  };
  auto is_scalar = [&](int v, double k) {
    const DeviceValue& c = graph.values[v];
    return c.kind == DeviceValue::Kind::kConstant && c.constant.size() == 1 &&
           std::fabs(c.constant[0] - k) <= 1e-6 * std::fabs(k);
  };
  // v = op(a, k) or op(k, a) for the scalar constant k: a, else -1.
  auto scaled = [&](int v, std::string_view op, double k) {
    const DeviceNode* n = node_of(v, op, 2);
    if (!n) return -1;
    if (is_scalar(n->inputs[1], k)) return n->inputs[0];
    if (is_scalar(n->inputs[0], k)) return n->inputs[1];
    return -1;
  };
  // v = x^3: pow(x, 3) or mul(mul(x, x), x) in either order; x, else -1.
  auto cube_root = [&](int v) {
    if (const DeviceNode* p = node_of(v, "pow", 2); p && is_scalar(p->inputs[1], 3.0)) return p->inputs[0];
    const DeviceNode* m = node_of(v, "mul", 2);
    if (!m) return -1;
    for (int k = 0; k < 2; ++k) {
      const DeviceNode* sq = node_of(m->inputs[k], "mul", 2);
      const int x = m->inputs[1 - k];
      if (sq && sq->inputs[0] == x && sq->inputs[1] == x) return x;
    }
    return -1;
  };
  const double kSqrt2OverPi = std::sqrt(2.0 / M_PI);
  // v = sqrt(2/pi) * (x + 0.044715 x^3), as GPT-2 writes it, or as BLOOM does,
  // (x * sqrt(2/pi)) * (1 + 0.044715 x * x): x, else -1.
  auto tanh_argument_of = [&](int v) {
    if (const DeviceNode* inner = node_of(scaled(v, "mul", kSqrt2OverPi), "add", 2))
      for (int k = 0; k < 2; ++k) {
        const int x = inner->inputs[k];
        if (cube_root(scaled(inner->inputs[1 - k], "mul", 0.044715)) == x) return x;
      }
    if (const DeviceNode* product = node_of(v, "mul", 2))
      for (int k = 0; k < 2; ++k) {
        const int x = scaled(product->inputs[k], "mul", kSqrt2OverPi);
        const DeviceNode* square = node_of(scaled(product->inputs[1 - k], "add", 1.0), "mul", 2);
        if (x < 0 || !square) continue;
        for (int j = 0; j < 2; ++j)
          if (square->inputs[j] == x && scaled(square->inputs[1 - j], "mul", 0.044715) == x) return x;
      }
    return -1;
  };
  for (DeviceNode& root : graph.nodes) {
    if (root.op->name != "mul" || root.inputs.size() != 2) continue;
    for (int k = 0; k < 2; ++k) {
      const int x = scaled(root.inputs[k], "mul", 0.5);  // x / 2
      const int t = scaled(root.inputs[1 - k], "add", 1.0);  // 1 + tanh(...)
      const DeviceNode* tanh = node_of(t, "tanh", 1);
      if (x < 0 || !tanh || tanh_argument_of(tanh->inputs[0]) != x ||
          graph.values[root.output].shape != graph.values[x].shape)
        continue;
      root.op = ops::FindOp("gelu_tanh");
      root.inputs = {x};
      root.attrs = ops::Attrs();
      if (stats) stats->fused++;
      break;
    }
  }
  return absl::OkStatus();
}

}  // namespace kiln::compiler

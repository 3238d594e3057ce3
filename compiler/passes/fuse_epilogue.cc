#include "compiler/passes/fuse_epilogue.h"

#include <string>
#include <vector>

#include "compiler/passes/dead_code_elimination.h"
#include "ops/epilogue.h"
#include "ops/shape_util.h"

namespace kiln::compiler {

absl::Status FuseEpilogues(DeviceGraph& graph, EpilogueFusionStats* stats) {
  const int num_nodes = static_cast<int>(graph.nodes.size());
  LiveUses uses = FindLiveUses(graph);  // outputs and state updates count as reads: never fused away
  std::vector<bool>& removed = uses.dead;  // starts as the dead nodes
  std::vector<bool> fused(num_nodes, false);
  // The node that alone reads v, or -1; a node already absorbed into an earlier fusion is taken.
  auto only_reader = [&](int v) {
    const int r = uses.OnlyReader(v);
    return r >= 0 && !removed[r] ? r : -1;
  };
  for (int n = 0; n < num_nodes; ++n) {
    const DeviceNode& mm = graph.nodes[n];
    if (removed[n] || fused[n] || (mm.op->name != "conv2d" && mm.op->name != "matmul")) continue;
    if (mm.inputs.size() > 3 || mm.attrs.Has("activation")) continue;  // already has an epilogue
    const ops::Shape shape = graph.values[mm.output].shape;  // copies: AddConstant grows graph.values
    const ops::DType dtype = graph.values[mm.output].dtype;
    std::vector<int> absorbed = {n};
    int tail = n;  // the last node absorbed so far; the fused op produces its output
    int residual = -1, bias = -1;
    ops::Attrs attrs = mm.attrs;
    std::string source = mm.source;

    // Up to two adds: one as the residual, one as the bias of a matmul without one (a bias add that
    // torch.export wrote out, then the residual add).
    for (int r; (r = only_reader(graph.nodes[tail].output)) >= 0 && graph.nodes[r].op->name == "add";) {
      const DeviceNode& add = graph.nodes[r];
      const int value = graph.nodes[tail].output;
      const int other = add.inputs[0] == value ? add.inputs[1] : add.inputs[0];
      const DeviceValue& o = graph.values[other];
      const DeviceValue& sum = graph.values[add.output];
      ops::Shape broadcast;
      const bool same_types = other != value && o.dtype == dtype && sum.dtype == dtype && sum.shape == shape;
      if (same_types && residual < 0 && o.shape == shape) {
        residual = other;
      } else if (same_types && bias < 0 && mm.op->name == "matmul" && mm.inputs.size() == 2 &&
                 ops::BroadcastShapes(shape, o.shape, &broadcast).empty() && broadcast == shape) {
        bias = other;  // an attention mask: broadcast like a bias, which a matmul adds before it accumulates
      } else {
        break;
      }
      tail = r;
      absorbed.push_back(r);
      source += "+" + add.source;
    }
    if (int r = only_reader(graph.nodes[tail].output); r >= 0) {
      const DeviceNode& act = graph.nodes[r];
      const int index = ops::EpilogueActivation(act.op->name);
      if (index >= 0 && graph.values[act.output].dtype == dtype) {
        attrs.SetInt("activation", index);
        if (act.attrs.Has("min")) attrs.SetFloat("min", act.attrs.Float("min"));
        if (act.attrs.Has("max")) attrs.SetFloat("max", act.attrs.Float("max"));
        tail = r;
        absorbed.push_back(r);
        source += "+" + act.source;
        if (stats) stats->activations++;
      }
    }
    if (tail == n) continue;

    DeviceNode out;
    out.op = mm.op;
    out.inputs = mm.inputs;
    out.attrs = std::move(attrs);
    out.source = std::move(source);
    out.output = graph.nodes[tail].output;
    if (bias >= 0) {
      out.inputs.push_back(bias);
      if (stats) stats->biases++;
    }
    if (residual >= 0) {
      if (out.inputs.size() == 2) {
        // conv2d's bias is [O] (dim 1 of its [N, O, H, W] result); matmul's broadcasts from [N].
        const int64_t channels = out.op->name == "conv2d" ? shape[1] : shape.back();
        const std::string name = graph.values[out.inputs[1]].name + ".zero_bias";
        out.inputs.push_back(graph.AddConstant(name, {channels}, std::vector<float>(channels, 0.0f)));
      }
      out.inputs.push_back(residual);
      if (stats) stats->residuals++;
    }
    for (int k : absorbed) removed[k] = k != tail;
    graph.nodes[tail] = std::move(out);
    fused[tail] = true;
  }
  graph.EraseNodes(removed);
  return absl::OkStatus();
}

}  // namespace kiln::compiler

#include "compiler/passes/fuse_rearranges.h"

#include <algorithm>
#include <string>
#include <vector>

#include "compiler/passes/dead_code_elimination.h"
#include "ops/op_params.h"

namespace kiln::compiler {

absl::Status FuseRearranges(DeviceGraph& graph, RearrangeStats* stats) {
  const int num_nodes = static_cast<int>(graph.nodes.size());
  LiveUses uses = FindLiveUses(graph);
  std::vector<bool>& removed = uses.dead;  // starts as the dead nodes
  const std::vector<int>& readers = uses.readers;
  const std::vector<int>& producer = uses.producer;
  auto is_reshape = [&](int n) { return n >= 0 && !removed[n] && graph.nodes[n].op->name == "reshape"; };
  const ops::OpDef* rearrange = ops::FindOp("rearrange");
  const ops::OpDef* reshape = ops::FindOp("reshape");
  for (int p = 0; p < num_nodes; ++p) {
    if (removed[p] || graph.nodes[p].op->name != "permute") continue;
    std::vector<int> chain;  // the reshapes absorbed, before and after p
    int source = graph.nodes[p].inputs[0];
    while (readers[source] == 1 && is_reshape(producer[source])) {
      chain.push_back(producer[source]);
      source = graph.nodes[producer[source]].inputs[0];
    }
    int tail = p;
    while (is_reshape(uses.OnlyReader(graph.nodes[tail].output))) {
      tail = uses.OnlyReader(graph.nodes[tail].output);
      chain.push_back(tail);
    }
    const DeviceNode& permute = graph.nodes[p];
    const ops::Shape& view = graph.values[permute.inputs[0]].shape;
    std::vector<int64_t> dims;
    if (!ops::PermutationDims(permute.attrs, view.size(), &dims).empty())
      return absl::InternalError("node '" + permute.source + "': permute dims do not match the operand's rank " +
                                 std::to_string(view.size()));
    // Moving only size-1 dims keeps every element where it was: the chain is a reshape.
    bool in_place = true;
    int64_t last = -1;
    for (int64_t d : dims) {
      if (view[d] == 1) continue;
      in_place = in_place && d > last;
      last = d;
    }
    if (chain.empty() && !in_place) continue;
    DeviceNode out;
    out.op = in_place ? reshape : rearrange;
    out.inputs = {source};
    out.output = graph.nodes[tail].output;
    if (!in_place) {
      out.attrs.SetInts("view", view);
      out.attrs.SetInts("dims", dims);
    }
    out.attrs.SetInts("shape", graph.values[out.output].shape);
    // In graph order: the reshapes before p were collected backwards.
    std::vector<int> order = chain;
    std::sort(order.begin(), order.end());
    order.insert(std::lower_bound(order.begin(), order.end(), p), p);
    for (int n : order) {
      out.source += (out.source.empty() ? "" : "+") + graph.nodes[n].source;
      removed[n] = n != tail;
    }
    graph.nodes[tail] = std::move(out);
    if (stats && in_place) stats->permutes_as_reshapes++;
    if (stats && !in_place) stats->reshapes += static_cast<int>(chain.size());
  }
  graph.EraseNodes(removed);
  return absl::OkStatus();
}

}  // namespace kiln::compiler

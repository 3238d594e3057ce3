#include "compiler/passes/fold_matmul_reshapes.h"

#include <vector>

#include "compiler/passes/dead_code_elimination.h"
#include "ops/shape_util.h"

namespace kiln::compiler {
namespace {

ops::Shape Batch(const ops::Shape& s) { return ops::Shape(s.begin(), s.end() - 2); }
ops::Shape LastTwo(const ops::Shape& s) { return ops::Shape(s.end() - 2, s.end()); }

}  // namespace

absl::Status FoldMatmulReshapes(DeviceGraph& graph, int* folded) {
  const int num_nodes = static_cast<int>(graph.nodes.size());
  LiveUses uses = FindLiveUses(graph);
  std::vector<bool>& removed = uses.dead;  // starts as the dead nodes
  const std::vector<int>& producer = uses.producer;
  // The operand of the reshape that produces v, or v itself.
  auto unreshaped = [&](int v) {
    const int p = producer[v];
    return p >= 0 && graph.nodes[p].op->name == "reshape" ? graph.nodes[p].inputs[0] : v;
  };
  int count = 0;
  for (int n = 0; n < num_nodes; ++n) {
    const DeviceNode& mm = graph.nodes[n];
    if (mm.op->name != "matmul" || mm.inputs.size() > 3 || mm.attrs.Has("activation")) continue;
    const int r = uses.OnlyReader(mm.output);
    if (r < 0 || graph.nodes[r].op->name != "reshape") continue;
    const ops::Shape& a = graph.values[mm.inputs[0]].shape;
    const ops::Shape& b = graph.values[mm.inputs[1]].shape;
    const ops::Shape& m = graph.values[mm.output].shape;
    const ops::Shape& u = graph.values[graph.nodes[r].output].shape;
    const ops::Shape* bias = mm.inputs.size() > 2 ? &graph.values[mm.inputs[2]].shape : nullptr;
    const int x = unreshaped(mm.inputs[0]);
    const ops::Shape& xs = graph.values[x].shape;
    int y = mm.inputs[1];
    bool same = false;
    if (b.size() == 2) {  // linear: every row of x times the one b
      ops::Shape rows(xs.begin(), xs.end() - 1);
      rows.push_back(m.back());
      same = xs.size() >= 2 && xs.back() == a.back() && rows == u &&
             (!bias || (!bias->empty() && bias->back() == m.back() && ops::NumElements(*bias) == m.back()));
    } else {  // batched: matrix i of x times matrix i of y
      y = unreshaped(y);
      const ops::Shape& ys = graph.values[y].shape;
      same = xs.size() >= 2 && ys.size() >= 2 && LastTwo(xs) == LastTwo(a) && LastTwo(ys) == LastTwo(b) &&
             Batch(a) == Batch(b) && Batch(xs) == Batch(ys) && u.size() >= 2 && Batch(xs) == Batch(u) &&
             LastTwo(u) == LastTwo(m) && (!bias || bias->size() <= 2);
    }
    // A reshape of a caller's integer input converts it to the device's f32; the matmul would not.
    if (!same || graph.values[x].dtype != graph.values[mm.inputs[0]].dtype ||
        graph.values[y].dtype != graph.values[mm.inputs[1]].dtype)
      continue;
    std::vector<ops::Shape> before = {a, b}, after = {xs, graph.values[y].shape};
    if (bias) before.push_back(*bias), after.push_back(*bias);
    if (mm.op->work(after, u, mm.attrs) > mm.op->work(before, m, mm.attrs)) continue;  // more tile padding

    DeviceNode out = mm;
    out.inputs[0] = x;
    out.inputs[1] = y;
    out.output = graph.nodes[r].output;
    out.source = mm.source + "+" + graph.nodes[r].source;
    graph.nodes[r] = std::move(out);  // where the reshape was: x and y are computed by then
    removed[n] = true;
    ++count;
  }
  graph.EraseNodes(removed);
  if (folded) *folded = count;
  return absl::OkStatus();
}

}  // namespace kiln::compiler

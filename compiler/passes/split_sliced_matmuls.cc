#include "compiler/passes/split_sliced_matmuls.h"

#include <algorithm>
#include <string>
#include <vector>

#include "compiler/passes/dead_code_elimination.h"
#include "ops/op_params.h"
#include "ops/shape_util.h"

namespace kiln::compiler {

absl::Status SplitSlicedMatmuls(DeviceGraph& graph, int* split) {
  const int num_nodes = static_cast<int>(graph.nodes.size());
  std::vector<bool> removed;  // starts as the dead nodes
  const std::vector<int> readers = LiveReadCounts(graph, &removed);  // outputs and state updates count
  std::vector<std::vector<int>> readers_of(graph.values.size());  // the live nodes that read each value
  for (int n = 0; n < num_nodes; ++n)
    if (!removed[n])
      for (int v : graph.nodes[n].inputs) readers_of[v].push_back(n);
  auto is_f32_constant = [&](int v) {
    return graph.values[v].kind == DeviceValue::Kind::kConstant && graph.values[v].dtype == ops::DType::kF32;
  };
  int count = 0;
  for (int n = 0; n < num_nodes; ++n) {
    const DeviceNode& mm = graph.nodes[n];
    if (removed[n] || mm.op->name != "matmul" || mm.inputs.size() > 3 || mm.attrs.Has("activation")) continue;
    const ops::Shape w = graph.values[mm.inputs[1]].shape, m = graph.values[mm.output].shape;
    if (w.size() != 2 || !is_f32_constant(mm.inputs[1]) || graph.values[mm.output].dtype != ops::DType::kF32) continue;
    const int64_t k = w[0], width = w[1];
    if (mm.inputs.size() > 2 && (!is_f32_constant(mm.inputs[2]) || graph.values[mm.inputs[2]].shape.empty() ||
                                 graph.values[mm.inputs[2]].shape.back() != width ||
                                 ops::NumElements(graph.values[mm.inputs[2]].shape) != width))
      continue;
    const std::vector<int>& slices = readers_of[mm.output];
    if (slices.empty() || static_cast<int>(slices.size()) != readers[mm.output]) continue;  // an output reads it
    std::vector<ops::SliceRange> ranges;
    double pieces_work = 0;
    for (int s : slices) {
      const DeviceNode& slice = graph.nodes[s];
      ops::SliceRange r;
      if (slice.op->name != "slice" || slice.inputs[0] != mm.output || !ops::GetSlice(m, slice.attrs, &r).empty() ||
          r.dim != static_cast<int64_t>(m.size()) - 1 || r.step != 1 || r.size == 0)
        break;
      ranges.push_back(r);
      const std::vector<ops::Shape> in = {graph.values[mm.inputs[0]].shape, {k, r.size}};
      pieces_work += mm.op->work(in, graph.values[slice.output].shape, mm.attrs);
    }
    if (ranges.size() != slices.size()) continue;
    std::vector<ops::Shape> whole = {graph.values[mm.inputs[0]].shape, w};
    if (pieces_work > mm.op->work(whole, m, mm.attrs)) continue;  // narrow pieces pad more than the whole

    for (size_t i = 0; i < slices.size(); ++i) {
      const ops::SliceRange& r = ranges[i];
      const std::string cols = ".cols" + std::to_string(r.start) + "_" + std::to_string(r.start + r.size);
      std::vector<float> piece(k * r.size);
      const std::vector<float>& wd = graph.values[mm.inputs[1]].constant;
      for (int64_t row = 0; row < k; ++row)
        std::copy_n(wd.begin() + row * width + r.start, r.size, piece.begin() + row * r.size);
      DeviceNode out = graph.nodes[n];
      out.inputs[1] = graph.AddConstant(graph.values[mm.inputs[1]].name + cols, {k, r.size}, std::move(piece));
      if (out.inputs.size() > 2) {
        const std::vector<float>& bd = graph.values[mm.inputs[2]].constant;
        out.inputs[2] = graph.AddConstant(graph.values[mm.inputs[2]].name + cols, {r.size},
                                          std::vector<float>(bd.begin() + r.start, bd.begin() + r.start + r.size));
      }
      DeviceNode& slice = graph.nodes[slices[i]];
      out.output = slice.output;
      out.source = graph.nodes[n].source + "+" + slice.source;
      slice = std::move(out);
    }
    removed[n] = true;
    ++count;
  }
  graph.EraseNodes(removed);
  if (split) *split = count;
  return absl::OkStatus();
}

}  // namespace kiln::compiler

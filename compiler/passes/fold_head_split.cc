#include "compiler/passes/fold_head_split.h"

#include <map>
#include <string>
#include <vector>

#include "compiler/passes/dead_code_elimination.h"
#include "ops/op_params.h"
#include "ops/shape_util.h"

namespace kiln::compiler {

absl::Status FoldHeadSplits(DeviceGraph& graph, int* folded) {
  const int num_nodes = static_cast<int>(graph.nodes.size());
  LiveUses uses = FindLiveUses(graph);
  std::vector<bool>& removed = uses.dead;  // starts as the dead nodes
  auto only_reader = [&](int v, const char* op) {
    const int r = uses.OnlyReader(v);
    return r >= 0 && graph.nodes[r].op->name == op ? r : -1;
  };
  auto is_f32_constant = [&](int v) {
    return graph.values[v].kind == DeviceValue::Kind::kConstant && graph.values[v].dtype == ops::DType::kF32;
  };
  const ops::OpDef* reshape = ops::FindOp("reshape");
  std::map<int, int> x_view;  // x -> the reshape of x made for an earlier split
  int count = 0;
  for (int n = 0; n < num_nodes; ++n) {
    const DeviceNode& mm = graph.nodes[n];
    if (mm.op->name != "matmul" || mm.inputs.size() > 3 || mm.attrs.Has("activation")) continue;
    const ops::Shape x = graph.values[mm.inputs[0]].shape, w = graph.values[mm.inputs[1]].shape;
    const ops::Shape m = graph.values[mm.output].shape;
    if (w.size() != 2 || !is_f32_constant(mm.inputs[1]) || graph.values[mm.output].dtype != ops::DType::kF32 ||
        graph.values[mm.inputs[0]].dtype != ops::DType::kF32)  // x may need a reshape, which computes in f32
      continue;
    const int64_t k = w[0], width = w[1];
    if (mm.inputs.size() > 2) {
      const DeviceValue& b = graph.values[mm.inputs[2]];
      if (!is_f32_constant(mm.inputs[2]) || b.shape.empty() || b.shape.back() != width ||
          ops::NumElements(b.shape) != width)
        continue;
    }
    const int r = only_reader(mm.output, "reshape");
    if (r < 0) continue;
    const ops::Shape split = graph.values[graph.nodes[r].output].shape;  // [..., S, H, D]
    const size_t rank = split.size();
    if (rank != m.size() + 1 || !std::equal(m.begin(), m.end() - 1, split.begin())) continue;
    const int64_t heads = split[rank - 2], depth = split[rank - 1];
    const int p = only_reader(graph.nodes[r].output, "permute");
    if (p < 0 || heads < 2) continue;
    std::vector<int64_t> dims;
    if (!ops::PermutationDims(graph.nodes[p].attrs, rank, &dims).empty()) continue;
    // The heads-first shape [..., H, S, D] swaps dims rank-3 and rank-2 of the split; what the permute
    // does beyond that swap is left to do.
    std::vector<int64_t> rest(rank);
    bool identity = true;
    for (size_t i = 0; i < rank; ++i) {
      const int64_t d = dims[i];
      rest[i] = d == static_cast<int64_t>(rank) - 3 ? rank - 2 : d == static_cast<int64_t>(rank) - 2 ? rank - 3 : d;
      identity = identity && rest[i] == static_cast<int64_t>(i);
    }
    ops::Shape heads_first = split;
    std::swap(heads_first[rank - 3], heads_first[rank - 2]);
    // The matmul's batch: x's leading dims with H after them, the weight's batch [1, ..., 1, H].
    const ops::Shape lead(x.begin(), x.end() - 2);
    bool ones = true;
    for (int64_t d : lead) ones = ones && d == 1;
    ops::Shape w_heads(ones ? lead.size() : 0, 1);
    w_heads.insert(w_heads.end(), {heads, k, depth});
    ops::Shape x_heads = lead;  // x as the matmul reads it: a 1 before S unless x's batch is all ones
    if (!ones) x_heads.push_back(1);
    x_heads.insert(x_heads.end(), x.end() - 2, x.end());
    const std::vector<ops::Shape> before = {x, w}, after = {x_heads, w_heads};
    if (mm.op->work(after, heads_first, mm.attrs) > mm.op->work(before, m, mm.attrs)) continue;

    // Regroup the weight's columns, and the bias, per head: w.heads[h, k, d] = w[k, h*D + d].
    const std::vector<float>& wd = graph.values[mm.inputs[1]].constant;
    std::vector<float> regrouped(wd.size());
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < k; ++i)
        for (int64_t d = 0; d < depth; ++d) regrouped[(h * k + i) * depth + d] = wd[i * width + h * depth + d];
    DeviceNode mul = mm;
    mul.inputs[1] = graph.AddConstant(graph.values[mm.inputs[1]].name + ".heads", w_heads, std::move(regrouped));
    if (mul.inputs.size() > 2) {
      std::vector<float> bias = graph.values[mm.inputs[2]].constant;
      mul.inputs[2] = graph.AddConstant(graph.values[mm.inputs[2]].name + ".heads", {heads, 1, depth}, std::move(bias));
    }
    mul.source = mm.source + "+" + graph.nodes[r].source + (identity ? "+" + graph.nodes[p].source : "");
    const std::string name = graph.values[graph.nodes[p].output].name;
    // The reshape of x, if any, where the matmul was; the matmul where the reshape was; the rest of
    // the permute, if any, where it was: each after what it reads.
    // q, k and v read the same x: the first one's reshape serves all.
    if (const auto seen = x_view.find(mul.inputs[0]); seen != x_view.end()) {
      mul.inputs[0] = seen->second;
      removed[n] = true;
    } else if (x_heads != x) {
      graph.values.push_back({name + ".x", x_heads, ops::DType::kF32, DeviceValue::Kind::kIntermediate, {}});
      DeviceNode& view = graph.nodes[n];
      view.op = reshape;
      view.attrs = ops::Attrs();
      view.attrs.SetInts("shape", x_heads);
      view.inputs = {mul.inputs[0]};
      view.output = static_cast<int>(graph.values.size()) - 1;
      x_view[mul.inputs[0]] = view.output;
      mul.inputs[0] = view.output;
    } else {
      removed[n] = true;
    }
    if (identity) {
      mul.output = graph.nodes[p].output;
      removed[p] = true;
    } else {
      graph.values.push_back({name + ".heads", heads_first, ops::DType::kF32, DeviceValue::Kind::kIntermediate, {}});
      mul.output = static_cast<int>(graph.values.size()) - 1;
      graph.nodes[p].inputs = {mul.output};
      graph.nodes[p].attrs = ops::Attrs();
      graph.nodes[p].attrs.SetInts("dims", rest);
    }
    graph.nodes[r] = std::move(mul);
    ++count;
  }
  graph.EraseNodes(removed);
  if (folded) *folded = count;
  return absl::OkStatus();
}

}  // namespace kiln::compiler

#include "compiler/passes/fuse_safe_softmax.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/shape_util.h"

namespace kiln::compiler {
namespace {

bool IsConstantAll(const DeviceValue& v, float x) {
  return v.kind == DeviceValue::Kind::kConstant && !v.constant.empty() &&
         std::all_of(v.constant.begin(), v.constant.end(), [x](float c) { return c == x; });
}

}  // namespace

absl::Status FuseSafeSoftmax(DeviceGraph& graph, SafeSoftmaxStats* stats) {
  std::vector<int> producer(graph.values.size(), -1);
  for (int n = 0; n < static_cast<int>(graph.nodes.size()); ++n) producer[graph.nodes[n].output] = n;
  // The node that computes v with `op` and `arity` operands, or null.
  auto made_by = [&](int v, std::string_view op, size_t arity) -> const DeviceNode* {
    const int n = producer[v];
    if (n < 0 || graph.nodes[n].op->name != op || graph.nodes[n].inputs.size() != arity) return nullptr;
    return &graph.nodes[n];
  };
  for (DeviceNode& where : graph.nodes) {
    if (where.op->name != "where" || where.inputs.size() != 3 || !IsConstantAll(graph.values[where.inputs[1]], 0.0f))
      continue;
    const DeviceNode* softmax = made_by(where.inputs[2], "softmax", 1);
    if (!softmax || softmax->attrs.Int("zero_masked_rows", 0) != 0) continue;
    const int scores = softmax->inputs[0];
    const ops::Shape& shape = graph.values[scores].shape;
    int64_t dim = 0;
    if (shape.empty() || graph.values[where.output].shape != shape ||
        !ops::NormalizeDim(softmax->attrs.Int("dim"), static_cast<int64_t>(shape.size()), &dim).empty())
      continue;
    // cond = logical_not(reduce_max(logical_not(eq(scores, -inf)), dims=[dim], keepdim=1))
    const DeviceNode* all_masked = made_by(where.inputs[0], "logical_not", 1);
    const DeviceNode* any_kept = all_masked ? made_by(all_masked->inputs[0], "reduce_max", 1) : nullptr;
    if (!any_kept || any_kept->attrs.Int("keepdim", 0) != 1 || any_kept->attrs.Ints("dims").size() != 1) continue;
    int64_t reduced = -1;
    if (!ops::NormalizeDim(any_kept->attrs.Ints("dims")[0], static_cast<int64_t>(shape.size()), &reduced).empty() ||
        reduced != dim)
      continue;
    const DeviceNode* kept = made_by(any_kept->inputs[0], "logical_not", 1);
    const DeviceNode* masked = kept ? made_by(kept->inputs[0], "eq", 2) : nullptr;
    if (!masked) continue;
    const int a = masked->inputs[0], b = masked->inputs[1];
    const float inf = -INFINITY;
    const bool eq_scores_inf = (a == scores && IsConstantAll(graph.values[b], inf)) ||
                               (b == scores && IsConstantAll(graph.values[a], inf));
    if (!eq_scores_inf || graph.values[kept->output].shape != shape) continue;

    ops::Attrs attrs;
    attrs.SetInt("dim", dim).SetInt("zero_masked_rows", 1);
    where.op = softmax->op;
    where.source = softmax->source + "+" + where.source;
    where.inputs = {scores};
    where.attrs = std::move(attrs);
    if (stats) stats->fused++;
  }
  return absl::OkStatus();
}

}  // namespace kiln::compiler

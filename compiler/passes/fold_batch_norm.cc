#include "compiler/passes/fold_batch_norm.h"

#include <cmath>
#include <string>
#include <vector>

namespace kiln::compiler {
namespace {

bool IsConstant(const DeviceGraph& g, int v) { return g.values[v].kind == DeviceValue::Kind::kConstant; }

}  // namespace

absl::Status FoldBatchNorm(DeviceGraph& graph, BatchNormFoldingStats* stats) {
  const int num_values = static_cast<int>(graph.values.size());
  const std::vector<int> readers = graph.ReadCounts();  // the caller's and the state updates' reads too
  std::vector<int> producer(num_values, -1);
  for (int n = 0; n < static_cast<int>(graph.nodes.size()); ++n) producer[graph.nodes[n].output] = n;

  std::vector<bool> removed(graph.nodes.size(), false);
  for (int n = 0; n < static_cast<int>(graph.nodes.size()); ++n) {
    const DeviceNode& bn = graph.nodes[n];
    if (bn.op->name != "batch_norm") continue;
    const int x = bn.inputs[0];
    const int c = producer[x];
    if (c < 0 || removed[c] || graph.nodes[c].op->name != "conv2d" || readers[x] != 1) continue;
    DeviceNode& conv = graph.nodes[c];
    bool constant = conv.inputs.size() >= 2 && IsConstant(graph, conv.inputs[1]);
    if (conv.inputs.size() == 3) constant = constant && IsConstant(graph, conv.inputs[2]);
    for (size_t i = 1; i < bn.inputs.size(); ++i) constant = constant && IsConstant(graph, bn.inputs[i]);
    if (!constant) continue;

    const DeviceValue& w = graph.values[conv.inputs[1]];
    const int64_t out_channels = w.shape[0];
    const int64_t per_channel = ops::NumElements(w.shape) / std::max<int64_t>(out_channels, 1);
    auto param = [&](size_t i, float fallback) -> std::vector<float> {
      if (i < bn.inputs.size()) return graph.values[bn.inputs[i]].constant;
      return std::vector<float>(out_channels, fallback);
    };
    const std::vector<float> mean = param(1, 0), var = param(2, 1), gamma = param(3, 1), beta = param(4, 0);
    const std::vector<float> bias = conv.inputs.size() == 3 ? graph.values[conv.inputs[2]].constant
                                                            : std::vector<float>(out_channels, 0.0f);
    const double eps = bn.attrs.Float("eps");
    std::vector<float> folded_w(w.constant.size()), folded_b(out_channels);
    for (int64_t o = 0; o < out_channels; ++o) {
      // In double, then rounded once: the folded weights are as close to w * s as fp32 allows.
      const double s = static_cast<double>(gamma[o]) / std::sqrt(static_cast<double>(var[o]) + eps);
      for (int64_t k = 0; k < per_channel; ++k)
        folded_w[o * per_channel + k] = static_cast<float>(w.constant[o * per_channel + k] * s);
      folded_b[o] = static_cast<float>((static_cast<double>(bias[o]) - mean[o]) * s + beta[o]);
    }
    const ops::Shape w_shape = w.shape;
    const std::string w_name = w.name;
    const int new_w = graph.AddConstant(w_name + ".bn", w_shape, std::move(folded_w));
    const int new_b = graph.AddConstant(w_name + ".bn_bias", {out_channels}, std::move(folded_b));
    DeviceNode& folded = graph.nodes[c];  // AddConstant does not move nodes
    folded.inputs = {folded.inputs[0], new_w, new_b};
    folded.output = bn.output;  // the norm's readers now read the convolution
    folded.source += "+" + bn.source;
    removed[n] = true;
    if (stats) stats->folded++;
  }
  graph.EraseNodes(removed);
  return absl::OkStatus();
}

}  // namespace kiln::compiler

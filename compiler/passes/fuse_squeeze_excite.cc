#include "compiler/passes/fuse_squeeze_excite.h"

#include <algorithm>
#include <string>
#include <vector>

#include "ops/epilogue.h"
#include "ops/op_def.h"
#include "ops/tile_layout.h"

namespace kiln::compiler {
namespace {

// A conv2d with no residual or input scale: at most input, weight and bias.
bool PlainConv(const DeviceNode& node) {
  return node.op->name == "conv2d" && node.inputs.size() <= 3 && node.attrs.Int("input_scale", 0) != 1;
}

// A fully connected layer of the gate: a 1x1, unpadded, ungrouped plain conv2d, not clamped (an SE
// activation is an epilogue activation other than clamp).
bool GateLayer(const DeviceGraph& graph, const DeviceNode& node) {
  if (!PlainConv(node) || node.attrs.Int("groups", 1) != 1) return false;
  const ops::Shape& w = graph.values[node.inputs[1]].shape;
  if (w.size() != 4 || w[2] != 1 || w[3] != 1) return false;
  for (int64_t p : node.attrs.Ints("padding"))
    if (p != 0) return false;
  return !node.attrs.Has("activation") || node.attrs.Int("activation") != ops::kClampActivation;
}

// A mean over exactly dims 2 and 3 of a 4-D value, kept as [N, C, 1, 1].
bool SpatialMean(const DeviceNode& node) {
  if (node.op->name != "reduce_mean" || node.attrs.Int("keepdim", 0) != 1) return false;
  std::vector<int64_t> dims = node.attrs.Ints("dims");
  for (int64_t& d : dims) d = d < 0 ? d + 4 : d;
  std::sort(dims.begin(), dims.end());
  return dims == std::vector<int64_t>{2, 3};
}

}  // namespace

absl::Status FuseSqueezeExcite(DeviceGraph& graph, const target::ChipConfig& chip, ops::DType device_dtype,
                               int* fused) {
  const ops::OpDef* fused_op = ops::FindOp("conv2d_squeeze_excite");
  if (fused_op == nullptr)
    return absl::InternalError("fuse-squeeze-excite: the op library has no conv2d_squeeze_excite op");
  const int num_nodes = static_cast<int>(graph.nodes.size());
  const std::vector<int> readers = graph.ReadCounts();  // outputs and state updates count: never fused away
  std::vector<int> producer(graph.values.size(), -1);
  for (int n = 0; n < num_nodes; ++n) producer[graph.nodes[n].output] = n;
  // The node producing v when v has exactly `reads` readers; -1 otherwise.
  auto only_reader_of = [&](int v, int reads) { return readers[v] == reads ? producer[v] : -1; };
  std::vector<bool> removed(num_nodes, false);
  int count = 0;
  for (int n = 0; n < num_nodes; ++n) {
    DeviceNode& mul = graph.nodes[n];
    if (mul.op->name != "mul" || mul.inputs.size() != 2) continue;
    for (int side = 0; side < 2; ++side) {
      const int y = mul.inputs[side], gate = mul.inputs[1 - side];
      const ops::Shape& shape = graph.values[y].shape;
      if (shape.size() != 4 || graph.values[mul.output].shape != shape) continue;
      const int fc2 = only_reader_of(gate, 1), conv = only_reader_of(y, 2);
      if (fc2 < 0 || conv < 0 || !GateLayer(graph, graph.nodes[fc2]) || !PlainConv(graph.nodes[conv])) continue;
      const int fc1 = only_reader_of(graph.nodes[fc2].inputs[0], 1);
      if (fc1 < 0 || !GateLayer(graph, graph.nodes[fc1])) continue;
      const int mean = only_reader_of(graph.nodes[fc1].inputs[0], 1);
      if (mean < 0 || !SpatialMean(graph.nodes[mean]) || graph.nodes[mean].inputs[0] != y) continue;
      const ops::DType dtype = graph.values[y].dtype;
      if (graph.values[gate].dtype != dtype || graph.values[mul.output].dtype != dtype) continue;
      // Each core holds its share of y (by output tiles, as the op splits) until the gate is known.
      const int64_t cores = std::max<int64_t>(1, std::min(chip.cores, ops::ComputeTiles(shape)));
      const int64_t bytes = ops::StoredBytes(shape, device_dtype, ops::Layout::kTile);
      if (bytes / cores > chip.sram_usable_bytes_per_core()) continue;

      ops::Attrs attrs;
      for (const auto& [name, value] : graph.nodes[conv].attrs.values())
        if (name != "input_scale") attrs.Set(name, value);
      if (graph.nodes[fc1].attrs.Has("activation"))
        attrs.SetInt("se_activation", graph.nodes[fc1].attrs.Int("activation"));
      if (graph.nodes[fc2].attrs.Has("activation"))
        attrs.SetInt("se_gate_activation", graph.nodes[fc2].attrs.Int("activation"));
      // The operands: the convolution's input, then the weight and bias of the convolution, fc1 and
      // fc2. The fused op must accept them and make y's shape (a gate of one channel broadcast over
      // y's is not its [N, C, 1, 1]) before a zero bias is made for each layer without one.
      const std::vector<int> layers = {conv, fc1, fc2};
      std::vector<ops::Shape> shapes = {graph.values[graph.nodes[conv].inputs[0]].shape};
      for (int layer : layers) {
        const DeviceNode& node = graph.nodes[layer];
        shapes.push_back(graph.values[node.inputs[1]].shape);
        shapes.push_back({graph.values[node.output].shape[1]});
      }
      ops::Shape fused_shape;
      if (!ops::InferOutputShape(*fused_op, shapes, attrs, &fused_shape).empty() || fused_shape != shape) continue;
      std::vector<int> inputs = {graph.nodes[conv].inputs[0]};
      for (int layer : layers) {
        const DeviceNode& node = graph.nodes[layer];
        inputs.push_back(node.inputs[1]);
        if (node.inputs.size() == 3) {
          inputs.push_back(node.inputs[2]);
        } else {
          const int64_t channels = graph.values[node.output].shape[1];
          const std::string name = graph.values[node.inputs[1]].name + ".zero_bias";
          inputs.push_back(graph.AddConstant(name, {channels}, std::vector<float>(channels, 0.0f)));
        }
      }
      // `mul` stays valid: AddConstant adds values, not nodes.
      mul.source = graph.nodes[conv].source + "+" + graph.nodes[mean].source + "+" + graph.nodes[fc1].source + "+" +
                   graph.nodes[fc2].source + "+" + mul.source;
      mul.op = fused_op;
      mul.inputs = std::move(inputs);
      mul.attrs = std::move(attrs);
      removed[conv] = removed[mean] = removed[fc1] = removed[fc2] = true;
      ++count;
      break;
    }
  }
  graph.EraseNodes(removed);
  if (fused) *fused = count;
  return absl::OkStatus();
}

}  // namespace kiln::compiler

#include "compiler/lowering/device_graph.h"

#include "absl/strings/str_cat.h"

namespace kiln::compiler {

int DeviceGraph::AddInput(const std::string& name, ops::Shape shape, ops::DType dtype) {
  values.push_back({name, std::move(shape), dtype, DeviceValue::Kind::kInput, {}});
  return static_cast<int>(values.size()) - 1;
}

int DeviceGraph::AddConstant(const std::string& name, ops::Shape shape, std::vector<float> data) {
  values.push_back({name, std::move(shape), ops::DType::kF32, DeviceValue::Kind::kConstant, std::move(data)});
  return static_cast<int>(values.size()) - 1;
}

int DeviceGraph::AddIndexConstant(const std::string& name, ops::Shape shape, std::vector<float> data) {
  const int v = AddConstant(name, std::move(shape), std::move(data));
  values[v].dtype = ops::DType::kI32;
  return v;
}

int DeviceGraph::AddState(const std::string& name, ops::Shape shape, ops::DType dtype, std::vector<float> initial) {
  values.push_back({name, std::move(shape), dtype, DeviceValue::Kind::kState, std::move(initial)});
  return static_cast<int>(values.size()) - 1;
}

std::vector<int> DeviceGraph::ReadCounts() const {
  std::vector<int> reads(values.size(), 0);
  for (const DeviceNode& node : nodes)
    for (int v : node.inputs) ++reads[v];
  for (const auto& [name, v] : outputs) ++reads[v];
  for (const auto& [state, v] : state_updates) ++reads[v];
  return reads;
}

void DeviceGraph::EraseNodes(const std::vector<bool>& removed) {
  std::vector<DeviceNode> kept;
  kept.reserve(nodes.size());
  for (size_t n = 0; n < nodes.size(); ++n)
    if (!removed[n]) kept.push_back(std::move(nodes[n]));
  nodes = std::move(kept);
}

absl::StatusOr<int> DeviceGraph::AddNode(const std::string& op, std::vector<int> inputs, ops::Attrs attrs,
                                         const std::string& source, const std::string& result_name) {
  const ops::OpDef* def = ops::FindOp(op);
  if (!def) return absl::InternalError(absl::StrCat("node ", source, ": no device op '", op, "'"));
  std::vector<ops::Shape> shapes;
  for (int v : inputs) shapes.push_back(values[v].shape);
  ops::Shape out;
  if (std::string err = ops::InferOutputShape(*def, shapes, attrs, &out); !err.empty()) {
    std::string operands;
    for (const ops::Shape& s : shapes) absl::StrAppend(&operands, operands.empty() ? "" : ", ", ops::ShapeToString(s));
    return absl::InvalidArgumentError(
        absl::StrCat("node ", source, ": device op ", op, "(", operands, ") is invalid: ", err));
  }
  values.push_back({result_name, std::move(out), ops::DType::kF32, DeviceValue::Kind::kIntermediate, {}});
  const int id = static_cast<int>(values.size()) - 1;
  nodes.push_back({def, std::move(inputs), id, std::move(attrs), source});
  return id;
}

}  // namespace kiln::compiler

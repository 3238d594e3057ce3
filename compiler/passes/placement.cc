#include "compiler/passes/placement.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kiln::compiler {

absl::StatusOr<ScheduledProgram> PlaceGraph(DeviceGraph graph, ops::DType device_dtype) {
  if (device_dtype == ops::DType::kI32)
    return absl::InvalidArgumentError("placement: i32 is not a device dtype for float models");
  ScheduledProgram p;
  p.regions = {{"activations", target::RegionKind::kDeviceDram, 0}, {"constants", target::RegionKind::kDeviceDram, 0}};
  std::vector<int> device_tensor(graph.values.size(), -1);
  auto storage = [&](const DeviceValue& v) { return DeviceStorage(v, device_dtype); };
  auto add_tensor = [&](ProgramTensor t) {
    p.tensors.push_back(std::move(t));
    return static_cast<int>(p.tensors.size()) - 1;
  };

  // Inputs: a host tensor in the caller's memory and its device copy.
  for (const auto& [name, v] : graph.inputs) {
    const DeviceValue& value = graph.values[v];
    const int host = add_tensor({name, value.shape, value.dtype, ops::Layout::kRowMajor, kCallerBuffer, 0, false, {}});
    p.inputs.push_back({name, host});
    device_tensor[v] = add_tensor({name + ".device", value.shape, storage(value), ops::Layout::kTile,
                                   kActivationRegion, 0, false, {}});
    p.instructions.push_back({ProgramInstruction::Kind::kHostToDevice, nullptr, {host}, device_tensor[v], {}, name});
  }

  // State: a tensor in the state region holding its initial value, for every buffer the module mutates.
  for (size_t v = 0; v < graph.values.size(); ++v) {
    DeviceValue& value = graph.values[v];
    if (value.kind != DeviceValue::Kind::kState) continue;
    if (p.regions.size() == kStateRegion) p.regions.push_back({"state", target::RegionKind::kDeviceState, 0});
    ProgramTensor t{value.name, value.shape, storage(value), ops::Layout::kTile, kStateRegion, 0, false, {}};
    t.is_state = true;
    t.constant = std::move(value.constant);
    device_tensor[v] = add_tensor(std::move(t));
  }

  auto device_operand = [&](int v) {
    if (device_tensor[v] < 0) {
      DeviceValue& value = graph.values[v];
      // Anything not yet placed is a constant: nodes come in topological order.
      device_tensor[v] = add_tensor({value.name, value.shape, storage(value), ops::Layout::kTile,
                                     kConstantRegion, 0, true, std::move(value.constant)});
    }
    return device_tensor[v];
  };

  for (const DeviceNode& node : graph.nodes) {
    ProgramInstruction inst{ProgramInstruction::Kind::kOp, node.op, {}, -1, node.attrs, node.source};
    for (int v : node.inputs) {
      if (graph.values[v].kind == DeviceValue::Kind::kIntermediate && device_tensor[v] < 0)
        return absl::InternalError(absl::StrCat("placement: node ", node.source, " reads '",
                                                graph.values[v].name, "' before it is computed"));
      inst.inputs.push_back(device_operand(v));
    }
    const DeviceValue& out = graph.values[node.output];
    device_tensor[node.output] =
        add_tensor({out.name, out.shape, storage(out), ops::Layout::kTile, kActivationRegion, 0, false, {}});
    inst.output = device_tensor[node.output];
    p.instructions.push_back(std::move(inst));
  }

  // Outputs: a DMA from the device value into a host tensor. An output may also be a graph input
  // (returned unchanged) or a constant (a result constant folding computed): it is copied back from
  // the input's device copy or from the constant region.
  for (const auto& [name, v] : graph.outputs) {
    const DeviceValue& value = graph.values[v];
    const int src = value.kind == DeviceValue::Kind::kConstant ? device_operand(v) : device_tensor[v];
    if (src < 0)
      return absl::InternalError(absl::StrCat("placement: output '", name, "' (", value.name, ") is never computed"));
    const int host = add_tensor({name, value.shape, value.dtype, ops::Layout::kRowMajor, kCallerBuffer, 0, false, {}});
    p.outputs.push_back({name, host});
    p.instructions.push_back({ProgramInstruction::Kind::kDeviceToHost, nullptr, {src}, host, {}, name});
  }

  // The run ends by copying each state's new value into the state tensor, after every read of the
  // old value (ops do not work in place, so the new value was built in the arena).
  for (const auto& [state, v] : graph.state_updates) {
    const DeviceValue& value = graph.values[v];
    const int src = value.kind == DeviceValue::Kind::kConstant ? device_operand(v) : device_tensor[v];
    if (src < 0 || device_tensor[state] < 0)
      return absl::InternalError(absl::StrCat("placement: the update of state '", graph.values[state].name, "' (",
                                              value.name, ") is never computed"));
    ops::Attrs same_shape;
    same_shape.SetInts("shape", value.shape);
    p.instructions.push_back({ProgramInstruction::Kind::kOp, ops::FindOp("reshape"), {src}, device_tensor[state],
                              std::move(same_shape), absl::StrCat("state update of ", graph.values[state].name)});
  }
  return p;
}

}  // namespace kiln::compiler

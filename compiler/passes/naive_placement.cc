#include "compiler/passes/naive_placement.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "compiler/passes/placement.h"

namespace kiln::compiler {

absl::StatusOr<ScheduledProgram> PlaceGraphNaively(DeviceGraph graph, ops::DType device_dtype) {
  using Kind = ProgramInstruction::Kind;
  if (!graph.state_updates.empty())
    return absl::UnimplementedError("the naive baseline keeps nothing on the device between ops, so it cannot run a "
                                    "program with device state (a KV cache)");
  ScheduledProgram p;
  // The activation region keeps its index (kActivationRegion); the other two hold host copies.
  p.regions = {{"activations", target::RegionKind::kDeviceDram, 0},
               {"constants (host)", target::RegionKind::kHostScratch, 0},
               {"values (host)", target::RegionKind::kHostScratch, 0}};
  constexpr int kHostConstants = 1, kHostValues = 2;
  auto storage = [&](const DeviceValue& v) { return DeviceStorage(v, device_dtype); };
  auto add_tensor = [&](ProgramTensor t) {
    p.tensors.push_back(std::move(t));
    return static_cast<int>(p.tensors.size()) - 1;
  };
  std::vector<int> host(graph.values.size(), -1);  // each value's host copy
  for (const auto& [name, v] : graph.inputs) {
    const DeviceValue& value = graph.values[v];
    host[v] = add_tensor({name, value.shape, value.dtype, ops::Layout::kRowMajor, kCallerBuffer, 0, false, {}});
    p.inputs.push_back({name, host[v]});
  }
  auto host_copy = [&](int v) {
    if (host[v] < 0) {  // a constant: on the host from the start
      DeviceValue& value = graph.values[v];
      host[v] = add_tensor({value.name, value.shape, storage(value), ops::Layout::kRowMajor, kHostConstants, 0, true,
                            std::move(value.constant)});
    }
    return host[v];
  };
  auto upload = [&](int v, const std::string& source) {
    const DeviceValue& value = graph.values[v];
    const int d = add_tensor({value.name + ".device", value.shape, storage(value), ops::Layout::kTile,
                              kActivationRegion, 0, false, {}});
    p.instructions.push_back({Kind::kHostToDevice, nullptr, {host_copy(v)}, d, {}, source});
    return d;
  };
  for (const DeviceNode& node : graph.nodes) {
    ProgramInstruction inst{Kind::kOp, node.op, {}, -1, node.attrs, node.source};
    std::vector<std::pair<int, int>> uploaded;  // value -> device copy, once per op
    for (int v : node.inputs) {
      if (graph.values[v].kind == DeviceValue::Kind::kIntermediate && host[v] < 0)
        return absl::InternalError(absl::StrCat("naive placement: node ", node.source, " reads '",
                                                graph.values[v].name, "' before it is computed"));
      int d = -1;
      for (const auto& [value, copy] : uploaded)
        if (value == v) d = copy;
      if (d < 0) uploaded.push_back({v, d = upload(v, node.source)});
      inst.inputs.push_back(d);
    }
    const DeviceValue& out = graph.values[node.output];
    inst.output = add_tensor({out.name, out.shape, storage(out), ops::Layout::kTile, kActivationRegion, 0, false, {}});
    const int result = inst.output;
    p.instructions.push_back(std::move(inst));
    host[node.output] = add_tensor({out.name + ".host", out.shape, storage(out), ops::Layout::kRowMajor, kHostValues, 0,
                                    false, {}});
    p.instructions.push_back({Kind::kDeviceToHost, nullptr, {result}, host[node.output], {}, node.source});
  }
  // Outputs: uploaded from their host copy once more and downloaded into the caller's buffer (the
  // runtime copies between host buffers only through the device).
  for (const auto& [name, v] : graph.outputs) {
    const DeviceValue& value = graph.values[v];
    if (value.kind == DeviceValue::Kind::kIntermediate && host[v] < 0)
      return absl::InternalError(absl::StrCat("naive placement: output '", name, "' is never computed"));
    const int d = upload(v, name);
    const int dst = add_tensor({name, value.shape, value.dtype, ops::Layout::kRowMajor, kCallerBuffer, 0, false, {}});
    p.outputs.push_back({name, dst});
    p.instructions.push_back({Kind::kDeviceToHost, nullptr, {d}, dst, {}, name});
  }
  return p;
}

}  // namespace kiln::compiler

#include "compiler/pipeline/verifier.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "compiler/program/printer.h"
#include "ops/op_def.h"
#include "ops/tile_layout.h"

namespace kiln::compiler {
namespace {

absl::Status Broken(std::string message) { return absl::InternalError(std::move(message)); }

bool InRange(int id, size_t size) { return id >= 0 && id < static_cast<int>(size); }

// The verifier's only knowledge of memory spaces: host memory (the caller's buffers, and the
// HOST_SCRATCH regions eviction spills to), where ops write (and transfers to the device land), and
// what is loaded with the program. Region indices are checked before these are asked.
bool IsHost(const ScheduledProgram& p, const ProgramTensor& t) {
  return t.in_caller_buffer() || p.regions[t.region].kind == target::RegionKind::kHostScratch;
}
bool IsWritableDevice(const ScheduledProgram& p, const ProgramTensor& t) {
  return t.is_activation() && (p.regions[t.region].kind == target::RegionKind::kDeviceDram ||
                               p.regions[t.region].kind == target::RegionKind::kDeviceSram);
}
bool IsLoadedWithProgram(const ProgramTensor& t) { return t.has_initial_data(); }
// State is written by the ops that end a run (placement's state updates), once each.
bool IsWritableState(const ScheduledProgram& p, const ProgramTensor& t) {
  return t.is_state && !t.is_constant && !t.in_caller_buffer() &&
         p.regions[t.region].kind == target::RegionKind::kDeviceState;
}

}  // namespace

absl::Status VerifyDeviceGraph(const DeviceGraph& g) {
  const size_t n = g.values.size();
  auto out_of_range = [&](const std::string& where, int id) {
    return Broken(absl::StrCat(where, " refers to value id ", id, ", but the graph has ", n, " values"));
  };
  // Where each value is defined: -2 = not (yet), -1 = before any node (input or constant), else a node.
  std::vector<int> defined(n, -2);
  for (size_t v = 0; v < n; ++v) {
    const DeviceValue& value = g.values[v];
    if (value.kind == DeviceValue::Kind::kInput) defined[v] = -1;
    if (value.kind == DeviceValue::Kind::kState) {
      if (static_cast<int64_t>(value.constant.size()) != ops::NumElements(value.shape))
        return Broken(absl::StrCat("state ", DeviceValueName(g, static_cast<int>(v)), " has ", value.constant.size(),
                                   " initial values but its shape ", ops::ShapeToString(value.shape), " has ",
                                   ops::NumElements(value.shape), " elements"));
      defined[v] = -1;
    }
    // A constant without data is one dead-code elimination freed (unless it has no elements at all);
    // reading it is caught below.
    if (value.kind == DeviceValue::Kind::kConstant &&
        (!value.constant.empty() || ops::NumElements(value.shape) == 0)) {
      if (static_cast<int64_t>(value.constant.size()) != ops::NumElements(value.shape))
        return Broken(absl::StrCat("constant ", DeviceValueName(g, static_cast<int>(v)), " holds ",
                                   value.constant.size(), " values but its shape ", ops::ShapeToString(value.shape),
                                   " has ", ops::NumElements(value.shape), " elements"));
      defined[v] = -1;
    }
  }
  for (const auto& [name, v] : g.inputs) {
    if (!InRange(v, n)) return out_of_range(absl::StrCat("input '", name, "'"), v);
    if (g.values[v].kind != DeviceValue::Kind::kInput)
      return Broken(absl::StrCat("input '", name, "' is ", DeviceValueName(g, v), ", which is not an input value"));
  }

  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    const DeviceNode& node = g.nodes[i];
    // Printed only on error: naming every value costs a pass over the graph.
    auto where = [&] { return absl::StrCat("node ", i, " (", PrintDeviceNode(g, i), ")"); };
    if (node.op == nullptr) return Broken(absl::StrCat(where(), " has no op"));
    std::vector<ops::Shape> shapes;
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      const int v = node.inputs[k];
      if (!InRange(v, n)) return out_of_range(absl::StrCat(where(), ": operand ", k), v);
      if (defined[v] == -2) {
        const DeviceValue& value = g.values[v];
        const char* why = value.kind == DeviceValue::Kind::kConstant ? "a constant whose data was freed"
                                                                     : "not defined before this node";
        return Broken(absl::StrCat(where(), ": operand ", k, " ", DeviceValueName(g, v), " is ", why));
      }
      shapes.push_back(g.values[v].shape);
    }
    if (!InRange(node.output, n)) return out_of_range(absl::StrCat(where(), ": the result"), node.output);
    const DeviceValue& out = g.values[node.output];
    if (out.kind != DeviceValue::Kind::kIntermediate || defined[node.output] != -2)
      return Broken(absl::StrCat(where(), ": result ", DeviceValueName(g, node.output), " is already defined",
                                 defined[node.output] >= 0 ? absl::StrCat(" by node ", defined[node.output])
                                                           : std::string(" (an input or constant)")));
    ops::Shape inferred;
    if (std::string err = ops::InferOutputShape(*node.op, shapes, node.attrs, &inferred); !err.empty())
      return Broken(absl::StrCat(where(), " is invalid: ", err));
    if (inferred != out.shape)
      return Broken(absl::StrCat(where(), ": result ", DeviceValueName(g, node.output), " has shape ",
                                 ops::ShapeToString(out.shape), " but ", std::string(node.op->name), " of these operands gives ",
                                 ops::ShapeToString(inferred)));
    defined[node.output] = i;
  }

  for (const auto& [name, v] : g.outputs) {
    if (!InRange(v, n)) return out_of_range(absl::StrCat("output '", name, "'"), v);
    if (defined[v] == -2)
      return Broken(absl::StrCat("output '", name, "' is ", DeviceValueName(g, v), ", which no node defines"));
  }
  std::vector<bool> updated(n, false);
  for (const auto& [state, value] : g.state_updates) {
    if (!InRange(state, n)) return out_of_range("a state update", state);
    if (!InRange(value, n)) return out_of_range(absl::StrCat("the update of state ", DeviceValueName(g, state)), value);
    if (g.values[state].kind != DeviceValue::Kind::kState)
      return Broken(absl::StrCat("state update of ", DeviceValueName(g, state), ", which is not a state value"));
    if (updated[state]) return Broken(absl::StrCat("state ", DeviceValueName(g, state), " is updated twice"));
    updated[state] = true;
    if (defined[value] == -2)
      return Broken(absl::StrCat("state ", DeviceValueName(g, state), " is updated to ", DeviceValueName(g, value),
                                 ", which no node defines"));
    if (g.values[value].shape != g.values[state].shape)
      return Broken(absl::StrCat("state ", DeviceValueName(g, state), " ", ops::ShapeToString(g.values[state].shape),
                                 " is updated to ", DeviceValueName(g, value), " of shape ",
                                 ops::ShapeToString(g.values[value].shape)));
  }
  return absl::OkStatus();
}

absl::Status VerifyProgram(const ScheduledProgram& p) {
  using Kind = ProgramInstruction::Kind;
  const size_t n = p.tensors.size();
  auto name = [&](int t) { return ProgramTensorName(p, t); };
  auto out_of_range = [&](const std::string& where, int id) {
    return Broken(absl::StrCat(where, " refers to tensor id ", id, ", but the program has ", n, " tensors"));
  };
  auto is_host = [&](int t) { return IsHost(p, p.tensors[t]); };

  std::vector<bool> written(n, false), state_written(n, false);
  for (size_t t = 0; t < n; ++t) {
    const ProgramTensor& tensor = p.tensors[t];
    if (!tensor.in_caller_buffer() && !InRange(tensor.region, p.regions.size()))
      return Broken(absl::StrCat("tensor ", name(static_cast<int>(t)), " is in region ", tensor.region,
                                 ", but the program has ", p.regions.size(), " regions"));
    if (tensor.is_constant && tensor.in_caller_buffer())
      return Broken(absl::StrCat("constant ", name(static_cast<int>(t)), " is in the caller's buffer, not in a region"));
    const bool in_state_region =
        !tensor.in_caller_buffer() && p.regions[tensor.region].kind == target::RegionKind::kDeviceState;
    if (tensor.is_state != in_state_region || (tensor.is_state && tensor.is_constant))
      return Broken(absl::StrCat("tensor ", name(static_cast<int>(t)), tensor.is_state ? " is state" : " is not state",
                                 " but ", in_state_region ? "is" : "is not", " in a DEVICE_STATE region",
                                 tensor.is_state && tensor.is_constant ? " (and marked constant)" : ""));
    if (!tensor.in_caller_buffer() && p.regions[tensor.region].shares >= 0 && !tensor.is_constant)
      return Broken(absl::StrCat("tensor ", name(static_cast<int>(t)), " is not a constant but is in region '",
                                 p.regions[tensor.region].name, "', which shares an owner program's constants"));
    if (tensor.is_alias()) {
      const int a = tensor.alias_of;
      if (!InRange(a, n)) return out_of_range(absl::StrCat("alias ", name(static_cast<int>(t))), a);
      const ProgramTensor& target = p.tensors[a];
      if (a == static_cast<int>(t) || target.is_alias() || !tensor.is_activation() || !target.is_activation())
        return Broken(absl::StrCat("tensor ", name(static_cast<int>(t)), " is an alias of ", name(a),
                                   "; only an activation aliases another one that is not itself an alias"));
      if (tensor.region != target.region || tensor.dtype != target.dtype || tensor.layout != target.layout ||
          !ops::SameStoredBytes(target.shape, tensor.shape, target.layout))
        return Broken(absl::StrCat("alias ", name(static_cast<int>(t)), " ", ops::ShapeToString(tensor.shape), " of ",
                                   name(a), " ", ops::ShapeToString(target.shape),
                                   " would not see its target's stored bytes as they are (region, dtype, layout or shape)"));
    }
    if (!IsLoadedWithProgram(tensor)) continue;
    if (static_cast<int64_t>(tensor.constant.size()) != ops::NumElements(tensor.shape))
      return Broken(absl::StrCat("constant ", name(static_cast<int>(t)), " holds ", tensor.constant.size(),
                                 " values but its shape ", ops::ShapeToString(tensor.shape), " has ",
                                 ops::NumElements(tensor.shape), " elements"));
    written[t] = true;  // loaded with the program
  }
  for (const auto& [input, t] : p.inputs) {
    if (!InRange(t, n)) return out_of_range(absl::StrCat("input '", input, "'"), t);
    if (!p.tensors[t].in_caller_buffer())
      return Broken(absl::StrCat("input '", input, "' is ", name(t), ", which is not in the caller's buffer"));
    written[t] = true;  // by the caller
  }

  for (int i = 0; i < static_cast<int>(p.instructions.size()); ++i) {
    const ProgramInstruction& inst = p.instructions[i];
    auto where = [&] { return absl::StrCat("instruction ", i, " (", PrintInstruction(p, i, false), ")"); };
    for (size_t k = 0; k < inst.inputs.size(); ++k) {
      const int t = inst.inputs[k];
      if (!InRange(t, n)) return out_of_range(absl::StrCat(where(), ": operand ", k), t);
      if (!written[p.tensors[t].is_alias() ? p.tensors[t].alias_of : t])
        return Broken(absl::StrCat(where(), ": operand ", k, " ", name(t), " is read before any instruction writes it"));
    }
    if (!InRange(inst.output, n)) return out_of_range(absl::StrCat(where(), ": the result"), inst.output);
    const ProgramTensor& out = p.tensors[inst.output];
    if (out.is_alias())
      return Broken(absl::StrCat(where(), ": writes ", name(inst.output), ", an alias of ", name(out.alias_of),
                                 "; aliases are only read"));
    // A state tensor holds its value from the start and is written once more, by an op.
    const bool writes_state = inst.kind == Kind::kOp && IsWritableState(p, out);
    if (writes_state ? state_written[inst.output] : written[inst.output])
      return Broken(absl::StrCat(where(), ": ", name(inst.output), " is already written (each tensor is written once)"));
    if (writes_state) {
      for (int t : inst.inputs)
        if (t == inst.output) return Broken(absl::StrCat(where(), ": reads the state tensor it writes"));
      state_written[inst.output] = true;
    }

    if (inst.kind == Kind::kOp) {
      if (inst.op == nullptr) return Broken(absl::StrCat(where(), " has no op"));
      std::vector<ops::Shape> shapes;
      for (int t : inst.inputs) {
        if (is_host(t)) return Broken(absl::StrCat(where(), ": reads host tensor ", name(t), "; ops read device memory"));
        shapes.push_back(p.tensors[t].shape);
      }
      if (!IsWritableDevice(p, out) && !writes_state)
        return Broken(absl::StrCat(where(), ": writes ", name(inst.output), ", which is not in the device arena"));
      ops::Shape inferred;
      if (std::string err = ops::InferOutputShape(*inst.op, shapes, inst.attrs, &inferred); !err.empty())
        return Broken(absl::StrCat(where(), " is invalid: ", err));
      if (inferred != out.shape)
        return Broken(absl::StrCat(where(), ": result ", name(inst.output), " has shape ", ops::ShapeToString(out.shape),
                                   " but ", std::string(inst.op->name), " of these operands gives ", ops::ShapeToString(inferred)));
    } else {
      const bool to_device = inst.kind == Kind::kHostToDevice;
      if (inst.inputs.size() != 1)
        return Broken(absl::StrCat(where(), ": a transfer has one source, not ", inst.inputs.size()));
      const int src = inst.inputs[0];
      if (to_device ? !is_host(src) || !IsWritableDevice(p, out)
                    : is_host(src) || !is_host(inst.output) || out.has_initial_data())
        return Broken(absl::StrCat(where(), ": copies ", name(src), " to ", name(inst.output), "; a ",
                                   to_device ? "host-to-device transfer goes from host memory to the device arena"
                                             : "device-to-host transfer goes from device memory to host memory"));
      if (p.tensors[src].shape != out.shape)
        return Broken(absl::StrCat(where(), ": copies ", ops::ShapeToString(p.tensors[src].shape), " into ",
                                   ops::ShapeToString(out.shape)));
    }
    written[inst.output] = true;
  }

  for (const auto& [output, t] : p.outputs) {
    if (!InRange(t, n)) return out_of_range(absl::StrCat("output '", output, "'"), t);
    if (!p.tensors[t].in_caller_buffer())
      return Broken(absl::StrCat("output '", output, "' is ", name(t), ", which is not in the caller's buffer"));
    if (!written[t]) return Broken(absl::StrCat("output '", output, "' (", name(t), ") is never written"));
  }
  return absl::OkStatus();
}

}  // namespace kiln::compiler

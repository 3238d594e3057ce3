#include "compiler/program/printer.h"

#include <map>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ops/tile_layout.h"

namespace kiln::compiler {
namespace {

// Printed names: "%name", and "%name#k" for the k-th repeat of a name, so every value is distinct.
template <typename T>
std::vector<std::string> UniqueNames(const std::vector<T>& values) {
  std::map<std::string, int> seen;
  std::vector<std::string> names;
  names.reserve(values.size());
  for (const T& v : values) {
    const int k = seen[v.name]++;
    names.push_back(k == 0 ? absl::StrCat("%", v.name) : absl::StrCat("%", v.name, "#", k));
  }
  return names;
}

// Robust to ids the verifier would reject, so a broken IR can still be printed in its error.
std::string NameOf(const std::vector<std::string>& names, int id) {
  return id >= 0 && id < static_cast<int>(names.size()) ? names[id] : absl::StrCat("%<invalid id ", id, ">");
}

std::string Type(const ops::Shape& shape, ops::DType dtype) {
  return absl::StrCat(ops::DTypeName(dtype), ops::ShapeToString(shape));
}

std::string AttrsToString(const ops::Attrs& attrs) {
  if (attrs.values().empty()) return "";
  std::vector<std::string> parts;
  for (const auto& [name, v] : attrs.values()) {
    switch (v.kind) {
      case ops::AttrKind::kInt: parts.push_back(absl::StrCat(name, "=", v.ints.empty() ? 0 : v.ints[0])); break;
      case ops::AttrKind::kInts: parts.push_back(absl::StrCat(name, "=", ops::ShapeToString(v.ints))); break;
      case ops::AttrKind::kFloat: parts.push_back(absl::StrCat(name, "=", v.f)); break;
    }
  }
  return absl::StrCat(" {", absl::StrJoin(parts, ", "), "}");
}

std::string Operands(const std::vector<std::string>& names, const std::vector<int>& ids) {
  std::vector<std::string> parts;
  for (int id : ids) parts.push_back(NameOf(names, id));
  return absl::StrJoin(parts, ", ");
}

std::string Plural(size_t n, const char* word) { return absl::StrCat(n, " ", word, n == 1 ? "" : "s"); }

// ---- Device graph --------------------------------------------------------------------------------

std::string NodeLine(const DeviceGraph& g, const std::vector<std::string>& names, const DeviceNode& node) {
  const bool out_ok = node.output >= 0 && node.output < static_cast<int>(g.values.size());
  return absl::StrCat(NameOf(names, node.output), " = ", node.op ? std::string(node.op->name) : "<no op>", "(",
                      Operands(names, node.inputs), ")", AttrsToString(node.attrs), " : ",
                      out_ok ? Type(g.values[node.output].shape, g.values[node.output].dtype) : "?",
                      "  (from ", node.source, ")");
}

// ---- Scheduled program ---------------------------------------------------------------------------

// Everything the printer says about memory regions and offsets, in one place: a tensor's place
// ("host" for the caller's buffer, "activations@128", "constants@0"; no offset before planning), or,
// for `t` = nullptr, the program's regions and their sizes.
std::string DescribeMemory(const ScheduledProgram& p, const ProgramTensor* t, bool planned) {
  auto region_name = [&](int r) {
    return r >= 0 && r < static_cast<int>(p.regions.size()) ? p.regions[r].name : absl::StrCat("<region ", r, ">");
  };
  if (t == nullptr) {
    if (!planned) return "memory not planned";
    std::vector<std::string> parts;
    for (const MemoryRegion& r : p.regions)
      parts.push_back(absl::StrCat(r.name, " ", r.size_bytes, " B (", target::RegionKindName(r.kind),
                                   r.shares >= 0 ? absl::StrCat(", shares owner region ", r.shares) : "", ")"));
    return parts.empty() ? "no regions" : absl::StrJoin(parts, ", ");
  }
  if (t->in_caller_buffer()) return "host";
  return planned ? absl::StrCat(region_name(t->region), "@", t->offset) : region_name(t->region);
}

std::string TensorDesc(const ScheduledProgram& p, int id, bool planned) {
  if (id < 0 || id >= static_cast<int>(p.tensors.size())) return "?";
  const ProgramTensor& t = p.tensors[id];
  return absl::StrCat(Type(t.shape, t.dtype), " ", t.layout == ops::Layout::kTile ? "tile" : "row_major", " ",
                      t.size_bytes(), " B ", DescribeMemory(p, &t, planned));
}

std::string InstructionOp(const ProgramInstruction& inst) {
  switch (inst.kind) {
    case ProgramInstruction::Kind::kHostToDevice: return "copy_to_device";
    case ProgramInstruction::Kind::kDeviceToHost: return "copy_to_host";
    case ProgramInstruction::Kind::kOp: break;
  }
  return inst.op ? std::string(inst.op->name) : "<no op>";
}

std::string InstructionLine(const ScheduledProgram& p, const std::vector<std::string>& names, int i,
                            bool planned) {
  const ProgramInstruction& inst = p.instructions[i];
  return absl::StrCat(NameOf(names, inst.output), " = ", InstructionOp(inst), "(",
                      Operands(names, inst.inputs), ")", AttrsToString(inst.attrs), " : ",
                      TensorDesc(p, inst.output, planned), "  (from ", inst.source, ")");
}

}  // namespace

std::string DeviceValueName(const DeviceGraph& graph, int value) { return NameOf(UniqueNames(graph.values), value); }

std::string PrintDeviceNode(const DeviceGraph& graph, int node) {
  return NodeLine(graph, UniqueNames(graph.values), graph.nodes[node]);
}

std::string PrintDeviceGraph(const DeviceGraph& g) {
  const std::vector<std::string> names = UniqueNames(g.values);
  std::vector<bool> used(g.values.size(), false);
  for (const DeviceNode& n : g.nodes)
    for (int v : n.inputs)
      if (v >= 0 && v < static_cast<int>(used.size())) used[v] = true;
  for (const auto& [name, v] : g.outputs)
    if (v >= 0 && v < static_cast<int>(used.size())) used[v] = true;

  // Constants that are read, or that still hold data nobody reads (dead-code elimination frees those).
  std::string consts;
  size_t num_consts = 0;
  uint64_t const_bytes = 0;
  for (size_t v = 0; v < g.values.size(); ++v) {
    const DeviceValue& value = g.values[v];
    if (value.kind != DeviceValue::Kind::kConstant || (!used[v] && value.constant.empty())) continue;
    const uint64_t bytes = value.constant.size() * sizeof(float);
    ++num_consts;
    const_bytes += bytes;
    absl::StrAppend(&consts, "  const  ", names[v], " : ", Type(value.shape, value.dtype), " ", bytes, " B",
                    used[v] ? "" : " (unused)", "\n");
  }

  std::string out = absl::StrCat("device graph: ", Plural(g.inputs.size(), "input"), ", ",
                                 Plural(g.outputs.size(), "output"), ", ", Plural(g.nodes.size(), "node"), ", ",
                                 Plural(num_consts, "constant"), " (", const_bytes, " B)\n");
  for (const auto& [name, v] : g.inputs) {
    const bool ok = v >= 0 && v < static_cast<int>(g.values.size());
    absl::StrAppend(&out, "  input  ", NameOf(names, v), " : ",
                    ok ? Type(g.values[v].shape, g.values[v].dtype) : "?", "\n");
  }
  out += consts;
  for (const DeviceNode& n : g.nodes) absl::StrAppend(&out, "  ", NodeLine(g, names, n), "\n");
  for (const auto& [name, v] : g.outputs) absl::StrAppend(&out, "  output ", name, " = ", NameOf(names, v), "\n");
  return out;
}

std::string ProgramTensorName(const ScheduledProgram& program, int tensor) {
  return NameOf(UniqueNames(program.tensors), tensor);
}

std::string PrintInstruction(const ScheduledProgram& program, int instruction, bool memory_planned) {
  return InstructionLine(program, UniqueNames(program.tensors), instruction, memory_planned);
}

std::string PrintProgram(const ScheduledProgram& p, bool planned) {
  const std::vector<std::string> names = UniqueNames(p.tensors);
  size_t num_ops = 0;
  for (const ProgramInstruction& inst : p.instructions) num_ops += inst.kind == ProgramInstruction::Kind::kOp;
  std::string out = absl::StrCat(
      "program: ", Plural(p.inputs.size(), "input"), ", ", Plural(p.outputs.size(), "output"), ", ",
      Plural(p.instructions.size(), "instruction"), " (", Plural(num_ops, "op"), ", ",
      Plural(p.instructions.size() - num_ops, "transfer"), "), ", Plural(p.tensors.size(), "tensor"), "; ",
      DescribeMemory(p, nullptr, planned), "\n");
  for (const auto& [name, t] : p.inputs)
    absl::StrAppend(&out, "  input  ", NameOf(names, t), " : ", TensorDesc(p, t, planned), "\n");
  for (size_t t = 0; t < p.tensors.size(); ++t)
    if (p.tensors[t].has_initial_data())
      absl::StrAppend(&out, p.tensors[t].is_state ? "  state  " : "  const  ", names[t], " : ",
                      TensorDesc(p, static_cast<int>(t), planned), "\n");
  // Aliases have no instruction: each is its target's bytes under another shape.
  for (size_t t = 0; t < p.tensors.size(); ++t)
    if (p.tensors[t].is_alias())
      absl::StrAppend(&out, "  alias  ", names[t], " = ", NameOf(names, p.tensors[t].alias_of), " : ",
                      TensorDesc(p, static_cast<int>(t), planned), "\n");
  for (int i = 0; i < static_cast<int>(p.instructions.size()); ++i)
    absl::StrAppend(&out, "  ", i, ": ", InstructionLine(p, names, i, planned), "\n");
  for (const auto& [name, t] : p.outputs) absl::StrAppend(&out, "  output ", name, " = ", NameOf(names, t), "\n");
  return out;
}

}  // namespace kiln::compiler

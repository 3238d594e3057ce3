#include "compiler/lowering/lower_aten.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/macros.h"
#include "compiler/lowering/lowering_context.h"
#include "compiler/lowering/rules.h"

namespace kiln::compiler {

const char* RuleKindName(RuleKind kind) {
  switch (kind) {
    case RuleKind::kLowered: return "lowered";
    case RuleKind::kDecomposed: return "decomposed";
    case RuleKind::kResolved: return "resolved at compile time";
  }
  return "?";
}

const std::map<std::string, RuleEntry>& LoweringRules() {
  static const RuleTable rules = [] {
    RuleTable r;
    AddElementwiseRules(r);
    AddNeuralNetRules(r);
    AddShapeRules(r);
    AddLogicRules(r);
    AddIndexingRules(r);
    AddConstantRules(r);
    AddSortRules(r);
    AddLinalgRules(r);
    AddBackwardRules(r);
    AddConvolutionRules(r);
    AddSamplingRules(r);
    AddSpecialRules(r);
    AddLinalgFactorRules(r);
    AddLinalgSolveRules(r);
    AddComplexRules(r);  // last: it marks the data-movement rules above that take complex values
    AddFftRules(r);
    return r;
  }();
  return rules;
}

absl::StatusOr<DeviceGraph> LowerAtenGraph(const AtenGraph& aten, std::vector<std::string>* warnings) {
  auto narrowed = [&](const char* what, const std::string& name, TorchDType t) {
    if (warnings && t == TorchDType::kDouble)
      warnings->push_back(absl::StrCat(what, " '", name,
                                       "' is float64; the device computes it in float32 (about 7 significant digits)"));
    if (warnings && t == TorchDType::kComplexDouble)
      warnings->push_back(absl::StrCat(what, " '", name,
                                       "' is complex128; the device computes it in complex64 (float32 parts, about 7 "
                                       "significant digits), which is what the caller passes and gets back"));
  };
  const auto& rules = LoweringRules();
  std::map<std::string, std::vector<std::string>> unsupported;  // op -> node names
  for (const AtenNode& node : aten.nodes)
    if (!rules.count(ShortTarget(node.target))) unsupported[ShortTarget(node.target)].push_back(node.name);
  if (!unsupported.empty()) {
    const auto& reasons = UnsupportedAtenOps();
    std::vector<std::string> lines;
    for (const auto& [op, nodes] : unsupported) {
      auto reason = reasons.find(op);
      lines.push_back(absl::StrCat(op, " (node", nodes.size() > 1 ? "s " : " ", absl::StrJoin(nodes, ", "), ")",
                                   reason == reasons.end() ? "" : absl::StrCat(": ", UnsupportedMessage(reason->second))));
    }
    return absl::UnimplementedError(absl::StrCat("unsupported ATen op", unsupported.size() > 1 ? "s" : "",
                                                 ": ", absl::StrJoin(lines, "; ")));
  }

  DeviceGraph graph;
  LoweringContext ctx(aten, &graph);
  std::map<std::string, int> state;  // buffer target -> its state value
  for (const GraphInput& in : aten.inputs) {
    const bool mutated = std::any_of(aten.buffer_mutations.begin(), aten.buffer_mutations.end(),
                                     [&](const auto& m) { return m.second == in.target; });
    if (in.kind == InputKind::kBuffer && mutated) {
      KILN_ASSIGN_OR_RETURN(state[in.target], ctx.DeclareState(in.name, in.target));
      continue;
    }
    if (in.kind != InputKind::kUserInput) {
      ctx.DeclareWeight(in.name, in.target);
      continue;
    }
    auto meta = aten.values.find(in.name);
    if (meta == aten.values.end())
      return absl::InvalidArgumentError(absl::StrCat("input '", in.name, "' has no tensor metadata"));
    const std::optional<ops::DType> dtype = HostDType(meta->second.dtype);
    if (!dtype)
      return absl::UnimplementedError(absl::StrCat("input '", in.name, "' is ", TorchDTypeName(meta->second.dtype),
                                                   "; inputs may be ", kHostDTypeNames));
    narrowed("input", in.name, meta->second.dtype);
    const int id = graph.AddInput(in.name, DeviceShape(meta->second.sizes, meta->second.dtype), *dtype);
    graph.inputs.push_back({in.name, id});
    ctx.BindValue(in.name, id);
  }
  for (const AtenNode& node : aten.nodes) {
    const RuleEntry& entry = rules.at(ShortTarget(node.target));
    absl::Status s;
    switch (entry.complex) {
      case ComplexSupport::kNone:
        KILN_RETURN_IF_ERROR(CheckNoComplexValues(ctx, node));
        s = entry.rule(ctx, node);
        break;
      case ComplexSupport::kOwn: s = entry.rule(ctx, node); break;
      case ComplexSupport::kLeadingDims: s = LowerOnLeadingDims(ctx, node, entry.rule); break;
      case ComplexSupport::kComplexRule:
        s = HasComplexValues(ctx, node) ? entry.complex_rule(ctx, node) : entry.rule(ctx, node);
        break;
    }
    if (!s.ok()) return s;
  }
  std::set<int> claimed;  // values already returned to the caller, in their DeviceValue::dtype
  // Returns ATen value `value_name` as program output `name` in the dtype torch.export recorded.
  auto add_output = [&](const std::string& name, const std::string& value_name) -> absl::Status {
    std::optional<int> v = ctx.Lookup(value_name);
    if (!v) {
      // E.g. max_pool2d_with_indices' indices: the node lowers, but to its first result only.
      if (const AtenNode* producer = aten.FindProducer(value_name))
        return absl::UnimplementedError(absl::StrCat("output '", value_name, "' is a result of node '", producer->name,
                                                     "' (", ShortTarget(producer->target),
                                                     ") that Kiln does not produce"));
      return absl::InvalidArgumentError(absl::StrCat("output '", value_name, "' is not produced by the graph"));
    }
    // The caller gets the dtype torch.export recorded (argmax: int64, eq: bool, a float64 model:
    // float64); one the host side does not carry is an error rather than a result in another dtype. A value without a recorded dtype comes back as f32.
    auto meta = aten.values.find(value_name);
    const bool recorded = meta != aten.values.end() && meta->second.dtype != TorchDType::kUnknown;
    if (recorded && !HostDType(meta->second.dtype))
      return absl::UnimplementedError(absl::StrCat("output '", name, "' is ", TorchDTypeName(meta->second.dtype),
                                                   "; outputs may be ", kHostDTypeNames));
    const ops::DType dtype = recorded ? *HostDType(meta->second.dtype) : ops::DType::kF32;
    if (recorded) narrowed("output", name, meta->second.dtype);
    const DeviceValue& value = graph.values[*v];
    // A value crosses to the host in one dtype. An input returned in another (x.long() of int32 ids,
    // a bool mask as float: exact conversions that lower to no op) or a value returned twice in two
    // dtypes gets its own copy, which the DMA then stores in the output's dtype.
    if ((value.kind == DeviceValue::Kind::kInput || claimed.count(*v)) && value.dtype != dtype) {
      ops::Attrs same_shape;
      same_shape.SetInts("shape", value.shape);
      KILN_ASSIGN_OR_RETURN(v, graph.AddNode("reshape", {*v}, same_shape, value_name, name));
    }
    graph.values[*v].dtype = dtype;
    claimed.insert(*v);
    graph.outputs.push_back({name, *v});
    return absl::OkStatus();
  };
  for (const std::string& name : aten.outputs) KILN_RETURN_IF_ERROR(add_output(name, name));
  // An input an in-place op changed comes back after the outputs under the input's own name: its
  // new value, which the caller writes back (the runtime has no aliasing of caller buffers).
  for (const auto& [value, input] : aten.input_mutations) KILN_RETURN_IF_ERROR(add_output(input, value));
  // A mutated buffer keeps its new value for the next run: the program ends by writing it to the state.
  for (const auto& [value, buffer] : aten.buffer_mutations) {
    const auto s = state.find(buffer);
    if (s == state.end())
      return absl::InvalidArgumentError(absl::StrCat("buffer '", buffer, "' is mutated but is no input of the graph"));
    std::optional<int> v = ctx.Lookup(value);
    if (!v) {
      const AtenNode* producer = aten.FindProducer(value);
      return absl::UnimplementedError(absl::StrCat("the new value '", value, "' of buffer '", buffer, "' is ",
                                                   producer ? absl::StrCat("a result of node '", producer->name,
                                                                           "' that Kiln does not produce")
                                                            : std::string("not produced by the graph")));
    }
    if (graph.values[*v].shape != graph.values[s->second].shape)
      return absl::InvalidArgumentError(absl::StrCat(
          "buffer '", buffer, "' ", ops::ShapeToString(graph.values[s->second].shape), " is updated to '", value,
          "' of shape ", ops::ShapeToString(graph.values[*v].shape)));
    if (*v != s->second) graph.state_updates.push_back({s->second, *v});
  }
  return graph;
}

}  // namespace kiln::compiler

#include "compiler/lowering/lower_aten.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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
    return r;
  }();
  return rules;
}

absl::StatusOr<DeviceGraph> LowerAtenGraph(const AtenGraph& aten) {
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
  for (const GraphInput& in : aten.inputs) {
    if (in.kind != InputKind::kUserInput) {
      ctx.DeclareWeight(in.name, in.target);
      continue;
    }
    auto meta = aten.values.find(in.name);
    if (meta == aten.values.end())
      return absl::InvalidArgumentError(absl::StrCat("input '", in.name, "' has no tensor metadata"));
    if (meta->second.dtype != TorchDType::kFloat)
      return absl::UnimplementedError(absl::StrCat("input '", in.name, "' is ", TorchDTypeName(meta->second.dtype),
                                                   "; only float32 inputs are supported yet"));
    const int id = graph.AddInput(in.name, meta->second.sizes);
    graph.inputs.push_back({in.name, id});
    ctx.BindValue(in.name, id);
  }
  for (const AtenNode& node : aten.nodes) {
    absl::Status s = rules.at(ShortTarget(node.target)).rule(ctx, node);
    if (!s.ok()) return s;
  }
  for (const std::string& name : aten.outputs) {
    std::optional<int> v = ctx.Lookup(name);
    if (!v) return absl::InvalidArgumentError(absl::StrCat("output '", name, "' is not produced by the graph"));
    graph.outputs.push_back({name, *v});
  }
  return graph;
}

}  // namespace kiln::compiler

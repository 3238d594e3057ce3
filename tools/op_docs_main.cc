// Prints docs/OPS.md from the op library's registry, the lowering rules and the core ATen overloads
// of the installed torch (the list tools/core_aten_ops.py writes), so the docs cannot drift:
//   bazel run //tools:op_docs > docs/OPS.md   (op_docs_test fails when the file is stale)
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "compiler/lowering/lowering_context.h"
#include "ops/op_def.h"
#include "tools/core_aten_ops_list.h"

namespace {

// The status columns of one ATen overload: "lowered" and its device op, "not yet" and why, ...
std::pair<std::string, std::string> Status(const std::string& overload) {
  const auto& rules = kiln::compiler::LoweringRules();
  if (auto it = rules.find(overload); it != rules.end())
    return {kiln::compiler::RuleKindName(it->second.kind), it->second.how};
  const auto& unsupported = kiln::compiler::UnsupportedAtenOps();
  if (auto it = unsupported.find(overload); it != unsupported.end())
    return {it->second.not_yet ? "not yet" : "cannot run", it->second.reason};
  return {"**no status**", "add a rule or an entry in compiler/lowering/unsupported_ops.cc"};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: op_docs <core_aten_ops.txt>\n");
    return 2;
  }
  kiln::tools::CoreAtenOps core;
  if (std::string err = kiln::tools::ReadCoreAtenOps(argv[1], &core); !err.empty()) {
    std::fprintf(stderr, "op_docs: %s\n", err.c_str());
    return 1;
  }
  using kiln::ops::AllOps;
  std::printf("# The Kiln op library\n\n");
  std::printf("Generated from `ops/` by `bazel run //tools:op_docs > docs/OPS.md`; do not edit by hand.\n\n");
  std::printf("Every op reads and writes device DRAM. Kernels compute in fp32 on the stored values "
              "(tile or row-major layout, f32/bf16/i32); the cost model charges "
              "max(work / unit throughput, DRAM bytes / bandwidth) + launch, with work counted on "
              "whole 32x32 tiles.\n\n");
  std::printf("| op | unit | operands | attributes | summary |\n|---|---|---|---|---|\n");
  for (const kiln::ops::OpDef* op : AllOps()) {
    std::string operands;
    for (size_t i = 0; i < op->inputs.size(); ++i) {
      const bool optional = static_cast<int>(i) >= op->min_inputs();
      operands += (i ? ", " : "") + std::string(op->inputs[i]) + (op->variadic ? "..." : optional ? "?" : "");
    }
    std::string attrs;
    for (const kiln::ops::AttrDef& a : op->attrs)
      attrs += (attrs.empty() ? "" : ", ") + std::string(a.name) + ": " + kiln::ops::AttrKindName(a.kind) +
               (a.optional ? "?" : "");
    std::printf("| `%s` | %s | %s | %s | %s |\n", std::string(op->name).c_str(), kiln::ops::UnitName(op->unit),
                operands.c_str(), attrs.empty() ? "-" : attrs.c_str(), std::string(op->summary).c_str());
  }
  std::printf("\n## Attributes\n\n");
  for (const kiln::ops::OpDef* op : AllOps()) {
    if (op->attrs.empty()) continue;
    std::printf("- `%s`:", std::string(op->name).c_str());
    for (const kiln::ops::AttrDef& a : op->attrs)
      std::printf(" `%s` %s;", std::string(a.name).c_str(), std::string(a.doc).c_str());
    std::printf("\n");
  }
  const auto& rules = kiln::compiler::LoweringRules();
  std::map<std::string, int> counts;
  for (const std::string& op : core.overloads) ++counts[Status(op).first];
  std::printf("\n## Core ATen overloads\n\n");
  std::printf("Every overload that torch %s tags `core` (%zu, listed by `tools/core_aten_ops.py`) has a "
              "status:", core.torch_version.c_str(), core.overloads.size());
  bool first = true;
  for (const auto& [status, n] : counts) {
    std::printf("%s %d %s", first ? "" : ",", n, status.c_str());
    first = false;
  }
  std::printf(". Lowered and decomposed overloads run on the device (the last column names the device "
              "ops); an overload without a rule is a compile error that names it, its nodes and the reason "
              "given here.\n\n");
  std::printf("| overload | status | device ops, or why |\n|---|---|---|\n");
  for (const std::string& op : core.overloads) {
    const auto [status, how] = Status(op);
    std::printf("| `%s` | %s | %s |\n", op.c_str(), status.c_str(), how.c_str());
  }
  const std::set<std::string> core_set(core.overloads.begin(), core.overloads.end());
  std::printf("\n## Other ATen overloads with a rule\n\n");
  std::printf("Not tagged core, but found in exported programs.\n\n");
  std::printf("| overload | status | device ops, or what it resolves to |\n|---|---|---|\n");
  for (const auto& [target, entry] : rules)
    if (!core_set.count(target))
      std::printf("| `%s` | %s | %s |\n", target.c_str(), kiln::compiler::RuleKindName(entry.kind),
                  entry.how.c_str());
  std::printf("\n## Complex values\n\n");
  std::printf("complex64 and complex128 (narrowed to complex64) values are float32 on the device, with a trailing "
              "dim of 2 holding the real and imaginary parts (`torch.view_as_real`'s layout; host dtype `c64`, "
              "'<c8' in the .npy tools). Only these overloads take or make complex values; any other is a compile "
              "error naming the node and the value.\n\n");
  using kiln::compiler::ComplexSupport;
  for (auto support : {ComplexSupport::kOwn, ComplexSupport::kComplexRule, ComplexSupport::kLeadingDims}) {
    std::printf("- %s:", support == ComplexSupport::kOwn           ? "Complex by their meaning"
                         : support == ComplexSupport::kComplexRule ? "Arithmetic, with a rule of their own for "
                                                                     "complex operands (rules_complex.cc)"
                                                                   : "Data movement, applied to the leading dims "
                                                                     "(the trailing 2 stays last)");
    const char* sep = " ";
    for (const auto& [target, entry] : rules)
      if (entry.complex == support) {
        std::printf("%s`%s`", sep, target.c_str());
        sep = ", ";
      }
    std::printf("\n");
  }
  return 0;
}

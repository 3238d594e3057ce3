// Prints docs/OPS.md from the op library's registry, so the docs cannot drift from ops/:
//   bazel run //tools:op_docs > docs/OPS.md   (op_docs_test fails when the file is stale)
#include <cstdio>
#include <string>

#include "compiler/lowering/lowering_context.h"
#include "ops/op_def.h"

int main() {
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
  std::printf("\n## ATen ops the compiler lowers (%zu)\n\n", rules.size());
  std::printf("Any other ATen op is a compile error that names it and its nodes.\n\n");
  for (const auto& [target, entry] : rules) std::printf("- `%s`\n", target.c_str());
  return 0;
}

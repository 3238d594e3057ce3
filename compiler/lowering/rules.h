// The rule families; lowering_rules.cc gathers them into LoweringRules().
#ifndef KILN_COMPILER_LOWERING_RULES_H_
#define KILN_COMPILER_LOWERING_RULES_H_

#include <map>
#include <string>

#include "base/macros.h"
#include "compiler/lowering/lowering_context.h"

namespace kiln::compiler {

// Emits one device op for `node` and binds it as the node's first output.
absl::Status EmitAndBind(LoweringContext& ctx, const AtenNode& node, const std::string& op,
                         std::vector<int> inputs, ops::Attrs attrs = {});

void AddElementwiseRules(std::map<std::string, LoweringRule>& rules);  // rules_elementwise.cc
void AddNeuralNetRules(std::map<std::string, LoweringRule>& rules);    // rules_nn.cc
void AddShapeRules(std::map<std::string, LoweringRule>& rules);        // rules_shape.cc

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_LOWERING_RULES_H_

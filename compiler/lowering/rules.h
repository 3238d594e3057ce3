// The rule families; lower_aten.cc gathers them into LoweringRules().
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
// `x` reshaped to `shape`: a reshape op, or `x` itself when it already has that shape.
absl::StatusOr<int> Reshaped(LoweringContext& ctx, const AtenNode& node, int x, const ops::Shape& shape);

using RuleTable = std::map<std::string, RuleEntry>;

// Registration, so that every rule states how it realizes its op (see RuleEntry::how).
inline void Lowered(RuleTable& rules, const std::string& target, LoweringRule rule, std::string device_op) {
  rules[target] = {rule, RuleKind::kLowered, std::move(device_op)};
}
inline void Decomposed(RuleTable& rules, const std::string& target, LoweringRule rule, std::string device_ops) {
  rules[target] = {rule, RuleKind::kDecomposed, std::move(device_ops)};
}
inline void Resolved(RuleTable& rules, const std::string& target, LoweringRule rule, std::string what) {
  rules[target] = {rule, RuleKind::kResolved, std::move(what)};
}

void AddElementwiseRules(RuleTable& rules);  // rules_elementwise.cc
void AddNeuralNetRules(RuleTable& rules);    // rules_nn.cc
void AddShapeRules(RuleTable& rules);        // rules_shape.cc
void AddLogicRules(RuleTable& rules);        // rules_logic.cc: comparisons, logical/bitwise ops, where
void AddIndexingRules(RuleTable& rules);     // rules_indexing.cc: gather/take/scatter, views, sort, ...
void AddConstantRules(RuleTable& rules);     // rules_constant.cc: full, arange, ..., metadata asserts
void AddSortRules(RuleTable& rules);         // rules_sort.cc: median, searchsorted, bucketize, histc
void AddLinalgRules(RuleTable& rules);       // rules_linalg.cc: addmv, addbmm, _trilinear, dist
void AddSamplingRules(RuleTable& rules);     // rules_sampling.cc: distances, col2im, max_pool3d, grid_sampler, embedding_bag
void AddConvolutionRules(RuleTable& rules);  // rules_conv.cc: convolution (1-D, 2-D, 3-D, transposed) and its backward
void AddBackwardRules(RuleTable& rules);     // rules_backward.cc: gradients of pooling, conv, norms, embedding
void AddLinalgFactorRules(RuleTable& rules);  // rules_linalg2.cc: det, slogdet, inv, solve, Cholesky
void AddLinalgSolveRules(RuleTable& rules);   // rules_linalg3.cc: triangular solves, LU unpacking, LDL, ormqr, exp
void AddSpecialRules(RuleTable& rules);      // rules_special.cc: gamma, Bessel, polynomials, copysign, ...
// rules_complex.cc: conj, view_as_real/complex, complex, polar, conversions to and from complex, and
// ComplexSupport::kLeadingDims for the data-movement rules; it must run after the families above.
void AddComplexRules(RuleTable& rules);
void AddFftRules(RuleTable& rules);          // rules_fft.cc: _fft_r2c, _fft_c2c, _fft_c2r as DFT matmuls

// Complex values (rules_complex.cc). The error for a node with a complex operand or result whose
// rule takes none, naming the op, the node, the value and the rules that do.
absl::Status CheckNoComplexValues(LoweringContext& ctx, const AtenNode& node);
bool HasComplexValues(const LoweringContext& ctx, const AtenNode& node);
// Lowers `node` with a data-movement `rule` over complex operands: the node's dims, shapes and pads
// are rewritten to address the leading dims of the device values, whose trailing 2 stays last.
absl::Status LowerOnLeadingDims(LoweringContext& ctx, const AtenNode& node, LoweringRule rule);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_LOWERING_RULES_H_

// Arguments of the linear-algebra rules (rules_linalg2.cc, rules_linalg3.cc): batches of matrices.
#ifndef KILN_COMPILER_LOWERING_LINALG_ARGS_H_
#define KILN_COMPILER_LOWERING_LINALG_ARGS_H_

#include <string>
#include <vector>

#include "compiler/lowering/op_builder.h"

namespace kiln::compiler {

// The batch dims of a matrix shape [..., m, n].
ops::Shape BatchDims(const ops::Shape& s);
// Argument `arg` as a batch of square matrices, or an error naming the argument and its shape.
absl::StatusOr<int> SquareArg(LoweringContext& ctx, const AtenNode& node, const std::string& arg);
// Argument `arg` as a batch of matrices [..., m, n] (rank >= 2), or an error naming it.
absl::StatusOr<int> MatrixArg(LoweringContext& ctx, const AtenNode& node, const std::string& arg);
// `a` [..., n, n] and `rhs` [..., n, k] expanded to their broadcast batch.
absl::Status BroadcastBatch(OpBuilder& b, int* a, int* rhs);
// `x` with its last two dims swapped.
absl::StatusOr<int> Transposed(OpBuilder& b, int x);
// For each output 0..num_parts-1 of the node that something reads: `op` over `inputs` with attribute
// part = that index, bound to it (the device ops that compute one of a factorization's results).
absl::Status BindParts(OpBuilder& b, LoweringContext& ctx, const AtenNode& node, const std::string& op,
                       const std::vector<int>& inputs, size_t num_parts);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_LOWERING_LINALG_ARGS_H_

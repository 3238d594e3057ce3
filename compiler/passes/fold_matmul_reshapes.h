// Matmul reshape folding: torch.export writes a linear layer on [B, S, K] as view -> addmm -> view
// (flatten the rows to [B*S, K], multiply, unflatten to [B, S, N]) and a batched matmul on [B, H, M, K]
// as view -> bmm -> view (merge the batch dims to [B*H, M, K] and split them back). matmul takes
// the unflattened operands itself (its batch dims broadcast; a shared rank-2 b multiplies every row),
// so the views go and the matmul produces the final shape:
//   %m = matmul(reshape(%x) {[B*S, K]}, %w, %b); %u = reshape(%m) {[B, S, N]}   ->   %u = matmul(%x, %w, %b)
//   %m = matmul(reshape(%q) {[B*H, M, K]}, reshape(%k) {[B*H, K, N]}); %u = reshape(%m) {[B, H, M, N]}
//                                                                        ->   %u = matmul(%q, %k)
// The point is what follows: a residual add, an activation or a mask add read %u, and fuse-epilogues
// fuses only into the op that produces its operand. It applies when the reshape is the only reader of
// %m, the matmul has no epilogue yet, and it computes the same numbers:
//   - linear: b is rank 2, x keeps a's last dim (K), the result is x's leading dims and N, and the bias
//     is per column (its elements are N, along its last dim), so row order does not matter;
//   - batched: x and y keep a's and b's last two dims, a and b have one batch shape (no broadcasting),
//     x and y have one batch shape, which the result has too, and the bias is at most rank 2 (the
//     same for every matrix).
// It folds only if the matrix unit does no more tile-padded work than before: [B, S, K] with S not a
// multiple of the tile pads every batch's rows, where [B*S, K] pads only the last tile.
// The reshapes of the operands stay for their other readers; dce drops them otherwise.
#ifndef KILN_COMPILER_PASSES_FOLD_MATMUL_RESHAPES_H_
#define KILN_COMPILER_PASSES_FOLD_MATMUL_RESHAPES_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

// `folded` (optional) receives how many matmuls now produce their reshaped result.
absl::Status FoldMatmulReshapes(DeviceGraph& graph, int* folded = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_FOLD_MATMUL_RESHAPES_H_

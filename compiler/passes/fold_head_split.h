// Head-split folding: multi-head attention splits a linear layer's [..., S, H*D] result into heads,
// reshape to [..., S, H, D] and permute to [..., H, S, D]: two data-movement launches per projection.
// Head h of the result is x @ w[:, h*D:(h+1)*D] + b[h*D:(h+1)*D], so the linear can produce the
// heads itself as a batched matmul over the weight's columns regrouped per head, a constant:
//   %m = matmul(%x, %w, %b); %h = permute(reshape(%m) {[1, S, H, D]}) {dims=[0, 2, 1, 3]}
//     ->   %h = matmul(%x, %w.heads, %b.heads)      %w.heads : [1, H, K, D], %b.heads : [H, 1, D]
// (x's batch dims broadcast against the weight's [H]). A permute that also moves other dims, such as
// the key's [0, 2, 3, 1] (heads, then transposed), keeps what is left of it after the split:
//   %k = permute(matmul(%x, %w.heads, %b.heads)) {dims=[0, 1, 3, 2]}.
// It applies when the weight and bias are constants (the bias per column), the matmul has no
// epilogue, each value from the matmul to the permute has that one reader, and the matrix unit does
// no more tile-padded work (D a multiple of the tile, or no worse than N). x batch dims other than 1
// need a size-1 dim before S, a reshape that moves no bytes (alias-reshapes makes it an alias).
#ifndef KILN_COMPILER_PASSES_FOLD_HEAD_SPLIT_H_
#define KILN_COMPILER_PASSES_FOLD_HEAD_SPLIT_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

// `folded` (optional) receives how many head splits a matmul now produces itself.
absl::Status FoldHeadSplits(DeviceGraph& graph, int* folded = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_FOLD_HEAD_SPLIT_H_

// Matmul scale folding: a scalar multiple of a matmul's result becomes part of its constant weight
// and bias, (a @ w + b) * c = a @ (w * c) + b * c, so the mul costs no launch and no pass over the
// result. Reshapes and permutes between the matmul and the mul only move elements, so they commute
// with a scalar product and may stand between them. Scaled dot-product attention's math path scales
// q and k by sqrt(scale) each after the head split, a linear -> reshape -> permute -> mul chain:
//   %q = matmul(%x, %w, %b); %h = permute(reshape(%q)); %s = mul(%h, 0.35)
//     ->   %q = matmul(%x, %w.scaled, %b.scaled); %s = permute(reshape(%q))
// It applies when c is a one-element constant and the product has the other operand's shape and
// dtype; the matmul's weight (and bias, if any) are constants and it has no epilogue yet; and each
// value from the matmul to the mul has exactly one reader (no graph output either), so nothing else
// sees the unscaled numbers. The scaled weight and bias are new constants (the originals may have other
// readers; dce frees them otherwise). The last op of the chain now produces the mul's result.
#ifndef KILN_COMPILER_PASSES_FOLD_MATMUL_SCALE_H_
#define KILN_COMPILER_PASSES_FOLD_MATMUL_SCALE_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

// `folded` (optional) receives how many muls moved into a matmul's constants.
absl::Status FoldMatmulScales(DeviceGraph& graph, int* folded = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_FOLD_MATMUL_SCALE_H_

// Sliced-matmul splitting: a fused projection (GPT-2's c_attn, [K, 3 * H*D] for q, k and v) is one
// matmul whose result is cut into column ranges by slices of its last dim. Each slice of a product is
// the product with the weight's columns in that range, so when slices are all that read the result
// the matmul becomes one per slice over a constant piece of the weight (and bias):
//   %qkv = matmul(%x, %w, %b); %q = slice(%qkv) {dim=-1, start=0, end=768}; %k = slice(...) ...
//     ->   %q = matmul(%x, %w.cols0_768, %b.cols0_768); %k = matmul(%x, %w.cols768_1536, ...) ...
// The same FLOPs and weight bytes in as many launches as before less one, and each projection is now
// a matmul of its own that fold-matmul-scales and fold-head-splits can work on. It applies when the
// weight is a rank-2 constant, the bias (if any) a per-column constant, the matmul has no epilogue,
// every reader of its result is a unit-step slice of the last dim (not a graph output), and the pieces
// together do no more tile-padded work than the whole. Each piece takes its slice's place.
#ifndef KILN_COMPILER_PASSES_SPLIT_SLICED_MATMULS_H_
#define KILN_COMPILER_PASSES_SPLIT_SLICED_MATMULS_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

// `split` (optional) receives how many matmuls became one per slice.
absl::Status SplitSlicedMatmuls(DeviceGraph& graph, int* split = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_SPLIT_SLICED_MATMULS_H_

// Safe-softmax fusion: torch.export decomposes ATen's _safe_softmax (what scaled_dot_product_attention
// uses when a mask may hide a whole row) into six ops over the scores `a`, dim d:
//   where(logical_not(reduce_max(logical_not(eq(a, -inf)), dims=[d], keepdim)), 0, softmax(a, d))
// i.e. "zeros where every element of the row is -inf, else the softmax". The op library's softmax
// does that itself with zero_masked_rows = 1, so the where becomes softmax(a) {dim=d,
// zero_masked_rows=1}: one op instead of six, and the mask tests no longer cost a DRAM round trip
// each per layer. The other five are left for dce when nothing else reads them.
#ifndef KILN_COMPILER_PASSES_FUSE_SAFE_SOFTMAX_H_
#define KILN_COMPILER_PASSES_FUSE_SAFE_SOFTMAX_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

struct SafeSoftmaxStats {
  int fused = 0;  // where(..., softmax) patterns now one softmax
};

absl::Status FuseSafeSoftmax(DeviceGraph& graph, SafeSoftmaxStats* stats = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_FUSE_SAFE_SOFTMAX_H_

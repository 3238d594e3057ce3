// Rearrange fusion: a permute with the reshapes right before and after it moves each element once,
// so the chain becomes one rearrange op (ops/data_movement.cc) instead of one copy per op. In tile
// layout a reshape that changes the last dim is a copy of its own, so attention's head merge
// (permute [.., H, S, D] -> [.., S, H, D], reshape to [.., S, H*D]) costs two launches:
//   %p = permute(%ctx) {dims=[0, 2, 1, 3]}; %m = reshape(%p) {shape=[1, 128, 768]}
//     ->   %m = rearrange(%ctx) {view=[1, 12, 128, 64], dims=[0, 2, 1, 3], shape=[1, 128, 768]}
// Reshapes before the permute become the view the rearrange reads its operand as; reshapes after it
// the shape it gives its result. Each value inside the chain must have that one reader (no graph
// output either), so nothing else needs it. The rearrange takes the place of the chain's last op.
// A permute that moves only size-1 dims (ViT's [197, 1, 768] -> [1, 197, 768]) keeps every element in
// place: it and the reshapes around it become one reshape, which alias-reshapes can make free. Any other
// permute alone, and reshapes without a permute, stay as they are.
#ifndef KILN_COMPILER_PASSES_FUSE_REARRANGES_H_
#define KILN_COMPILER_PASSES_FUSE_REARRANGES_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

struct RearrangeStats {
  int reshapes = 0;              // reshapes that moved into a rearrange with their permute
  int permutes_as_reshapes = 0;  // permutes of size-1 dims that became (with their reshapes) one reshape
};

absl::Status FuseRearranges(DeviceGraph& graph, RearrangeStats* stats = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_FUSE_REARRANGES_H_

// Permute composition: permute(permute(x, q), p) is one permute of x, with dims[i] = q[p[i]], so a
// chain of transposes moves the data once (BERT's attention output goes through three permutes,
// [2, 0, 1, 3], [1, 2, 0, 3], [0, 2, 1, 3], which compose to [0, 2, 1, 3]). A composition that is
// the identity becomes a reshape to the same shape, which alias-reshapes turns into an alias, and a
// permute after it reads through it. The inner permute stays for its other readers, if any (else dce
// removes it).
#ifndef KILN_COMPILER_PASSES_COMPOSE_PERMUTES_H_
#define KILN_COMPILER_PASSES_COMPOSE_PERMUTES_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

struct PermuteStats {
  int composed = 0;  // permutes that now read the first operand of their chain
  int identity = 0;  // of those, the ones that came out as the identity (now reshapes)
};

absl::Status ComposePermutes(DeviceGraph& graph, PermuteStats* stats = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_COMPOSE_PERMUTES_H_

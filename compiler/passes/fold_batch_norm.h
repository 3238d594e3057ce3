// Batch-norm folding: an inference batch_norm whose input comes straight from a conv2d folds into that
// convolution's weights and bias, so the normalised result is computed in the convolution's own pass
// over memory (one op, and one DRAM round trip of the activation, less). Per output channel o, with
// s = weight[o] / sqrt(var[o] + eps):   w'[o] = w[o] * s,   b'[o] = (b[o] - mean[o]) * s + bias[o].
// It applies when the convolution's weights (and bias) and the norm's statistics and affine
// parameters are constants, and nothing but the norm reads the convolution's result. The folded
// weights are new constants (the originals may be shared); dead-code elimination drops the old ones.
#ifndef KILN_COMPILER_PASSES_FOLD_BATCH_NORM_H_
#define KILN_COMPILER_PASSES_FOLD_BATCH_NORM_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

struct BatchNormFoldingStats {
  int folded = 0;  // batch_norm nodes folded into their convolution
};

absl::Status FoldBatchNorm(DeviceGraph& graph, BatchNormFoldingStats* stats = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_FOLD_BATCH_NORM_H_

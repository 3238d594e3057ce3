// Input-scale fusion: a squeeze-excitation block gates an activation per image and channel, x * g with
// g of shape [N, C, 1, 1], and a convolution reads the product. The gate moves into that convolution
// (conv2d's input_scale, ops/conv.cc), which scales its input as it reads it, so the gated activation
// (as large as x) makes no DRAM round trip and the mul no launch:
//   %y = mul(%x, %g); %z = conv2d(%y, %w, %b, ...)   ->   %z = conv2d(%x, %w, %b, ..., %g) {input_scale=1}
// It applies when the conv2d is the only reader of %y (no graph output or state update either), reads
// it as its input, and has no input scale yet; x, g and y have one dtype. A conv2d without bias gets
// a zero bias, because the scale is positional (after the bias and the residual). Run it after
// fuse-epilogues, which fuses only into a conv2d without extra operands.
#ifndef KILN_COMPILER_PASSES_FUSE_INPUT_SCALE_H_
#define KILN_COMPILER_PASSES_FUSE_INPUT_SCALE_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

// `fused` (optional) receives how many muls moved into a convolution.
absl::Status FuseInputScales(DeviceGraph& graph, int* fused = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_FUSE_INPUT_SCALE_H_

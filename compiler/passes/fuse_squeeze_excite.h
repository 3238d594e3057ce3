// Squeeze-excitation fusion: an SE block (EfficientNet, MobileNetV3, RegNet-Y) gates a convolution's
// result y per image and channel by a gate computed from y itself,
//   %m = reduce_mean(%y) {dims=H,W, keepdim=1}; %h = conv2d(%m, %w1, %b1) {activation=a};
//   %g = conv2d(%h, %w2, %b2) {activation=b}; %z = mul(%y, %g)
// four launches for a few microseconds of work. With %y = conv2d(%x, %w, %b), the whole block becomes
//   %z = conv2d_squeeze_excite(%x, %w, %b, %w1, %b1, %w2, %b2) {se_activation=a, se_gate_activation=b}
// (ops/conv.cc), one launch. It applies when y's convolution has no residual or input scale, the mean
// and the mul are y's only readers, m, h and g each have one reader, fc1 and fc2 are 1x1 convolutions
// (groups 1, no padding, no residual) whose activations are not clamps, all of one dtype, and each
// core's share of y fits its usable SRAM (the op keeps its result tiles there until the gate is known).
// Missing biases become zeros. Run after fuse-epilogues (which puts the activations into the
// convolutions) and before fuse-input-scale (which would move the mul into the next convolution).
#ifndef KILN_COMPILER_PASSES_FUSE_SQUEEZE_EXCITE_H_
#define KILN_COMPILER_PASSES_FUSE_SQUEEZE_EXCITE_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"
#include "ops/dtype.h"
#include "target/chip_config.h"

namespace kiln::compiler {

// `device_dtype` is the activations' storage on the device (for the SRAM check); `fused` (optional)
// receives how many SE blocks became one op.
absl::Status FuseSqueezeExcite(DeviceGraph& graph, const target::ChipConfig& chip, ops::DType device_dtype,
                               int* fused = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_FUSE_SQUEEZE_EXCITE_H_

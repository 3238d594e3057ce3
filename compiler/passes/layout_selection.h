// Layout selection: every device tensor starts in the chip's native 32x32 tile layout; one whose
// tile padding would more than double its footprint (a 3x3 convolution kernel, a 7x7 feature map)
// is kept row-major instead, which the DMA engine and the kernels also accept.
#ifndef KILN_COMPILER_PASSES_LAYOUT_SELECTION_H_
#define KILN_COMPILER_PASSES_LAYOUT_SELECTION_H_

#include "absl/status/status.h"
#include "compiler/program/scheduled_program.h"

namespace kiln::compiler {

inline constexpr double kMaxTilePaddingFactor = 2.0;

// The layout a device tensor of this shape gets (also used for the device copies eviction makes).
ops::Layout DeviceLayout(const ops::Shape& shape);
absl::Status SelectLayouts(ScheduledProgram& program);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_LAYOUT_SELECTION_H_

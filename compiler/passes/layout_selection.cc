#include "compiler/passes/layout_selection.h"

namespace kiln::compiler {

ops::Layout DeviceLayout(const ops::Shape& shape) {
  const double padded = static_cast<double>(ops::StoredElements(shape, ops::Layout::kTile));
  const double dense = static_cast<double>(ops::NumElements(shape));
  return padded > kMaxTilePaddingFactor * dense ? ops::Layout::kRowMajor : ops::Layout::kTile;
}

absl::Status SelectLayouts(ScheduledProgram& program) {
  for (ProgramTensor& t : program.tensors) {
    // Host memory (the caller's buffers, HOST_SCRATCH regions) is row-major: the DMA converts layouts.
    if (t.in_caller_buffer() || program.regions[t.region].kind == target::RegionKind::kHostScratch) continue;
    t.layout = DeviceLayout(t.shape);
  }
  return absl::OkStatus();
}

}  // namespace kiln::compiler

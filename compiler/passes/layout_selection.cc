#include "compiler/passes/layout_selection.h"

namespace kiln::compiler {

absl::Status SelectLayouts(ScheduledProgram& program) {
  for (ProgramTensor& t : program.tensors) {
    if (t.in_caller_buffer()) continue;  // the caller's tensors are always row-major
    const double padded = static_cast<double>(ops::StoredElements(t.shape, ops::Layout::kTile));
    const double dense = static_cast<double>(ops::NumElements(t.shape));
    t.layout = padded > kMaxTilePaddingFactor * dense ? ops::Layout::kRowMajor : ops::Layout::kTile;
  }
  return absl::OkStatus();
}

}  // namespace kiln::compiler

// Placement: decides where every value lives and inserts the data movement that implies. User
// inputs arrive in host memory and are DMAed to the device; outputs are DMAed back; weights become
// device constants (loaded once with the program); everything else lives in the activation arena.
#ifndef KILN_COMPILER_PASSES_PLACEMENT_H_
#define KILN_COMPILER_PASSES_PLACEMENT_H_

#include "absl/status/statusor.h"
#include "compiler/lowering/device_graph.h"
#include "compiler/program/scheduled_program.h"

namespace kiln::compiler {

// Instructions come out in graph order, each transfer beside the op it serves; scheduling
// (scheduling.h) decides the final order.
// Host inputs and outputs keep their value's dtype (f32, i64, i32, bool) and the DMA engine
// converts. Device tensors are stored as `device_dtype` (f32 or bf16), except that integer and bool
// inputs and outputs are stored as i32 so that they stay exact (up to 2^24, as kernels compute in
// fp32) even in a bf16 program. The graph is taken by value so that its constants move into the program
// instead of being copied (pass it with std::move to keep one copy of the weights).
absl::StatusOr<ScheduledProgram> PlaceGraph(DeviceGraph graph, ops::DType device_dtype = ops::DType::kF32);

// The dtype `v` is stored in on the device, by the rule above (naive_placement.cc follows it too).
inline ops::DType DeviceStorage(const DeviceValue& v, ops::DType device_dtype) {
  return ops::IsIntegral(v.dtype) ? ops::DType::kI32 : device_dtype;
}

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_PLACEMENT_H_

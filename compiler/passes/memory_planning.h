// Memory planning: gives every device tensor a fixed offset in its region and sizes the regions.
// Constants are packed in first-use order; activations in a region reuse the same bytes when their
// lifetimes do not overlap (greedy by size, first fit, like ExecuTorch's greedy planner).
#ifndef KILN_COMPILER_PASSES_MEMORY_PLANNING_H_
#define KILN_COMPILER_PASSES_MEMORY_PLANNING_H_

#include <cstdint>

#include "absl/status/status.h"
#include "compiler/program/scheduled_program.h"

namespace kiln::compiler {

inline constexpr uint64_t kDeviceAlignment = 64;  // DRAM burst size

struct MemoryStats {
  uint64_t arena_bytes = 0;
  uint64_t constant_bytes = 0;
  uint64_t sum_of_activation_bytes = 0;  // what the arena would need with no reuse
};

// Fails with "device memory too small" when arena + constants exceed `device_dram_bytes`.
absl::Status PlanMemory(ScheduledProgram& program, uint64_t device_dram_bytes, MemoryStats* stats = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_MEMORY_PLANNING_H_

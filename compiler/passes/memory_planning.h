// Memory planning: gives every device tensor a fixed offset in its region and sizes the regions.
// Constants are packed in first-use order; activations in a region reuse the same bytes when their
// lifetimes do not overlap (greedy by size, first fit, like ExecuTorch's greedy planner).
#ifndef KILN_COMPILER_PASSES_MEMORY_PLANNING_H_
#define KILN_COMPILER_PASSES_MEMORY_PLANNING_H_

#include <cstdint>

#include "absl/status/status.h"
#include "base/align.h"
#include "compiler/program/scheduled_program.h"

namespace kiln::compiler {

inline constexpr uint64_t kDeviceAlignment = 64;  // DRAM burst size
// The bytes a tensor of `n` bytes occupies in a region: every tensor starts on a burst boundary.
inline uint64_t AlignToDevice(uint64_t n) { return AlignUp(n, kDeviceAlignment); }

struct MemoryStats {
  uint64_t arena_bytes = 0;     // device DRAM for activations
  uint64_t constant_bytes = 0;  // device DRAM for constants and state (weights streamed from the host not counted)
  uint64_t sum_of_activation_bytes = 0;  // what the arena would need with no reuse
  uint64_t host_bytes = 0;      // HOST_SCRATCH regions: eviction's spills and streamed weights
};

// Fails with "device memory too small" when arena + constants exceed `device_dram_bytes`.
absl::Status PlanMemory(ScheduledProgram& program, uint64_t device_dram_bytes, MemoryStats* stats = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_MEMORY_PLANNING_H_

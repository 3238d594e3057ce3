// The kinds of memory a program's regions live in. One definition for the compiler (which plans
// regions), the .kiln schema (tied by static_asserts in schema/kiln_enums.h) and the runtime (which
// allocates them).
#ifndef KILN_TARGET_MEMORY_H_
#define KILN_TARGET_MEMORY_H_

#include <cstdint>

namespace kiln::target {

enum class RegionKind : uint8_t {
  kDeviceDram = 0,   // device memory the executor allocates when it loads the program
  kDeviceSram = 1,   // on-chip SRAM, interleaved over all cores (compiler/passes/sram_residency.h)
  kHostScratch = 2,  // runtime-owned host memory (for spills under eviction)
  // Device memory that keeps its contents between runs of one executor: a program's state (a KV
  // cache). Every tensor in it has initial data, loaded with the program; the program writes it.
  kDeviceState = 3,
};

inline const char* RegionKindName(RegionKind kind) {
  switch (kind) {
    case RegionKind::kDeviceDram: return "DEVICE_DRAM";
    case RegionKind::kDeviceSram: return "DEVICE_SRAM";
    case RegionKind::kHostScratch: return "HOST_SCRATCH";
    case RegionKind::kDeviceState: return "DEVICE_STATE";
  }
  return "?";
}

}  // namespace kiln::target

#endif  // KILN_TARGET_MEMORY_H_

// Constant sharing: a program compiled beside an owner program (a prefill beside the decode step it
// shares a KV cache with) places every constant identical to one of the owner's, with the same name,
// dtype, shape, layout and stored bytes, at the owner's offset in a region laid out like the owner's
// (MemoryRegion::shares), whichever memory (DRAM or SRAM) the owner keeps it in. The runtime then lets the two executors use one device copy of those
// regions (runtime::Executor::CreateSharing); every other constant stays in the program's own regions.
#ifndef KILN_COMPILER_PASSES_SHARE_CONSTANTS_H_
#define KILN_COMPILER_PASSES_SHARE_CONSTANTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "compiler/program/scheduled_program.h"

namespace kiln::compiler {

// One of the owner's constants, as its .kiln holds it.
struct OwnerConstant {
  std::string name;
  ops::Shape shape;
  ops::DType dtype = ops::DType::kF32;
  ops::Layout layout = ops::Layout::kTile;
  uint64_t offset = 0;
  const uint8_t* data = nullptr;  // size_bytes stored bytes, in memory the caller keeps alive
  uint64_t size_bytes = 0;
};

// A device region of the owner that holds only constants (any kind: DRAM, SRAM).
struct OwnerRegion {
  int index = 0;  // in the owner's region list
  std::string name;
  target::RegionKind kind = target::RegionKind::kDeviceDram;
  uint64_t size_bytes = 0;
  std::vector<OwnerConstant> constants;
};

struct OwnerConstants {
  std::vector<OwnerRegion> regions;
};

struct SharingStats {
  int shared = 0, private_ = 0;  // constants placed in the owner's layout / in this program's regions
  uint64_t shared_bytes = 0, private_bytes = 0;
  std::string ToString() const;
};

// The constant regions of `owner`, a memory-planned program compiled in this process (the runtime's
// reader gives those of a .kiln: compiler/compiler.h OwnerConstantsOf); `stored` keeps their bytes.
OwnerConstants ConstantsOfPlannedProgram(const ScheduledProgram& owner, std::vector<std::vector<uint8_t>>* stored);

// Moves each constant in a device region that matches one of `owner`'s into a region laid out like
// the owner's (created on first use, named after it, its size the owner's); memory planning keeps
// those offsets. Runs after placement and layout selection, before planning.
absl::Status ShareConstants(ScheduledProgram& program, const OwnerConstants& owner, SharingStats* stats);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_SHARE_CONSTANTS_H_

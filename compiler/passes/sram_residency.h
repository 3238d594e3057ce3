// SRAM residency: decides which device tensors live in the cores' SRAM instead of device DRAM, so
// that the ops reading and writing them cost no DRAM traffic.
//
// The SRAM the compiler may use is the chip's usable SRAM (target::ChipConfig: SRAM per core less the
// op library's reserve), interleaved over all cores: each DEVICE_SRAM region of B bytes takes
// ceil(B / cores) of every core (ChipConfig::SramBytesPerCore), and the regions together must fit one
// core's usable SRAM, as the runtime checks at load. The pass creates up to two such regions:
//   - "sram activations", an arena with lifetime-based reuse that memory planning lays out like the
//     DRAM arena: an activation placed there stays in SRAM from its producer to its last consumer;
//   - "sram constants", weights uploaded once at load and resident across runs.
//
// Policy: activations first, then weights with what is left.
//   1. Activations (device DRAM tensors the program writes) by DRAM bytes saved per SRAM byte: one
//      write plus one read per consuming operand slot, so (1 + reads) per byte; ties go to the
//      shorter lifetime (it holds SRAM for less of the run), then the smaller tensor. Walking that
//      order, an activation is placed when the SRAM bytes live during its lifetime, with it, stay
//      within the budget; the rest spill to (stay in) DRAM. Activations come first because the arena
//      reuses its bytes: a few MB of SRAM can hold every activation of a CNN at batch 1 in turn,
//      saving their write and every read, where the same bytes would hold a few weights read once.
//      The memory plan of the chosen set can exceed the live-bytes bound by fragmentation; then the
//      budget shrinks by the excess and the choice is made again, until the planned arena fits.
//   2. Weights (constants in device DRAM) by the op time they save per SRAM byte, estimated from the
//      chip's rates: an op takes about max(work / its unit's rate, DRAM bytes / DRAM bandwidth), so
//      the weights of DRAM-bound ops (deep 3x3 convolutions on small images, linear layers at batch 1)
//      come first and those of compute-bound ops, whose DRAM time hides under their compute, last;
//      ties by reads per run, then largest first. Each is placed when it fits beside the planned arena.
//      (prefetch-weights may later move a few back to DRAM for room to stage the others ahead of their
//      readers, where its timeline says that pays: compiler/passes/prefetch_weights.h.)
// A program with state (a DEVICE_STATE region, e.g. a KV cache) plans against half the usable SRAM:
// such a program runs beside its twin on one device (a prefill program and the decode step that
// share the cache), and both must load. State tensors (kept between runs) are left in DRAM. The pass runs before eviction, which then works
// on what stays in DRAM only (it spills DRAM activations and streams DRAM weights, never SRAM ones);
// the reloads it inserts do not change which SRAM tensors are alive together, so the arena still fits.
#ifndef KILN_COMPILER_PASSES_SRAM_RESIDENCY_H_
#define KILN_COMPILER_PASSES_SRAM_RESIDENCY_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "compiler/program/scheduled_program.h"
#include "target/chip_config.h"

namespace kiln::compiler {

struct SramResidencyStats {
  int activations = 0;            // activations placed in the SRAM arena
  int activations_spilled = 0;    // device activations left in DRAM
  uint64_t arena_bytes = 0;       // the SRAM arena as memory planning lays it out
  uint64_t activation_bytes = 0;  // the placed activations' sizes, without reuse
  int weights = 0;                // constants resident in SRAM
  int weights_in_dram = 0;        // device constants left in DRAM
  uint64_t weight_bytes = 0;      // the SRAM constants region
  uint64_t weight_bytes_in_dram = 0;
  uint64_t usable_bytes = 0;      // usable SRAM of the whole chip
  int64_t bytes_per_core = 0;     // of both regions, on each core
  int64_t usable_bytes_per_core = 0;

  std::string ToString() const;
};

// The regions the pass creates (prefetch-weights stages weights in the arena).
inline constexpr char kSramArenaRegion[] = "sram activations";
inline constexpr char kSramConstantRegion[] = "sram constants";

// The SRAM per core `program`'s DEVICE_SRAM regions may take together: the chip's usable SRAM per core,
// half of it for a program with state (see above).
int64_t SramBudgetPerCore(const ScheduledProgram& program, const target::ChipConfig& chip);

// Moves activations and constants of `program` from device DRAM regions to new DEVICE_SRAM regions
// by the policy above, within `chip`'s usable SRAM. Offsets are left to memory planning.
absl::Status PlaceInSram(ScheduledProgram& program, const target::ChipConfig& chip, SramResidencyStats* stats);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_SRAM_RESIDENCY_H_

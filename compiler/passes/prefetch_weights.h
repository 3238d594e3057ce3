// Weight prefetch: stages weights that stay in device DRAM into SRAM ahead of the op that reads them,
// so the DRAM DMA engine streams the next weights while the matrix and vector engines compute (as
// tt-metal's DRAM prefetcher feeds L1 buffers for decode matmuls), instead of each op waiting for its
// own bytes.
//
// For a weight in device DRAM read by an op, e.g. BERT's FFN-down `matmul(%h, %w)` with a 9 MB %w, the
// pass inserts `%w.staged = copy(%w)` with %w.staged in the "sram activations" arena
// (sram_residency.h) and makes the op read %w.staged. The copy is a data-movement op, so the simulator
// runs it on the DRAM DMA engine beside the compute engines (simulator/device.cc), and the reader
// touches SRAM only. A staging buffer is an activation alive from its copy to its reader, so memory
// planning reuses its bytes: two weights in flight take two buffers (double buffering), not one each.
//
// Where each copy goes, on a timeline of the simulator's schedule: ops take EstimateOp's time
// (compiler/program/op_time.h) on the engine ops::UnitOf names, each engine runs its instructions in
// program order, an op starts once its operands are written, the DRAM serves one op's traffic at a time
// in program order, and a copy starts no earlier than the instruction ahead of it ends (its buffer may
// reuse the bytes that one reads). In readers' order, a weight's copy goes to the position with the
// earliest estimated end of the program, searched back from just before its reader: never ahead of the
// previous copy (the DMA engine keeps its queue's order), nor where the arena, with the buffer alive from
// there to the reader, would exceed its budget (what the SRAM constants leave of the pass's SRAM
// budget). A weight whose staging does not bring the end forward stays as it was.
//
// Room (the policy): sram-residency fills the SRAM with resident weights. A resident weight removes its
// DRAM bytes from every run; a staging buffer hides DRAM time behind other ops. The pass weighs the two
// on the same timeline: it moves back to device DRAM the resident weights whose residency saves least
// op time per byte until 0, 1/2, 1, ... 3 times the largest weight to stage is freed, stages with that
// room, and keeps the variant with the earliest estimated end (on a tie, fewer weights moved). A weight
// whose readers are compute-bound wherever it lives (a layer norm's scale, a scalar) saves nothing per
// byte but stays: it frees little room, and in DRAM its reader would queue behind the copies' traffic. Its
// arena is planned and the budget tightened by any excess (fragmentation) until it fits. Programs that
// stream weights from the host (eviction ran out of device DRAM) or keep state between runs (their twin
// shares the device and its constants) keep every resident weight and stage in the SRAM left free.
#ifndef KILN_COMPILER_PASSES_PREFETCH_WEIGHTS_H_
#define KILN_COMPILER_PASSES_PREFETCH_WEIGHTS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "compiler/program/scheduled_program.h"
#include "target/chip_config.h"

namespace kiln::compiler {

struct WeightPrefetchStats {
  int staged = 0;                // weight reads now served from an SRAM staging copy
  uint64_t staged_bytes = 0;     // DRAM bytes those copies move per run
  int demoted = 0;               // resident weights moved back to device DRAM for room
  uint64_t demoted_bytes = 0;
  uint64_t arena_bytes = 0;      // the SRAM arena with the staging buffers, as planned
  double estimated_us_before = 0;  // the timeline's end without staging
  double estimated_us = 0;         // and with

  std::string ToString() const;
};

// Stages DRAM weights of `program` into SRAM by the policy above, within `chip`'s SRAM; leaves the
// program unchanged when no staging brings its estimated end forward.
absl::Status PrefetchWeights(ScheduledProgram& program, const target::ChipConfig& chip, WeightPrefetchStats* stats);

// The timeline's estimate of when `program` ends on `chip`, in microseconds (see above).
double EstimatedEndMicros(const ScheduledProgram& program, const target::ChipConfig& chip);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_PREFETCH_WEIGHTS_H_

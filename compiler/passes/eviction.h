// Eviction: when a program's activations do not fit the device's DRAM, spill some of them to host
// memory (a HOST_SCRATCH region the runtime allocates) and reload them just before their next use.
//
// Policy (Belady's, weighed by what the host link costs): walking the schedule, whenever the
// activations live on the device would exceed the budget, the victim is the resident tensor that the
// current instruction does not touch with the largest
//     (instructions until its next use) x bytes / (reload time + spill time unless already on the host)
// so a tensor needed soon, or small enough that the link's fixed latency dominates, stays. A spilled
// tensor's value is final (tensors are written once), so it is copied out once however often it is
// evicted; each reload is a new device tensor with its own lifetime, which the memory planner then
// packs like any other. This pass inserts each reload just before the op that reads it; the
// "prefetch" pass (prefetch.h) then issues it as early as the memory budget and the host link allow,
// so it overlaps the compute before that op.
//
// Weights stay in device DRAM while activations can be evicted around them. When they cannot (the
// weights alone, or the weights with one op's own tensors, exceed the device), the largest weights
// move to host memory, as few as make the program fit; each is uploaded before its first use in each
// run and kept on the device while it fits, like an activation that is already on the host. (The
// prefetch pass may stream a few more, when the room they free lets uploads overlap enough compute
// to pay for their own.)
#ifndef KILN_COMPILER_PASSES_EVICTION_H_
#define KILN_COMPILER_PASSES_EVICTION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "compiler/program/scheduled_program.h"
#include "target/chip_config.h"

namespace kiln::compiler {

struct EvictionStats {
  int spills = 0;   // device -> host copies inserted
  int reloads = 0;  // host -> device copies inserted
  uint64_t spill_bytes = 0;
  uint64_t reload_bytes = 0;
  int rounds = 0;   // plans tried (the first is the program as scheduled)
  bool weights_streamed = false;  // constants moved to host memory, uploaded before use
  int prefetched = 0;  // uploads the prefetch pass issued ahead of the op before their reader

  std::string ToString() const;  // "" when nothing was evicted
};

// Rewrites `program` so that, at every instruction, the device activations alive (inputs, outputs and
// everything still needed later, each rounded to the device alignment) fit in `activation_budget`
// bytes. Fails, naming the op and the bytes, when one instruction's own operands and result cannot
// fit; the program is then left as it was, and `shortfall` (when given) says by how many bytes.
absl::Status EvictToHost(ScheduledProgram& program, uint64_t activation_budget, const target::ChipConfig& chip,
                         EvictionStats* stats, uint64_t* shortfall = nullptr);

// Moves device constants to a HOST_SCRATCH region, largest first, until at least `bytes` of device
// DRAM are freed (or none are left); returns the bytes freed. Their layout becomes row-major.
uint64_t MoveConstantsToHost(ScheduledProgram& program, uint64_t bytes);

// The "evict" pass: plans the program's memory and, when activations + constants exceed the chip's
// DRAM, evicts with a budget of DRAM minus constants, tightening it by what fragmentation adds until
// the plan fits (a few rounds at most). Leaves the program unchanged when it fits.
absl::Status FitDeviceMemory(ScheduledProgram& program, const target::ChipConfig& chip, EvictionStats* stats);

// One DMA of `bytes` over the host link, in microseconds: its fixed latency plus bytes / bandwidth.
double HostLinkMicros(const target::ChipConfig& chip, uint64_t bytes);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_EVICTION_H_

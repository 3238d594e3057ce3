// Prefetch: issues the uploads that eviction inserted (reloads of spilled activations, weights streamed
// from host memory) early enough that the host link works while the compute engines do, instead of
// right before the op that reads them.
//
// An upload's device tensor is alive from the instruction that writes it, so moving the upload earlier
// makes the memory planner keep its bytes free for the whole window: the DMA never waits for a reader
// of bytes it overwrites (no write-after-read stall), and the device memory budget (DRAM minus the
// constants kept there) holds at every instruction of the window, as eviction's does.
//
// How far (the prefetch distance): on a timeline where ops take their lower-bound time from the chip
// description (compiler/program/op_time.h: launch + max(compute, DRAM bytes / DRAM bandwidth)) and transfers
// queue on the one host link in program order, an upload moves back one op at a time until it would
// finish (latency + bytes / link bandwidth) before its reader starts, stopping earlier where
//   - the memory budget would be exceeded at some instruction of the window (so a weight is double
//     buffered, uploading while the previous one is read, exactly when both fit),
//   - another host-link transfer comes first (the link keeps its order: a spill, or an earlier upload,
//     is never delayed behind a later one), or
//   - the link is estimated busy until then anyway (issuing earlier would only hold memory longer).
// When packing the longer lifetimes costs the planner more than the device has, the budget is
// tightened by the excess and the uploads are placed again (a few rounds), and in the end the program
// keeps the placement eviction gave it, which fits.
//
// Room to prefetch into: eviction streams as few weights as make the program fit, which can leave no
// room to upload the next weight while the previous one is read. So the pass also tries streaming
// the next largest weights still on the device (one more at a time, a few at most): each costs its
// upload every run but frees its bytes outside its readers' span. It keeps the choice whose
// estimated end of run (the same timeline) is earliest: more streaming only where the transfers it
// lets overlap compute hide more than it adds (ResNet-50 at half its planned peak streams two weights
// more and finishes 7% sooner; ResNet-18 and BERT-base, whose host link is already busier than their
// compute, stream none).
#ifndef KILN_COMPILER_PASSES_PREFETCH_H_
#define KILN_COMPILER_PASSES_PREFETCH_H_

#include "absl/status/status.h"
#include "compiler/passes/eviction.h"
#include "compiler/program/scheduled_program.h"
#include "target/chip_config.h"

namespace kiln::compiler {

// Moves host-to-device copies from HOST_SCRATCH regions earlier in `program`, streaming more weights
// where that pays (see above); counts the uploads moved in `stats->prefetched` and the weights it
// streams in `stats->reloads` / `reload_bytes`. Programs without such copies are left unchanged.
absl::Status PrefetchUploads(ScheduledProgram& program, const target::ChipConfig& chip, EvictionStats* stats);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_PREFETCH_H_

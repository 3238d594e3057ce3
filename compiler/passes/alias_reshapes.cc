#include "compiler/passes/alias_reshapes.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/macros.h"
#include "compiler/passes/memory_planning.h"
#include "ops/tile_layout.h"

namespace kiln::compiler {
namespace {

void Alias(ScheduledProgram& program, bool in_sram, AliasStats* stats) {
  std::vector<ProgramInstruction> kept;
  kept.reserve(program.instructions.size());
  for (ProgramInstruction& inst : program.instructions) {
    if (inst.kind != ProgramInstruction::Kind::kOp || inst.op->name != "reshape" || inst.inputs.size() != 1) {
      kept.push_back(std::move(inst));
      continue;
    }
    const int source = inst.inputs[0];
    const int target = program.tensors[source].is_alias() ? program.tensors[source].alias_of : source;
    const ProgramTensor& from = program.tensors[target];
    ProgramTensor& to = program.tensors[inst.output];
    if (!from.is_activation() || !to.is_activation() || to.is_alias() || from.region != to.region ||
        from.dtype != to.dtype || from.layout != to.layout || !ops::SameStoredBytes(from.shape, to.shape, from.layout) ||
        (!in_sram && program.regions[from.region].kind == target::RegionKind::kDeviceSram)) {
      kept.push_back(std::move(inst));
      continue;
    }
    to.alias_of = target;
    stats->reshapes++;
    stats->bytes_not_moved += program.tensors[source].size_bytes() + to.size_bytes();
  }
  program.instructions = std::move(kept);
}

// The planned size of each SRAM region (0 for other regions).
absl::StatusOr<std::vector<uint64_t>> PlannedSramBytes(ScheduledProgram& program) {
  KILN_RETURN_IF_ERROR(PlanMemory(program, std::numeric_limits<uint64_t>::max()));
  std::vector<uint64_t> bytes;
  for (const MemoryRegion& r : program.regions)
    bytes.push_back(r.kind == target::RegionKind::kDeviceSram ? r.size_bytes : 0);
  return bytes;
}

}  // namespace

absl::Status AliasReshapes(ScheduledProgram& program, AliasStats* stats) {
  AliasStats done;
  const bool sram = std::any_of(program.regions.begin(), program.regions.end(), [](const MemoryRegion& r) {
    return r.kind == target::RegionKind::kDeviceSram;
  });
  if (!sram) {
    Alias(program, true, &done);
  } else {
    // An alias never adds live bytes, but the planner may pack the longer lifetimes less tightly, and
    // sram-residency sized its choice to the plan as it was: keep SRAM aliases only if no SRAM region
    // grows. (Plan-memory plans again from scratch; these offsets are only measured.)
    KILN_ASSIGN_OR_RETURN(const std::vector<uint64_t> before, PlannedSramBytes(program));
    std::vector<ProgramInstruction> instructions = program.instructions;
    Alias(program, true, &done);
    KILN_ASSIGN_OR_RETURN(const std::vector<uint64_t> after, PlannedSramBytes(program));
    bool grew = false;
    for (size_t r = 0; r < before.size(); ++r) grew |= after[r] > before[r];
    if (grew) {
      for (ProgramTensor& t : program.tensors) t.alias_of = -1;
      program.instructions = std::move(instructions);
      done = {};
      Alias(program, false, &done);
    }
  }
  if (stats) {
    stats->reshapes += done.reshapes;
    stats->bytes_not_moved += done.bytes_not_moved;
  }
  return absl::OkStatus();
}

}  // namespace kiln::compiler

#include "compiler/passes/alias_reshapes.h"

#include <utility>
#include <vector>

#include "ops/tile_layout.h"

namespace kiln::compiler {

absl::Status AliasReshapes(ScheduledProgram& program, AliasStats* stats) {
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
        from.dtype != to.dtype || from.layout != to.layout || !ops::SameStoredBytes(from.shape, to.shape, from.layout)) {
      kept.push_back(std::move(inst));
      continue;
    }
    to.alias_of = target;
    if (stats) {
      stats->reshapes++;
      stats->bytes_not_moved += program.tensors[source].size_bytes() + to.size_bytes();
    }
  }
  program.instructions = std::move(kept);
  return absl::OkStatus();
}

}  // namespace kiln::compiler

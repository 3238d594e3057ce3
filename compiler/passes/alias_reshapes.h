// Reshape aliasing: a reshape whose result keeps its operand's stored bytes as they are
// (ops::SameStoredBytes: any reshape of a row-major tensor; in the tile layout, one that keeps the
// last dim and regroups rows in whole tiles, or only adds or drops leading 1s) moves no data, so
// its result becomes an alias of the operand (ProgramTensor::alias_of) and the instruction goes:
// no launch, no DRAM round trip. BERT-base reshapes every matmul's input and output
// ([1, 128, 768] <-> [128, 768]) and every attention batch ([1, 12, 128, 64] <-> [12, 128, 64]).
//
// Only activations alias (constants are folded, state changes between reads); a chain of reshapes
// aliases the first operand. It runs after eviction, which only ever saw more bytes than are now
// needed: an alias's bytes are its operand's, whose lifetime grows by at most the alias's own. In
// SRAM, whose regions sram-residency sized to their plan, aliases stay only if no SRAM region's plan
// grows (the planner may pack longer lifetimes less tightly); otherwise only DRAM reshapes alias.
#ifndef KILN_COMPILER_PASSES_ALIAS_RESHAPES_H_
#define KILN_COMPILER_PASSES_ALIAS_RESHAPES_H_

#include <cstdint>

#include "absl/status/status.h"
#include "compiler/program/scheduled_program.h"

namespace kiln::compiler {

struct AliasStats {
  int reshapes = 0;             // reshape instructions removed
  uint64_t bytes_not_moved = 0;  // what they would have read and written in DRAM
};

absl::Status AliasReshapes(ScheduledProgram& program, AliasStats* stats = nullptr);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_ALIAS_RESHAPES_H_

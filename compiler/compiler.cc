#include "compiler/compiler.h"

#include <sstream>

#include "base/macros.h"
#include "compiler/codegen/kiln_writer.h"
#include "compiler/lowering/lower_aten.h"
#include "compiler/passes/constant_folding.h"
#include "compiler/passes/dead_code_elimination.h"
#include "compiler/passes/layout_selection.h"
#include "compiler/passes/memory_planning.h"
#include "compiler/passes/placement.h"
#include "compiler/passes/scheduling.h"
#include "compiler/pt2/pt2_reader.h"

namespace kiln::compiler {

absl::StatusOr<CompileResult> Compile(const AtenGraph& aten, const CompileOptions& options) {
  CompileResult result;
  CompileSummary& sum = result.summary;
  sum.aten_nodes = static_cast<int>(aten.nodes.size());

  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(aten);
  if (!lowered.ok()) return lowered.status();
  DeviceGraph& graph = *lowered;

  // The pass pipeline, in order; each pass is one file under compiler/passes/.
  FoldingStats folding;
  if (options.fold_constants) KILN_RETURN_IF_ERROR(FoldConstants(graph, &folding));
  KILN_RETURN_IF_ERROR(EliminateDeadCode(graph));
  absl::StatusOr<ScheduledProgram> placed = PlaceGraph(graph, options.device_dtype);
  if (!placed.ok()) return placed.status();
  ScheduledProgram& program = *placed;
  KILN_RETURN_IF_ERROR(SelectLayouts(program));
  KILN_RETURN_IF_ERROR(ScheduleTransfers(program));
  MemoryStats memory;
  KILN_RETURN_IF_ERROR(PlanMemory(program, static_cast<uint64_t>(options.chip.dram_bytes), &memory));

  absl::StatusOr<std::string> bytes = WriteKiln(program);
  if (!bytes.ok()) return bytes.status();
  result.kiln = *std::move(bytes);

  sum.folded_nodes = folding.folded_nodes;
  for (const ProgramInstruction& inst : program.instructions) {
    if (inst.kind == ProgramInstruction::Kind::kOp) {
      sum.device_ops++;
      sum.ops_by_name[std::string(inst.op->name)]++;
    } else {
      sum.transfers++;
    }
  }
  sum.arena_bytes = memory.arena_bytes;
  sum.constant_bytes = memory.constant_bytes;
  sum.peak_device_bytes = memory.arena_bytes + memory.constant_bytes;
  sum.activation_bytes_without_reuse = memory.sum_of_activation_bytes;
  return result;
}

absl::StatusOr<CompileResult> CompilePt2File(const std::string& path, const CompileOptions& options) {
  absl::StatusOr<AtenGraph> graph = ReadPt2(path);
  if (!graph.ok()) return graph.status();
  absl::StatusOr<CompileResult> result = Compile(*graph, options);
  if (!result.ok())
    return absl::Status(result.status().code(), path + ": " + std::string(result.status().message()));
  return result;
}

std::string CompileSummary::ToString() const {
  std::ostringstream os;
  os << "ATen nodes:        " << aten_nodes << "\n"
     << "device ops:        " << device_ops << " (" << folded_nodes << " folded into constants)\n";
  for (const auto& [name, count] : ops_by_name) os << "  " << name << ": " << count << "\n";
  os << "transfers:         " << transfers << "\n"
     << "arena:             " << arena_bytes << " bytes (" << activation_bytes_without_reuse
     << " without reuse)\n"
     << "constants:         " << constant_bytes << " bytes\n"
     << "peak device DRAM:  " << peak_device_bytes << " bytes\n";
  return os.str();
}

}  // namespace kiln::compiler

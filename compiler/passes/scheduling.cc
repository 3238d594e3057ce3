#include "compiler/passes/scheduling.h"

#include <map>

namespace kiln::compiler {

absl::Status ScheduleTransfers(ScheduledProgram& program) {
  using Kind = ProgramInstruction::Kind;
  std::map<int, ProgramInstruction> uploads;    // by device tensor written
  std::multimap<int, ProgramInstruction> downloads;  // by device tensor read
  std::vector<ProgramInstruction> ops;
  for (ProgramInstruction& inst : program.instructions) {
    if (inst.kind == Kind::kHostToDevice) uploads.emplace(inst.output, std::move(inst));
    else if (inst.kind == Kind::kDeviceToHost) downloads.emplace(inst.inputs[0], std::move(inst));
    else ops.push_back(std::move(inst));
  }
  std::vector<ProgramInstruction> order;
  for (ProgramInstruction& op : ops) {
    for (int t : op.inputs) {
      auto up = uploads.find(t);
      if (up != uploads.end()) {
        order.push_back(std::move(up->second));
        uploads.erase(up);
      }
    }
    const int produced = op.output;
    order.push_back(std::move(op));
    auto [begin, end] = downloads.equal_range(produced);
    for (auto it = begin; it != end; ++it) order.push_back(std::move(it->second));
    downloads.erase(begin, end);
  }
  // Inputs no op reads still travel (they are part of the signature), at the end.
  for (auto& [t, inst] : uploads) order.push_back(std::move(inst));
  if (!downloads.empty())
    return absl::InternalError("scheduling: an output transfer reads a tensor no op produces");
  program.instructions = std::move(order);
  return absl::OkStatus();
}

}  // namespace kiln::compiler

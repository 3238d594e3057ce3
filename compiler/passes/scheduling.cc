#include "compiler/passes/scheduling.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"

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
  std::set<int> uploaded;  // device tensors whose upload is already in `order`
  auto upload = [&](int t) {
    auto up = uploads.find(t);
    if (up == uploads.end()) return;
    order.push_back(std::move(up->second));
    uploads.erase(up);
    uploaded.insert(t);
  };
  for (ProgramInstruction& op : ops) {
    for (int t : op.inputs) upload(t);
    const int produced = op.output;
    order.push_back(std::move(op));
    auto [begin, end] = downloads.equal_range(produced);
    for (auto it = begin; it != end; ++it) order.push_back(std::move(it->second));
    downloads.erase(begin, end);
  }
  // Outputs no op produces: a constant (a result folded at compile time), or a graph input returned
  // as it is, copied back after its upload.
  for (auto& [t, inst] : downloads) {
    upload(t);
    if (!program.tensors[t].is_constant && !uploaded.count(t))
      return absl::InternalError(absl::StrCat("scheduling: output transfer '", inst.source, "' reads '",
                                              program.tensors[t].name, "', which nothing writes"));
    order.push_back(std::move(inst));
  }
  // Inputs no op reads still travel (they are part of the signature), at the end.
  for (auto& [t, inst] : uploads) order.push_back(std::move(inst));
  program.instructions = std::move(order);
  return absl::OkStatus();
}

}  // namespace kiln::compiler

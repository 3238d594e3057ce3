// Scheduling: fixes the order the device runs instructions in. Ops keep their topological order;
// each input's host-to-device transfer moves to just before its first use and each output's
// device-to-host transfer to just after its producer, so transfers hold arena space no longer
// than needed (and, later, can overlap compute).
#ifndef KILN_COMPILER_PASSES_SCHEDULING_H_
#define KILN_COMPILER_PASSES_SCHEDULING_H_

#include "absl/status/status.h"
#include "compiler/program/scheduled_program.h"

namespace kiln::compiler {

absl::Status ScheduleTransfers(ScheduledProgram& program);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_SCHEDULING_H_

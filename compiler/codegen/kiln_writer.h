// Serializes a scheduled, memory-planned program into .kiln bytes (schema/kiln.fbs).
#ifndef KILN_COMPILER_CODEGEN_KILN_WRITER_H_
#define KILN_COMPILER_CODEGEN_KILN_WRITER_H_

#include <string>

#include "absl/status/statusor.h"
#include "compiler/program/scheduled_program.h"

namespace kiln::compiler {

// Constants are written in device format (tile layout, their dtype), ready to DMA as they are.
absl::StatusOr<std::string> WriteKiln(const ScheduledProgram& program);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_CODEGEN_KILN_WRITER_H_

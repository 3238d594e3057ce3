// Serializes a scheduled, memory-planned program into a .kiln file (format 2, schema/kiln.fbs and
// schema/file_layout.h).
#ifndef KILN_COMPILER_CODEGEN_KILN_WRITER_H_
#define KILN_COMPILER_CODEGEN_KILN_WRITER_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "compiler/program/scheduled_program.h"

namespace kiln::compiler {

// Streams the file to `out`: the FlatBuffer, then the constants segment, one constant at a time in
// device format (tile layout, their dtype), so the weights are never held twice. The writer checks
// only what it needs to write; the runtime's verifier judges the program.
absl::Status WriteKiln(const ScheduledProgram& program, std::ostream& out);
absl::Status WriteKilnFile(const ScheduledProgram& program, const std::string& path);
// The whole file in memory (small programs, tests).
absl::StatusOr<std::string> WriteKiln(const ScheduledProgram& program);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_CODEGEN_KILN_WRITER_H_

// The compiler driver: pt2 -> ATen graph -> the pass pipeline (pipeline/pipeline.h) -> .kiln bytes.
#ifndef KILN_COMPILER_COMPILER_H_
#define KILN_COMPILER_COMPILER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "compiler/aten/aten_graph.h"
#include "compiler/pipeline/pipeline.h"
#include "runtime/program.h"

namespace kiln::compiler {

struct CompileResult {
  std::string kiln;  // the .kiln file's bytes
  CompileSummary summary;
  std::vector<std::string> warnings;  // see CompileState::warnings
};

// Runs the whole default pipeline.
absl::StatusOr<CompileResult> Compile(const AtenGraph& graph, const CompileOptions& options = {});
// The owner program's constant regions (its device regions that hold only constants), for
// CompileOptions::share_from. Reads the owner's bytes in place: `owner` must outlive the compilation.
absl::StatusOr<std::shared_ptr<const OwnerConstants>> OwnerConstantsOf(const runtime::Program& owner);
// Reads the archive, then compiles; errors are prefixed with `path`.
absl::StatusOr<CompileResult> CompilePt2File(const std::string& path, const CompileOptions& options = {});

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_COMPILER_H_

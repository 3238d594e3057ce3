#include "compiler/compiler.h"

#include "base/macros.h"
#include "compiler/pt2/pt2_reader.h"

namespace kiln::compiler {

absl::StatusOr<CompileResult> Compile(const AtenGraph& aten, const CompileOptions& options) {
  KILN_ASSIGN_OR_RETURN(CompileState state, RunPipeline(aten, options));
  return CompileResult{std::move(state.kiln), state.Summary(), std::move(state.warnings)};
}

absl::StatusOr<CompileResult> CompilePt2File(const std::string& path, const CompileOptions& options) {
  absl::StatusOr<AtenGraph> graph = ReadPt2(path);
  if (!graph.ok()) return graph.status();
  absl::StatusOr<CompileResult> result = Compile(*graph, options);
  if (!result.ok())
    return absl::Status(result.status().code(), path + ": " + std::string(result.status().message()));
  return result;
}

}  // namespace kiln::compiler

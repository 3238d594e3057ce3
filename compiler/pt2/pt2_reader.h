// Reads a standard .pt2 archive written by torch.export.save (a zip: graph JSON under models/, raw
// weight bytes under data/weights/ and data/constants/, described by model_*_config.json).
#ifndef KILN_COMPILER_PT2_PT2_READER_H_
#define KILN_COMPILER_PT2_PT2_READER_H_

#include <string>

#include "absl/status/statusor.h"
#include "compiler/aten/aten_graph.h"

namespace kiln::compiler {

// Errors name the file, the archive member and, for format problems, the byte offset.
absl::StatusOr<AtenGraph> ReadPt2(const std::string& path);
absl::StatusOr<AtenGraph> ReadPt2FromBuffer(const std::string& bytes, const std::string& display_name);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PT2_PT2_READER_H_

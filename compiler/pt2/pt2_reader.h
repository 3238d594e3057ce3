// Reads a standard .pt2 archive written by torch.export.save (a zip: graph JSON under models/, raw
// weight bytes under data/weights/ and data/constants/, described by model_*_config.json).
#ifndef KILN_COMPILER_PT2_PT2_READER_H_
#define KILN_COMPILER_PT2_PT2_READER_H_

#include <string>

#include "absl/status/statusor.h"
#include "compiler/aten/aten_graph.h"

namespace kiln::compiler {

// Errors name the file, the archive member and, for format problems, the byte offset.
//
// The file is memory-mapped, not read: weights stored uncompressed (as torch.export.save stores them)
// are views into the mapping, which the returned graph's weights keep alive (WeightBytes shares
// ownership of it). The reader lets the pages it has checked go again, and so does lowering once it
// has converted a weight (WeightBytes::Evict), so the archive does not stay resident beside the
// compiled copy. A weight is copied only when it is compressed or not contiguous in its storage;
// such copies may total at most the archive's size (a zero-stride weight is expanded, within that
// bound). The archive version and the export schema's major version are checked (pt2_archive_spec.h).
absl::StatusOr<AtenGraph> ReadPt2(const std::string& path);
// The same for an archive in memory (tests, or an archive that does not come from a file); the graph
// keeps `bytes` alive.
absl::StatusOr<AtenGraph> ReadPt2FromBuffer(std::string bytes, const std::string& display_name);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PT2_PT2_READER_H_

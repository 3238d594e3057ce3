// Parses the JSON documents of a .pt2 archive (torch/_export/serde/schema.py, serialized by
// torch.export.save): the exported program (models/<name>.json) and the payload configs
// (data/weights/<name>_weights_config.json, data/constants/<name>_constants_config.json).
#ifndef KILN_COMPILER_PT2_EXPORT_JSON_H_
#define KILN_COMPILER_PT2_EXPORT_JSON_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "compiler/aten/aten_graph.h"

namespace kiln::compiler {

// Fills inputs (in signature order, with kinds and targets), nodes, outputs and values of an
// AtenGraph; weights stay empty. Argument encodings this IR has no kind for become
// Argument::Kind::kOther with s = the JSON key ("as_sym_int", "as_graph", ...), except that SymInt /
// SymFloat / SymBool arguments holding plain constants become kInt(s) / kFloat / kBool.
// The schema_version must have the major version in pt2_archive_spec.h (Unimplemented otherwise,
// naming both versions).
// Errors (InvalidArgument / Unimplemented) name the node, input spec or value concerned:
//  - structural: missing or mistyped fields, tensor arguments naming undefined values, ...;
//  - unsupported: symbolic (dynamic) sizes, non-tensor user inputs/outputs, custom objects,
//    tokens, and output specs other than user_output (buffer_mutation etc.).
absl::StatusOr<AtenGraph> ParseExportedProgramJson(std::string_view json_text);

// One entry of a payload config (schema.PayloadMeta).
struct PayloadMeta {
  std::string path_name;  // member name relative to the config's folder ("weight_0")
  bool is_param = false;
  bool use_pickle = false;
  std::optional<TensorMeta> tensor_meta;  // absent for custom objects
};

// {"config": {fqn: PayloadMeta}}. Errors name the fqn.
absl::StatusOr<std::map<std::string, PayloadMeta>> ParsePayloadConfigJson(std::string_view json_text);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PT2_EXPORT_JSON_H_

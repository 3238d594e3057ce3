// The parts of the PT2 archive spec this reader uses, and the versions it supports.
//
// The names are torch's (torch/csrc/export/pt2_archive_constants.h, a header-only list in the torch
// wheel), copied rather than included: including it would make building the compiler need the torch
// wheel (today only tests do), and the versions below are facts about this reader, which must not
// change when a newer torch is installed. pt2_archive_spec_test checks every copy against torch's
// header, so a torch upgrade that renames a member or bumps the archive version fails a test.
#ifndef KILN_COMPILER_PT2_PT2_ARCHIVE_SPEC_H_
#define KILN_COMPILER_PT2_PT2_ARCHIVE_SPEC_H_

#include <string_view>

namespace kiln::compiler::pt2_spec {

inline constexpr std::string_view kArchiveFormatPath = "archive_format";
inline constexpr std::string_view kArchiveFormatValue = "pt2";
inline constexpr std::string_view kArchiveVersionPath = "archive_version";
inline constexpr std::string_view kModelsFilenameFormat = "models/{}.json";  // {} = model name
inline constexpr std::string_view kWeightsDir = "data/weights/";
inline constexpr std::string_view kWeightsConfigFilenameFormat = "data/weights/{}_weights_config.json";
inline constexpr std::string_view kConstantsDir = "data/constants/";
inline constexpr std::string_view kConstantsConfigFilenameFormat = "data/constants/{}_constants_config.json";

// The archive layout version this reader understands (torch writes "0", the spec's first version,
// and an archive without the member is version 0 too).
inline constexpr std::string_view kSupportedArchiveVersion = "0";

// The export schema (torch/_export/serde/schema.py SCHEMA_VERSION): a major version change breaks
// readers; minor versions only add, so any minor of the supported major is read. Written against
// 8.20 (torch 2.14).
inline constexpr int kSupportedSchemaMajor = 8;
inline constexpr int kWrittenAgainstSchemaMinor = 20;

}  // namespace kiln::compiler::pt2_spec

#endif  // KILN_COMPILER_PT2_PT2_ARCHIVE_SPEC_H_

// libFuzzer target: the JSON documents of a .pt2 archive, parsed both as an exported program
// (models/<name>.json) and as a payload config (data/*/..._config.json). Every input must parse or
// fail with a Status: never crash, hang or throw. Build and run: tools/fuzz.sh (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "compiler/pt2/export_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)kiln::compiler::ParseExportedProgramJson(text);
  (void)kiln::compiler::ParsePayloadConfigJson(text);
  return 0;
}

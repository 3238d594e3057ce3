// libFuzzer target: a .pt2 archive from memory through the zip reader, the export-JSON and payload
// parsers and the weight reader, then compilation of whatever reads (lowering, passes, memory
// planning against a 64 MiB device, .kiln writing). Every input must compile or fail with a Status:
// never crash, hang or exhaust memory. Build and run: tools/fuzz.sh (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>
#include <string>

#include "compiler/compiler.h"
#include "compiler/pt2/pt2_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kiln;
  absl::StatusOr<compiler::AtenGraph> graph =
      compiler::ReadPt2FromBuffer(std::string(reinterpret_cast<const char*>(data), size), "fuzz.pt2");
  if (!graph.ok()) return 0;
  compiler::CompileOptions options;
  options.chip.dram_bytes = int64_t{64} << 20;
  (void)compiler::Compile(*graph, options);
  return 0;
}

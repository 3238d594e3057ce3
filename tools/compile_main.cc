// bazel run //tools:compile -- model.pt2 -o model.kiln [--chip chip.json] [--device-dtype bf16] [--quiet]
#include <cstdio>
#include <fstream>
#include <string>

#include "compiler/compiler.h"
#include "tools/caller_path.h"

namespace {
using kiln::tools::FromCallerDir;

int Usage() {
  std::fprintf(stderr, "usage: compile MODEL.pt2 -o OUT.kiln [--chip CHIP.json] [--device-dtype f32|bf16] [--quiet]\n");
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  std::string input, output, chip_path, device_dtype = "f32";
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "-o" || a == "--output") && i + 1 < argc) output = FromCallerDir(argv[++i]);
    else if (a == "--chip" && i + 1 < argc) chip_path = FromCallerDir(argv[++i]);
    else if (a == "--device-dtype" && i + 1 < argc) device_dtype = argv[++i];
    else if (a == "--quiet") quiet = true;
    else if (!a.empty() && a[0] != '-' && input.empty()) input = FromCallerDir(a);
    else return Usage();
  }
  if (input.empty() || output.empty()) return Usage();

  kiln::compiler::CompileOptions options;
  if (device_dtype == "bf16") options.device_dtype = kiln::ops::DType::kBF16;
  else if (device_dtype != "f32") return Usage();
  if (!chip_path.empty()) {
    kiln::Status s = kiln::target::LoadChipConfig(chip_path, &options.chip);
    if (!s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      return 1;
    }
  }
  absl::StatusOr<kiln::compiler::CompileResult> result = kiln::compiler::CompilePt2File(input, options);
  if (!result.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(result.status().message()).c_str());
    return 1;
  }
  std::ofstream out(output, std::ios::binary);
  out.write(result->kiln.data(), static_cast<std::streamsize>(result->kiln.size()));
  if (!out) {
    std::fprintf(stderr, "error: cannot write %s\n", output.c_str());
    return 1;
  }
  if (!quiet) {
    std::printf("compiled %s -> %s (%zu bytes) for chip %s\n%s", input.c_str(), output.c_str(),
                result->kiln.size(), options.chip.name.c_str(), result->summary.ToString().c_str());
  }
  return 0;
}

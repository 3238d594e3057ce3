// A main for fuzz targets built without libFuzzer (the default gcc build): feeds every file named on
// the command line, or found in a directory named there, to LLVMFuzzerTestOneInput once, so `bazel
// test //...` runs each fuzz target over its seed corpus as a regression test. Arguments starting
// with '-' are libFuzzer flags and are ignored, so a target's `args` work in both builds.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return false;
  }
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::fprintf(stderr, "running %s (%zu bytes)\n", path.c_str(), bytes.size());
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.starts_with("-")) continue;
    std::error_code ec;
    if (!std::filesystem::is_directory(arg, ec)) {
      files.push_back(arg);
      continue;
    }
    std::vector<std::filesystem::path> in_dir;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(arg))
      if (entry.is_regular_file()) in_dir.push_back(entry.path());
    std::sort(in_dir.begin(), in_dir.end());  // a stable order, so a failure is reproducible
    files.insert(files.end(), in_dir.begin(), in_dir.end());
  }
  if (files.empty()) {
    std::fprintf(stderr, "no input to run: name files or directories of inputs\n");
    return 1;
  }
  for (const auto& f : files)
    if (!RunFile(f)) return 1;
  std::fprintf(stderr, "%zu inputs ran without a crash\n", files.size());
  return 0;
}

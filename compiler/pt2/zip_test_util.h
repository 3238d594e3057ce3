// Test-only: writes zip archives by hand, to build well-formed and deliberately odd inputs for the
// zip and .pt2 readers.
#ifndef KILN_COMPILER_PT2_ZIP_TEST_UTIL_H_
#define KILN_COMPILER_PT2_ZIP_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::compiler::testing {

struct ZipMember {
  std::string name;
  std::string data;
  bool deflate = false;  // DEFLATE (method 8) instead of STORED
};

struct ZipWriteOptions {
  bool zip64_eocd = false;      // write a ZIP64 EOCD record + locator (as PyTorch does)
  bool zip64_extra = false;     // saturate sizes/offsets in the central directory, real values in a
                                // ZIP64 extra field
  bool data_descriptor = false; // zero sizes/CRC in local headers, descriptor after the data
  uint32_t align = 0;           // pad local extra fields so data starts at a multiple (PyTorch: 64)
  std::string comment;          // archive comment after the EOCD
};

std::string WriteZip(const std::vector<ZipMember>& members, const ZipWriteOptions& options = {});

// Reads a whole file (test fixtures); aborts the test binary on failure.
std::string ReadFileOrDie(const std::string& path);

// This process's peak resident set size so far, in KB (to show a read allocates no more than it
// should).
long PeakRssKb();

// The runfiles path of compiler/pt2/testdata/<name>.
std::string TestDataPath(const std::string& name);

}  // namespace kiln::compiler::testing

#endif  // KILN_COMPILER_PT2_ZIP_TEST_UTIL_H_

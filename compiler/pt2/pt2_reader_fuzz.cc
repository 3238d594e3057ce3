// libFuzzer target: a .pt2 archive from memory through the zip reader, the export-JSON and payload
// parsers and the weight reader, then compilation of whatever reads (lowering, passes, memory
// planning against a 64 MiB device, .kiln writing). Every input must compile or fail with a Status:
// never crash, hang or exhaust memory. Build and run: tools/fuzz.sh (docs/FUZZING.md).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "compiler/compiler.h"
#include "compiler/pt2/pt2_reader.h"
#include "compiler/pt2/zip_test_util.h"

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

// Structure-aware mutation. The reader checks each member's CRC-32, so a byte mutation inside a
// member (the JSON, a weight) is almost always refused by the zip layer. So most mutations unpack the
// archive, mutate one member and repack it with right sizes and CRCs; the rest mutate raw bytes, to
// fuzz the zip layer itself.

// libFuzzer's own mutator; weak, so the build without libFuzzer (which never calls
// LLVMFuzzerCustomMutator) links.
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size) __attribute__((weak));

namespace {

using kiln::compiler::testing::ZipMember;

uint32_t Le(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Plain zips only (no ZIP64, no encryption), each member at most 1 MiB: anything else is mutated as
// raw bytes.
bool Unzip(const uint8_t* data, size_t size, std::vector<ZipMember>* members) {
  constexpr size_t kMaxMember = 1 << 20;
  if (size < 22) return false;
  size_t eocd = size - 22;
  while (Le(data + eocd, 4) != 0x06054b50)
    if (eocd-- == 0) return false;
  const uint32_t count = Le(data + eocd + 10, 2);
  size_t pos = Le(data + eocd + 16, 4);
  for (uint32_t i = 0; i < count; ++i) {
    if (pos > size || size - pos < 46 || Le(data + pos, 4) != 0x02014b50) return false;
    const uint8_t* c = data + pos;
    const uint32_t method = Le(c + 10, 2), csize = Le(c + 20, 4), usize = Le(c + 24, 4);
    const size_t name_len = Le(c + 28, 2), cd_len = 46 + name_len + Le(c + 30, 2) + Le(c + 32, 2);
    const size_t lho = Le(c + 42, 4);
    if (size - pos < cd_len || lho > size || size - lho < 30 || usize > kMaxMember) return false;
    const size_t start = lho + 30 + Le(data + lho + 26, 2) + Le(data + lho + 28, 2);
    if (start > size || size - start < csize || (method != 0 && method != 8)) return false;
    ZipMember m{std::string(reinterpret_cast<const char*>(c + 46), name_len), "", method == 8};
    if (method == 0) {
      m.data.assign(reinterpret_cast<const char*>(data + start), csize);
    } else {
      m.data.resize(usize);
      z_stream zs{};
      if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return false;
      zs.next_in = const_cast<Bytef*>(data + start);
      zs.avail_in = csize;
      zs.next_out = reinterpret_cast<Bytef*>(m.data.data());
      zs.avail_out = usize;
      const int rc = inflate(&zs, Z_FINISH);
      inflateEnd(&zs);
      if (rc != Z_STREAM_END || zs.total_out != usize) return false;
    }
    members->push_back(std::move(m));
    pos += cd_len;
  }
  return !members->empty();
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  std::minstd_rand rng(seed);
  std::vector<ZipMember> members;
  if (rng() % 4 == 0 || !Unzip(data, size, &members)) return LLVMFuzzerMutate(data, size, max_size);
  ZipMember& m = members[rng() % members.size()];
  const size_t old_size = m.data.size();
  m.data.resize(old_size + 64 + old_size / 4);  // room to grow
  m.data.resize(LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(m.data.data()), old_size, m.data.size()));
  const std::string zip = kiln::compiler::testing::WriteZip(members, {.align = 64});  // as PyTorch
  if (zip.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, zip.data(), zip.size());
  return zip.size();
}

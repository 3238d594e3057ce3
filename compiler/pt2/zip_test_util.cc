#include "compiler/pt2/zip_test_util.h"

#include <sys/resource.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kiln::compiler::testing {
namespace {

void Put16(std::string* s, uint32_t v) {
  s->push_back(static_cast<char>(v & 0xff));
  s->push_back(static_cast<char>((v >> 8) & 0xff));
}
void Put32(std::string* s, uint32_t v) {
  Put16(s, v & 0xffff);
  Put16(s, v >> 16);
}
void Put64(std::string* s, uint64_t v) {
  Put32(s, static_cast<uint32_t>(v));
  Put32(s, static_cast<uint32_t>(v >> 32));
}

std::string Deflate(const std::string& in) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 16, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace

std::string WriteZip(const std::vector<ZipMember>& members, const ZipWriteOptions& o) {
  std::string out, cd;
  for (const ZipMember& m : members) {
    const std::string payload = m.deflate ? Deflate(m.data) : m.data;
    const uint32_t crc =
        static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(m.data.data()), m.data.size()));
    const uint16_t method = m.deflate ? 8 : 0;
    const uint16_t flags = o.data_descriptor ? 0x0808 : 0x0800;
    const uint64_t lho = out.size();
    std::string extra;
    if (o.align > 0) {
      const uint64_t unpadded = lho + 30 + m.name.size() + 4;
      const uint64_t pad = (o.align - unpadded % o.align) % o.align;
      Put16(&extra, 0x4246);  // "FB", as PyTorch
      Put16(&extra, static_cast<uint32_t>(pad));
      extra.append(pad, 'Z');
    }
    Put32(&out, 0x04034b50);
    Put16(&out, 20);
    Put16(&out, flags);
    Put16(&out, method);
    Put16(&out, 0);
    Put16(&out, 0x21);
    Put32(&out, o.data_descriptor ? 0 : crc);
    Put32(&out, o.data_descriptor ? 0 : static_cast<uint32_t>(payload.size()));
    Put32(&out, o.data_descriptor ? 0 : static_cast<uint32_t>(m.data.size()));
    Put16(&out, static_cast<uint32_t>(m.name.size()));
    Put16(&out, static_cast<uint32_t>(extra.size()));
    out += m.name;
    out += extra;
    out += payload;
    if (o.data_descriptor) {
      Put32(&out, 0x08074b50);
      Put32(&out, crc);
      Put32(&out, static_cast<uint32_t>(payload.size()));
      Put32(&out, static_cast<uint32_t>(m.data.size()));
    }
    std::string cd_extra;
    if (o.zip64_extra) {
      Put16(&cd_extra, 0x0001);
      Put16(&cd_extra, 24);
      Put64(&cd_extra, m.data.size());
      Put64(&cd_extra, payload.size());
      Put64(&cd_extra, lho);
    }
    Put32(&cd, 0x02014b50);
    Put16(&cd, 45);
    Put16(&cd, 45);
    Put16(&cd, flags);
    Put16(&cd, method);
    Put16(&cd, 0);
    Put16(&cd, 0x21);
    Put32(&cd, crc);
    Put32(&cd, o.zip64_extra ? 0xFFFFFFFFu : static_cast<uint32_t>(payload.size()));
    Put32(&cd, o.zip64_extra ? 0xFFFFFFFFu : static_cast<uint32_t>(m.data.size()));
    Put16(&cd, static_cast<uint32_t>(m.name.size()));
    Put16(&cd, static_cast<uint32_t>(cd_extra.size()));
    Put16(&cd, 0);
    Put16(&cd, 0);
    Put16(&cd, 0);
    Put32(&cd, 0);
    Put32(&cd, o.zip64_extra ? 0xFFFFFFFFu : static_cast<uint32_t>(lho));
    cd += m.name;
    cd += cd_extra;
  }
  const uint64_t cd_offset = out.size();
  out += cd;
  const bool z64 = o.zip64_eocd || o.zip64_extra;
  if (z64) {
    const uint64_t z64_offset = out.size();
    Put32(&out, 0x06064b50);
    Put64(&out, 44);
    Put16(&out, 45);
    Put16(&out, 45);
    Put32(&out, 0);
    Put32(&out, 0);
    Put64(&out, members.size());
    Put64(&out, members.size());
    Put64(&out, cd.size());
    Put64(&out, cd_offset);
    Put32(&out, 0x07064b50);
    Put32(&out, 0);
    Put64(&out, z64_offset);
    Put32(&out, 1);
  }
  Put32(&out, 0x06054b50);
  Put16(&out, 0);
  Put16(&out, 0);
  Put16(&out, o.zip64_extra ? 0xFFFF : static_cast<uint32_t>(members.size()));
  Put16(&out, o.zip64_extra ? 0xFFFF : static_cast<uint32_t>(members.size()));
  Put32(&out, o.zip64_extra ? 0xFFFFFFFFu : static_cast<uint32_t>(cd.size()));
  Put32(&out, o.zip64_extra ? 0xFFFFFFFFu : static_cast<uint32_t>(cd_offset));
  Put16(&out, static_cast<uint32_t>(o.comment.size()));
  out += o.comment;
  return out;
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::abort();
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  return std::move(ss).str();
}

std::string TestDataPath(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  std::string base = srcdir ? std::string(srcdir) + "/" + (ws ? ws : "kiln") + "/" : "";
  return base + "compiler/pt2/testdata/" + name;
}

long PeakRssKb() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

}  // namespace kiln::compiler::testing

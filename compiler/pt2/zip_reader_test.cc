#include "compiler/pt2/zip_reader.h"

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "compiler/pt2/zip_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::compiler {
namespace {

using ::testing::HasSubstr;
using testing::PeakRssKb;
using testing::ReadFileOrDie;
using testing::TestDataPath;
using testing::WriteZip;
using testing::ZipMember;
using testing::ZipWriteOptions;

// Opens and reads every member; the first error, or OK.
absl::Status OpenAndReadAll(const std::string& bytes) {
  absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "test.zip");
  if (!zip.ok()) return zip.status();
  for (const ZipReader::Entry& e : zip->entries()) {
    absl::StatusOr<std::string> data = zip->Read(e.name);
    if (!data.ok()) return data.status();
    if (data->size() != e.uncompressed_size) return absl::InternalError("size mismatch");
  }
  return absl::OkStatus();
}

void PatchLe32(std::string* s, size_t offset, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[offset + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

void PatchLe16(std::string* s, size_t offset, uint16_t v) {
  (*s)[offset] = static_cast<char>(v & 0xff);
  (*s)[offset + 1] = static_cast<char>(v >> 8);
}

size_t CentralDirectoryOffset(const std::string& zip, const std::string& name) {
  const std::string sig("PK\x01\x02", 4);
  for (size_t pos = zip.find(sig); pos != std::string::npos; pos = zip.find(sig, pos + 1)) {
    if (zip.compare(pos + 46, name.size(), name) == 0) return pos;
  }
  ADD_FAILURE() << "no central directory entry for " << name;
  return 0;
}

std::vector<ZipMember> SampleMembers(bool deflate) {
  std::string big;
  for (int i = 0; i < 5000; ++i) big += "line " + std::to_string(i % 37) + "\n";
  return {
      {"pkg/a.txt", "hello", deflate},
      {"pkg/empty", "", deflate},
      {"pkg/dir/", "", false},
      {"pkg/big.txt", big, deflate},
      {"pkg/bin", std::string("\0\x01\x02\xff", 4), deflate},
  };
}

TEST(ZipReaderTest, ReadsTorchWrittenArchive) {
  const std::string bytes = ReadFileOrDie(TestDataPath("mlp.pt2"));
  absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "mlp.pt2");
  ASSERT_TRUE(zip.ok()) << zip.status();
  EXPECT_THAT(zip->Names(), ::testing::Contains("mlp/models/model.json"));
  EXPECT_THAT(zip->Names(), ::testing::Contains("mlp/data/weights/weight_0"));
  const ZipReader::Entry* w = zip->Find("mlp/data/weights/weight_0");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->method, 0);
  EXPECT_EQ(w->uncompressed_size, 48u);  // 3x4 float32
  EXPECT_EQ(w->data_offset % 64, 0u);    // PyTorch aligns member data to 64 bytes
  absl::StatusOr<std::string> json = zip->Read("mlp/models/model.json");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->front(), '{');
  EXPECT_THAT(*json, HasSubstr("graph_module"));
  absl::StatusOr<std::string> fmt = zip->Read("mlp/archive_format");
  ASSERT_TRUE(fmt.ok());
  EXPECT_EQ(*fmt, "pt2");
  EXPECT_TRUE(OpenAndReadAll(bytes).ok());

  absl::StatusOr<std::string> missing = zip->Read("mlp/nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("mlp/nope"));
}

TEST(ZipReaderTest, RoundTripsAllWriterVariants) {
  for (bool deflate : {false, true}) {
    for (int variant = 0; variant < 16; ++variant) {
      ZipWriteOptions o;
      o.zip64_eocd = variant & 1;
      o.zip64_extra = variant & 2;
      o.data_descriptor = variant & 4;
      o.align = (variant & 8) ? 64 : 0;
      if (variant == 5) o.comment = "a comment with PK\x05\x06 inside";
      const std::vector<ZipMember> members = SampleMembers(deflate);
      const std::string bytes = WriteZip(members, o);
      SCOPED_TRACE(::testing::Message() << "deflate=" << deflate << " variant=" << variant);
      absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "t.zip");
      ASSERT_TRUE(zip.ok()) << zip.status();
      ASSERT_EQ(zip->entries().size(), members.size());
      for (const ZipMember& m : members) {
        absl::StatusOr<std::string> got = zip->Read(m.name);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(*got, m.data) << m.name;
        const ZipReader::Entry* e = zip->Find(m.name);
        if (o.align > 0) {
          EXPECT_EQ(e->data_offset % o.align, 0u);
        }
        std::string scratch;
        absl::StatusOr<std::string_view> view = zip->ReadView(*e, &scratch);
        ASSERT_TRUE(view.ok());
        EXPECT_EQ(*view, m.data);
        if (!m.deflate) {
          EXPECT_TRUE(scratch.empty());  // stored members are not copied
        }
      }
    }
  }
}

TEST(ZipReaderTest, EmptyArchive) {
  absl::StatusOr<ZipReader> zip = ZipReader::Open(WriteZip({}), "e.zip");
  ASSERT_TRUE(zip.ok()) << zip.status();
  EXPECT_TRUE(zip->entries().empty());
}

TEST(ZipReaderTest, NotAZip) {
  for (std::string bytes : {std::string(), std::string("hello"), std::string(1000, 'x')}) {
    absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "junk.bin");
    ASSERT_FALSE(zip.ok());
    EXPECT_EQ(zip.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(zip.status().message(), HasSubstr("junk.bin: not a zip archive"));
  }
}

TEST(ZipReaderTest, EveryTruncationOfARealArchiveFails) {
  const std::string bytes = ReadFileOrDie(TestDataPath("mlp.pt2"));
  for (size_t len = 0; len < bytes.size(); ++len) {
    absl::Status st = OpenAndReadAll(bytes.substr(0, len));
    ASSERT_FALSE(st.ok()) << "truncated to " << len;
    ASSERT_NE(st.code(), absl::StatusCode::kInternal) << st;
  }
  // Cutting bytes off the front shifts every offset.
  for (size_t cut = 1; cut < bytes.size(); cut += 7) {
    absl::Status st = OpenAndReadAll(bytes.substr(cut));
    ASSERT_FALSE(st.ok()) << "cut " << cut;
  }
}

TEST(ZipReaderTest, TruncatedArchiveMessageNamesOffsets) {
  const std::string bytes = WriteZip(SampleMembers(false), {.zip64_eocd = true});
  // Keep the tail records but drop some data before them: the central directory now points past
  // where it is.
  std::string damaged = bytes.substr(0, 100) + bytes.substr(200);
  absl::Status st = OpenAndReadAll(damaged);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("byte"));
}

TEST(ZipReaderTest, CorruptingAnyByteNeverCrashes) {
  const std::string bytes = ReadFileOrDie(TestDataPath("mlp.pt2"));
  int failures = 0;
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    std::string damaged = bytes;
    damaged[pos] = static_cast<char>(damaged[pos] ^ 0x5a);
    absl::Status st = OpenAndReadAll(damaged);
    ASSERT_NE(st.code(), absl::StatusCode::kInternal) << st;
    failures += !st.ok();
  }
  // Member data, names and structural fields are all checked (only padding, timestamps, version
  // fields and the like may change silently).
  EXPECT_GT(failures, static_cast<int>(bytes.size() * 8 / 10));
}

TEST(ZipReaderTest, RandomCorruptionOfDeflatedArchiveNeverCrashes) {
  std::mt19937 rng(1234);
  for (bool zip64 : {false, true}) {
    const std::string bytes = WriteZip(SampleMembers(true), {.zip64_extra = zip64});
    for (int iter = 0; iter < 3000; ++iter) {
      std::string damaged = bytes;
      const int n = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < n; ++k) damaged[rng() % damaged.size()] = static_cast<char>(rng());
      absl::Status st = OpenAndReadAll(damaged);
      ASSERT_NE(st.code(), absl::StatusCode::kInternal) << st;
    }
  }
}

TEST(ZipReaderTest, CrcMismatchIsDataLoss) {
  std::string bytes = WriteZip({{"m/a", "hello world"}, {"m/b", "x"}});
  bytes[bytes.find("hello")] = 'j';
  absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "c.zip");
  ASSERT_TRUE(zip.ok()) << zip.status();
  absl::StatusOr<std::string> a = zip->Read("m/a");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(a.status().message(), HasSubstr("c.zip: member 'm/a' (data at byte 33)"));
  EXPECT_THAT(a.status().message(), HasSubstr("CRC-32 mismatch"));
  EXPECT_TRUE(zip->Read("m/b").ok());
}

TEST(ZipReaderTest, CorruptDeflateStreamIsDataLoss) {
  std::string text(20000, 'a');
  for (size_t i = 0; i < text.size(); i += 3) text[i] = static_cast<char>('a' + i % 26);
  std::string bytes = WriteZip({{"d", text, /*deflate=*/true}});
  absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "d.zip");
  ASSERT_TRUE(zip.ok());
  const ZipReader::Entry e = zip->entries()[0];
  for (uint64_t pos = e.data_offset; pos < e.data_offset + e.compressed_size; pos += 13) {
    std::string damaged = bytes;
    damaged[pos] = static_cast<char>(damaged[pos] ^ 0xff);
    absl::StatusOr<ZipReader> z = ZipReader::Open(damaged, "d.zip");
    ASSERT_TRUE(z.ok());
    absl::StatusOr<std::string> got = z->Read("d");
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
    EXPECT_THAT(got.status().message(), HasSubstr("member 'd'"));
  }
}

TEST(ZipReaderTest, UnsupportedFeatures) {
  const std::string base = WriteZip({{"x", "data"}});
  const size_t cd = CentralDirectoryOffset(base, "x");
  {
    std::string bytes = base;
    PatchLe16(&bytes, cd + 10, 12);  // bzip2
    PatchLe16(&bytes, 8, 12);
    absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "m.zip");
    EXPECT_EQ(zip.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(zip.status().message(), HasSubstr("compression method 12"));
  }
  {
    std::string bytes = base;
    PatchLe16(&bytes, cd + 8, 0x0801);  // encrypted
    absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "m.zip");
    EXPECT_EQ(zip.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(zip.status().message(), HasSubstr("encrypted"));
  }
}

TEST(ZipReaderTest, StructuralErrorsNameMemberAndOffset) {
  {
    absl::StatusOr<ZipReader> zip = ZipReader::Open(WriteZip({{"x", "1"}, {"x", "2"}}), "dup.zip");
    EXPECT_EQ(zip.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(zip.status().message(), HasSubstr("member 'x'"));
    EXPECT_THAT(zip.status().message(), HasSubstr("duplicate"));
  }
  {
    std::string bytes = WriteZip({{"a", "1"}, {"b", "2"}});
    const size_t cd = CentralDirectoryOffset(bytes, "b");
    bytes[cd + 42] = 3;  // local header offset of "b" now points into "a"'s header
    absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "lh.zip");
    EXPECT_EQ(zip.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(zip.status().message(),
                HasSubstr("lh.zip: member 'b' (central directory entry at byte"));
    EXPECT_THAT(zip.status().message(), HasSubstr("bad local header signature at byte 3"));
  }
  {
    std::string bytes = WriteZip({{"a", "1234"}});
    const size_t cd = CentralDirectoryOffset(bytes, "a");
    bytes[cd + 20] = 9;  // stored member whose compressed size != uncompressed size
    absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "s.zip");
    EXPECT_THAT(zip.status().message(), HasSubstr("compressed size 9 != uncompressed size 4"));
  }
  {
    std::string bytes = WriteZip({{"a", "1234", true}});
    const size_t cd = CentralDirectoryOffset(bytes, "a");
    bytes[cd + 27] = 0x7f;  // claims ~2 GB from a few bytes of deflate data
    absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "r.zip");
    EXPECT_THAT(zip.status().message(), HasSubstr("implausible deflate sizes"));
  }
}

// A deflated member of `n` bytes that compress poorly (so the compressed size is close to n).
ZipMember Incompressible(const std::string& name, size_t n) {
  std::mt19937 rng(7);
  std::string data(n, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  return {name, data, true};
}

TEST(ZipReaderTest, DeclaredSizeBeyondDeflateRatioIsRefusedBeforeAllocating) {
  // The bad input mem_zip_declared_2.2GB.pt2: a member claiming 1099x its compressed size.
  std::string bytes = WriteZip({{"pkg/archive_format", "pt2", true}, {"pkg/w", std::string(4096, 'a'), true}});
  const size_t cd = CentralDirectoryOffset(bytes, "pkg/w");
  const uint32_t compressed = static_cast<uint32_t>(bytes[cd + 20] & 0xff) | ((bytes[cd + 21] & 0xff) << 8);
  PatchLe32(&bytes, cd + 24, compressed * 1099);
  absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "r.zip");
  EXPECT_EQ(zip.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(zip.status().message(),
              HasSubstr(absl::StrCat("r.zip: member 'pkg/w' (central directory entry at byte ", cd,
                                     "): implausible deflate sizes: ", compressed,
                                     " compressed bytes cannot inflate to the declared ", compressed * 1099,
                                     " (deflate expands at most 1032:1)")));
}

TEST(ZipReaderTest, OverstatedSizeCostsOnlyWhatTheStreamProduces) {
  // 1 MB of deflate data that declares 1000x its size (within deflate's ratio): the reader used to
  // allocate (and zero) the declared gigabyte before inflating.
  std::string bytes = WriteZip({Incompressible("big", 1 << 20)});
  const size_t cd = CentralDirectoryOffset(bytes, "big");
  const uint32_t compressed = static_cast<uint32_t>(bytes[cd + 20] & 0xff) |
                              ((bytes[cd + 21] & 0xff) << 8) | ((bytes[cd + 22] & 0xff) << 16);
  PatchLe32(&bytes, cd + 24, compressed * 1000);
  absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "o.zip");
  ASSERT_TRUE(zip.ok()) << zip.status();
  const long before = PeakRssKb();
  std::string scratch;
  absl::StatusOr<std::string_view> data = zip->ReadView(*zip->Find("big"), &scratch);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(data.status().message(),
              HasSubstr(absl::StrCat("inflated to 1048576 bytes, central directory says ", compressed * 1000)));
  EXPECT_LT(PeakRssKb() - before, 64 * 1024) << "peak RSS grew by more than 64 MB";
}

TEST(ZipReaderTest, LargeDeflatedMemberInflatesAcrossBufferGrowth) {
  const ZipMember big = Incompressible("big", (5 << 20) + 123);  // past several doublings of 1 MiB
  const std::string archive = WriteZip({big, {"small", "abc", true}});
  absl::StatusOr<ZipReader> zip = ZipReader::Open(archive, "g.zip");
  ASSERT_TRUE(zip.ok()) << zip.status();
  absl::StatusOr<std::string> data = zip->Read("big");
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_TRUE(*data == big.data);
  EXPECT_EQ(*zip->Read("small"), "abc");
}

TEST(ZipReaderTest, InflatedSizeLimit) {
  std::string bytes = WriteZip({{"small", "tiny", true}, {"big", std::string(5000, 'x'), true}});
  absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "l.zip", {.max_inflated_member_bytes = 4096});
  EXPECT_EQ(zip.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(zip.status().message(),
              HasSubstr("l.zip: member 'big' (central directory entry at byte "));
  EXPECT_THAT(zip.status().message(),
              HasSubstr("declares 5000 bytes when inflated, more than the limit of 4096 for a compressed member"));
  EXPECT_TRUE(ZipReader::Open(WriteZip({{"big", std::string(5000, 'x'), false}}), "s.zip",
                              {.max_inflated_member_bytes = 4096}).ok())
      << "stored members are read in place and not limited";
}

TEST(ZipReaderTest, LongMemberNamesAreShortenedInMessages) {
  // A member name can be 64 KiB; a message quotes at most 200 bytes of it, unprintable bytes escaped.
  const std::string name = std::string(10000, 'n') + "\x01";
  std::string bytes = WriteZip({{name, "a"}, {name, "b"}});
  absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "long.zip");
  ASSERT_FALSE(zip.ok());
  const std::string msg(zip.status().message());
  EXPECT_THAT(msg, HasSubstr("member '" + std::string(200, 'n') + "...'"));
  EXPECT_THAT(msg, HasSubstr("duplicate member name"));
  EXPECT_LT(msg.size(), 400u) << msg;
}

}  // namespace
}  // namespace kiln::compiler

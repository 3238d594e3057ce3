#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tools/metrics.h"
#include "tools/npy.h"

namespace kiln::tools {
namespace {

TEST(Metrics, PccKnownValues) {
  std::vector<float> x = {1, 2, 3, 4, 5}, lin = {3, 5, 7, 9, 11}, neg = {-1, -2, -3, -4, -5};
  EXPECT_NEAR(Pcc(x.data(), lin.data(), 5), 1.0, 1e-12);
  EXPECT_NEAR(Pcc(x.data(), neg.data(), 5), -1.0, 1e-12);
  std::vector<float> y = {2, 1, 4, 3, 5};
  EXPECT_NEAR(Pcc(x.data(), y.data(), 5), 0.8, 1e-12);
  std::vector<float> c1 = {2, 2, 2}, c2 = {2, 2, 2}, c3 = {3, 3, 3};
  EXPECT_EQ(Pcc(c1.data(), c2.data(), 3), 1.0);
  EXPECT_EQ(Pcc(c1.data(), c3.data(), 3), 0.0);
  EXPECT_EQ(Pcc(c1.data(), x.data(), 3), 0.0);
  std::vector<float> nan = {1, std::numeric_limits<float>::quiet_NaN(), 3};
  EXPECT_TRUE(std::isnan(Pcc(x.data(), nan.data(), 3)));
}

TEST(Metrics, ErrorsAndAllClose) {
  std::vector<float> a = {1.0f, 2.0f, 3.0f}, b = {1.0f, 2.001f, 3.0f};
  EXPECT_NEAR(MaxAbsError(a.data(), b.data(), 3), 0.001, 1e-6);
  EXPECT_TRUE(AllClose(a.data(), b.data(), 3, 1e-3, 0.0));
  EXPECT_FALSE(AllClose(a.data(), b.data(), 3, 1e-4, 0.0));
}

TEST(Npy, RoundTripAndErrors) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/t.npy";
  runtime::HostTensor t = runtime::HostTensor::FromFloats({2, 3}, {1, 2, 3, 4, 5, 6});
  ASSERT_TRUE(WriteNpy(path, t).ok());
  runtime::HostTensor back;
  ASSERT_TRUE(ReadNpy(path, &back).ok());
  EXPECT_EQ(back.shape, (ops::Shape{2, 3}));
  EXPECT_EQ(back.bytes, t.bytes);
  {
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ((bytes.find('\n') + 1) % 64, 0u) << "data must start 64-byte aligned";
    std::ofstream out(path, std::ios::binary);
    out << bytes.substr(0, bytes.size() - 4);  // truncate the data
  }
  Status s = ReadNpy(path, &back);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("data holds 20 bytes"), std::string::npos) << s.message();
  EXPECT_FALSE(ReadNpy("/nonexistent.npy", &back).ok());
}

// Writes a .npy file with the given header text (version 1, padded as NumPy does) and data bytes.
std::string NpyBytes(const std::string& header, size_t data_bytes = 0, int version = 1) {
  std::string h = header;
  const size_t prefix = version == 1 ? 10 : 12;
  h.append((64 - (prefix + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(version);
  out += '\0';
  for (size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((h.size() >> (8 * i)) & 0xff);
  return out + h + std::string(data_bytes, '\0');
}

std::string ParseError(const std::string& bytes) {
  runtime::HostTensor t;
  Status s = ParseNpy(bytes, "x.npy", &t);
  EXPECT_FALSE(s.ok());
  return s.message();
}

// Each host dtype survives a write and a read, under NumPy's name for it.
TEST(Npy, RoundTripsEveryHostDType) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/d.npy";
  const struct {
    ops::DType dtype;
    const char* descr;
    std::vector<uint8_t> bytes;  // two elements
  } cases[] = {
      {ops::DType::kF32, "<f4", {0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}},
      {ops::DType::kI64, "<i8", {1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
      {ops::DType::kI32, "<i4", {7, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff}},
      {ops::DType::kBool, "|b1", {1, 0}},
      {ops::DType::kF16, "<f2", {0x00, 0x3c, 0x00, 0xc0}},
      {ops::DType::kBF16, "<V2", {0x80, 0x3f, 0x00, 0xc0}},
      {ops::DType::kF64, "<f8", {0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0}},
      {ops::DType::kI16, "<i2", {0x2c, 0x01, 0xff, 0xff}},
      {ops::DType::kI8, "|i1", {0x7f, 0x80}},
      {ops::DType::kU8, "|u1", {0xff, 0x00}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.descr);
    runtime::HostTensor t{{2}, c.dtype, c.bytes};
    ASSERT_TRUE(WriteNpy(path, t).ok());
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(bytes.find(std::string("'descr': '") + c.descr + "'"), std::string::npos) << bytes;
    runtime::HostTensor back;
    Status s = ReadNpy(path, &back);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(back.dtype, c.dtype);
    EXPECT_EQ(back.shape, (ops::Shape{2}));
    EXPECT_EQ(back.bytes, c.bytes);
  }
  // The data size follows the dtype: three int64 need 24 bytes.
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 40)),
            "x.npy: data holds 40 bytes, shape [3] needs 24");
  // NumPy's own 2-byte void reads as bf16 bits too (a plain uint16 view of bf16 data saved as void).
  runtime::HostTensor t;
  ASSERT_TRUE(ParseNpy(NpyBytes("{'descr': '|V2', 'fortran_order': False, 'shape': (3,), }", 6), "v", &t).ok());
  EXPECT_EQ(t.dtype, ops::DType::kBF16);
}

// complex64 '<c8' of shape S is a c64 host tensor of shape S + [2], the same bytes (ops/dtype.h).
TEST(Npy, ComplexIsTheTrailingPairOfParts) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/c.npy";
  std::vector<uint8_t> bytes(16);
  const float parts[4] = {1.5f, -2, 0, 3};
  std::memcpy(bytes.data(), parts, 16);
  ASSERT_TRUE(WriteNpy(path, runtime::HostTensor{{2, 2}, ops::DType::kC64, bytes}).ok());
  std::ifstream in(path, std::ios::binary);
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(file.find("'descr': '<c8', 'fortran_order': False, 'shape': (2,)"), std::string::npos) << file;
  runtime::HostTensor back;
  Status s = ReadNpy(path, &back);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back.dtype, ops::DType::kC64);
  EXPECT_EQ(back.shape, (ops::Shape{2, 2}));
  EXPECT_EQ(back.bytes, bytes);
  EXPECT_EQ(WriteNpy(path, runtime::HostTensor{{4}, ops::DType::kC64, bytes}).message(),
            path + ": a c64 tensor's shape ends in 2 (real, imaginary), not [4]");
  // Three complex64 need 24 bytes.
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", 12)),
            "x.npy: data holds 12 bytes, shape [3] needs more");
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", 40)),
            "x.npy: data holds 40 bytes, shape [3] needs 24");
}

TEST(Npy, ParsesHeaderVariants) {
  runtime::HostTensor t;
  ASSERT_TRUE(ParseNpy(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 12), "a", &t).ok());
  EXPECT_EQ(t.shape, (ops::Shape{3}));
  ASSERT_TRUE(ParseNpy(NpyBytes("{\"shape\":(),\"descr\":\"<f4\",\"fortran_order\":False}", 4, 2), "b", &t).ok());
  EXPECT_EQ(t.shape, (ops::Shape{}));
  ASSERT_TRUE(ParseNpy(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5)}"), "c", &t).ok());
  EXPECT_EQ(t.shape, (ops::Shape{0, 5}));
  EXPECT_TRUE(t.bytes.empty());
}

TEST(Npy, MalformedHeadersAreClearErrors) {
  // A non-numeric and an out-of-range dimension (std::stoll threw on both).
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }")),
            "x.npy: header byte 64: expected a non-negative integer dimension in the shape");
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }")),
            "x.npy: header byte 61: dimension 9999999999999999999... is larger than 2^63-1");
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }")),
            "x.npy: header byte 61: expected a non-negative integer dimension in the shape");
  // Element counts whose product overflows 64 bits fail against the data size.
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }", 8)),
            "x.npy: data holds 8 bytes, shape [4294967296, 4294967296, 4] needs more");
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", 8)),
            "x.npy: dtype '>f8': supported are little-endian float32 '<f4', float16 '<f2', bfloat16 '<V2' "
            "(ml_dtypes), float64 '<f8', int64 '<i8', int32 '<i4', int16 '<i2', int8 '|i1', uint8 '|u1', bool '|b1' "
            "and complex64 '<c8'");
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", 4)),
            "x.npy: Fortran-ordered arrays are not supported");
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<f4', 'shape': (1,), }", 4)), "x.npy: header lacks 'fortran_order'");
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<f4', 'descr': '<f4', }")), "x.npy: header byte 27: duplicate key 'descr'");
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<f4', 'fortran_order': Maybe}")),
            "x.npy: header byte 44: expected True or False");
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<f4")), "x.npy: header byte 20: unterminated string");
  // Quoted header text is bounded and printable.
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<f4', 'fortran_o\x01" + std::string(100, 'e') + "'}")),
            "x.npy: header byte 139: expected ':' after key 'fortran_o\\x01eeeeeeeeeeeeeeeeeeeeeeeeeeeeee...'");
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk")),
            "x.npy: header byte 66: unexpected text after the header dictionary");
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}")),
            "x.npy: header byte 66: unexpected key 'x' (a .npy header has 'descr', 'fortran_order', 'shape')");
  // A 30 KB header (std::regex overflowed the stack on it) is refused by size.
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '" + std::string(30000, 'a') + "'}", 0, 2)),
            "x.npy: header of 30068 bytes exceeds the limit of 10000 (NumPy's own)");
  // Just under the cap: long, but linear to parse.
  EXPECT_EQ(ParseError(NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::string(9800, '1'), 0, 2)),
            "x.npy: header byte 63: dimension 11111111111111111111... is larger than 2^63-1");
  EXPECT_EQ(ParseError(std::string("\x93NUMPY\x01\x00\xff\x00{", 11)),
            "x.npy: truncated header (255 bytes declared, 1 present)");
}

TEST(Npy, OnlyRegularFiles) {
  runtime::HostTensor t;
  const std::string dir = getenv("TEST_TMPDIR");
  EXPECT_EQ(ReadNpy(dir, &t).message(), dir + ": not a regular file");
  EXPECT_EQ(ReadNpy("/dev/zero", &t).message(), "/dev/zero: not a regular file");
  const std::string fifo = dir + "/fifo.npy";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(ReadNpy(fifo, &t).message(), fifo + ": not a regular file");  // without blocking for a writer
  EXPECT_EQ(ReadNpy("/nonexistent.npy", &t).message(), "/nonexistent.npy: cannot open: No such file or directory");
}

}  // namespace
}  // namespace kiln::tools

#include "tools/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>

#include "base/quote.h"

namespace kiln::tools {
namespace {

// The NumPy dtypes a host tensor can have (NumPy writes bool as '|b1', one byte 0 or 1). NumPy has
// no bfloat16: it is '<V2', two opaque bytes holding the bf16 bits, which is what np.save writes for
// an ml_dtypes.bfloat16 array (read it back with np.load(p).view(ml_dtypes.bfloat16), or
// .view('<u2') for the bits); '|V2', NumPy's own spelling of a 2-byte void, reads as bf16 too. The
// first entry of a dtype is what WriteNpy writes.
constexpr std::pair<const char*, ops::DType> kDescrs[] = {
    {"<f4", ops::DType::kF32}, {"<f2", ops::DType::kF16}, {"<V2", ops::DType::kBF16}, {"|V2", ops::DType::kBF16},
    {"<f8", ops::DType::kF64}, {"<i8", ops::DType::kI64}, {"<i4", ops::DType::kI32}, {"<i2", ops::DType::kI16},
    {"|i1", ops::DType::kI8},  {"|u1", ops::DType::kU8},  {"|b1", ops::DType::kBool}, {"<c8", ops::DType::kC64}};
constexpr const char* kSupportedDescrs =
    "little-endian float32 '<f4', float16 '<f2', bfloat16 '<V2' (ml_dtypes), float64 '<f8', int64 '<i8', "
    "int32 '<i4', int16 '<i2', int8 '|i1', uint8 '|u1', bool '|b1' and complex64 '<c8'";

std::optional<ops::DType> DTypeOfDescr(const std::string& descr) {
  for (const auto& [d, t] : kDescrs)
    if (descr == d) return t;
  return std::nullopt;
}

const char* DescrOf(ops::DType dtype) {
  for (const auto& [d, t] : kDescrs)
    if (dtype == t) return d;
  return nullptr;
}

// What the header dictionary says, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
struct NpyHeader {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<ops::Shape> shape;
};

// A hand-written parser for the Python literal NumPy writes as the header: a dict of string keys to
// strings, booleans and tuples of non-negative integers. Linear time, no recursion (std::regex
// recursed once per character and overflowed the stack on a 30 KB header).
class HeaderParser {
 public:
  HeaderParser(std::string_view text, size_t file_offset, const std::string& name)
      : text_(text), base_(file_offset), name_(name) {}

  Status Parse(NpyHeader* h) {
    SkipSpace();
    if (!Eat('{')) return Error("expected '{' to open the header dictionary");
    SkipSpace();
    while (!Eat('}')) {
      const size_t key_at = pos_;
      std::string key;
      if (Status s = String(&key); !s.ok()) return s;
      SkipSpace();
      if (!Eat(':')) return Error("expected ':' after key " + Quoted(key));
      SkipSpace();
      Status s = Status::Ok();
      if (key == "descr") {
        if (h->descr) return ErrorAt(key_at, "duplicate key 'descr'");
        h->descr.emplace();
        s = String(&*h->descr);
      } else if (key == "fortran_order") {
        if (h->fortran_order) return ErrorAt(key_at, "duplicate key 'fortran_order'");
        h->fortran_order.emplace();
        s = Bool(&*h->fortran_order);
      } else if (key == "shape") {
        if (h->shape) return ErrorAt(key_at, "duplicate key 'shape'");
        h->shape.emplace();
        s = Tuple(&*h->shape);
      } else {
        return ErrorAt(key_at, "unexpected key " + Quoted(key) + " (a .npy header has 'descr', 'fortran_order', 'shape')");
      }
      if (!s.ok()) return s;
      SkipSpace();
      if (Eat(',')) {
        SkipSpace();
      } else if (Peek() != '}') {
        return Error("expected ',' or '}' in the header dictionary");
      }
    }
    SkipSpace();  // NumPy pads with spaces and ends with '\n'
    if (pos_ != text_.size()) return Error("unexpected text after the header dictionary");
    return Status::Ok();
  }

 private:
  int Peek() const { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_]) : -1; }
  bool Eat(char c) {
    if (Peek() != static_cast<unsigned char>(c)) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r'))
      ++pos_;
  }
  Status ErrorAt(size_t at, const std::string& what) const {
    return Status::InvalidArgument(name_ + ": header byte " + std::to_string(base_ + at) + ": " + what);
  }
  Status Error(const std::string& what) const { return ErrorAt(pos_, what); }

  Status String(std::string* out) {
    const int quote = Peek();
    if (quote != '\'' && quote != '"') return Error("expected a quoted string");
    const size_t start = ++pos_;
    const size_t end = text_.find(static_cast<char>(quote), start);
    if (end == std::string_view::npos) return ErrorAt(start - 1, "unterminated string");
    out->assign(text_.substr(start, end - start));
    pos_ = end + 1;
    return Status::Ok();
  }
  Status Bool(bool* out) {
    if (text_.substr(pos_, 4) == "True") {
      *out = true;
      pos_ += 4;
    } else if (text_.substr(pos_, 5) == "False") {
      *out = false;
      pos_ += 5;
    } else {
      return Error("expected True or False");
    }
    return Status::Ok();
  }
  // (d0, d1, ...) with an optional trailing comma; () is a scalar.
  Status Tuple(ops::Shape* out) {
    if (!Eat('(')) return Error("expected '(' to open the shape tuple");
    SkipSpace();
    while (!Eat(')')) {
      const size_t start = pos_;
      uint64_t v = 0;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        const uint64_t digit = static_cast<uint64_t>(text_[pos_] - '0');
        if (v > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - digit) / 10)
          return ErrorAt(start, "dimension " + std::string(text_.substr(start, pos_ - start + 1)) +
                                    "... is larger than 2^63-1");
        v = v * 10 + digit;
        ++pos_;
      }
      if (pos_ == start) return Error("expected a non-negative integer dimension in the shape");
      out->push_back(static_cast<int64_t>(v));
      SkipSpace();
      if (Eat(',')) {
        SkipSpace();
      } else if (Peek() != ')') {
        return Error("expected ',' or ')' in the shape tuple");
      }
    }
    return Status::Ok();
  }

  std::string_view text_;
  size_t base_;  // file offset of text_[0], for messages
  const std::string& name_;
  size_t pos_ = 0;
};

}  // namespace

Status ParseNpy(std::string_view bytes, const std::string& name, runtime::HostTensor* out) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    return Status::InvalidArgument(name + ": not a .npy file (bad magic at offset 0)");
  const int major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Status::InvalidArgument(name + ": truncated header");
    header_len = static_cast<uint32_t>(static_cast<uint8_t>(bytes[8])) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(bytes[9])) << 8) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(bytes[10])) << 16) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(bytes[11])) << 24);
    header_start = 12;
  } else {
    return Status::InvalidArgument(name + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_len > kMaxNpyHeaderBytes)
    return Status::InvalidArgument(name + ": header of " + std::to_string(header_len) + " bytes exceeds the limit of " +
                                   std::to_string(kMaxNpyHeaderBytes) + " (NumPy's own)");
  if (header_len > bytes.size() - header_start)
    return Status::InvalidArgument(name + ": truncated header (" + std::to_string(header_len) + " bytes declared, " +
                                   std::to_string(bytes.size() - header_start) + " present)");
  NpyHeader h;
  if (Status s = HeaderParser(bytes.substr(header_start, header_len), header_start, name).Parse(&h); !s.ok())
    return s;
  if (!h.descr || !h.fortran_order || !h.shape)
    return Status::InvalidArgument(name + ": header lacks '" +
                                   (!h.descr ? "descr" : !h.fortran_order ? "fortran_order" : "shape") + "'");
  const std::optional<ops::DType> dtype = DTypeOfDescr(*h.descr);
  if (!dtype)
    return Status::InvalidArgument(name + ": dtype " + Quoted(*h.descr) + ": supported are " + kSupportedDescrs);
  if (*h.fortran_order) return Status::InvalidArgument(name + ": Fortran-ordered arrays are not supported");
  const size_t data_start = header_start + header_len;
  const uint64_t have = bytes.size() - data_start;
  // The byte count, overflow-checked: a product past the data size is already wrong, so stop there.
  bool has_zero = false;
  for (int64_t d : *h.shape) has_zero |= d == 0;
  // A complex64 element is two fp32 parts: the host tensor gets shape + [2] (ops/dtype.h).
  const bool complex = *dtype == ops::DType::kC64;
  uint64_t need = has_zero ? 0 : static_cast<uint64_t>(ops::DTypeSize(*dtype)) * (complex ? 2 : 1);
  bool exceeds = false;
  for (int64_t d : *h.shape) {
    if (need == 0) break;
    if (need > have / static_cast<uint64_t>(d)) {
      exceeds = true;
      break;
    }
    need *= static_cast<uint64_t>(d);
  }
  if (exceeds || have != need)
    return Status::InvalidArgument(name + ": data holds " + std::to_string(have) + " bytes, shape " +
                                   ops::ShapeToString(*h.shape) + " needs " +
                                   (exceeds ? "more" : std::to_string(need)));
  out->shape = std::move(*h.shape);
  if (complex) out->shape.push_back(2);
  out->dtype = *dtype;
  out->bytes.assign(bytes.begin() + data_start, bytes.end());
  return Status::Ok();
}

Status ReadNpy(const std::string& path, runtime::HostTensor* out) {
  // Only a regular file, read up to its size: a directory, /dev/zero or a FIFO would otherwise fail
  // with an exception, read forever, or block (O_NONBLOCK keeps open() from waiting for a writer).
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Status::InvalidArgument(path + ": cannot open: " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::InvalidArgument(path + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + ": not a regular file");
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return Status::InvalidArgument(path + ": read error after " + std::to_string(got) + " of " +
                                     std::to_string(bytes.size()) + " bytes" +
                                     (n < 0 ? std::string(": ") + std::strerror(errno) : std::string()));
    got += static_cast<size_t>(n);
  }
  return ParseNpy(bytes, path, out);
}

Status WriteNpy(const std::string& path, const runtime::HostTensor& tensor) {
  const char* descr = DescrOf(tensor.dtype);
  if (descr == nullptr)  // every ops::DType has a descr; this is a value outside the enum
    return Status::InvalidArgument(path + ": dtype code " + std::to_string(int(tensor.dtype)) + " has no .npy name");
  // complex64: the trailing 2 (real, imaginary) is the element itself in NumPy.
  ops::Shape dims = tensor.shape;
  if (tensor.dtype == ops::DType::kC64) {
    if (dims.empty() || dims.back() != 2)
      return Status::InvalidArgument(path + ": a c64 tensor's shape ends in 2 (real, imaginary), not " +
                                     ops::ShapeToString(dims));
    dims.pop_back();
  }
  std::string shape;
  for (int64_t d : dims) shape += std::to_string(d) + ",";
  if (dims.size() > 1) shape.pop_back();
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  // Pad so the data starts on a 64-byte boundary, as NumPy does.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) return Status::InvalidArgument(path + ": cannot write");
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.put(static_cast<char>(len & 0xff));
  out.put(static_cast<char>(len >> 8));
  out << header;
  out.write(reinterpret_cast<const char*>(tensor.bytes.data()), static_cast<std::streamsize>(tensor.bytes.size()));
  return out ? Status::Ok() : Status::InvalidArgument(path + ": write failed");
}

}  // namespace kiln::tools

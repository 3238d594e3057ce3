#include "compiler/pt2/zip_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/quote.h"

namespace kiln::compiler {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEocdSize = 22;
constexpr size_t kZip64EocdSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr uint16_t kZip64ExtraId = 0x0001;
// DEFLATE cannot expand data by more than 1032:1 (a 258-byte match coded in 2 bits); a larger
// claimed ratio is a corrupt (or hostile) central directory.
constexpr uint64_t kMaxDeflateRatio = 1032;
// The inflate buffer starts at this size (or the declared size, if smaller) and doubles as output
// arrives, so a member that declares more than its stream produces costs no more than it produces.
constexpr size_t kInitialInflateBytes = size_t{1} << 20;

uint16_t Le16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(u[0] | (u[1] << 8));
}
uint32_t Le32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) |
         (static_cast<uint32_t>(u[2]) << 16) | (static_cast<uint32_t>(u[3]) << 24);
}
uint64_t Le64(const char* p) {
  return static_cast<uint64_t>(Le32(p)) | (static_cast<uint64_t>(Le32(p + 4)) << 32);
}

// True when [offset, offset + len) lies within [0, limit), without overflow.
bool InRange(uint64_t offset, uint64_t len, uint64_t limit) {
  return offset <= limit && len <= limit - offset;
}

uint32_t Crc32(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(left, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(p), chunk);
    p += chunk;
    left -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

std::string Hex32(uint32_t v) { return absl::StrCat("0x", absl::Hex(v, absl::kZeroPad8)); }

}  // namespace

absl::StatusOr<ZipReader> ZipReader::Open(std::string_view data, std::string display_name,
                                          Limits limits) {
  ZipReader reader(data, std::move(display_name), limits);
  absl::Status st = reader.Parse();
  if (!st.ok()) return st;
  return reader;
}

absl::StatusOr<ZipReader> ZipReader::Open(std::string_view data, std::string display_name) {
  return Open(data, std::move(display_name), Limits());
}

absl::Status ZipReader::Parse() {
  const uint64_t size = data_.size();
  auto bad = [&](const std::string& msg) {
    return absl::InvalidArgumentError(absl::StrCat(display_name_, ": ", msg));
  };
  if (size < kEocdSize) {
    return bad(absl::StrCat("not a zip archive: only ", size,
                            " bytes, too small for an end-of-central-directory record"));
  }

  // The EOCD record is the last thing in the file, followed only by an optional comment of up to
  // 65535 bytes. Prefer a record whose comment ends exactly at the end of the file.
  const uint64_t lowest = size - kEocdSize > 0xFFFF ? size - kEocdSize - 0xFFFF : 0;
  int64_t eocd = -1, loose = -1;
  for (uint64_t pos = size - kEocdSize + 1; pos-- > lowest;) {
    const char* p = data_.data() + pos;
    if (Le32(p) != kEocdSig) continue;
    const uint64_t comment = Le16(p + 20);
    if (pos + kEocdSize + comment == size) {
      eocd = static_cast<int64_t>(pos);
      break;
    }
    if (loose < 0 && pos + kEocdSize + comment <= size) loose = static_cast<int64_t>(pos);
  }
  if (eocd < 0) eocd = loose;
  if (eocd < 0) {
    return bad(absl::StrCat("not a zip archive (or truncated): no end-of-central-directory record "
                            "in the last ",
                            size - lowest, " bytes of ", size));
  }
  const char* e = data_.data() + eocd;
  uint64_t disk = Le16(e + 4), cd_disk = Le16(e + 6);
  uint64_t count_this_disk = Le16(e + 8), count = Le16(e + 10);
  uint64_t cd_size = Le32(e + 12), cd_offset = Le32(e + 16);
  uint64_t cd_limit = static_cast<uint64_t>(eocd);  // the central directory must end before this

  // ZIP64: a locator immediately before the EOCD points at the ZIP64 EOCD record, whose 64-bit
  // fields replace the (then saturated) 32-bit ones. PyTorch writes these for every archive.
  if (static_cast<uint64_t>(eocd) >= kZip64LocatorSize &&
      Le32(data_.data() + eocd - kZip64LocatorSize) == kZip64LocatorSig) {
    const uint64_t loc = static_cast<uint64_t>(eocd) - kZip64LocatorSize;
    const char* l = data_.data() + loc;
    const uint64_t z64 = Le64(l + 8);
    if (Le32(l + 4) != 0 || Le32(l + 16) > 1) {
      return absl::UnimplementedError(absl::StrCat(
          display_name_, ": multi-disk zip archives are not supported (ZIP64 locator at byte ", loc,
          ")"));
    }
    if (!InRange(z64, kZip64EocdSize, loc)) {
      return bad(absl::StrCat("ZIP64 end-of-central-directory locator at byte ", loc,
                              " points at byte ", z64, ", outside the archive (size ", size, ")"));
    }
    const char* z = data_.data() + z64;
    if (Le32(z) != kZip64EocdSig) {
      return bad(absl::StrCat("bad ZIP64 end-of-central-directory signature at byte ", z64,
                              " (found ", Hex32(Le32(z)), ")"));
    }
    disk = Le32(z + 16);
    cd_disk = Le32(z + 20);
    count_this_disk = Le64(z + 24);
    count = Le64(z + 32);
    cd_size = Le64(z + 40);
    cd_offset = Le64(z + 48);
    cd_limit = z64;
  } else if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_offset == 0xFFFFFFFFu) {
    return bad(absl::StrCat("end-of-central-directory record at byte ", eocd,
                            " needs ZIP64 values but there is no ZIP64 locator before it"));
  }
  if (disk != 0 || cd_disk != 0 || count_this_disk != count) {
    return absl::UnimplementedError(absl::StrCat(
        display_name_, ": multi-disk zip archives are not supported (end-of-central-directory at "
                       "byte ",
        eocd, ")"));
  }
  if (!InRange(cd_offset, cd_size, cd_limit)) {
    return bad(absl::StrCat("central directory [", cd_offset, ", +", cd_size,
                            ") does not fit before the end-of-central-directory record at byte ",
                            cd_limit, " (archive truncated or not a zip?)"));
  }
  return ParseCentralDirectory(cd_offset, cd_size, count);
}

absl::Status ZipReader::ParseCentralDirectory(uint64_t cd_offset, uint64_t cd_size,
                                              uint64_t count) {
  auto bad = [&](const std::string& msg) {
    return absl::InvalidArgumentError(absl::StrCat(display_name_, ": ", msg));
  };
  if (count > cd_size / kCentralHeaderSize) {
    return bad(absl::StrCat("end-of-central-directory claims ", count,
                            " members but the central directory at byte ", cd_offset, " has only ",
                            cd_size, " bytes"));
  }
  entries_.reserve(count);
  const uint64_t cd_end = cd_offset + cd_size;
  uint64_t pos = cd_offset;
  for (uint64_t i = 0; i < count; ++i) {
    if (!InRange(pos, kCentralHeaderSize, cd_end)) {
      return bad(absl::StrCat("central directory entry #", i, " at byte ", pos,
                              " runs past the end of the central directory (byte ", cd_end, ")"));
    }
    const char* h = data_.data() + pos;
    if (Le32(h) != kCentralHeaderSig) {
      return bad(absl::StrCat("bad central directory entry signature at byte ", pos, " (entry #", i,
                              ", found ", Hex32(Le32(h)), ")"));
    }
    Entry ent;
    ent.flags = Le16(h + 8);
    ent.method = Le16(h + 10);
    ent.crc32 = Le32(h + 16);
    ent.compressed_size = Le32(h + 20);
    ent.uncompressed_size = Le32(h + 24);
    const uint64_t name_len = Le16(h + 28), extra_len = Le16(h + 30), comment_len = Le16(h + 32);
    uint64_t disk_start = Le16(h + 34);
    ent.local_header_offset = Le32(h + 42);
    const uint64_t var_len = name_len + extra_len + comment_len;
    if (!InRange(pos + kCentralHeaderSize, var_len, cd_end)) {
      return bad(absl::StrCat("central directory entry #", i, " at byte ", pos,
                              ": name/extra/comment (", var_len,
                              " bytes) run past the end of the central directory (byte ", cd_end,
                              ")"));
    }
    ent.name.assign(h + kCentralHeaderSize, name_len);
    const std::string where = absl::StrCat("member ", Quoted(ent.name, 200), " (central directory entry at byte ",
                                           pos, ")");

    // ZIP64 extended information: 64-bit values for exactly those fields that are saturated.
    const char* const x_begin = h + kCentralHeaderSize + name_len;
    const char* x = x_begin;
    const char* const x_end = x + extra_len;
    while (x_end - x >= 4) {
      const uint16_t id = Le16(x);
      const uint16_t len = Le16(x + 2);
      if (len > x_end - x - 4) {
        return bad(absl::StrCat(where, ": extra field 0x", absl::Hex(id), " at byte ",
                                pos + kCentralHeaderSize + name_len + (x - x_begin),
                                " overruns the entry's extra data"));
      }
      if (id == kZip64ExtraId) {
        const char* f = x + 4;
        const char* f_end = f + len;
        auto take64 = [&](uint64_t* v, const char* field) -> absl::Status {
          if (f_end - f < 8) {
            return bad(absl::StrCat(where, ": ZIP64 extra field lacks the 64-bit ", field));
          }
          *v = Le64(f);
          f += 8;
          return absl::OkStatus();
        };
        absl::Status st;
        if (ent.uncompressed_size == 0xFFFFFFFFu &&
            !(st = take64(&ent.uncompressed_size, "uncompressed size")).ok()) {
          return st;
        }
        if (ent.compressed_size == 0xFFFFFFFFu &&
            !(st = take64(&ent.compressed_size, "compressed size")).ok()) {
          return st;
        }
        if (ent.local_header_offset == 0xFFFFFFFFu &&
            !(st = take64(&ent.local_header_offset, "local header offset")).ok()) {
          return st;
        }
        if (disk_start == 0xFFFF) {
          if (f_end - f < 4) return bad(absl::StrCat(where, ": ZIP64 extra field lacks the disk number"));
          disk_start = Le32(f);
        }
      }
      x += 4 + len;
    }
    if (disk_start != 0) {
      return absl::UnimplementedError(absl::StrCat(display_name_, ": ", where,
                                                   ": multi-disk zip archives are not supported"));
    }
    if (ent.flags & 0x41) {
      return absl::UnimplementedError(
          absl::StrCat(display_name_, ": ", where, ": encrypted members are not supported"));
    }
    if (ent.method != 0 && ent.method != 8) {
      return absl::UnimplementedError(absl::StrCat(
          display_name_, ": ", where, ": compression method ", ent.method,
          " is not supported (only 0 = stored and 8 = deflate)"));
    }
    if (ent.method == 0 && ent.compressed_size != ent.uncompressed_size) {
      return bad(absl::StrCat(where, ": stored member has compressed size ", ent.compressed_size,
                              " != uncompressed size ", ent.uncompressed_size));
    }
    if (ent.method == 8 && ent.uncompressed_size / kMaxDeflateRatio > ent.compressed_size) {
      return bad(absl::StrCat(where, ": implausible deflate sizes: ", ent.compressed_size,
                              " compressed bytes cannot inflate to the declared ",
                              ent.uncompressed_size, " (deflate expands at most ", kMaxDeflateRatio,
                              ":1)"));
    }
    if (ent.method == 8 && ent.uncompressed_size > limits_.max_inflated_member_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          display_name_, ": ", where, ": declares ", ent.uncompressed_size,
          " bytes when inflated, more than the limit of ", limits_.max_inflated_member_bytes,
          " for a compressed member (store large members uncompressed, as torch.export.save does)"));
    }

    // The local header: its name/extra lengths may differ from the central directory's (PyTorch pads
    // the local extra field to align data to 64 bytes), so the data offset comes from here.
    const uint64_t lho = ent.local_header_offset;
    if (!InRange(lho, kLocalHeaderSize, cd_offset)) {
      return bad(absl::StrCat(where, ": local header at byte ", lho,
                              " is outside the archive's data area (central directory starts at byte ",
                              cd_offset, ")"));
    }
    const char* lh = data_.data() + lho;
    if (Le32(lh) != kLocalHeaderSig) {
      return bad(absl::StrCat(where, ": bad local header signature at byte ", lho, " (found ",
                              Hex32(Le32(lh)), ")"));
    }
    const uint64_t l_name = Le16(lh + 26), l_extra = Le16(lh + 28);
    if (!InRange(lho + kLocalHeaderSize, l_name + l_extra, cd_offset)) {
      return bad(absl::StrCat(where, ": local header at byte ", lho,
                              " has a name/extra field running into the central directory"));
    }
    if (l_name != name_len ||
        std::memcmp(lh + kLocalHeaderSize, ent.name.data(), name_len) != 0) {
      return bad(absl::StrCat(where, ": local header at byte ", lho,
                              " names a different member ('",
                              std::string(lh + kLocalHeaderSize, l_name), "')"));
    }
    if (Le16(lh + 8) != ent.method) {
      return bad(absl::StrCat(where, ": local header at byte ", lho, " says compression method ",
                              Le16(lh + 8), ", central directory says ", ent.method));
    }
    ent.data_offset = lho + kLocalHeaderSize + l_name + l_extra;
    if (!InRange(ent.data_offset, ent.compressed_size, cd_offset)) {
      return bad(absl::StrCat(where, ": data [", ent.data_offset, ", +", ent.compressed_size,
                              ") runs past the start of the central directory (byte ", cd_offset,
                              "); archive truncated?"));
    }
    if (!index_.emplace(ent.name, entries_.size()).second) {
      return bad(absl::StrCat(where, ": duplicate member name"));
    }
    entries_.push_back(std::move(ent));
    pos += kCentralHeaderSize + var_len;
  }
  return absl::OkStatus();
}

std::vector<std::string> ZipReader::Names() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const Entry& e : entries_) names.push_back(e.name);
  return names;
}

const ZipReader::Entry* ZipReader::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

absl::StatusOr<std::string> ZipReader::Read(std::string_view name) const {
  const Entry* e = Find(name);
  if (e == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(display_name_, ": no member '", std::string(name), "' in the archive"));
  }
  std::string scratch;
  absl::StatusOr<std::string_view> view = ReadView(*e, &scratch);
  if (!view.ok()) return view.status();
  if (e->method == 8) return scratch;  // the view covers all of scratch
  return std::string(*view);
}

absl::StatusOr<std::string_view> ZipReader::ReadView(const Entry& e, std::string* scratch) const {
  const std::string where =
      absl::StrCat(display_name_, ": member ", Quoted(e.name, 200), " (data at byte ", e.data_offset, ")");
  // Open() validated the range; re-check in case the entry did not come from this reader.
  if (!InRange(e.data_offset, e.compressed_size, data_.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": data runs past the end of the archive (", data_.size(), " bytes)"));
  }
  std::string_view raw = data_.substr(e.data_offset, e.compressed_size);
  std::string_view out;
  if (e.method == 0) {
    out = raw;
  } else if (e.method == 8) {
    if (e.uncompressed_size > limits_.max_inflated_member_bytes) {  // an entry not from Open()
      return absl::ResourceExhaustedError(absl::StrCat(where, ": too large to inflate (",
                                                       e.uncompressed_size, " bytes)"));
    }
    const size_t declared = static_cast<size_t>(e.uncompressed_size);
    scratch->assign(std::min(declared, kInitialInflateBytes), '\0');
    z_stream zs;
    std::memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
      return absl::InternalError(absl::StrCat(where, ": inflateInit2 failed"));
    }
    const char* in = raw.data();
    size_t in_left = raw.size();
    int rc = Z_OK;
    char overflow = 0;  // once the declared output is full: detects streams longer than declared
    bool overflowed = false;
    while (true) {
      if (zs.avail_in == 0 && in_left > 0) {
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
        zs.avail_in = static_cast<uInt>(std::min<size_t>(in_left, 1u << 30));
        in += zs.avail_in;
        in_left -= zs.avail_in;
      }
      if (zs.avail_out == 0) {
        const size_t produced = zs.total_out;
        if (produced == scratch->size() && produced < declared) {
          scratch->resize(std::min(declared, 2 * produced));  // grow only as the stream delivers
        }
        if (produced < scratch->size()) {
          zs.next_out = reinterpret_cast<Bytef*>(scratch->data() + produced);
          zs.avail_out = static_cast<uInt>(std::min<size_t>(scratch->size() - produced, 1u << 30));
        } else if (!overflowed) {
          overflowed = true;
          zs.next_out = reinterpret_cast<Bytef*>(&overflow);
          zs.avail_out = 1;
        } else {
          rc = Z_BUF_ERROR;  // produced more than the central directory declares
          break;
        }
      }
      rc = inflate(&zs, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) break;
      if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) break;  // input ends early
      if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    }
    const uint64_t produced = zs.total_out;
    const char* zmsg = zs.msg;
    const std::string zerr = zmsg ? zmsg : "";
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
      return absl::DataLossError(absl::StrCat(
          where, ": corrupt deflate data after ", produced, " output bytes",
          zerr.empty() ? (rc == Z_BUF_ERROR ? " (stream ends early or is longer than declared)" : "")
                       : absl::StrCat(" (", zerr, ")")));
    }
    if (produced != e.uncompressed_size) {  // also catches output spilling into `overflow`
      return absl::DataLossError(absl::StrCat(where, ": inflated to ", produced,
                                              " bytes, central directory says ",
                                              e.uncompressed_size));
    }
    scratch->resize(declared);  // a no-op unless the member is empty
    out = *scratch;
  } else {
    return absl::UnimplementedError(absl::StrCat(where, ": compression method ", e.method));
  }
  const uint32_t crc = Crc32(out);
  if (crc != e.crc32) {
    return absl::DataLossError(absl::StrCat(where, ": CRC-32 mismatch (computed ", Hex32(crc),
                                            ", central directory says ", Hex32(e.crc32), ")"));
  }
  return out;
}

}  // namespace kiln::compiler

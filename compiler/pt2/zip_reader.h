// A small zip reader over an in-memory buffer, for .pt2 archives (written by PyTorch's miniz-based
// PyTorchStreamWriter, or by any ordinary zip tool). Supports STORED and DEFLATE members, ZIP64
// end-of-central-directory records and ZIP64 extended-information extra fields, data descriptors
// (sizes are taken from the central directory), and checks every member's CRC-32.
//
// Every malformed input yields a Status (InvalidArgument for structural problems, DataLoss for
// CRC/inflate failures, Unimplemented for valid but unsupported features such as encryption) whose
// message names the archive, the member where there is one, and the byte offset. Never reads out of
// bounds.
#ifndef KILN_COMPILER_PT2_ZIP_READER_H_
#define KILN_COMPILER_PT2_ZIP_READER_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kiln::compiler {

class ZipReader {
 public:
  struct Entry {
    std::string name;
    uint16_t method = 0;  // 0 = STORED, 8 = DEFLATE
    uint16_t flags = 0;
    uint32_t crc32 = 0;
    uint64_t compressed_size = 0;
    uint64_t uncompressed_size = 0;
    uint64_t local_header_offset = 0;
    uint64_t data_offset = 0;  // first byte of the member's (compressed) data
  };

  // What a member may cost to read: a compressed member is inflated into memory, so its declared
  // size is checked against deflate's maximum ratio and against this cap before anything is
  // allocated (and the buffer grows only as the stream actually produces output).
  struct Limits {
    uint64_t max_inflated_member_bytes = uint64_t{4} << 30;
  };

  // Parses the end-of-central-directory records and the central directory, and validates every
  // member's local header. `data` must outlive the reader (members are read from it lazily).
  // `display_name` prefixes every error message (e.g. the file path).
  static absl::StatusOr<ZipReader> Open(std::string_view data, std::string display_name,
                                        Limits limits);
  static absl::StatusOr<ZipReader> Open(std::string_view data, std::string display_name);

  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<std::string> Names() const;
  const Entry* Find(std::string_view name) const;  // nullptr when absent

  // The member's uncompressed bytes, CRC-checked. NotFound when there is no such member.
  absl::StatusOr<std::string> Read(std::string_view name) const;
  // Same, without a copy for STORED members: the view points into the archive buffer; for DEFLATE
  // members it points into *scratch (which must outlive the view).
  absl::StatusOr<std::string_view> ReadView(const Entry& entry, std::string* scratch) const;

  const std::string& display_name() const { return display_name_; }

 private:
  ZipReader(std::string_view data, std::string display_name, Limits limits)
      : data_(data), display_name_(std::move(display_name)), limits_(limits) {}

  absl::Status Parse();
  absl::Status ParseCentralDirectory(uint64_t cd_offset, uint64_t cd_size, uint64_t count);

  std::string_view data_;
  std::string display_name_;
  Limits limits_;
  std::vector<Entry> entries_;
  std::map<std::string, size_t, std::less<>> index_;
};

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PT2_ZIP_READER_H_

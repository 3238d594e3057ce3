// A read-only memory mapping of a regular file: how the compiler reads a .pt2 archive without copying
// it (stored members, which is how torch.export.save writes weights, are used in place).
#ifndef KILN_COMPILER_PT2_MAPPED_FILE_H_
#define KILN_COMPILER_PT2_MAPPED_FILE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kiln::compiler {

class MappedFile {
 public:
  // Maps the whole file. Refuses anything but a regular file (a directory, /dev/zero or a FIFO has no
  // size to map), without blocking on a FIFO. Errors name the path: NotFound, PermissionDenied,
  // InvalidArgument (not a regular file). The file must not be truncated while mapped (reading a
  // page past the new end is SIGBUS, as for any mapped file).
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

  // Drops the resident pages wholly inside [data, data + size) of a mapping (a hint; the bytes stay
  // readable and are paged in from the file again when touched). Matches WeightBytes::EvictFn.
  static void Evict(const void* data, size_t size);

 private:
  MappedFile(const void* data, size_t size) : data_(data), size_(size) {}

  const void* data_;  // nullptr for an empty file
  size_t size_;
};

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PT2_MAPPED_FILE_H_

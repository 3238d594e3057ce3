// Where a program's bytes come from. The runtime reads a .kiln through this interface and never
// copies the whole file: the FlatBuffer is verified in place and the weights go from the loader's
// memory straight to the device.
//
// Ownership: a Program owns its DataLoader, and every view the loader hands out stays valid, with
// unchanged bytes, until the loader is destroyed. A loader over a caller's buffer does not own that
// buffer: the caller keeps it alive and unchanged for as long as the Program lives.
#ifndef KILN_RUNTIME_DATA_LOADER_H_
#define KILN_RUNTIME_DATA_LOADER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace kiln::runtime {

class DataLoader {
 public:
  virtual ~DataLoader() = default;
  // Total bytes available.
  virtual uint64_t size() const = 0;
  // Points `*data` at bytes [offset, offset + size); an error when the range is not inside size().
  virtual Status Load(uint64_t offset, uint64_t size, const uint8_t** data) const = 0;
};

// Bytes in memory: the caller's (not owned), or a string handed over to the loader.
class BufferDataLoader final : public DataLoader {
 public:
  BufferDataLoader(const void* data, uint64_t size) : data_(static_cast<const uint8_t*>(data)), size_(size) {}
  explicit BufferDataLoader(std::string owned);

  uint64_t size() const override { return size_; }
  Status Load(uint64_t offset, uint64_t size, const uint8_t** data) const override;

 private:
  std::string owned_;
  const uint8_t* data_;
  uint64_t size_;
};

// A regular file mapped read-only: pages are read from disk when first touched, and shared with the
// page cache, so loading a multi-gigabyte program costs address space, not a copy.
class MmapDataLoader final : public DataLoader {
 public:
  // Fails with InvalidArgument when `path` cannot be opened, is a directory or not a regular file
  // (a device such as /dev/zero has no end), and with OutOfMemory when it is larger than `max_bytes`.
  static Status Open(const std::string& path, uint64_t max_bytes, std::unique_ptr<MmapDataLoader>* out);
  ~MmapDataLoader() override;
  MmapDataLoader(const MmapDataLoader&) = delete;
  MmapDataLoader& operator=(const MmapDataLoader&) = delete;

  uint64_t size() const override { return size_; }
  Status Load(uint64_t offset, uint64_t size, const uint8_t** data) const override;

 private:
  MmapDataLoader(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}
  const uint8_t* data_;  // nullptr for an empty file (mmap cannot map zero bytes)
  uint64_t size_;
};

}  // namespace kiln::runtime

#endif  // KILN_RUNTIME_DATA_LOADER_H_

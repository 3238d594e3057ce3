#include "runtime/data_loader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kiln::runtime {
namespace {

Status CheckRange(uint64_t offset, uint64_t size, uint64_t total) {
  if (offset > total || size > total - offset)
    return Status::InvalidProgram(std::to_string(size) + " bytes at offset " + std::to_string(offset) +
                                  " lie beyond the end of the data (" + std::to_string(total) + " bytes)");
  return Status::Ok();
}

}  // namespace

BufferDataLoader::BufferDataLoader(std::string owned)
    : owned_(std::move(owned)), data_(reinterpret_cast<const uint8_t*>(owned_.data())), size_(owned_.size()) {}

Status BufferDataLoader::Load(uint64_t offset, uint64_t size, const uint8_t** data) const {
  KILN_RETURN_IF_ERROR(CheckRange(offset, size, size_));
  *data = data_ ? data_ + offset : nullptr;
  return Status::Ok();
}

Status MmapDataLoader::Open(const std::string& path, uint64_t max_bytes, std::unique_ptr<MmapDataLoader>* out) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below as not a regular file).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Status::InvalidArgument(path + ": cannot open file (" + std::strerror(errno) + ")");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::InvalidArgument(path + ": cannot stat file (" + std::strerror(err) + ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + (S_ISDIR(st.st_mode) ? ": is a directory, not a .kiln file"
                                                               : ": is not a regular file; a .kiln program must be one"));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    ::close(fd);
    return Status::OutOfMemory(path + ": file is " + std::to_string(size) + " bytes, above the limit of " +
                               std::to_string(max_bytes) + " bytes for a program (Limits::max_program_bytes)");
  }
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return Status::OutOfMemory(path + ": cannot map " + std::to_string(size) + " bytes (" + std::strerror(err) + ")");
    }
    data = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file's pages
  out->reset(new MmapDataLoader(data, size));
  return Status::Ok();
}

MmapDataLoader::~MmapDataLoader() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

Status MmapDataLoader::Load(uint64_t offset, uint64_t size, const uint8_t** data) const {
  KILN_RETURN_IF_ERROR(CheckRange(offset, size, size_));
  *data = data_ ? data_ + offset : nullptr;
  return Status::Ok();
}

}  // namespace kiln::runtime

#include "simulator/device_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace kiln::sim {

void DeviceMemory::Unmap::operator()(uint8_t* p) const { munmap(p, bytes); }

Status DeviceMemory::Allocate(int64_t bytes, const std::string& what, uint64_t* addr) {
  if (bytes < 0) return Status::Internal("device allocation of negative size for " + what);
  if (bytes > capacity_ - in_use_)
    return Status::OutOfMemory("device memory too small: " + what + " needs " + std::to_string(bytes) +
                         " bytes, " + std::to_string(capacity_ - in_use_) + " of " +
                         std::to_string(capacity_) + " bytes are free");
  // MAP_NORESERVE: the host commits pages only as they are touched, so the simulated DRAM may
  // exceed what the host could hold at once. Failure (address space, RLIMIT_AS) is reported,
  // not thrown.
  std::unique_ptr<uint8_t, Unmap> host(nullptr, Unmap{static_cast<size_t>(bytes)});
  if (bytes > 0) {
    void* p = mmap(nullptr, static_cast<size_t>(bytes), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
      return Status::OutOfMemory("host memory for the simulated device's " + std::to_string(bytes) +
                                 "-byte allocation '" + what + "' could not be reserved: " +
                                 std::strerror(errno));
    host.reset(static_cast<uint8_t*>(p));
  }
  // Addresses are never reused; they are 64-byte aligned like DRAM bursts.
  *addr = next_addr_;
  next_addr_ += (static_cast<uint64_t>(bytes) + 63) / 64 * 64 + 64;
  blocks_.emplace(*addr, Block{what, static_cast<uint64_t>(bytes), std::move(host)});
  in_use_ += bytes;
  if (in_use_ > peak_) peak_ = in_use_;
  return Status::Ok();
}

Status DeviceMemory::Free(uint64_t addr) {
  auto it = blocks_.find(addr);
  if (it == blocks_.end()) return Status::Internal("free of unallocated device address " + std::to_string(addr));
  in_use_ -= static_cast<int64_t>(it->second.size);
  blocks_.erase(it);
  return Status::Ok();
}

Status DeviceMemory::Access(uint64_t addr, int64_t bytes, uint8_t** ptr) {
  auto it = blocks_.upper_bound(addr);
  if (bytes < 0 || it == blocks_.begin())
    return Status::Internal("device access at " + std::to_string(addr) + " is outside every allocation");
  --it;
  const uint64_t offset = addr - it->first;
  const uint64_t size = it->second.size;
  if (offset > size || static_cast<uint64_t>(bytes) > size - offset)
    return Status::Internal("device access [" + std::to_string(addr) + ", +" + std::to_string(bytes) +
                         ") runs outside allocation '" + it->second.what + "' of " +
                         std::to_string(size) + " bytes");
  // A 0-byte allocation has no host memory; the caller may not dereference an empty range.
  *ptr = size == 0 ? nullptr : it->second.bytes.get() + offset;
  return Status::Ok();
}

}  // namespace kiln::sim

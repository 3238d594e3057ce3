// Device memory (DRAM, or the cores' SRAM): a capacity-limited address space of allocations from a
// base address up. Every access names an address range that must lie inside one live allocation;
// anything else is an error, never undefined behaviour.
#ifndef KILN_SIMULATOR_DEVICE_MEMORY_H_
#define KILN_SIMULATOR_DEVICE_MEMORY_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/status.h"

namespace kiln::sim {

class DeviceMemory {
 public:
  // Addresses start at `base`, which is nonzero so that a zero address is always a bug.
  explicit DeviceMemory(int64_t capacity_bytes, uint64_t base = 4096) : capacity_(capacity_bytes), next_addr_(base) {}

  // Reserves `bytes` (zero-filled) and returns its base address; fails (OutOfMemory) when DRAM is
  // too small or the host cannot back the allocation. Host memory is an anonymous mapping that
  // the OS fills with zero pages on first touch, so a large allocation costs host RAM only for the
  // bytes a program actually uses: a 12 GiB arena costs nothing until it is written.
  Status Allocate(int64_t bytes, const std::string& what, uint64_t* addr);
  // Releases the allocation and its host memory.
  Status Free(uint64_t addr);

  // Pointer to [addr, addr + bytes), which must sit inside one allocation.
  Status Access(uint64_t addr, int64_t bytes, uint8_t** ptr);

  int64_t capacity() const { return capacity_; }
  int64_t in_use() const { return in_use_; }
  int64_t peak() const { return peak_; }

 private:
  struct Unmap {
    size_t bytes;
    void operator()(uint8_t* p) const;
  };
  struct Block {
    std::string what;
    uint64_t size;
    std::unique_ptr<uint8_t, Unmap> bytes;  // null for a 0-byte allocation
  };
  int64_t capacity_;
  int64_t in_use_ = 0;
  int64_t peak_ = 0;
  uint64_t next_addr_;
  std::map<uint64_t, Block> blocks_;
};

}  // namespace kiln::sim

#endif  // KILN_SIMULATOR_DEVICE_MEMORY_H_

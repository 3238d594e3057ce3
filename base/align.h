// Rounding sizes and offsets up to an alignment (DRAM bursts, file pages).
#ifndef KILN_BASE_ALIGN_H_
#define KILN_BASE_ALIGN_H_

#include <cstdint>

namespace kiln {

// `n` rounded up to a multiple of `alignment` (> 0); the caller keeps n far below 2^64.
constexpr uint64_t AlignUp(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

}  // namespace kiln

#endif  // KILN_BASE_ALIGN_H_

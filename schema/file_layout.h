// The bytes of a .kiln file around the FlatBuffer (format 2), shared by the writer and the loader.
//
//   offset 0   uint32  FlatBuffers root offset
//   offset 4   "KILN"  file identifier
//   offset 8   the extended header below (inserted by the writer, skipped by the root offset)
//   ...        the rest of the FlatBuffer, up to `program_size`
//   ...        zero padding up to `segment_base_offset` (a multiple of kSegmentAlignment)
//   segment_base_offset + DataSegment.offset: the data segments, `segment_data_size` bytes in all
//
// As in ExecuTorch, the header sits inside the FlatBuffer's bytes rather than in a table, because the
// writer only knows where the segments start once the FlatBuffer is finished; all fields are
// little-endian.
#ifndef KILN_SCHEMA_FILE_LAYOUT_H_
#define KILN_SCHEMA_FILE_LAYOUT_H_

#include <cstdint>
#include <cstring>

namespace kiln {

inline constexpr uint64_t kExtendedHeaderOffset = 8;
inline constexpr uint64_t kExtendedHeaderSize = 32;
inline constexpr char kExtendedHeaderMagic[4] = {'K', 'h', '0', '2'};
// Segments start on page boundaries, so a memory-mapped file hands the device page-aligned weights.
inline constexpr uint64_t kSegmentAlignment = 4096;

struct ExtendedHeader {
  uint64_t program_size = 0;         // bytes of the FlatBuffer, this header included, from offset 0
  uint64_t segment_base_offset = 0;  // file offset of the first segment byte; 0 when there is none
  uint64_t segment_data_size = 0;    // bytes from segment_base_offset to the end of the last segment

  // 32 bytes: magic, header size (uint32), then the three fields.
  void Encode(uint8_t out[kExtendedHeaderSize]) const {
    const uint32_t size = static_cast<uint32_t>(kExtendedHeaderSize);
    std::memcpy(out, kExtendedHeaderMagic, 4);
    std::memcpy(out + 4, &size, 4);
    std::memcpy(out + 8, &program_size, 8);
    std::memcpy(out + 16, &segment_base_offset, 8);
    std::memcpy(out + 24, &segment_data_size, 8);
  }
  // False when the magic or size is wrong.
  bool Decode(const uint8_t in[kExtendedHeaderSize]) {
    uint32_t size;
    std::memcpy(&size, in + 4, 4);
    if (std::memcmp(in, kExtendedHeaderMagic, 4) != 0 || size != kExtendedHeaderSize) return false;
    std::memcpy(&program_size, in + 8, 8);
    std::memcpy(&segment_base_offset, in + 16, 8);
    std::memcpy(&segment_data_size, in + 24, 8);
    return true;
  }
};

}  // namespace kiln

#endif  // KILN_SCHEMA_FILE_LAYOUT_H_

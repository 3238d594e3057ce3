// The checks behind Program::Load, one unit per part of a program: regions, segments, tensors,
// instructions, the memory plan and the caller's limits. Each returns a Status whose message names
// what is wrong and where (tensor index and name, instruction and its source node, byte ranges,
// regions, both shapes); Program::Load prefixes the file name.
#ifndef KILN_RUNTIME_PROGRAM_VALIDATION_H_
#define KILN_RUNTIME_PROGRAM_VALIDATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "runtime/program.h"
#include "schema/file_layout.h"
#include "schema/kiln_generated.h"

namespace kiln::runtime::validation {

// A tensor's elements, and its extent (the product of its dims with zeros counted as one), are at
// most this: kernels loop over the extent, so an empty [2^40, 0, 1] tensor would otherwise cost 2^40
// iterations. 2^36 elements is 256 GiB of f32, beyond any device this runtime drives.
inline constexpr int64_t kMaxElements = int64_t{1} << 36;
inline constexpr uint32_t kMaxRank = 8;

// A data segment as absolute file offsets.
struct Segment {
  uint64_t offset;
  uint64_t size;
};

// The header after the identifier: sizes consistent with each other and with the file.
Status ValidateHeader(const ExtendedHeader& header, uint64_t file_size);
Status ValidateRegion(const fb::MemoryRegion* region, uint32_t index, const Limits& limits, RegionInfo* out);
Status ValidateSegment(const fb::DataSegment* segment, uint32_t index, const ExtendedHeader& header, Segment* out);
// Shape, dtype, layout, size, placement against its region, and a constant's data against its segment.
// A constant's data is returned in `data` as a range of the file.
Status ValidateTensor(const fb::Tensor* tensor, uint32_t index, const std::vector<RegionInfo>& regions,
                      const std::vector<Segment>& segments, TensorInfo* out, Segment* data);
// Each alias against its target (a placed tensor that is no alias; same dtype, layout and size, and a
// shape that sees the stored bytes as they are: ops::SameStoredBytes); an alias takes its target's
// region and offset. Runs after every tensor is validated, before anything reads a placement.
Status ValidateAliases(std::vector<TensorInfo>* tensors);
// Operands, result and shapes of one instruction; `written` says which tensors hold a value so far
// (host inputs and constants at the start) and is updated.
Status ValidateInstruction(const fb::Program* program, uint32_t index, const std::vector<RegionInfo>& regions,
                           const std::vector<TensorInfo>& tensors,
                           std::vector<bool>* written, Instruction* out);
// Tensors alive at the same time never share bytes of a region.
Status ValidateMemoryPlan(const std::vector<RegionInfo>& regions, const std::vector<TensorInfo>& tensors,
                          const std::vector<Instruction>& instructions);
// What the caller allowed: total device DRAM must not wrap, total work within the limit.
Status ValidateLimits(const std::vector<RegionInfo>& regions, double total_work, const Limits& limits,
                      uint64_t* device_dram_bytes);

// The extent of a shape (see kMaxElements); the caller has validated the shape.
int64_t Extent(const ops::Shape& shape);

}  // namespace kiln::runtime::validation

#endif  // KILN_RUNTIME_PROGRAM_VALIDATION_H_

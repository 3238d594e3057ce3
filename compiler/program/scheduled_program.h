// The scheduled program: what the .kiln file will hold, before serialization. Every tensor has a
// memory space (host, device arena, device constant region), and the instruction list is in the
// order the device runs it, transfers included.
#ifndef KILN_COMPILER_PROGRAM_SCHEDULED_PROGRAM_H_
#define KILN_COMPILER_PROGRAM_SCHEDULED_PROGRAM_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ops/attrs.h"
#include "ops/dtype.h"
#include "ops/op_def.h"
#include "ops/tile_layout.h"

namespace kiln::compiler {

enum class MemSpace : uint8_t { kHost = 0, kDeviceArena = 1, kDeviceConstant = 2 };

struct ProgramTensor {
  std::string name;
  ops::Shape shape;
  ops::DType dtype = ops::DType::kF32;
  ops::Layout layout = ops::Layout::kTile;
  MemSpace space = MemSpace::kDeviceArena;
  uint64_t offset = 0;           // set by memory planning
  std::vector<float> constant;   // kDeviceConstant: row-major values

  uint64_t size_bytes() const { return ops::StoredBytes(shape, dtype, layout); }
};

struct ProgramInstruction {
  enum class Kind { kOp, kHostToDevice, kDeviceToHost };
  Kind kind = Kind::kOp;
  const ops::OpDef* op = nullptr;
  std::vector<int> inputs;  // tensor ids (transfers: the source)
  int output = -1;          // tensor id (transfers: the destination)
  ops::Attrs attrs;
  std::string source;
};

struct ScheduledProgram {
  std::vector<ProgramTensor> tensors;
  std::vector<ProgramInstruction> instructions;
  std::vector<std::pair<std::string, int>> inputs;   // name, host tensor id
  std::vector<std::pair<std::string, int>> outputs;  // name, host tensor id
  uint64_t arena_bytes = 0;     // set by memory planning
  uint64_t constant_bytes = 0;  // set by memory planning
};

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PROGRAM_SCHEDULED_PROGRAM_H_

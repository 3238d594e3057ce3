// The scheduled program: what the .kiln file will hold, before serialization. Every device tensor is
// placed in a memory region (by index, as in the file: ExecuTorch's memory ids), program inputs and
// outputs live in the caller's buffers, and the instruction list is in the order the device runs it,
// transfers included.
#ifndef KILN_COMPILER_PROGRAM_SCHEDULED_PROGRAM_H_
#define KILN_COMPILER_PROGRAM_SCHEDULED_PROGRAM_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ops/attrs.h"
#include "ops/dtype.h"
#include "ops/op_def.h"
#include "ops/tile_layout.h"
#include "target/memory.h"

namespace kiln::compiler {

// A region the runtime allocates when it loads the program; tensors sit in it at planned offsets.
struct MemoryRegion {
  std::string name;
  target::RegionKind kind = target::RegionKind::kDeviceDram;
  uint64_t size_bytes = 0;  // set by memory planning
  // -1, or the index of the owner program's constant region this one is laid out like (share-constants
  // sets its size and its constants' offsets, which memory planning keeps; see schema/kiln.fbs).
  int shares = -1;
};

// A tensor in no region lives in the caller's buffer: a program input or output.
inline constexpr int kCallerBuffer = -1;
// The regions placement creates (SRAM residency and spills will add more).
inline constexpr int kActivationRegion = 0;  // device DRAM, reused by tensors whose lifetimes do not overlap
inline constexpr int kConstantRegion = 1;    // device DRAM, filled from the file's constants segment
inline constexpr int kStateRegion = 2;       // device state, kept between runs; only in programs with state

struct ProgramTensor {
  std::string name;
  ops::Shape shape;
  ops::DType dtype = ops::DType::kF32;
  ops::Layout layout = ops::Layout::kTile;
  int region = kActivationRegion;  // index into ScheduledProgram::regions, or kCallerBuffer
  uint64_t offset = 0;             // into the region; set by memory planning
  bool is_constant = false;        // loaded with the program; never written by an instruction
  std::vector<float> constant;     // is_constant and is_state: row-major values
  // In the state region: loaded with the program (`constant` is its initial value) and written by
  // the instructions that end each run, for the next run to read.
  bool is_state = false;
  // A view of another tensor's bytes (the alias-reshapes pass): its shape regroups them without
  // moving any (ops::SameStoredBytes), it shares that tensor's region and offset (memory planning
  // copies them; the tensor's lifetime extends over the alias's reads), and no instruction writes it.
  // Never an alias of an alias; -1 for a tensor with bytes of its own.
  int alias_of = -1;

  uint64_t size_bytes() const { return ops::StoredBytes(shape, dtype, layout); }
  // The initial data as the .kiln file and the device hold it (its layout and dtype): what the
  // writer writes and what sharing compares with an owner program's bytes.
  void StoredData(std::vector<uint8_t>* bytes) const {
    std::vector<float> stored(ops::StoredElements(shape, layout));
    if (layout == ops::Layout::kTile) ops::Tilize(constant.data(), shape, stored.data());
    else std::copy(constant.begin(), constant.end(), stored.begin());
    bytes->resize(size_bytes());
    ops::StoreFromFloat(stored.data(), static_cast<int64_t>(stored.size()), dtype, bytes->data());
  }
  bool in_caller_buffer() const { return region == kCallerBuffer; }
  // In a device region and written by the program (not loaded with it).
  bool is_activation() const { return region != kCallerBuffer && !is_constant && !is_state; }
  bool is_alias() const { return alias_of >= 0; }
  bool has_initial_data() const { return is_constant || is_state; }
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
  std::vector<MemoryRegion> regions;  // created by placement, sized by memory planning
};

// Where each tensor lives over `instructions`: from the first instruction that writes it to the last
// that reads or writes it (both -1 for a tensor no instruction writes); reading an alias reads its
// target, so the alias's reads extend the target's life.
struct Lifetime {
  int first = -1;
  int last = -1;
};
inline std::vector<Lifetime> Lifetimes(const std::vector<ProgramTensor>& tensors,
                                       const std::vector<ProgramInstruction>& instructions) {
  std::vector<Lifetime> life(tensors.size());
  for (int i = 0; i < static_cast<int>(instructions.size()); ++i) {
    const ProgramInstruction& inst = instructions[i];
    for (int t : inst.inputs) life[tensors[t].is_alias() ? tensors[t].alias_of : t].last = i;
    if (life[inst.output].first < 0) life[inst.output].first = i;
    life[inst.output].last = std::max(life[inst.output].last, i);
  }
  return life;
}

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PROGRAM_SCHEDULED_PROGRAM_H_

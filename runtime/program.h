// A verified .kiln program (format 2). Load() checks everything the executor will rely on, so running
// a loaded program cannot read out of bounds: the file layout and FlatBuffers structure, the format
// version, every region, tensor, constant, operator, instruction and shape, the memory plan, and the
// caller's limits (runtime/program_validation.h has the checks).
//
// Ownership: a Program owns its DataLoader and reads the file through it in place; constants() point
// into the loader's memory (a file mapping, or a caller's buffer that must outlive the Program). An
// Executor refers to its Program, which must outlive it.
#ifndef KILN_RUNTIME_PROGRAM_H_
#define KILN_RUNTIME_PROGRAM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "ops/attrs.h"
#include "ops/dtype.h"
#include "ops/op_def.h"
#include "ops/tile_layout.h"
#include "target/memory.h"
#include "runtime/data_loader.h"
#include "runtime/device.h"

namespace kiln::runtime {

// Device tensors start on DRAM-burst boundaries (the compiler's memory planner guarantees it).
inline constexpr uint64_t kDeviceAlignment = 64;

// What a caller can afford; Load() refuses larger programs with OutOfMemory and names the limit.
// The defaults fit the default chip and keep a runaway program to minutes of simulation.
struct Limits {
  uint64_t max_program_bytes = uint64_t{16} << 30;  // the .kiln file, weights included
  uint64_t max_region_bytes = uint64_t{8} << 30;    // each memory region (activation arena, constants, ...)
  // Work units: each op's work on tile-padded shapes (ops/op_def.h) plus one per element of every
  // tensor an instruction reads or writes (zero dims counted as one, so empty tensors cost too).
  double max_total_work = 1e12;
};

struct LoadOptions {
  Limits limits;
};

using target::RegionKind;
using target::RegionKindName;

struct RegionInfo {
  std::string name;
  RegionKind kind;
  uint64_t size_bytes;
  // -1, or the owner program's region this one is laid out like (constants only; see kiln.fbs and
  // Executor::CreateSharing).
  int32_t shares = -1;
};

// A tensor with no region lives in the caller's buffer: a program input or output.
inline constexpr int32_t kCallerBuffer = -1;

struct TensorInfo {
  std::string name;
  ops::Shape shape;
  ops::DType dtype;
  ops::Layout layout;
  int32_t region = kCallerBuffer;  // index into Program::regions(), or kCallerBuffer
  uint64_t offset = 0;             // bytes into the region
  uint64_t size_bytes = 0;
  // Constants: initial contents, size_bytes bytes in device format at `data_offset` of the file,
  // copied to the device when an Executor is created (see ConstantUpload); no instruction writes them.
  bool constant = false;
  // State: a tensor in a DEVICE_STATE region. It has initial contents like a constant (data_offset),
  // but the program writes it, and the executor keeps it from one run to the next.
  bool state = false;
  uint64_t data_offset = 0;
  // An alias (a reshape that moves no data): the bytes of tensors()[alias_of], whose region and
  // offset it takes at load; no instruction writes it. -1 for a tensor with bytes of its own.
  int32_t alias_of = -1;

  bool has_initial_data() const { return constant || state; }

  bool in_caller_buffer() const { return region == kCallerBuffer; }
};

// A run of constant (or initial state) bytes to copy into a region when an executor is created (and,
// for state, when it is reset): tensors that sit in the
// same relative places in the file and in the region are copied in one piece (the compiler lays out the
// constants segment like the constant region, so a whole program's weights are usually one copy).
struct ConstantUpload {
  int32_t region;
  uint64_t offset;      // into the region
  const uint8_t* data;  // in the loader's memory
  uint64_t size;
};

struct IoInfo {
  std::string name;
  uint32_t tensor;
};

// One decoded instruction (decoded once at load, so running does no parsing).
struct Instruction {
  enum class Kind { kOp, kHostToDevice, kDeviceToHost };
  Kind kind;
  const ops::OpDef* op = nullptr;  // kOp
  ops::Attrs attrs;                // kOp
  std::vector<uint32_t> inputs;    // kOp operands; transfers: {src}
  uint32_t output = 0;             // kOp result; transfers: dst
  std::string source;              // ATen node, for messages
  double work = 0;                 // in Limits::max_total_work units
};

class Program {
 public:
  // Verifies the program in `loader`'s bytes; `what` names the source in error messages.
  static Status Load(std::unique_ptr<DataLoader> loader, const std::string& what, const LoadOptions& options,
                     std::unique_ptr<Program>* out);
  // A caller's buffer, not copied: it must stay alive and unchanged while the Program lives, and start
  // on an 8-byte boundary (as malloc, new and std::string give).
  static Status Load(const void* data, size_t size, const std::string& what, std::unique_ptr<Program>* out,
                     const LoadOptions& options = {});
  // Memory-maps a regular file.
  static Status LoadFile(const std::string& path, std::unique_ptr<Program>* out, const LoadOptions& options = {});

  const std::vector<RegionInfo>& regions() const { return regions_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::vector<IoInfo>& inputs() const { return inputs_; }
  const std::vector<IoInfo>& outputs() const { return outputs_; }
  const std::vector<Instruction>& instructions() const { return instructions_; }
  const std::vector<ConstantUpload>& constant_uploads() const { return constant_uploads_; }
  // A constant's or state tensor's initial bytes (device format) in the loader's memory.
  Status InitialData(const TensorInfo& t, const uint8_t** data) const {
    return loader_->Load(t.data_offset, t.size_bytes, data);
  }
  // Device memory the program needs: the sum of its DEVICE_DRAM and DEVICE_STATE regions (checked not
  // to wrap).
  uint64_t device_dram_bytes() const { return device_dram_bytes_; }
  double total_work() const { return total_work_; }
  const std::string& producer() const { return producer_; }
  const Workload& workload() const { return workload_; }

 private:
  Status Decode(const std::string& what, const LoadOptions& options);
  Status PlanConstantUploads();

  std::unique_ptr<DataLoader> loader_;
  std::vector<RegionInfo> regions_;
  std::vector<TensorInfo> tensors_;
  std::vector<IoInfo> inputs_;
  std::vector<IoInfo> outputs_;
  std::vector<Instruction> instructions_;
  std::vector<ConstantUpload> constant_uploads_;
  uint64_t device_dram_bytes_ = 0;
  double total_work_ = 0;
  std::string producer_;
  Workload workload_;
};

}  // namespace kiln::runtime

#endif  // KILN_RUNTIME_PROGRAM_H_

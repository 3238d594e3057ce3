// A verified .kiln program. Load() checks everything the executor will rely on, so running a loaded
// program cannot read out of bounds: the FlatBuffers structure, the identifier and format version,
// every tensor index, op, attribute and shape, and every offset against the memory plan.
#ifndef KILN_RUNTIME_PROGRAM_H_
#define KILN_RUNTIME_PROGRAM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ops/attrs.h"
#include "ops/dtype.h"
#include "ops/op_def.h"
#include "ops/tile_layout.h"
#include "base/status.h"

namespace kiln::runtime {

// Device tensors start on DRAM-burst boundaries (the compiler's memory planner guarantees it).
inline constexpr uint64_t kDeviceAlignment = 64;

enum class MemSpace : uint8_t { kHost = 0, kDeviceArena = 1, kDeviceConstant = 2 };

struct TensorInfo {
  std::string name;
  ops::Shape shape;
  ops::DType dtype;
  ops::Layout layout;
  MemSpace space;
  uint64_t offset;
  uint64_t size_bytes;
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
};

// What the program must do, whatever the schedule: the inputs of the roofline.
struct Workload {
  double matrix_flops = 0;   // useful FLOPs of matrix ops (no tile padding)
  int64_t weight_bytes = 0;  // constants as stored, without padding
  int64_t io_bytes = 0;      // program inputs and outputs (host side)
  int64_t io_tensors = 0;    // one host-link transfer each
};

class Program {
 public:
  // Copies `size` bytes and verifies them; `what` names the source in error messages.
  static Status Load(const void* data, size_t size, const std::string& what,
                     std::unique_ptr<Program>* out);
  static Status LoadFile(const std::string& path, std::unique_ptr<Program>* out);

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::vector<IoInfo>& inputs() const { return inputs_; }
  const std::vector<IoInfo>& outputs() const { return outputs_; }
  const std::vector<Instruction>& instructions() const { return instructions_; }
  uint64_t arena_bytes() const { return arena_bytes_; }
  uint64_t constant_bytes() const { return constant_bytes_; }
  uint64_t peak_device_bytes() const { return peak_device_bytes_; }
  const uint8_t* constants() const { return constants_; }
  const std::string& producer() const { return producer_; }
  const Workload& workload() const { return workload_; }

 private:
  Status Verify(const std::string& what);
  Status VerifyArenaPlan(const std::string& what) const;

  std::vector<uint8_t> buffer_;
  std::vector<TensorInfo> tensors_;
  std::vector<IoInfo> inputs_;
  std::vector<IoInfo> outputs_;
  std::vector<Instruction> instructions_;
  uint64_t arena_bytes_ = 0;
  uint64_t constant_bytes_ = 0;
  uint64_t peak_device_bytes_ = 0;
  const uint8_t* constants_ = nullptr;  // points into buffer_
  std::string producer_;
  Workload workload_;
};

}  // namespace kiln::runtime

#endif  // KILN_RUNTIME_PROGRAM_H_

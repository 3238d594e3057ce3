// The ATen-graph IR: a faithful, typed copy of a torch.export program (graph + signature + weights),
// before any lowering. Names are the exported graph's value names.
#ifndef KILN_COMPILER_ATEN_ATEN_GRAPH_H_
#define KILN_COMPILER_ATEN_ATEN_GRAPH_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiln::compiler {

// torch.export's ScalarType codes (torch/_export/serde/schema.py).
enum class TorchDType : int {
  kUnknown = 0, kByte = 1, kChar = 2, kShort = 3, kInt = 4, kLong = 5, kHalf = 6, kFloat = 7,
  kDouble = 8, kComplexFloat = 10, kComplexDouble = 11, kBool = 12, kBFloat16 = 13,
};
const char* TorchDTypeName(TorchDType t);
inline bool IsComplex(TorchDType t) { return t == TorchDType::kComplexFloat || t == TorchDType::kComplexDouble; }
int64_t TorchDTypeSize(TorchDType t);  // 0 when unsupported

struct TensorMeta {
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  int64_t storage_offset = 0;
  TorchDType dtype = TorchDType::kUnknown;
};

// One argument of a node, as the export schema encodes it ("as_tensor", "as_ints", ...).
struct Argument {
  enum class Kind {
    kNone, kTensor, kTensors, kOptionalTensors, kInt, kInts, kFloat, kFloats, kBool, kBools,
    kString, kScalarType, kMemoryFormat, kLayout, kDevice, kOther,
  };
  Kind kind = Kind::kNone;
  std::string tensor;                // kTensor
  std::vector<std::string> tensors;  // kTensors / kOptionalTensors ("" for a None entry)
  int64_t i = 0;                     // kInt, kScalarType/kMemoryFormat/kLayout codes
  std::vector<int64_t> ints;         // kInts
  double f = 0.0;                    // kFloat
  std::vector<double> floats;        // kFloats
  bool b = false;                    // kBool
  std::vector<bool> bools;           // kBools
  std::string s;                     // kString, kDevice; for kOther the JSON key (e.g. "as_sym_int")
};

struct NamedArgument {
  std::string name;  // the ATen schema's argument name ("self", "weight", "stride", ...)
  Argument arg;
};

struct AtenNode {
  std::string name;    // unique node name in the graph
  std::string target;  // e.g. "torch.ops.aten.convolution.default"
  std::vector<NamedArgument> inputs;
  // Output value names, one per returned tensor; "" where a returned value is not a tensor.
  std::vector<std::string> outputs;
  std::string stack_trace;  // from metadata, for error messages (may be empty)

  const Argument* Find(const std::string& arg_name) const;
};

enum class InputKind { kUserInput, kParameter, kBuffer, kConstantTensor };

struct GraphInput {
  std::string name;    // graph value name ("x", "p_l1_weight", "b_bn1_running_mean")
  InputKind kind = InputKind::kUserInput;
  std::string target;  // fully qualified parameter/buffer/constant name ("l1.weight"); "" for user input
};

// A weight's contiguous bytes: either a view into memory that `owner` keeps alive (the memory-mapped
// .pt2 archive, so weights are not copied out of it), or a buffer of its own (a weight that had to be
// made contiguous, or one built in a test). Copies share the bytes; they are never written.
class WeightBytes {
 public:
  // Tells the memory behind [data, data + size) that it need not stay resident; it stays readable.
  using EvictFn = void (*)(const void* data, size_t size);

  WeightBytes() = default;
  explicit WeightBytes(std::vector<uint8_t> bytes);
  WeightBytes(std::shared_ptr<const void> owner, const uint8_t* data, size_t size, EvictFn evict = nullptr)
      : owner_(std::move(owner)), data_(data), size_(size), evict_(evict) {}

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The first n bytes (n <= size()), sharing ownership.
  WeightBytes first(size_t n) const { return WeightBytes(owner_, data_, n, evict_); }

  // Once a reader has taken what it needs (lowering converts each weight once), a view into a mapped
  // file lets the kernel drop its pages, so the archive does not stay in the process's memory beside
  // the converted copy; touching the bytes again reads them back from the file. No-op for a buffer.
  void Evict() const {
    if (evict_ != nullptr) evict_(data_, size_);
  }

 private:
  std::shared_ptr<const void> owner_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  EvictFn evict_ = nullptr;
};

// A weight, buffer or lifted constant as stored in the archive, made contiguous.
struct WeightTensor {
  TensorMeta meta;    // sizes and dtype; strides describe the contiguous layout of `bytes`
  WeightBytes bytes;  // usually a view into the archive
};

struct AtenGraph {
  std::vector<GraphInput> inputs;  // in signature order
  std::vector<AtenNode> nodes;     // in topological order, as exported
  std::vector<std::string> outputs;  // user output value names, in order
  // In-place ops on user inputs (x.add_(y), index_put_): (value, input name) per mutated input, the
  // input's new value. The program returns each after the user outputs, named after the input.
  std::vector<std::pair<std::string, std::string>> input_mutations;
  // In-place ops on the module's buffers (a static KV cache's index_copy_): (value, buffer target)
  // per mutated buffer, its value when the graph ends. Such a buffer becomes program state, which
  // keeps that value for the next run.
  std::vector<std::pair<std::string, std::string>> buffer_mutations;
  std::map<std::string, TensorMeta> values;  // every tensor value's metadata by name
  std::map<std::string, WeightTensor> weights;  // by fully qualified target name

  const AtenNode* FindProducer(const std::string& value) const;
};

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_ATEN_ATEN_GRAPH_H_

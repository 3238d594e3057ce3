// What a lowering rule sees: the ATen graph being lowered, the device graph being built, and the
// mapping between their values.
#ifndef KILN_COMPILER_LOWERING_LOWERING_CONTEXT_H_
#define KILN_COMPILER_LOWERING_LOWERING_CONTEXT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "compiler/aten/aten_graph.h"
#include "compiler/lowering/device_graph.h"

namespace kiln::compiler {

// The host dtype of a user input or output or the dtype of an archive weight, as the DMA and
// ops::LoadAsFloat know it: float32/16/64, bfloat16, int64, int32, int16, int8, uint8, bool. The
// device stores integers and bools as i32 and computes in fp32 (ops/dtype.h), so they are exact up
// to 2^24: token ids, indices and masks. complex64 and complex128 are c64 (the device holds a complex
// tensor as its view_as_real, ops/dtype.h; complex128 is narrowed). nullopt for the others.
std::optional<ops::DType> HostDType(TorchDType t);
inline constexpr char kHostDTypeNames[] =
    "float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool, complex64 or complex128";
// The device shape of an ATen tensor of `sizes`: a complex one gains the trailing 2 of its
// (real, imaginary) parts.
ops::Shape DeviceShape(const std::vector<int64_t>& sizes, TorchDType dtype);

class LoweringContext {
 public:
  LoweringContext(const AtenGraph& aten, DeviceGraph* graph) : aten_(aten), graph_(graph) {}

  const AtenGraph& aten() const { return aten_; }
  DeviceGraph& graph() { return *graph_; }

  // The device value of the tensor argument `arg` of `node`; errors name the node and argument.
  absl::StatusOr<int> Tensor(const AtenNode& node, const std::string& arg);
  // The device value of an optional tensor argument: nullopt when absent or None.
  absl::StatusOr<std::optional<int>> OptionalTensor(const AtenNode& node, const std::string& arg);
  // Scalar and list arguments; `fallback` when the argument is absent (schema default).
  absl::StatusOr<int64_t> Int(const AtenNode& node, const std::string& arg, std::optional<int64_t> fallback = {});
  absl::StatusOr<double> Float(const AtenNode& node, const std::string& arg, std::optional<double> fallback = {});
  absl::StatusOr<bool> Bool(const AtenNode& node, const std::string& arg, std::optional<bool> fallback = {});
  absl::StatusOr<std::vector<int64_t>> Ints(const AtenNode& node, const std::string& arg,
                                            std::optional<std::vector<int64_t>> fallback = {});
  // A tensor operand, or a scalar operand turned into a rank-0 constant (e.g. add(x, 2.0)).
  absl::StatusOr<int> TensorOrScalar(const AtenNode& node, const std::string& arg);
  bool IsNone(const AtenNode& node, const std::string& arg) const;
  // The dtype torch.export recorded for tensor argument `arg`; kUnknown when it has none. The
  // device computes in fp32 whatever the dtype, so rules use this only to check what ATen means
  // (a bitwise op on bools is a logical op; on integers it is not).
  TorchDType DTypeOf(const AtenNode& node, const std::string& arg) const;

  // Emits a device op for `node`; the result is named after the node's first output.
  absl::StatusOr<int> Emit(const AtenNode& node, const std::string& op, std::vector<int> inputs,
                           ops::Attrs attrs = {});
  int ScalarConstant(double value);

  // Binds output `index` of `node` to a device value.
  absl::Status Bind(const AtenNode& node, int value, size_t index = 0);
  // Binds a graph-level value name (inputs, weights) to a device value.
  void BindValue(const std::string& name, int value) { value_of_[name] = value; }
  std::optional<int> Lookup(const std::string& name) const;

  // Binds a weight/buffer/constant input lazily: it becomes a device constant when first used.
  void DeclareWeight(const std::string& value_name, const std::string& target) { weight_of_[value_name] = target; }
  // Binds a buffer the graph mutates to a state value holding the buffer's archive contents; returns it.
  absl::StatusOr<int> DeclareState(const std::string& value_name, const std::string& target);

  // An error for `node` that names it and its ATen target.
  absl::Status NodeError(const AtenNode& node, const std::string& message) const;

 // The device value of an ATen value by name (weights become constants on first use).
  absl::StatusOr<int> Value(const AtenNode& node, const std::string& value_name);

 private:

  const AtenGraph& aten_;
  DeviceGraph* graph_;
  std::map<std::string, int> value_of_;
  std::map<std::string, std::string> weight_of_;
};

// A lowering rule turns one ATen node into device ops (or binds its outputs to existing values).
using LoweringRule = absl::Status (*)(LoweringContext& ctx, const AtenNode& node);

// How a rule realizes its ATen op, as docs/OPS.md reports it.
enum class RuleKind {
  kLowered,     // one device op (plus scalar fix-ups such as add's alpha)
  kDecomposed,  // several device ops
  kResolved,    // at compile time: a constant, a metadata check, or a value passed through
};
const char* RuleKindName(RuleKind kind);

// Whether a rule sees complex operands and results (held as their view_as_real, so a complex value
// of shape S is a device value of shape S + [2]). Lowering stops any other rule's node that has one.
enum class ComplexSupport {
  kNone,
  kOwn,           // the rule handles complex values itself (FFT, conj, complex, ...)
  kLeadingDims,   // a data-movement rule: lowering rewrites the node's dim, shape and pad arguments
                  // to address the leading dims and keep the trailing 2 (rules_complex.cc)
  kComplexRule,   // a node with a complex operand or result goes to `complex_rule` (arithmetic, abs)
};

struct RuleEntry {
  LoweringRule rule;
  RuleKind kind;
  // kLowered/kDecomposed: the device ops the rule emits, comma-separated (checked against the op
  // library by a test); kResolved: what it resolves to, in words.
  std::string how;
  ComplexSupport complex = ComplexSupport::kNone;
  LoweringRule complex_rule = nullptr;  // kComplexRule only
};

// All rules, keyed by ATen target without the "torch.ops." prefix ("aten.relu.default").
const std::map<std::string, RuleEntry>& LoweringRules();

// An ATen overload known to have no rule, and why.
struct UnsupportedOp {
  bool not_yet;        // true: work not done yet; false: the op cannot run on this device
  std::string reason;  // e.g. "data-dependent output shape"
};
// Lowering names the reason in its error, docs/OPS.md lists them, and a test checks that every core
// overload of the installed torch is here or in LoweringRules() (never both).
const std::map<std::string, UnsupportedOp>& UnsupportedAtenOps();
// "cannot run on the device: <reason>" or "not supported yet: <reason>".
std::string UnsupportedMessage(const UnsupportedOp& op);

// "torch.ops.aten.relu.default" -> "aten.relu.default".
std::string ShortTarget(const std::string& target);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_LOWERING_LOWERING_CONTEXT_H_

#include "compiler/lowering/lowering_context.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/macros.h"

namespace kiln::compiler {

std::string ShortTarget(const std::string& target) {
  constexpr char kPrefix[] = "torch.ops.";
  return target.rfind(kPrefix, 0) == 0 ? target.substr(std::strlen(kPrefix)) : target;
}

absl::Status LoweringContext::NodeError(const AtenNode& node, const std::string& message) const {
  return absl::InvalidArgumentError(
      absl::StrCat("node '", node.name, "' (", ShortTarget(node.target), "): ", message));
}

std::optional<int> LoweringContext::Lookup(const std::string& name) const {
  auto it = value_of_.find(name);
  if (it == value_of_.end()) return std::nullopt;
  return it->second;
}

std::optional<ops::DType> HostDType(TorchDType t) {
  switch (t) {
    case TorchDType::kFloat: return ops::DType::kF32;
    case TorchDType::kHalf: return ops::DType::kF16;
    case TorchDType::kBFloat16: return ops::DType::kBF16;
    case TorchDType::kDouble: return ops::DType::kF64;
    case TorchDType::kLong: return ops::DType::kI64;
    case TorchDType::kInt: return ops::DType::kI32;
    case TorchDType::kBool: return ops::DType::kBool;
    case TorchDType::kChar: return ops::DType::kI8;
    case TorchDType::kByte: return ops::DType::kU8;
    case TorchDType::kShort: return ops::DType::kI16;
    case TorchDType::kComplexFloat:
    case TorchDType::kComplexDouble: return ops::DType::kC64;
    default: return std::nullopt;
  }
}

ops::Shape DeviceShape(const std::vector<int64_t>& sizes, TorchDType dtype) {
  ops::Shape shape = sizes;
  if (IsComplex(dtype)) shape.push_back(2);
  return shape;
}

namespace {
// Device ops whose result can be a fraction even when every operand is an integer. Their result,
// where ATen's is integral, goes through to_int (ops/integer.cc); every other op maps integers to
// integers (or is one ATen never gives an integer result), so it needs no conversion.
bool MayMakeFractions(std::string_view op) {
  static constexpr std::string_view kOps[] = {"avg_pool2d", "div", "reduce_mean", "pow", "reciprocal", "sqrt"};
  return std::find(std::begin(kOps), std::end(kOps), op) != std::end(kOps);
}

// Converts an archive weight (any supported float or int dtype) to fp32.
absl::StatusOr<std::vector<float>> WeightAsFloats(const std::string& target, const WeightTensor& w) {
  int64_t n = 1;
  for (int64_t d : w.meta.sizes) n *= d;
  const int64_t elem = TorchDTypeSize(w.meta.dtype);
  if (elem == 0 || static_cast<int64_t>(w.bytes.size()) != n * elem)
    return absl::InvalidArgumentError(absl::StrCat("weight '", target, "': ", w.bytes.size(),
                                                   " bytes do not hold ", n, " elements of ",
                                                   TorchDTypeName(w.meta.dtype)));
  const std::optional<ops::DType> dtype = HostDType(w.meta.dtype);
  if (!dtype)
    return absl::UnimplementedError(absl::StrCat("weight '", target, "' has unsupported dtype ",
                                                 TorchDTypeName(w.meta.dtype), "; weights may be ", kHostDTypeNames));
  // A complex weight becomes its (real, imaginary) parts; complex128's are float64 narrowed.
  const bool complex = IsComplex(w.meta.dtype);
  std::vector<float> out(complex ? 2 * n : n);
  if (w.meta.dtype == TorchDType::kComplexDouble)
    ops::LoadAsFloat(w.bytes.data(), ops::DType::kF64, 2 * n, out.data());
  else
    ops::LoadAsFloat(w.bytes.data(), *dtype, static_cast<int64_t>(out.size()), out.data());
  // int64 and int32 tensors live on the device as fp32 values: exact within 2^24 (ops/dtype.h).
  if (*dtype == ops::DType::kI64 || *dtype == ops::DType::kI32) {
    for (int64_t i = 0; i < n; ++i) {
      int64_t v = 0;
      if (*dtype == ops::DType::kI64) {
        std::memcpy(&v, w.bytes.data() + 8 * i, 8);
      } else {
        int32_t v32;
        std::memcpy(&v32, w.bytes.data() + 4 * i, 4);
        v = v32;
      }
      if (v > ops::kMaxExactInteger || v < -ops::kMaxExactInteger)
        return absl::InvalidArgumentError(absl::StrCat("weight '", target, "': element ", i, " is ", v,
                                                       ", beyond 2^24, which the device's fp32 integers do not "
                                                       "hold exactly"));
    }
  }
  return out;
}
}  // namespace

absl::StatusOr<int> LoweringContext::Value(const AtenNode& node, const std::string& value_name) {
  if (auto v = Lookup(value_name)) return *v;
  auto w = weight_of_.find(value_name);
  if (w != weight_of_.end()) {
    auto it = aten_.weights.find(w->second);
    if (it == aten_.weights.end())
      return NodeError(node, absl::StrCat("weight '", w->second, "' is missing from the archive"));
    absl::StatusOr<std::vector<float>> data = WeightAsFloats(w->second, it->second);
    if (!data.ok()) return NodeError(node, std::string(data.status().message()));
    it->second.bytes.Evict();  // converted once (the value is cached below); the archive need not stay resident
    const int id = graph_->AddConstant(w->second, DeviceShape(it->second.meta.sizes, it->second.meta.dtype),
                                       *std::move(data));
    value_of_[value_name] = id;
    return id;
  }
  const AtenNode* producer = aten_.FindProducer(value_name);
  if (producer)
    return NodeError(node, absl::StrCat("uses '", value_name, "', a result of node '", producer->name, "' (",
                                        ShortTarget(producer->target), ") that Kiln does not produce"));
  return NodeError(node, absl::StrCat("uses unknown value '", value_name, "'"));
}

absl::StatusOr<int> LoweringContext::DeclareState(const std::string& value_name, const std::string& target) {
  auto it = aten_.weights.find(target);
  if (it == aten_.weights.end())
    return absl::InvalidArgumentError(absl::StrCat("buffer '", target, "' (state) is missing from the archive"));
  KILN_ASSIGN_OR_RETURN(std::vector<float> data, WeightAsFloats(target, it->second));
  it->second.bytes.Evict();
  const int id = graph_->AddState(target, it->second.meta.sizes, *HostDType(it->second.meta.dtype), std::move(data));
  value_of_[value_name] = id;
  return id;
}

absl::StatusOr<int> LoweringContext::Tensor(const AtenNode& node, const std::string& arg) {
  const Argument* a = node.Find(arg);
  if (!a || a->kind != Argument::Kind::kTensor)
    return NodeError(node, absl::StrCat("argument '", arg, "' must be a tensor"));
  return Value(node, a->tensor);
}

TorchDType LoweringContext::DTypeOf(const AtenNode& node, const std::string& arg) const {
  const Argument* a = node.Find(arg);
  if (!a || a->kind != Argument::Kind::kTensor) return TorchDType::kUnknown;
  auto meta = aten_.values.find(a->tensor);
  if (meta != aten_.values.end()) return meta->second.dtype;
  // A weight's dtype is in the archive.
  auto w = weight_of_.find(a->tensor);
  if (w == weight_of_.end()) return TorchDType::kUnknown;
  auto it = aten_.weights.find(w->second);
  return it == aten_.weights.end() ? TorchDType::kUnknown : it->second.meta.dtype;
}

bool LoweringContext::IsNone(const AtenNode& node, const std::string& arg) const {
  const Argument* a = node.Find(arg);
  return !a || a->kind == Argument::Kind::kNone;
}

absl::StatusOr<std::optional<int>> LoweringContext::OptionalTensor(const AtenNode& node, const std::string& arg) {
  if (IsNone(node, arg)) return std::optional<int>();
  absl::StatusOr<int> v = Tensor(node, arg);
  if (!v.ok()) return v.status();
  return std::optional<int>(*v);
}

absl::StatusOr<int> LoweringContext::TensorOrScalar(const AtenNode& node, const std::string& arg) {
  const Argument* a = node.Find(arg);
  if (a && a->kind == Argument::Kind::kInt) {
    // An integer result's operands are device integers, exact within 2^24 (ops/dtype.h); a float
    // result's Python int operand is a float constant, as in ATen.
    const auto meta = node.outputs.empty() ? aten_.values.end() : aten_.values.find(node.outputs[0]);
    const bool integer_result = meta != aten_.values.end() && (meta->second.dtype == TorchDType::kLong ||
                                                               meta->second.dtype == TorchDType::kInt);
    if (integer_result && (a->i > ops::kMaxExactInteger || a->i < -ops::kMaxExactInteger))
      return NodeError(node, absl::StrCat("integer operand '", arg, "' = ", a->i,
                                          " is beyond 2^24, which the device's fp32 integers do not hold exactly"));
    return ScalarConstant(static_cast<double>(a->i));
  }
  if (a && a->kind == Argument::Kind::kFloat) return ScalarConstant(a->f);
  if (a && a->kind == Argument::Kind::kBool) return ScalarConstant(a->b ? 1.0 : 0.0);
  return Tensor(node, arg);
}

absl::StatusOr<int64_t> LoweringContext::Int(const AtenNode& node, const std::string& arg,
                                             std::optional<int64_t> fallback) {
  const Argument* a = node.Find(arg);
  if (a && a->kind == Argument::Kind::kInt) return a->i;
  if (a && a->kind == Argument::Kind::kBool) return a->b ? 1 : 0;
  if ((!a || a->kind == Argument::Kind::kNone) && fallback) return *fallback;
  return NodeError(node, absl::StrCat("argument '", arg, "' must be an int"));
}

absl::StatusOr<double> LoweringContext::Float(const AtenNode& node, const std::string& arg,
                                              std::optional<double> fallback) {
  const Argument* a = node.Find(arg);
  if (a && a->kind == Argument::Kind::kFloat) return a->f;
  if (a && a->kind == Argument::Kind::kInt) return static_cast<double>(a->i);
  if ((!a || a->kind == Argument::Kind::kNone) && fallback) return *fallback;
  return NodeError(node, absl::StrCat("argument '", arg, "' must be a number"));
}

absl::StatusOr<bool> LoweringContext::Bool(const AtenNode& node, const std::string& arg,
                                           std::optional<bool> fallback) {
  const Argument* a = node.Find(arg);
  if (a && a->kind == Argument::Kind::kBool) return a->b;
  if ((!a || a->kind == Argument::Kind::kNone) && fallback) return *fallback;
  return NodeError(node, absl::StrCat("argument '", arg, "' must be a bool"));
}

absl::StatusOr<std::vector<int64_t>> LoweringContext::Ints(const AtenNode& node, const std::string& arg,
                                                           std::optional<std::vector<int64_t>> fallback) {
  const Argument* a = node.Find(arg);
  if (a && a->kind == Argument::Kind::kInts) return a->ints;
  if (a && a->kind == Argument::Kind::kInt) return std::vector<int64_t>{a->i};
  if ((!a || a->kind == Argument::Kind::kNone) && fallback) return *fallback;
  return NodeError(node, absl::StrCat("argument '", arg, "' must be an int list"));
}

int LoweringContext::ScalarConstant(double value) {
  return graph_->AddConstant(absl::StrCat("scalar_", value), {}, {static_cast<float>(value)});
}

absl::StatusOr<int> LoweringContext::Emit(const AtenNode& node, const std::string& op, std::vector<int> inputs,
                                          ops::Attrs attrs) {
  const std::string result = node.outputs.empty() || node.outputs[0].empty() ? node.name : node.outputs[0];
  absl::StatusOr<int> id = graph_->AddNode(op, std::move(inputs), std::move(attrs), node.name, result);
  if (!id.ok()) return NodeError(node, std::string(id.status().message()));
  return id;
}

absl::Status LoweringContext::Bind(const AtenNode& node, int value, size_t index) {
  if (index >= node.outputs.size() || node.outputs[index].empty())
    return NodeError(node, absl::StrCat("has no tensor output ", index));
  const std::string& name = node.outputs[index];
  // Check the lowering against the shape torch.export recorded, so a wrong rule fails here, loudly.
  auto meta = aten_.values.find(name);
  if (meta != aten_.values.end() && DeviceShape(meta->second.sizes, meta->second.dtype) != graph_->values[value].shape)
    return NodeError(node, absl::StrCat("lowered result has shape ", ops::ShapeToString(graph_->values[value].shape),
                                        " but torch.export recorded ", ops::ShapeToString(meta->second.sizes),
                                        IsComplex(meta->second.dtype) ? " (complex: + [2] on the device)" : ""));
  // An integer ATen result computed by a device op that can make fractions of integers (int64
  // avg_pool2d, whose ATen kernel divides in integer arithmetic) is converted the way ATen's is.
  if (meta != aten_.values.end() && (meta->second.dtype == TorchDType::kLong || meta->second.dtype == TorchDType::kInt)) {
    // The op that computed the value, looking through data movement (the reshape that ends
    // avg_pool3d's decomposition) among this node's own device ops: an earlier node's integer
    // result was converted when it was bound.
    int source = value;
    bool fractional = false;
    for (auto n = graph_->nodes.rbegin(); n != graph_->nodes.rend() && n->source == node.name; ++n) {
      if (n->output != source) continue;
      if (n->op->unit == ops::Unit::kDataMovement && n->inputs.size() == 1) {
        source = n->inputs[0];
        continue;
      }
      fractional = MayMakeFractions(n->op->name);
      break;
    }
    if (fractional) {
      KILN_ASSIGN_OR_RETURN(value, graph_->AddNode("to_int", {value}, {}, node.name, name));
    }
  }
  value_of_[name] = value;
  return absl::OkStatus();
}

}  // namespace kiln::compiler

// Lowering rules resolved at compile time: ops with no tensor operand become constants (full,
// scalar_tensor, arange, empty), ops that only fill a tensor's shape become a broadcast constant
// (full_like, fill), and metadata assertions are checked against what torch.export recorded and
// emit nothing.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "compiler/lowering/rules.h"
#include "ops/shape_util.h"

namespace kiln::compiler {
namespace {

// fp32 holds every integer up to 2^24 exactly; an integer constant beyond that would silently
// change value on the device.
constexpr double kExactInFloat = static_cast<double>(ops::kMaxExactInteger);

// The dtype argument `arg`, or `fallback` when absent or None.
TorchDType DTypeArg(const AtenNode& node, const std::string& arg, TorchDType fallback) {
  const Argument* a = node.Find(arg);
  return a && a->kind == Argument::Kind::kScalarType ? static_cast<TorchDType>(a->i) : fallback;
}

// A Python number argument: float, int or bool (full(..., True) builds a bool mask).
absl::StatusOr<double> Number(LoweringContext& ctx, const AtenNode& node, const std::string& arg) {
  const Argument* a = node.Find(arg);
  if (a && a->kind == Argument::Kind::kBool) return a->b ? 1.0 : 0.0;
  return ctx.Float(node, arg);
}

bool IsIntegral(TorchDType t) {
  return t == TorchDType::kByte || t == TorchDType::kChar || t == TorchDType::kShort || t == TorchDType::kInt ||
         t == TorchDType::kLong;
}

// `value` converted to `dtype` as torch does on creation (bools become 0/1, integers truncate),
// or an error when the device's fp32 cannot hold the result exactly.
absl::StatusOr<double> AsDType(LoweringContext& ctx, const AtenNode& node, double value, TorchDType dtype) {
  if (dtype == TorchDType::kBool) return value != 0.0 ? 1.0 : 0.0;
  if (!IsIntegral(dtype)) return value;
  if (!std::isfinite(value))
    return ctx.NodeError(node, absl::StrCat("cannot fill a ", TorchDTypeName(dtype), " tensor with ", value));
  const double v = std::trunc(value);
  if (std::fabs(v) > kExactInFloat)
    return ctx.NodeError(node, absl::StrCat(TorchDTypeName(dtype), " value ", v,
                                            " is beyond 2^24, which the device's fp32 does not hold exactly"));
  return v;
}

// A constant of `shape` holding `value` everywhere: one scalar, broadcast by an expand (which
// constant folding materializes only if something needs it folded).
absl::Status BindFilled(LoweringContext& ctx, const AtenNode& node, const ops::Shape& shape, double value) {
  if (std::string err = ops::CheckShape(shape); !err.empty()) return ctx.NodeError(node, "size " + err);
  const int scalar = ctx.ScalarConstant(value);
  if (shape.empty()) return ctx.Bind(node, scalar);
  ops::Attrs attrs;
  attrs.SetInts("shape", shape);
  return EmitAndBind(ctx, node, "expand", {scalar}, attrs);
}

absl::Status Full(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto size, ctx.Ints(node, "size"));
  KILN_ASSIGN_OR_RETURN(auto fill, Number(ctx, node, "fill_value"));
  // Without a dtype, full infers bool, int64 or float32 from the fill value.
  const Argument* f = node.Find("fill_value");
  const TorchDType inferred = f->kind == Argument::Kind::kInt    ? TorchDType::kLong
                              : f->kind == Argument::Kind::kBool ? TorchDType::kBool
                                                                 : TorchDType::kFloat;
  KILN_ASSIGN_OR_RETURN(auto value, AsDType(ctx, node, fill, DTypeArg(node, "dtype", inferred)));
  return BindFilled(ctx, node, size, value);
}

// full_like(self, v) and fill(self, v): self's shape, every element v.
absl::Status FullLike(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  const bool fill = node.Find("value") != nullptr;
  KILN_ASSIGN_OR_RETURN(auto v, Number(ctx, node, fill ? "value" : "fill_value"));
  const TorchDType dtype = DTypeArg(node, "dtype", ctx.DTypeOf(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto value, AsDType(ctx, node, v, dtype));
  return BindFilled(ctx, node, ctx.graph().values[x].shape, value);
}

// torch.empty's contents are unspecified; zeros are one valid choice and cost nothing.
absl::Status Empty(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto size, ctx.Ints(node, "size"));
  return BindFilled(ctx, node, size, 0.0);
}

absl::Status ScalarTensor(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto s, Number(ctx, node, "s"));
  KILN_ASSIGN_OR_RETURN(auto value, AsDType(ctx, node, s, DTypeArg(node, "dtype", TorchDType::kFloat)));
  return BindFilled(ctx, node, {}, value);
}

// arange(start, end, step) as a constant vector; values computed as ATen does (start + i * step,
// in double, then converted), integer ones checked to fit fp32 exactly.
absl::Status Arange(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto start, ctx.Float(node, "start", 0.0));
  KILN_ASSIGN_OR_RETURN(auto end, ctx.Float(node, "end"));
  KILN_ASSIGN_OR_RETURN(auto step, ctx.Float(node, "step", 1.0));
  bool all_int = true;
  for (const char* arg : {"start", "end", "step"}) {
    const Argument* a = node.Find(arg);
    if (a && a->kind == Argument::Kind::kFloat) all_int = false;
  }
  const TorchDType dtype = DTypeArg(node, "dtype", all_int ? TorchDType::kLong : TorchDType::kFloat);
  if (step == 0.0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step))
    return ctx.NodeError(node, absl::StrCat("arange(", start, ", ", end, ", ", step, ") has no finite, non-zero step"));
  const double count = std::ceil((end - start) / step);
  if (count < 0)
    return ctx.NodeError(node, absl::StrCat("arange(", start, ", ", end, ", ", step,
                                            "): the step's sign does not lead from start to end"));
  // The constant is materialized; beyond 2^24 elements its indices would not be exact anyway.
  if (count > kExactInFloat)
    return ctx.NodeError(node, absl::StrCat("arange(", start, ", ", end, ", ", step, ") has ", count,
                                            " elements, more than the 2^24 a constant may hold"));
  const int64_t n = static_cast<int64_t>(count);
  if (n == 0) return BindFilled(ctx, node, {0}, 0.0);  // a constant holds at least one element
  std::vector<float> values(n);
  for (int64_t i = 0; i < n; ++i) {
    KILN_ASSIGN_OR_RETURN(auto v, AsDType(ctx, node, start + static_cast<double>(i) * step, dtype));
    values[i] = static_cast<float>(v);
  }
  return ctx.Bind(node, ctx.graph().AddConstant(node.outputs.empty() ? node.name : node.outputs[0], {n},
                                                std::move(values)));
}

// Checks the sizes and dtype the program asserts against the ones torch.export recorded (strides,
// device and layout are the compiler's to choose), and emits nothing.
absl::Status AssertTensorMetadata(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "a"));
  if (!ctx.IsNone(node, "size")) {
    KILN_ASSIGN_OR_RETURN(auto size, ctx.Ints(node, "size"));
    if (size != ctx.graph().values[x].shape)
      return ctx.NodeError(node, absl::StrCat("asserts size ", ops::ShapeToString(size), " but the tensor is ",
                                              ops::ShapeToString(ctx.graph().values[x].shape)));
  }
  const TorchDType recorded = ctx.DTypeOf(node, "a");
  const TorchDType asserted = DTypeArg(node, "dtype", recorded);
  if (asserted != recorded)
    return ctx.NodeError(node, absl::StrCat("asserts dtype ", TorchDTypeName(asserted), " but the tensor is ",
                                            TorchDTypeName(recorded)));
  return absl::OkStatus();
}

// _assert_scalar(cond, msg): with static shapes the condition is a constant by the time it is
// exported; a false one is the program's own error.
absl::Status AssertScalar(LoweringContext& ctx, const AtenNode& node) {
  const Argument* cond = node.Find("self");
  if (cond && (cond->kind == Argument::Kind::kBool || cond->kind == Argument::Kind::kInt) &&
      !(cond->kind == Argument::Kind::kBool ? cond->b : cond->i != 0)) {
    const Argument* msg = node.Find("assert_msg");
    return ctx.NodeError(node, absl::StrCat("assertion failed: ", msg && msg->kind == Argument::Kind::kString
                                                                      ? msg->s : "(no message)"));
  }
  if (cond && cond->kind == Argument::Kind::kOther)
    return ctx.NodeError(node, absl::StrCat("asserts a symbolic condition (", cond->s,
                                            "); dynamic shapes are not supported yet"));
  return absl::OkStatus();
}

}  // namespace

void AddConstantRules(RuleTable& rules) {
  Resolved(rules, "aten.full.default", Full, "a constant (scalar, expanded)");
  Resolved(rules, "aten.full_like.default", FullLike, "a constant of the input's shape");
  Resolved(rules, "aten.fill.Scalar", FullLike, "a constant of the input's shape");
  Resolved(rules, "aten.scalar_tensor.default", ScalarTensor, "a rank-0 constant");
  Resolved(rules, "aten.empty.memory_format", Empty, "a zero constant (contents unspecified)");
  Resolved(rules, "aten.empty_strided.default", Empty, "a zero constant (contents unspecified)");
  Resolved(rules, "aten.empty_permuted.default", Empty, "a zero constant (contents unspecified)");
  Resolved(rules, "aten.new_empty_strided.default", Empty, "a zero constant (contents unspecified)");
  for (const char* target : {"aten.arange.start_step", "aten.arange.start", "aten.arange.default"})
    Resolved(rules, target, Arange, "a constant vector");
  Resolved(rules, "aten._assert_tensor_metadata.default", AssertTensorMetadata,
           "checked against the recorded sizes and dtype; emits nothing");
  Resolved(rules, "aten._assert_scalar.default", AssertScalar, "checked at compile time; emits nothing");
}

}  // namespace kiln::compiler

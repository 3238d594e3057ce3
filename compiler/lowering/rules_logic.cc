// Lowering rules for comparisons, logical and bitwise ops, predicates and where. The device holds a
// bool as 1.0 or 0.0 in fp32, so a comparison's result is an ordinary tensor of those values, and
// ATen's ops on bools map onto the logical device ops.
#include <limits>

#include "absl/strings/str_cat.h"
#include "compiler/lowering/rules.h"

namespace kiln::compiler {
namespace {

enum class Cmp { kEq, kNe, kLt, kLe, kGt, kGe };

// eq, lt and le are device ops; gt and ge swap the operands (a > b is b < a) and ne is
// logical_not(eq), which also gets NaN right (NaN != NaN is true).
template <Cmp kCmp>
absl::Status Compare(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto a, ctx.TensorOrScalar(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto b, ctx.TensorOrScalar(node, "other"));
  switch (kCmp) {
    case Cmp::kEq: return EmitAndBind(ctx, node, "eq", {a, b});
    case Cmp::kLt: return EmitAndBind(ctx, node, "lt", {a, b});
    case Cmp::kLe: return EmitAndBind(ctx, node, "le", {a, b});
    case Cmp::kGt: return EmitAndBind(ctx, node, "lt", {b, a});
    case Cmp::kGe: return EmitAndBind(ctx, node, "le", {b, a});
    case Cmp::kNe: {
      KILN_ASSIGN_OR_RETURN(auto eq, ctx.Emit(node, "eq", {a, b}));
      return EmitAndBind(ctx, node, "logical_not", {eq});
    }
  }
  return absl::InternalError("unreachable");
}

absl::Status LogicalNot(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  return EmitAndBind(ctx, node, "logical_not", {x});
}

enum class Logic { kAnd, kOr, kXor };

// xor is (a == 0) != (b == 0): logical_not of eq of the two negations.
absl::Status EmitLogic(LoweringContext& ctx, const AtenNode& node, Logic op, int a, int b) {
  if (op == Logic::kAnd) return EmitAndBind(ctx, node, "logical_and", {a, b});
  if (op == Logic::kOr) return EmitAndBind(ctx, node, "logical_or", {a, b});
  KILN_ASSIGN_OR_RETURN(auto na, ctx.Emit(node, "logical_not", {a}));
  KILN_ASSIGN_OR_RETURN(auto nb, ctx.Emit(node, "logical_not", {b}));
  KILN_ASSIGN_OR_RETURN(auto same, ctx.Emit(node, "eq", {na, nb}));
  return EmitAndBind(ctx, node, "logical_not", {same});
}

template <Logic kOp>
absl::Status Logical(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto a, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto b, ctx.Tensor(node, "other"));
  return EmitLogic(ctx, node, kOp, a, b);
}

// The dtype of a binary op's tensor operand (self may be a Python scalar, as in Scalar_Tensor).
TorchDType OperandDType(LoweringContext& ctx, const AtenNode& node) {
  const TorchDType t = ctx.DTypeOf(node, "self");
  return t != TorchDType::kUnknown ? t : ctx.DTypeOf(node, "other");
}

// ATen defines bitwise ops, shifts, gcd and lcm on integers and bools only; a float operand can only
// come from a malformed graph.
absl::Status RequireIntegral(LoweringContext& ctx, const AtenNode& node) {
  const TorchDType t = OperandDType(ctx, node);
  if (t == TorchDType::kFloat || t == TorchDType::kDouble || t == TorchDType::kHalf || t == TorchDType::kBFloat16)
    return ctx.NodeError(node, absl::StrCat("takes integer or bool operands, got ", TorchDTypeName(t)));
  return absl::OkStatus();
}

// On bools, bitwise ops are the logical ones; on integers, the integer ops (ops/integer.cc), exact
// while operands and results stay within 2^24 like every integer on the device.
template <Logic kOp>
absl::Status Bitwise(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto a, ctx.TensorOrScalar(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto b, ctx.TensorOrScalar(node, "other"));
  if (OperandDType(ctx, node) == TorchDType::kBool) return EmitLogic(ctx, node, kOp, a, b);
  KILN_RETURN_IF_ERROR(RequireIntegral(ctx, node));
  return EmitAndBind(ctx, node,
                     kOp == Logic::kAnd ? "bitwise_and" : kOp == Logic::kOr ? "bitwise_or" : "bitwise_xor", {a, b});
}

absl::Status BitwiseNot(LoweringContext& ctx, const AtenNode& node) {
  if (ctx.DTypeOf(node, "self") == TorchDType::kBool) return LogicalNot(ctx, node);
  KILN_RETURN_IF_ERROR(RequireIntegral(ctx, node));
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  return EmitAndBind(ctx, node, "bitwise_not", {x});
}

// Shifts, gcd and lcm: integer operands only (torch rejects the others before export).
template <const char* kOp>
absl::Status IntegerBinary(LoweringContext& ctx, const AtenNode& node) {
  KILN_RETURN_IF_ERROR(RequireIntegral(ctx, node));
  KILN_ASSIGN_OR_RETURN(auto a, ctx.TensorOrScalar(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto b, ctx.TensorOrScalar(node, "other"));
  return EmitAndBind(ctx, node, kOp, {a, b});
}
constexpr char kShiftLeft[] = "shift_left", kShiftRight[] = "shift_right", kGcd[] = "gcd", kLcm[] = "lcm";

absl::Status Where(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto cond, ctx.Tensor(node, "condition"));
  KILN_ASSIGN_OR_RETURN(auto a, ctx.TensorOrScalar(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto b, ctx.TensorOrScalar(node, "other"));
  return EmitAndBind(ctx, node, "where", {cond, a, b});
}

// isnan(x) is x != x.
absl::Status IsNan(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto eq, ctx.Emit(node, "eq", {x, x}));
  return EmitAndBind(ctx, node, "logical_not", {eq});
}

// isinf(x) is |x| == inf.
absl::Status IsInf(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto abs, ctx.Emit(node, "abs", {x}));
  return EmitAndBind(ctx, node, "eq", {abs, ctx.ScalarConstant(std::numeric_limits<double>::infinity())});
}

// any/all reduce the truth values: max/min over (x != 0). A bool input already holds 0/1; any other
// is normalized with logical_not twice (x != 0, NaN true).
template <bool kAny>
absl::Status AnyAll(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  std::vector<int64_t> dims;  // empty: all dims (any.default)
  if (!ctx.IsNone(node, "dim")) {
    KILN_ASSIGN_OR_RETURN(dims, ctx.Ints(node, "dim"));
    // any.dims with an empty list reduces every dim too, as the device op does.
  }
  KILN_ASSIGN_OR_RETURN(auto keepdim, ctx.Bool(node, "keepdim", false));
  if (ctx.DTypeOf(node, "self") != TorchDType::kBool) {
    KILN_ASSIGN_OR_RETURN(auto zero, ctx.Emit(node, "logical_not", {x}));
    KILN_ASSIGN_OR_RETURN(x, ctx.Emit(node, "logical_not", {zero}));
  }
  ops::Attrs attrs;
  attrs.SetInts("dims", dims).SetInt("keepdim", keepdim ? 1 : 0);
  return EmitAndBind(ctx, node, kAny ? "reduce_max" : "reduce_min", {x}, attrs);
}

}  // namespace

void AddLogicRules(RuleTable& rules) {
  for (const char* overload : {"Tensor", "Scalar"}) {
    const std::string o = overload;
    Lowered(rules, "aten.eq." + o, Compare<Cmp::kEq>, "eq");
    Decomposed(rules, "aten.ne." + o, Compare<Cmp::kNe>, "eq, logical_not");
    Lowered(rules, "aten.lt." + o, Compare<Cmp::kLt>, "lt");
    Lowered(rules, "aten.le." + o, Compare<Cmp::kLe>, "le");
    Lowered(rules, "aten.gt." + o, Compare<Cmp::kGt>, "lt (operands swapped)");
    Lowered(rules, "aten.ge." + o, Compare<Cmp::kGe>, "le (operands swapped)");
    Lowered(rules, "aten.bitwise_and." + o, Bitwise<Logic::kAnd>, "bitwise_and (bools: logical_and)");
    Lowered(rules, "aten.bitwise_or." + o, Bitwise<Logic::kOr>, "bitwise_or (bools: logical_or)");
    Lowered(rules, "aten.bitwise_xor." + o, Bitwise<Logic::kXor>, "bitwise_xor (bools: logical_not, eq)");
    Lowered(rules, "aten.__lshift__." + o, IntegerBinary<kShiftLeft>, "shift_left");
    Lowered(rules, "aten.__rshift__." + o, IntegerBinary<kShiftRight>, "shift_right");
  }
  for (const char* overload : {"Tensor", "Tensor_Scalar", "Scalar_Tensor"}) {
    const std::string o = overload;
    Lowered(rules, "aten.bitwise_left_shift." + o, IntegerBinary<kShiftLeft>, "shift_left");
    Lowered(rules, "aten.bitwise_right_shift." + o, IntegerBinary<kShiftRight>, "shift_right");
  }
  Lowered(rules, "aten.bitwise_and.Scalar_Tensor", Bitwise<Logic::kAnd>, "bitwise_and (bools: logical_and)");
  Lowered(rules, "aten.bitwise_or.Scalar_Tensor", Bitwise<Logic::kOr>, "bitwise_or (bools: logical_or)");
  Lowered(rules, "aten.bitwise_xor.Scalar_Tensor", Bitwise<Logic::kXor>, "bitwise_xor (bools: logical_not, eq)");
  Lowered(rules, "aten.gcd.default", IntegerBinary<kGcd>, "gcd");
  Lowered(rules, "aten.lcm.default", IntegerBinary<kLcm>, "lcm");
  Lowered(rules, "aten.logical_not.default", LogicalNot, "logical_not");
  Lowered(rules, "aten.logical_and.default", Logical<Logic::kAnd>, "logical_and");
  Lowered(rules, "aten.logical_or.default", Logical<Logic::kOr>, "logical_or");
  Decomposed(rules, "aten.logical_xor.default", Logical<Logic::kXor>, "logical_not, eq");
  Lowered(rules, "aten.bitwise_not.default", BitwiseNot, "bitwise_not (bools: logical_not)");
  Lowered(rules, "aten.where.self", Where, "where");
  Decomposed(rules, "aten.isnan.default", IsNan, "eq, logical_not");
  Decomposed(rules, "aten.isinf.default", IsInf, "abs, eq");
  for (const char* target : {"aten.any.default", "aten.any.dim", "aten.any.dims"})
    Decomposed(rules, target, AnyAll<true>, "logical_not (non-bool input), reduce_max");
  for (const char* target : {"aten.all.default", "aten.all.dim", "aten.all.dims"})
    Decomposed(rules, target, AnyAll<false>, "logical_not (non-bool input), reduce_min");
}

}  // namespace kiln::compiler

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

// On bools, bitwise ops are the logical ones. On integers they act on bits, which fp32 values do
// not have: that needs the device's integer kernels.
absl::Status RequireBool(LoweringContext& ctx, const AtenNode& node) {
  const TorchDType t = ctx.DTypeOf(node, "self");
  if (t != TorchDType::kBool)
    return ctx.NodeError(node, absl::StrCat("bitwise ops on ", TorchDTypeName(t),
                                            " tensors need integer kernels; only bool operands are supported yet"));
  return absl::OkStatus();
}

template <Logic kOp>
absl::Status Bitwise(LoweringContext& ctx, const AtenNode& node) {
  KILN_RETURN_IF_ERROR(RequireBool(ctx, node));
  KILN_ASSIGN_OR_RETURN(auto a, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto b, ctx.TensorOrScalar(node, "other"));
  return EmitLogic(ctx, node, kOp, a, b);
}

absl::Status BitwiseNot(LoweringContext& ctx, const AtenNode& node) {
  KILN_RETURN_IF_ERROR(RequireBool(ctx, node));
  return LogicalNot(ctx, node);
}

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
    Lowered(rules, "aten.bitwise_and." + o, Bitwise<Logic::kAnd>, "logical_and (bool operands only)");
    Lowered(rules, "aten.bitwise_or." + o, Bitwise<Logic::kOr>, "logical_or (bool operands only)");
    Decomposed(rules, "aten.bitwise_xor." + o, Bitwise<Logic::kXor>,
               "logical_not, eq (bool operands only)");
  }
  Lowered(rules, "aten.logical_not.default", LogicalNot, "logical_not");
  Lowered(rules, "aten.logical_and.default", Logical<Logic::kAnd>, "logical_and");
  Lowered(rules, "aten.logical_or.default", Logical<Logic::kOr>, "logical_or");
  Decomposed(rules, "aten.logical_xor.default", Logical<Logic::kXor>, "logical_not, eq");
  Lowered(rules, "aten.bitwise_not.default", BitwiseNot, "logical_not (bool operands only)");
  Lowered(rules, "aten.where.self", Where, "where");
  Decomposed(rules, "aten.isnan.default", IsNan, "eq, logical_not");
  Decomposed(rules, "aten.isinf.default", IsInf, "abs, eq");
  for (const char* target : {"aten.any.default", "aten.any.dim", "aten.any.dims"})
    Decomposed(rules, target, AnyAll<true>, "logical_not (non-bool input), reduce_max");
  for (const char* target : {"aten.all.default", "aten.all.dim", "aten.all.dims"})
    Decomposed(rules, target, AnyAll<false>, "logical_not (non-bool input), reduce_min");
}

}  // namespace kiln::compiler

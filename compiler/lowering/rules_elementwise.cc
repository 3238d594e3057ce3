// Lowering rules for elementwise ATen ops: unary math and broadcasting arithmetic.
#include "compiler/lowering/rules.h"

#include <tuple>

#include "absl/strings/str_cat.h"

namespace kiln::compiler {
namespace {

// One rule per device unary op; the template argument picks the device op.
template <const char* kOp>
absl::Status Unary(LoweringContext& ctx, const AtenNode& node) {
  absl::StatusOr<int> x = ctx.Tensor(node, "self");
  if (!x.ok()) return x.status();
  absl::StatusOr<int> y = ctx.Emit(node, kOp, {*x});
  if (!y.ok()) return y.status();
  return ctx.Bind(node, *y);
}

constexpr char kRelu[] = "relu", kNeg[] = "neg", kExp[] = "exp", kLog[] = "log", kSqrt[] = "sqrt",
               kRsqrt[] = "rsqrt", kSigmoid[] = "sigmoid", kTanh[] = "tanh", kAbs[] = "abs",
               kReciprocal[] = "reciprocal", kSilu[] = "silu", kGelu[] = "gelu", kSin[] = "sin",
               kCos[] = "cos";

absl::Status Gelu(LoweringContext& ctx, const AtenNode& node) {
  const Argument* approx = node.Find("approximate");
  if (approx && approx->kind == Argument::Kind::kString && approx->s != "none")
    return ctx.NodeError(node, absl::StrCat("approximate='", approx->s, "' is not supported yet"));
  return Unary<kGelu>(ctx, node);
}

// add/sub with an `alpha` that scales the second operand, as ATen defines them.
template <const char* kOp>
absl::Status BinaryWithAlpha(LoweringContext& ctx, const AtenNode& node) {
  absl::StatusOr<int> a = ctx.TensorOrScalar(node, "self");
  if (!a.ok()) return a.status();
  absl::StatusOr<int> b = ctx.TensorOrScalar(node, "other");
  if (!b.ok()) return b.status();
  absl::StatusOr<double> alpha = ctx.Float(node, "alpha", 1.0);
  if (!alpha.ok()) return alpha.status();
  if (*alpha != 1.0) {
    absl::StatusOr<int> scaled = ctx.Emit(node, "mul", {*b, ctx.ScalarConstant(*alpha)});
    if (!scaled.ok()) return scaled.status();
    b = *scaled;
  }
  absl::StatusOr<int> y = ctx.Emit(node, kOp, {*a, *b});
  if (!y.ok()) return y.status();
  return ctx.Bind(node, *y);
}

template <const char* kOp>
absl::Status Binary(LoweringContext& ctx, const AtenNode& node) {
  absl::StatusOr<int> a = ctx.TensorOrScalar(node, "self");
  if (!a.ok()) return a.status();
  absl::StatusOr<int> b = ctx.TensorOrScalar(node, node.Find("other") ? "other" : "exponent");
  if (!b.ok()) return b.status();
  absl::StatusOr<int> y = ctx.Emit(node, kOp, {*a, *b});
  if (!y.ok()) return y.status();
  return ctx.Bind(node, *y);
}

constexpr char kAdd[] = "add", kSub[] = "sub", kMul[] = "mul", kDiv[] = "div", kMax[] = "maximum",
               kMin[] = "minimum", kPow[] = "pow";

absl::Status Div(LoweringContext& ctx, const AtenNode& node) {
  const Argument* mode = node.Find("rounding_mode");
  if (mode && mode->kind == Argument::Kind::kString)
    return ctx.NodeError(node, absl::StrCat("rounding_mode='", mode->s, "' is not supported yet"));
  return Binary<kDiv>(ctx, node);
}

// clamp(self, min?, max?) and hardtanh(self, min_val, max_val) (ReLU6 exports as hardtanh).
absl::Status Clamp(LoweringContext& ctx, const AtenNode& node) {
  absl::StatusOr<int> x = ctx.Tensor(node, "self");
  if (!x.ok()) return x.status();
  const bool hardtanh = ShortTarget(node.target) == "aten.hardtanh.default";
  ops::Attrs attrs;
  for (const auto& [arg, attr, fallback] : {std::tuple{hardtanh ? "min_val" : "min", "min", -1.0},
                                            std::tuple{hardtanh ? "max_val" : "max", "max", 1.0}}) {
    const Argument* a = node.Find(arg);
    if (a && a->kind == Argument::Kind::kTensor)
      return ctx.NodeError(node, absl::StrCat("a tensor '", arg, "' bound is not supported yet"));
    if (!hardtanh && ctx.IsNone(node, arg)) continue;
    absl::StatusOr<double> v = ctx.Float(node, arg, fallback);
    if (!v.ok()) return v.status();
    attrs.SetFloat(attr, *v);
  }
  absl::StatusOr<int> y = ctx.Emit(node, "clamp", {*x}, attrs);
  if (!y.ok()) return y.status();
  return ctx.Bind(node, *y);
}

}  // namespace

void AddElementwiseRules(RuleTable& rules) {
  Lowered(rules, "aten.relu.default", Unary<kRelu>, "relu");
  Lowered(rules, "aten.neg.default", Unary<kNeg>, "neg");
  Lowered(rules, "aten.exp.default", Unary<kExp>, "exp");
  Lowered(rules, "aten.log.default", Unary<kLog>, "log");
  Lowered(rules, "aten.sqrt.default", Unary<kSqrt>, "sqrt");
  Lowered(rules, "aten.rsqrt.default", Unary<kRsqrt>, "rsqrt");
  Lowered(rules, "aten.sigmoid.default", Unary<kSigmoid>, "sigmoid");
  Lowered(rules, "aten.tanh.default", Unary<kTanh>, "tanh");
  Lowered(rules, "aten.abs.default", Unary<kAbs>, "abs");
  Lowered(rules, "aten.reciprocal.default", Unary<kReciprocal>, "reciprocal");
  Lowered(rules, "aten.silu.default", Unary<kSilu>, "silu");
  Lowered(rules, "aten.sin.default", Unary<kSin>, "sin");
  Lowered(rules, "aten.cos.default", Unary<kCos>, "cos");
  Lowered(rules, "aten.gelu.default", Gelu, "gelu");
  Lowered(rules, "aten.clamp.default", Clamp, "clamp");
  Lowered(rules, "aten.hardtanh.default", Clamp, "clamp");
  Lowered(rules, "aten.add.Tensor", BinaryWithAlpha<kAdd>, "add, mul (alpha != 1)");
  Lowered(rules, "aten.add.Scalar", BinaryWithAlpha<kAdd>, "add, mul (alpha != 1)");
  Lowered(rules, "aten.sub.Tensor", BinaryWithAlpha<kSub>, "sub, mul (alpha != 1)");
  Lowered(rules, "aten.sub.Scalar", BinaryWithAlpha<kSub>, "sub, mul (alpha != 1)");
  Lowered(rules, "aten.mul.Tensor", Binary<kMul>, "mul");
  Lowered(rules, "aten.mul.Scalar", Binary<kMul>, "mul");
  Lowered(rules, "aten.div.Tensor", Div, "div");
  Lowered(rules, "aten.div.Scalar", Div, "div");
  Lowered(rules, "aten.div.Tensor_mode", Div, "div");
  Lowered(rules, "aten.maximum.default", Binary<kMax>, "maximum");
  Lowered(rules, "aten.minimum.default", Binary<kMin>, "minimum");
  Lowered(rules, "aten.pow.Tensor_Tensor", Binary<kPow>, "pow");
  Lowered(rules, "aten.pow.Tensor_Scalar", Binary<kPow>, "pow");
  Lowered(rules, "aten.pow.Scalar", Binary<kPow>, "pow");
}

}  // namespace kiln::compiler

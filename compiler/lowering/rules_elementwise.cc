// Lowering rules for elementwise ATen ops: unary math and broadcasting arithmetic.
#include "compiler/lowering/rules.h"

#include <cmath>
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
               kCos[] = "cos", kTan[] = "tan", kAsin[] = "asin", kAcos[] = "acos", kAtan[] = "atan",
               kSinh[] = "sinh", kCosh[] = "cosh", kAsinh[] = "asinh", kAcosh[] = "acosh", kAtanh[] = "atanh",
               kErf[] = "erf", kExpm1[] = "expm1", kLog1p[] = "log1p", kLog2[] = "log2", kLog10[] = "log10",
               kFloor[] = "floor", kCeil[] = "ceil", kRound[] = "round", kTrunc[] = "trunc", kSign[] = "sign";

// gelu; approximate='tanh' is 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
absl::Status Gelu(LoweringContext& ctx, const AtenNode& node) {
  const Argument* approx = node.Find("approximate");
  if (!approx || approx->kind != Argument::Kind::kString || approx->s == "none") return Unary<kGelu>(ctx, node);
  if (approx->s != "tanh") return ctx.NodeError(node, absl::StrCat("unknown approximate='", approx->s, "'"));
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  return EmitAndBind(ctx, node, "gelu_tanh", {x});
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
               kMin[] = "minimum", kPow[] = "pow", kAtan2[] = "atan2", kFmod[] = "fmod", kRemainder[] = "remainder";

// div with rounding_mode: 'trunc' rounds the quotient (as ATen does, trunc(a / b)); 'floor' is its
// own device op, exact where floor(a / b) would round twice.
absl::Status Div(LoweringContext& ctx, const AtenNode& node) {
  const Argument* mode = node.Find("rounding_mode");
  if (!mode || mode->kind != Argument::Kind::kString) return Binary<kDiv>(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto a, ctx.TensorOrScalar(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto b, ctx.TensorOrScalar(node, "other"));
  if (mode->s == "floor") return EmitAndBind(ctx, node, "floor_divide", {a, b});
  if (mode->s != "trunc") return ctx.NodeError(node, absl::StrCat("unknown rounding_mode='", mode->s, "'"));
  KILN_ASSIGN_OR_RETURN(auto q, ctx.Emit(node, "div", {a, b}));
  return EmitAndBind(ctx, node, "trunc", {q});
}

// round(x, decimals) as ATen computes it: nearbyint(x * 10^d) / 10^d, or for d < 0
// nearbyint(x / 10^-d) * 10^-d.
absl::Status RoundDecimals(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto decimals, ctx.Int(node, "decimals", 0));
  if (decimals == 0) return EmitAndBind(ctx, node, "round", {x});
  if (decimals > 38 || decimals < -38)
    return ctx.NodeError(node, absl::StrCat("decimals=", decimals, " is beyond float32's range"));
  const bool neg = decimals < 0;
  const int ten_pow = ctx.ScalarConstant(std::pow(10.0, neg ? -decimals : decimals));
  KILN_ASSIGN_OR_RETURN(auto scaled, ctx.Emit(node, neg ? "div" : "mul", {x, ten_pow}));
  KILN_ASSIGN_OR_RETURN(auto rounded, ctx.Emit(node, "round", {scaled}));
  return EmitAndBind(ctx, node, neg ? "mul" : "div", {rounded, ten_pow});
}

// leaky_relu(x, slope) is where(0 < x, x, x * slope).
absl::Status LeakyRelu(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto slope, ctx.Float(node, "negative_slope", 0.01));
  KILN_ASSIGN_OR_RETURN(auto positive, ctx.Emit(node, "lt", {ctx.ScalarConstant(0.0), x}));
  KILN_ASSIGN_OR_RETURN(auto scaled, ctx.Emit(node, "mul", {x, ctx.ScalarConstant(slope)}));
  return EmitAndBind(ctx, node, "where", {positive, x, scaled});
}

// elu(x, alpha, scale, input_scale) is scale * x for x > 0, else alpha * scale * expm1(x * input_scale).
absl::Status Elu(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto alpha, ctx.Float(node, "alpha", 1.0));
  KILN_ASSIGN_OR_RETURN(auto scale, ctx.Float(node, "scale", 1.0));
  KILN_ASSIGN_OR_RETURN(auto input_scale, ctx.Float(node, "input_scale", 1.0));
  KILN_ASSIGN_OR_RETURN(auto positive, ctx.Emit(node, "lt", {ctx.ScalarConstant(0.0), x}));
  KILN_ASSIGN_OR_RETURN(auto xs, ctx.Emit(node, "mul", {x, ctx.ScalarConstant(input_scale)}));
  KILN_ASSIGN_OR_RETURN(auto em1, ctx.Emit(node, "expm1", {xs}));
  KILN_ASSIGN_OR_RETURN(auto neg, ctx.Emit(node, "mul", {em1, ctx.ScalarConstant(alpha * scale)}));
  KILN_ASSIGN_OR_RETURN(auto pos, ctx.Emit(node, "mul", {x, ctx.ScalarConstant(scale)}));
  return EmitAndBind(ctx, node, "where", {positive, pos, neg});
}

// clamp with tensor bounds: minimum(maximum(x, min), max), either bound optional.
absl::Status ClampTensor(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto lo, ctx.OptionalTensor(node, "min"));
  KILN_ASSIGN_OR_RETURN(auto hi, ctx.OptionalTensor(node, "max"));
  if (!lo && !hi) return ctx.NodeError(node, "clamp needs at least one of 'min' and 'max'");
  int y = x;
  if (lo) {
    KILN_ASSIGN_OR_RETURN(y, ctx.Emit(node, "maximum", {y, *lo}));
  }
  if (hi) {
    KILN_ASSIGN_OR_RETURN(y, ctx.Emit(node, "minimum", {y, *hi}));
  }
  return ctx.Bind(node, y);
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
  Lowered(rules, "aten.tan.default", Unary<kTan>, "tan");
  Lowered(rules, "aten.asin.default", Unary<kAsin>, "asin");
  Lowered(rules, "aten.acos.default", Unary<kAcos>, "acos");
  Lowered(rules, "aten.atan.default", Unary<kAtan>, "atan");
  Lowered(rules, "aten.sinh.default", Unary<kSinh>, "sinh");
  Lowered(rules, "aten.cosh.default", Unary<kCosh>, "cosh");
  Lowered(rules, "aten.asinh.default", Unary<kAsinh>, "asinh");
  Lowered(rules, "aten.acosh.default", Unary<kAcosh>, "acosh");
  Lowered(rules, "aten.atanh.default", Unary<kAtanh>, "atanh");
  Lowered(rules, "aten.erf.default", Unary<kErf>, "erf");
  Lowered(rules, "aten.expm1.default", Unary<kExpm1>, "expm1");
  Lowered(rules, "aten.log1p.default", Unary<kLog1p>, "log1p");
  Lowered(rules, "aten.log2.default", Unary<kLog2>, "log2");
  Lowered(rules, "aten.log10.default", Unary<kLog10>, "log10");
  Lowered(rules, "aten.floor.default", Unary<kFloor>, "floor");
  Lowered(rules, "aten.ceil.default", Unary<kCeil>, "ceil");
  Lowered(rules, "aten.round.default", Unary<kRound>, "round");
  Lowered(rules, "aten.trunc.default", Unary<kTrunc>, "trunc");
  Decomposed(rules, "aten.round.decimals", RoundDecimals, "mul, round, div");
  Lowered(rules, "aten.sign.default", Unary<kSign>, "sign");
  Decomposed(rules, "aten.leaky_relu.default", LeakyRelu, "lt, mul, where");
  Decomposed(rules, "aten.elu.default", Elu, "lt, mul, expm1, where");
  Decomposed(rules, "aten.clamp.Tensor", ClampTensor, "maximum, minimum");
  Lowered(rules, "aten.gelu.default", Gelu, "gelu, gelu_tanh (approximate='tanh')");
  Lowered(rules, "aten.clamp.default", Clamp, "clamp");
  Lowered(rules, "aten.hardtanh.default", Clamp, "clamp");
  Lowered(rules, "aten.add.Tensor", BinaryWithAlpha<kAdd>, "add, mul (alpha != 1)");
  Lowered(rules, "aten.add.Scalar", BinaryWithAlpha<kAdd>, "add, mul (alpha != 1)");
  Lowered(rules, "aten.sub.Tensor", BinaryWithAlpha<kSub>, "sub, mul (alpha != 1)");
  Lowered(rules, "aten.sub.Scalar", BinaryWithAlpha<kSub>, "sub, mul (alpha != 1)");
  Lowered(rules, "aten.mul.Tensor", Binary<kMul>, "mul");
  Lowered(rules, "aten.mul.Scalar", Binary<kMul>, "mul");
  for (const char* target : {"aten.div.Tensor", "aten.div.Scalar", "aten.div.Tensor_mode", "aten.div.Scalar_mode"})
    Lowered(rules, target, Div, "div, trunc (rounding_mode='trunc'), floor_divide (rounding_mode='floor')");
  Lowered(rules, "aten.atan2.default", Binary<kAtan2>, "atan2");
  Lowered(rules, "aten.fmod.Tensor", Binary<kFmod>, "fmod");
  Lowered(rules, "aten.fmod.Scalar", Binary<kFmod>, "fmod");
  Lowered(rules, "aten.remainder.Tensor", Binary<kRemainder>, "remainder");
  Lowered(rules, "aten.remainder.Scalar", Binary<kRemainder>, "remainder");
  Lowered(rules, "aten.maximum.default", Binary<kMax>, "maximum");
  Lowered(rules, "aten.minimum.default", Binary<kMin>, "minimum");
  Lowered(rules, "aten.pow.Tensor_Tensor", Binary<kPow>, "pow");
  Lowered(rules, "aten.pow.Tensor_Scalar", Binary<kPow>, "pow");
  Lowered(rules, "aten.pow.Scalar", Binary<kPow>, "pow");
}

}  // namespace kiln::compiler

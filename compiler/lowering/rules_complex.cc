// Complex values. The device has no complex dtype: a complex ATen value of shape S is a device value
// of shape S + [2], its real and imaginary parts interleaved (view_as_real's memory, so a host
// transfer is the same bytes; ops/dtype.h's c64). Rules see complex operands only when their entry
// says so (RuleEntry::complex): the ones here, the FFT (rules_fft.cc), and the data-movement rules,
// which lowering runs on the leading dims by rewriting the node's dim arguments (LowerOnLeadingDims).
#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/lowering/rules.h"

namespace kiln::compiler {
namespace {

TorchDType ValueDType(const LoweringContext& ctx, const std::string& value) {
  auto meta = ctx.aten().values.find(value);
  return meta == ctx.aten().values.end() ? TorchDType::kUnknown : meta->second.dtype;
}

// How a data-movement op's argument addresses dims, and so how it changes when the operands gain a
// trailing 2 that the op must leave alone.
enum class ArgKind {
  kDim,          // one dim of the input (rank r): a negative one is made positive
  kNewDim,       // a dim of the result of unsqueeze (rank r + 1)
  kDims,         // a list of input dims
  kPermutation,  // permute's dims: the trailing dim stays last
  kSize,         // a result shape (view, expand): + [2]
  kRepeats,      // repeat counts per dim: the trailing dim once
  kPad,          // constant_pad_nd's (before, after) pairs from the last dim backwards: none for it
};

struct LeadingDimsOp {
  const char* target;
  std::vector<std::pair<const char*, ArgKind>> args;
  const char* index_operand = nullptr;  // a real tensor of positions (index_select's index), not data
};

// The data-movement rules that take complex values, with the arguments to rewrite. ATen's
// t.default is not here: on a complex vector its device value has rank 2, which t would transpose.
const std::vector<LeadingDimsOp>& LeadingDimsOps() {
  static const auto* ops = new std::vector<LeadingDimsOp>{
      {"aten.view.default", {{"size", ArgKind::kSize}}},
      {"aten._unsafe_view.default", {{"size", ArgKind::kSize}}},
      {"aten.view_copy.default", {{"size", ArgKind::kSize}}},
      {"aten.reshape.default", {{"shape", ArgKind::kSize}}},
      {"aten.expand.default", {{"size", ArgKind::kSize}}},
      {"aten.unsqueeze.default", {{"dim", ArgKind::kNewDim}}},
      {"aten.squeeze.dim", {{"dim", ArgKind::kDim}}},
      {"aten.squeeze.dims", {{"dim", ArgKind::kDims}}},
      {"aten.squeeze.default", {}},
      {"aten.permute.default", {{"dims", ArgKind::kPermutation}}},
      {"aten.permute_copy.default", {{"dims", ArgKind::kPermutation}}},
      {"aten.transpose.int", {{"dim0", ArgKind::kDim}, {"dim1", ArgKind::kDim}}},
      {"aten.slice.Tensor", {{"dim", ArgKind::kDim}}},
      {"aten.narrow_copy.default", {{"dim", ArgKind::kDim}}},
      {"aten.select.int", {{"dim", ArgKind::kDim}}},
      {"aten.index_select.default", {{"dim", ArgKind::kDim}}, "index"},  // fftshift's
      {"aten.split_with_sizes.default", {{"dim", ArgKind::kDim}}},
      {"aten.unbind_copy.int", {{"dim", ArgKind::kDim}}},
      {"aten.cat.default", {{"dim", ArgKind::kDim}}},
      {"aten.flip.default", {{"dims", ArgKind::kDims}}},
      {"aten.repeat.default", {{"repeats", ArgKind::kRepeats}}},
      {"aten.constant_pad_nd.default", {{"pad", ArgKind::kPad}}},
      {"aten.clone.default", {}},
      {"aten.alias.default", {}},
      {"aten.contiguous.default", {}},
      {"aten.copy.default", {}},
  };
  return *ops;
}

// The tensor values a node reads: (argument name, value name).
std::vector<std::pair<std::string, std::string>> TensorOperands(const AtenNode& node) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const NamedArgument& a : node.inputs) {
    if (a.arg.kind == Argument::Kind::kTensor) out.emplace_back(a.name, a.arg.tensor);
    if (a.arg.kind == Argument::Kind::kTensors || a.arg.kind == Argument::Kind::kOptionalTensors)
      for (const std::string& t : a.arg.tensors)
        if (!t.empty()) out.emplace_back(a.name, t);
  }
  return out;
}

absl::StatusOr<int64_t> NormalizedDim(LoweringContext& ctx, const AtenNode& node, const char* arg, int64_t dim,
                                      int64_t rank) {
  const int64_t d = dim < 0 ? dim + rank : dim;
  // A 0-d tensor takes dim 0 or -1 (as ATen's maybe_wrap_dim allows).
  if (rank == 0 && (dim == 0 || dim == -1)) return 0;
  if (d < 0 || d >= rank)
    return ctx.NodeError(node, absl::StrCat("argument '", arg, "' = ", dim, " is out of range for a complex tensor of ",
                                            rank, " dims"));
  return d;
}

// conj: the imaginary parts negated (one multiply by [1, -1]); a real input is its own conjugate.
absl::Status Conj(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  if (!IsComplex(ctx.DTypeOf(node, "self"))) return ctx.Bind(node, x);
  const int sign = ctx.graph().AddConstant("conj_sign", {2}, {1.0f, -1.0f});
  return EmitAndBind(ctx, node, "mul", {x, sign});
}

// view_as_real, view_as_complex, and the conj/neg-bit resolutions (the device's conj is physical):
// the device value is already what they view it as.
absl::Status SameValue(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  return ctx.Bind(node, x);
}

// The real `re` and `im` (broadcast to the result's shape) side by side in a trailing dim.
absl::Status Stack(LoweringContext& ctx, const AtenNode& node, int re, int im) {
  auto meta = ctx.aten().values.find(node.outputs.empty() ? "" : node.outputs[0]);
  if (meta == ctx.aten().values.end()) return ctx.NodeError(node, "the result has no recorded shape");
  ops::Shape shape = meta->second.sizes, column = shape;
  column.push_back(1);
  std::vector<int> parts;
  for (int v : {re, im}) {
    if (ctx.graph().values[v].shape != shape) {
      ops::Attrs attrs;
      attrs.SetInts("shape", shape);
      KILN_ASSIGN_OR_RETURN(v, ctx.Emit(node, "expand", {v}, attrs));
    }
    KILN_ASSIGN_OR_RETURN(v, Reshaped(ctx, node, v, column));
    parts.push_back(v);
  }
  ops::Attrs attrs;
  attrs.SetInt("dim", static_cast<int64_t>(shape.size()));
  return EmitAndBind(ctx, node, "concat", parts, attrs);
}

// complex(real, imag).
absl::Status Complex(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto re, ctx.Tensor(node, "real"));
  KILN_ASSIGN_OR_RETURN(auto im, ctx.Tensor(node, "imag"));
  return Stack(ctx, node, re, im);
}

// polar(abs, angle) = abs * cos(angle) + i abs * sin(angle).
absl::Status Polar(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto abs, ctx.Tensor(node, "abs"));
  KILN_ASSIGN_OR_RETURN(auto angle, ctx.Tensor(node, "angle"));
  KILN_ASSIGN_OR_RETURN(auto cos, ctx.Emit(node, "cos", {angle}));
  KILN_ASSIGN_OR_RETURN(auto sin, ctx.Emit(node, "sin", {angle}));
  KILN_ASSIGN_OR_RETURN(auto re, ctx.Emit(node, "mul", {abs, cos}));
  KILN_ASSIGN_OR_RETURN(auto im, ctx.Emit(node, "mul", {abs, sin}));
  return Stack(ctx, node, re, im);
}

// _to_copy with a complex source or target.
absl::Status ComplexToCopy(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  const TorchDType from = ctx.DTypeOf(node, "self");
  const Argument* dtype = node.Find("dtype");
  const TorchDType to = dtype && dtype->kind == Argument::Kind::kScalarType ? static_cast<TorchDType>(dtype->i) : from;
  // complex64 <-> complex128: both are complex64 on the device.
  if (IsComplex(from) && IsComplex(to)) return ctx.Bind(node, x);
  const ops::Shape& shape = ctx.graph().values[x].shape;
  if (IsComplex(to)) {  // real -> complex: imaginary parts 0 (a real value's bools and ints are fp32 already)
    ops::Shape column = shape;
    column.push_back(1);
    KILN_ASSIGN_OR_RETURN(auto v, Reshaped(ctx, node, x, column));
    ops::Attrs attrs;
    std::vector<int64_t> pads(2 * column.size(), 0);
    pads.back() = 1;
    attrs.SetInts("pads", pads).SetInt("mode", 0).SetFloat("value", 0.0);
    return EmitAndBind(ctx, node, "pad", {v}, attrs);
  }
  // complex -> float32/float64: ATen keeps the real part (and warns that it drops the imaginary).
  if (to != TorchDType::kFloat && to != TorchDType::kDouble)
    return ctx.NodeError(node, absl::StrCat("conversion from ", TorchDTypeName(from), " to ", TorchDTypeName(to),
                                            " is not supported; complex values convert to float32 or float64 "
                                            "(their real part)"));
  ops::Attrs attrs;
  attrs.SetInt("dim", static_cast<int64_t>(shape.size()) - 1).SetInt("start", 0).SetInt("end", 1).SetInt("step", 1);
  KILN_ASSIGN_OR_RETURN(auto re, ctx.Emit(node, "slice", {x}, attrs));
  KILN_ASSIGN_OR_RETURN(re, Reshaped(ctx, node, re, ops::Shape(shape.begin(), shape.end() - 1)));
  return ctx.Bind(node, re);
}

// A real tensor or scalar operand as a value that broadcasts against complex ones: shape + [1] for
// a factor (the same for both parts), or + [2] with imaginary parts 0 for a term.
absl::StatusOr<int> RealOperand(LoweringContext& ctx, const AtenNode& node, const std::string& arg, bool term) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.TensorOrScalar(node, arg));
  ops::Shape column = ctx.graph().values[x].shape;
  column.push_back(1);
  KILN_ASSIGN_OR_RETURN(x, Reshaped(ctx, node, x, column));
  if (!term) return x;
  std::vector<int64_t> pads(2 * column.size(), 0);
  pads.back() = 1;
  ops::Attrs attrs;
  attrs.SetInts("pads", pads).SetInt("mode", 0).SetFloat("value", 0.0);
  return ctx.Emit(node, "pad", {x}, attrs);
}

bool IsComplexOperand(const LoweringContext& ctx, const AtenNode& node, const std::string& arg) {
  return IsComplex(ctx.DTypeOf(node, arg));
}

// Part `part` (0 real, 1 imaginary) of complex x, keeping the trailing dim (of size 1).
absl::StatusOr<int> Part(LoweringContext& ctx, const AtenNode& node, int x, int64_t part) {
  ops::Attrs attrs;
  attrs.SetInt("dim", static_cast<int64_t>(ctx.graph().values[x].shape.size()) - 1)
      .SetInt("start", part).SetInt("end", part + 1).SetInt("step", 1);
  return ctx.Emit(node, "slice", {x}, attrs);
}

// add/sub(self, other, alpha) with a complex operand: a real one is a complex with imaginary parts 0;
// alpha is real.
template <bool kSub>
absl::Status ComplexAddSub(LoweringContext& ctx, const AtenNode& node) {
  int operand[2];
  for (int i = 0; i < 2; ++i) {
    const char* arg = i == 0 ? "self" : "other";
    if (IsComplexOperand(ctx, node, arg)) {
      KILN_ASSIGN_OR_RETURN(operand[i], ctx.Tensor(node, arg));
    } else {
      KILN_ASSIGN_OR_RETURN(operand[i], RealOperand(ctx, node, arg, /*term=*/true));
    }
  }
  KILN_ASSIGN_OR_RETURN(auto alpha, ctx.Float(node, "alpha", 1.0));
  if (alpha != 1.0) {
    KILN_ASSIGN_OR_RETURN(operand[1], ctx.Emit(node, "mul", {operand[1], ctx.ScalarConstant(alpha)}));
  }
  return EmitAndBind(ctx, node, kSub ? "sub" : "add", {operand[0], operand[1]});
}

// mul(self, other): by a real factor, both parts; complex by complex, (a + ib)(c + id) =
// (ac - bd) + i(ad + bc).
absl::Status ComplexMul(LoweringContext& ctx, const AtenNode& node) {
  const bool complex_self = IsComplexOperand(ctx, node, "self"), complex_other = IsComplexOperand(ctx, node, "other");
  if (!complex_self || !complex_other) {
    const char* z_arg = complex_self ? "self" : "other";
    KILN_ASSIGN_OR_RETURN(auto z, ctx.Tensor(node, z_arg));
    KILN_ASSIGN_OR_RETURN(auto r, RealOperand(ctx, node, complex_self ? "other" : "self", /*term=*/false));
    return EmitAndBind(ctx, node, "mul", {z, r});
  }
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto y, ctx.Tensor(node, "other"));
  KILN_ASSIGN_OR_RETURN(auto a, Part(ctx, node, x, 0));
  KILN_ASSIGN_OR_RETURN(auto b, Part(ctx, node, x, 1));
  KILN_ASSIGN_OR_RETURN(auto c, Part(ctx, node, y, 0));
  KILN_ASSIGN_OR_RETURN(auto d, Part(ctx, node, y, 1));
  KILN_ASSIGN_OR_RETURN(auto ac, ctx.Emit(node, "mul", {a, c}));
  KILN_ASSIGN_OR_RETURN(auto bd, ctx.Emit(node, "mul", {b, d}));
  KILN_ASSIGN_OR_RETURN(auto ad, ctx.Emit(node, "mul", {a, d}));
  KILN_ASSIGN_OR_RETURN(auto bc, ctx.Emit(node, "mul", {b, c}));
  KILN_ASSIGN_OR_RETURN(auto re, ctx.Emit(node, "sub", {ac, bd}));
  KILN_ASSIGN_OR_RETURN(auto im, ctx.Emit(node, "add", {ad, bc}));
  ops::Attrs attrs;
  attrs.SetInt("dim", static_cast<int64_t>(ctx.graph().values[re].shape.size()) - 1);
  return EmitAndBind(ctx, node, "concat", {re, im}, attrs);
}

// neg: both parts.
absl::Status ComplexNeg(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto z, ctx.Tensor(node, "self"));
  return EmitAndBind(ctx, node, "neg", {z});
}

// abs = hypot(re, im) and angle = atan2(im, re): real results (a spectrogram's magnitude and phase).
template <bool kAngle>
absl::Status ComplexAbsOrAngle(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto z, ctx.Tensor(node, "self"));
  const ops::Shape shape = ctx.graph().values[z].shape;
  KILN_ASSIGN_OR_RETURN(auto re, Part(ctx, node, z, 0));
  KILN_ASSIGN_OR_RETURN(auto im, Part(ctx, node, z, 1));
  KILN_ASSIGN_OR_RETURN(auto v, kAngle ? ctx.Emit(node, "atan2", {im, re}) : ctx.Emit(node, "hypot", {re, im}));
  KILN_ASSIGN_OR_RETURN(v, Reshaped(ctx, node, v, ops::Shape(shape.begin(), shape.end() - 1)));
  return ctx.Bind(node, v);
}

}  // namespace

bool HasComplexValues(const LoweringContext& ctx, const AtenNode& node) {
  for (const auto& [arg, value] : TensorOperands(node))
    if (IsComplex(ValueDType(ctx, value))) return true;
  for (const std::string& out : node.outputs)
    if (!out.empty() && IsComplex(ValueDType(ctx, out))) return true;
  return false;
}

absl::Status CheckNoComplexValues(LoweringContext& ctx, const AtenNode& node) {
  auto reject = [&](const std::string& what) {
    std::vector<std::string> takers;
    for (const auto& [target, entry] : LoweringRules())
      if (entry.complex != ComplexSupport::kNone) takers.push_back(target);
    return ctx.NodeError(node, absl::StrCat(what, "; complex values are supported only by ", absl::StrJoin(takers, ", ")));
  };
  for (const auto& [arg, value] : TensorOperands(node))
    if (IsComplex(ValueDType(ctx, value)))
      return reject(absl::StrCat("complex-valued operand '", arg, "' (value '", value, "', ",
                                 TorchDTypeName(ValueDType(ctx, value)), ")"));
  for (const std::string& out : node.outputs)
    if (!out.empty() && IsComplex(ValueDType(ctx, out)))
      return reject(absl::StrCat("complex-valued result '", out, "' (", TorchDTypeName(ValueDType(ctx, out)), ")"));
  return absl::OkStatus();
}

absl::Status LowerOnLeadingDims(LoweringContext& ctx, const AtenNode& node, LoweringRule rule) {
  const std::string target = ShortTarget(node.target);
  auto op = std::find_if(LeadingDimsOps().begin(), LeadingDimsOps().end(),
                         [&](const LeadingDimsOp& o) { return target == o.target; });
  if (op == LeadingDimsOps().end()) return ctx.NodeError(node, "has no leading-dims rewrite for complex operands");
  int64_t complex_operands = 0, data_operands = 0, rank = 0;
  for (const auto& [arg, value] : TensorOperands(node)) {
    if (op->index_operand && arg == op->index_operand) {
      if (IsComplex(ValueDType(ctx, value)))
        return ctx.NodeError(node, absl::StrCat("operand '", arg, "' holds positions; it cannot be complex"));
      continue;
    }
    ++data_operands;
    if (!IsComplex(ValueDType(ctx, value))) continue;
    if (complex_operands++ == 0) rank = static_cast<int64_t>(ctx.aten().values.at(value).sizes.size());
  }
  if (complex_operands == 0) {  // a real node of a rule that also takes complex ones
    KILN_RETURN_IF_ERROR(CheckNoComplexValues(ctx, node));
    return rule(ctx, node);
  }
  if (complex_operands != data_operands)
    return ctx.NodeError(node, "mixes complex and real tensor operands; convert the real ones to complex first");
  for (const std::string& out : node.outputs)
    if (!out.empty() && !IsComplex(ValueDType(ctx, out)))
      return ctx.NodeError(node, absl::StrCat("has complex operands but a real result '", out, "'"));
  // The one position of a 0-d tensor is its whole value: on the device, both parts.
  if (rank == 0 && op->index_operand)
    return ctx.NodeError(node, "indexing a 0-d complex tensor is not supported");
  AtenNode rewritten = node;
  for (const auto& [name, kind] : op->args) {
    // By name, not by the binding: clang 14 cannot capture a structured binding in a lambda.
    const std::string& wanted = name;
    auto it = std::find_if(rewritten.inputs.begin(), rewritten.inputs.end(),
                           [&wanted](const NamedArgument& a) { return a.name == wanted; });
    if (it == rewritten.inputs.end() || it->arg.kind == Argument::Kind::kNone) continue;  // the default: dim 0, ...
    Argument& a = it->arg;
    if (kind == ArgKind::kDim || kind == ArgKind::kNewDim) {
      if (a.kind != Argument::Kind::kInt) return ctx.NodeError(node, absl::StrCat("argument '", name, "' must be an int"));
      KILN_ASSIGN_OR_RETURN(a.i, NormalizedDim(ctx, node, name, a.i, kind == ArgKind::kNewDim ? rank + 1 : rank));
      continue;
    }
    if (a.kind == Argument::Kind::kInt) {  // a one-element list given as an int (squeeze.dims([d]))
      a.kind = Argument::Kind::kInts;
      a.ints = {a.i};
    }
    if (a.kind != Argument::Kind::kInts)
      return ctx.NodeError(node, absl::StrCat("argument '", name, "' must be an int list"));
    switch (kind) {
      case ArgKind::kDims:
      case ArgKind::kPermutation:
        for (int64_t& d : a.ints) {
          KILN_ASSIGN_OR_RETURN(d, NormalizedDim(ctx, node, name, d, rank));
        }
        if (kind == ArgKind::kPermutation) a.ints.push_back(rank);
        break;
      case ArgKind::kSize: a.ints.push_back(2); break;
      case ArgKind::kRepeats: a.ints.push_back(1); break;
      case ArgKind::kPad: {
        // A nonzero pad value is a real number: its imaginary part would be 0, not the value.
        KILN_ASSIGN_OR_RETURN(auto value, ctx.Float(node, "value", 0.0));
        if (value != 0.0)
          return ctx.NodeError(node, absl::StrCat("padding a complex tensor with ", value,
                                                  " is not supported (only with 0)"));
        a.ints.insert(a.ints.begin(), {0, 0});
        break;
      }
      default: break;
    }
  }
  return rule(ctx, rewritten);
}

void AddComplexRules(RuleTable& rules) {
  for (const LeadingDimsOp& op : LeadingDimsOps()) {
    auto it = rules.find(op.target);
    if (it != rules.end()) it->second.complex = ComplexSupport::kLeadingDims;
  }
  // Rules of other families whose complex nodes lower here.
  for (const auto& [target, complex_rule] : std::vector<std::pair<const char*, LoweringRule>>{
           {"aten._to_copy.default", ComplexToCopy},
           {"aten.add.Tensor", ComplexAddSub<false>},
           {"aten.sub.Tensor", ComplexAddSub<true>},
           {"aten.mul.Tensor", ComplexMul},
           {"aten.neg.default", ComplexNeg},
           {"aten.abs.default", ComplexAbsOrAngle<false>},
           {"aten.angle.default", ComplexAbsOrAngle<true>},
       }) {
    RuleEntry& entry = rules.at(target);
    entry.complex = ComplexSupport::kComplexRule;
    entry.complex_rule = complex_rule;
  }
  Lowered(rules, "aten._conj.default", Conj, "mul (the imaginary parts by -1; none for a real input)");
  Lowered(rules, "aten._conj_physical.default", Conj, "mul (the imaginary parts by -1; none for a real input)");
  Lowered(rules, "aten.conj_physical.default", Conj, "mul (the imaginary parts by -1; none for a real input)");
  Resolved(rules, "aten.view_as_real.default", SameValue, "the input value itself (the device holds complex values so)");
  Resolved(rules, "aten.view_as_complex.default", SameValue,
           "the input value itself (the device holds complex values so)");
  Resolved(rules, "aten.resolve_conj.default", SameValue, "the input value itself (conjugation is physical)");
  Resolved(rules, "aten.resolve_neg.default", SameValue, "the input value itself (negation is physical)");
  Decomposed(rules, "aten.complex.default", Complex, "expand (when broadcasting), reshape, concat");
  Decomposed(rules, "aten.polar.default", Polar, "cos, sin, mul, expand (when broadcasting), reshape, concat");
  for (const char* target : {"aten._conj.default", "aten._conj_physical.default", "aten.conj_physical.default",
                             "aten.view_as_real.default", "aten.view_as_complex.default", "aten.resolve_conj.default",
                             "aten.resolve_neg.default", "aten.complex.default", "aten.polar.default"})
    rules.at(target).complex = ComplexSupport::kOwn;
}

}  // namespace kiln::compiler

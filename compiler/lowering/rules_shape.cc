// Lowering rules for ATen ops that only move or re-view data: view, permute, expand, slice, narrow,
// cat, copy, resize, and the no-ops (clone, alias, exact dtype conversions). On the tiled device a
// view is a real copy, so a view op and its _copy variant share one rule.
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "compiler/lowering/rules.h"
#include "ops/shape_util.h"

namespace kiln::compiler {
namespace {

int64_t NormalizeDim(int64_t dim, int64_t rank) { return dim < 0 ? dim + rank : dim; }

// Resolves a view size with at most one -1 against the input's element count.
absl::StatusOr<ops::Shape> ResolveSize(LoweringContext& ctx, const AtenNode& node, const ops::Shape& in,
                                       std::vector<int64_t> size) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < size.size(); ++i) {
    if (size[i] == -1) {
      if (infer >= 0) return ctx.NodeError(node, "view size has more than one -1");
      infer = static_cast<int64_t>(i);
    } else {
      known *= size[i];
    }
  }
  const int64_t numel = ops::NumElements(in);
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      return ctx.NodeError(node, absl::StrCat("cannot view ", ops::ShapeToString(in), " as ",
                                              ops::ShapeToString(size)));
    size[infer] = numel / known;
  }
  return size;
}

absl::Status Reshape(LoweringContext& ctx, const AtenNode& node, int x, ops::Shape shape) {
  if (shape == ctx.graph().values[x].shape) return ctx.Bind(node, x);  // no data moves
  ops::Attrs attrs;
  attrs.SetInts("shape", shape);
  return EmitAndBind(ctx, node, "reshape", {x}, attrs);
}

absl::Status View(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto size, ctx.Ints(node, node.Find("size") ? "size" : "shape"));
  KILN_ASSIGN_OR_RETURN(auto shape, ResolveSize(ctx, node, ctx.graph().values[x].shape, size));
  return Reshape(ctx, node, x, shape);
}

absl::Status Unsqueeze(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim"));
  ops::Shape shape = ctx.graph().values[x].shape;
  const int64_t d = NormalizeDim(dim, static_cast<int64_t>(shape.size()) + 1);
  if (d < 0 || d > static_cast<int64_t>(shape.size())) return ctx.NodeError(node, "dim out of range");
  shape.insert(shape.begin() + d, 1);
  return Reshape(ctx, node, x, shape);
}

absl::Status Squeeze(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  const ops::Shape& in = ctx.graph().values[x].shape;
  const int64_t rank = static_cast<int64_t>(in.size());
  std::vector<int64_t> dims;
  if (node.Find("dim") || node.Find("dims")) {
    KILN_ASSIGN_OR_RETURN(auto d, ctx.Ints(node, node.Find("dim") ? "dim" : "dims"));
    dims = d;
  } else {
    for (int64_t i = 0; i < rank; ++i) dims.push_back(i);
  }
  std::vector<bool> drop(rank, false);
  for (int64_t d : dims) {
    const int64_t n = NormalizeDim(d, rank);
    if (rank == 0) continue;
    if (n < 0 || n >= rank) return ctx.NodeError(node, "dim out of range");
    drop[n] = in[n] == 1;
  }
  ops::Shape shape;
  for (int64_t i = 0; i < rank; ++i)
    if (!drop[i]) shape.push_back(in[i]);
  return Reshape(ctx, node, x, shape);
}

absl::Status Permute(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dims, ctx.Ints(node, "dims"));
  ops::Attrs attrs;
  attrs.SetInts("dims", dims);
  return EmitAndBind(ctx, node, "permute", {x}, attrs);
}

absl::Status Transpose(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  const int64_t rank = static_cast<int64_t>(ctx.graph().values[x].shape.size());
  int64_t d0 = 0, d1 = 1;
  if (node.Find("dim0")) {
    KILN_ASSIGN_OR_RETURN(auto a, ctx.Int(node, "dim0"));
    KILN_ASSIGN_OR_RETURN(auto b, ctx.Int(node, "dim1"));
    d0 = NormalizeDim(a, rank);
    d1 = NormalizeDim(b, rank);
  }
  if (rank < 2) return ctx.Bind(node, x);  // t() of a vector is itself
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < rank; ++i) dims.push_back(i);
  if (d0 < 0 || d0 >= rank || d1 < 0 || d1 >= rank) return ctx.NodeError(node, "dim out of range");
  std::swap(dims[d0], dims[d1]);
  ops::Attrs attrs;
  attrs.SetInts("dims", dims);
  return EmitAndBind(ctx, node, "permute", {x}, attrs);
}

absl::Status Expand(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto size, ctx.Ints(node, "size"));
  const ops::Shape& in = ctx.graph().values[x].shape;
  // -1 keeps the input's size in that (right-aligned) position.
  const int64_t offset = static_cast<int64_t>(size.size()) - static_cast<int64_t>(in.size());
  for (int64_t i = 0; i < static_cast<int64_t>(size.size()); ++i)
    if (size[i] == -1) {
      if (i < offset) return ctx.NodeError(node, "-1 in a new leading dimension");
      size[i] = in[i - offset];
    }
  if (size == in) return ctx.Bind(node, x);
  ops::Attrs attrs;
  attrs.SetInts("shape", size);
  return EmitAndBind(ctx, node, "expand", {x}, attrs);
}

absl::Status Slice(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim", 0));
  KILN_ASSIGN_OR_RETURN(auto start, ctx.Int(node, "start", 0));
  KILN_ASSIGN_OR_RETURN(auto end, ctx.Int(node, "end", INT64_MAX));
  KILN_ASSIGN_OR_RETURN(auto step, ctx.Int(node, "step", 1));
  ops::Attrs attrs;
  attrs.SetInt("dim", dim).SetInt("start", start).SetInt("end", end).SetInt("step", step);
  return EmitAndBind(ctx, node, "slice", {x}, attrs);
}

// narrow_copy(x, dim, start, length): a slice; a negative start counts from the end.
absl::Status Narrow(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim"));
  KILN_ASSIGN_OR_RETURN(auto start, ctx.Int(node, "start"));
  KILN_ASSIGN_OR_RETURN(auto length, ctx.Int(node, "length"));
  const ops::Shape& in = ctx.graph().values[x].shape;
  int64_t d;
  if (std::string err = ops::NormalizeDim(dim, static_cast<int64_t>(in.size()), &d); !err.empty())
    return ctx.NodeError(node, err);
  const int64_t begin = start < 0 ? start + in[d] : start;
  if (begin < 0 || length < 0 || begin + length > in[d])
    return ctx.NodeError(node, absl::StrCat("start ", start, " and length ", length, " are out of range for dim ",
                                            dim, " of ", ops::ShapeToString(in)));
  ops::Attrs attrs;
  attrs.SetInt("dim", d).SetInt("start", begin).SetInt("end", begin + length).SetInt("step", 1);
  return EmitAndBind(ctx, node, "slice", {x}, attrs);
}

// resize(x, size): the functional form of resize_. The same element count is a reshape; fewer keep
// the first elements in row-major order (the storage a contiguous tensor keeps). More would expose
// uninitialized memory, which has no value to compute.
absl::Status Resize(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto size, ctx.Ints(node, "size"));
  if (std::string err = ops::CheckShape(size); !err.empty()) return ctx.NodeError(node, "size " + err);
  const ops::Shape& in = ctx.graph().values[x].shape;
  const int64_t have = ops::NumElements(in), want = ops::NumElements(size);
  if (want > have)
    return ctx.NodeError(node, absl::StrCat("resizing ", ops::ShapeToString(in), " to ", ops::ShapeToString(size),
                                            " adds ", want - have, " uninitialized elements; not supported"));
  if (want == have) return Reshape(ctx, node, x, size);
  ops::Attrs flat, first;
  flat.SetInts("shape", {have});
  KILN_ASSIGN_OR_RETURN(auto v, ctx.Emit(node, "reshape", {x}, flat));
  first.SetInt("dim", 0).SetInt("start", 0).SetInt("end", want).SetInt("step", 1);
  KILN_ASSIGN_OR_RETURN(v, ctx.Emit(node, "slice", {v}, first));
  return Reshape(ctx, node, v, size);
}

absl::Status Cat(LoweringContext& ctx, const AtenNode& node) {
  const Argument* tensors = node.Find("tensors");
  if (!tensors || tensors->kind != Argument::Kind::kTensors)
    return ctx.NodeError(node, "argument 'tensors' must be a tensor list");
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim", 0));
  std::vector<int> inputs;
  for (const std::string& name : tensors->tensors) {
    KILN_ASSIGN_OR_RETURN(auto v, ctx.Value(node, name));
    // torch.cat skips legacy empty [0] tensors.
    if (ctx.graph().values[v].shape == ops::Shape{0}) continue;
    inputs.push_back(v);
  }
  if (inputs.size() == 1) return ctx.Bind(node, inputs[0]);
  ops::Attrs attrs;
  attrs.SetInt("dim", dim);
  return EmitAndBind(ctx, node, "concat", inputs, attrs);
}

// Ops that produce their input unchanged on this device (no aliasing semantics).
absl::Status Identity(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  return ctx.Bind(node, x);
}

bool IsExactInteger(TorchDType t) { return t == TorchDType::kBool || t == TorchDType::kInt || t == TorchDType::kLong; }

// The integer range of a dtype narrower than int32 (bool counts as [0, 1]); nullopt for the others.
std::optional<std::pair<int64_t, int64_t>> NarrowIntegerRange(TorchDType t) {
  switch (t) {
    case TorchDType::kBool: return std::pair<int64_t, int64_t>{0, 1};
    case TorchDType::kByte: return std::pair<int64_t, int64_t>{0, 255};
    case TorchDType::kChar: return std::pair<int64_t, int64_t>{-128, 127};
    case TorchDType::kShort: return std::pair<int64_t, int64_t>{-32768, 32767};
    default: return std::nullopt;
  }
}

// _to_copy changes dtype (device and layout are the compiler's). The device holds every dtype as
// fp32 values, so a conversion that keeps every value (to float32, or bool/integers to wider
// integers, or to float64) is the value itself, x.to(bool) is x != 0 and float to int32/int64 is
// trunc(x); to float16/bfloat16 rounds to what that type holds. To int8, uint8 and int16 (held as
// fp32 integers like the others) the value wraps around as ATen's conversion does on the host (the
// low bits of the truncated int32): lo + (trunc(x) - lo) mod 2^bits.
absl::Status ToCopy(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  const TorchDType from = ctx.DTypeOf(node, "self");
  const Argument* dtype = node.Find("dtype");
  if (!dtype || dtype->kind != Argument::Kind::kScalarType) return ctx.Bind(node, x);
  const auto to = static_cast<TorchDType>(dtype->i);
  const auto from_range = NarrowIntegerRange(from), to_range = NarrowIntegerRange(to);
  const bool widening = from_range && (IsExactInteger(to) || (to_range && to_range->first <= from_range->first &&
                                                                 from_range->second <= to_range->second));
  if (to == from || to == TorchDType::kFloat || to == TorchDType::kDouble || widening ||
      (IsExactInteger(from) && IsExactInteger(to)))
    return ctx.Bind(node, x);
  if (to == TorchDType::kBool) {
    KILN_ASSIGN_OR_RETURN(auto zero, ctx.Emit(node, "logical_not", {x}));
    return EmitAndBind(ctx, node, "logical_not", {zero});
  }
  // Float to integer truncates toward zero, as C++ and torch convert. The result stays an fp32
  // value (exact below 2^24), like every integer on the device.
  const bool float_from = from == TorchDType::kFloat || from == TorchDType::kDouble || from == TorchDType::kHalf ||
                          from == TorchDType::kBFloat16;
  if (float_from && (to == TorchDType::kLong || to == TorchDType::kInt)) return EmitAndBind(ctx, node, "trunc", {x});
  if (to_range) {
    int whole = x;
    if (float_from) {
      KILN_ASSIGN_OR_RETURN(whole, ctx.Emit(node, "trunc", {x}));
    }
    const int lo = ctx.ScalarConstant(static_cast<double>(to_range->first));
    KILN_ASSIGN_OR_RETURN(auto offset, ctx.Emit(node, "sub", {whole, lo}));
    const double span = static_cast<double>(to_range->second - to_range->first + 1);
    KILN_ASSIGN_OR_RETURN(auto wrapped, ctx.Emit(node, "remainder", {offset, ctx.ScalarConstant(span)}));
    return EmitAndBind(ctx, node, "add", {wrapped, lo});
  }
  // To float16 / bfloat16: the value that type holds, still fp32 on the device (ops/convert.cc).
  if (to == TorchDType::kHalf) return EmitAndBind(ctx, node, "round_to_f16", {x});
  if (to == TorchDType::kBFloat16) return EmitAndBind(ctx, node, "round_to_bf16", {x});
  return ctx.NodeError(node, absl::StrCat("conversion from ", TorchDTypeName(from), " to ", TorchDTypeName(to),
                                          " is not supported yet"));
}

// copy(self, src): src broadcast to self's shape (the device holds both as fp32).
absl::Status Copy(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto self, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto src, ctx.Tensor(node, "src"));
  const TorchDType to = ctx.DTypeOf(node, "self"), from = ctx.DTypeOf(node, "src");
  if (to != from && to != TorchDType::kFloat && !(IsExactInteger(from) && IsExactInteger(to)))
    return ctx.NodeError(node, absl::StrCat("copying ", TorchDTypeName(from), " into ", TorchDTypeName(to),
                                            " is not supported yet"));
  const ops::Shape& shape = ctx.graph().values[self].shape;
  if (ctx.graph().values[src].shape == shape) return ctx.Bind(node, src);
  ops::Attrs attrs;
  attrs.SetInts("shape", shape);
  return EmitAndBind(ctx, node, "expand", {src}, attrs);
}

// constant_pad_nd, reflection_pad{1,2,3}d and replication_pad{2,3}d: ATen lists (before, after) pairs
// from the last dim backwards; the device op takes one pair per dim from the first.
template <int64_t kMode>
absl::Status Pad(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto pad, ctx.Ints(node, kMode == 0 ? "pad" : "padding"));
  const size_t rank = ctx.graph().values[x].shape.size();
  if (pad.size() % 2 != 0 || pad.size() > 2 * rank)
    return ctx.NodeError(node, absl::StrCat("padding ", ops::ShapeToString(pad), " must be pairs for at most the ",
                                            rank, " dims of the input"));
  std::vector<int64_t> pads(2 * rank, 0);
  for (size_t i = 0; i < pad.size() / 2; ++i) {
    pads[2 * (rank - 1 - i)] = pad[2 * i];
    pads[2 * (rank - 1 - i) + 1] = pad[2 * i + 1];
  }
  ops::Attrs attrs;
  attrs.SetInts("pads", pads).SetInt("mode", kMode);
  if (kMode == 0) {
    KILN_ASSIGN_OR_RETURN(auto value, ctx.Float(node, "value", 0.0));
    attrs.SetFloat("value", value);
  }
  return EmitAndBind(ctx, node, "pad", {x}, attrs);
}

}  // namespace

absl::Status EmitAndBind(LoweringContext& ctx, const AtenNode& node, const std::string& op,
                         std::vector<int> inputs, ops::Attrs attrs) {
  KILN_ASSIGN_OR_RETURN(auto y, ctx.Emit(node, op, std::move(inputs), std::move(attrs)));
  return ctx.Bind(node, y);
}

absl::StatusOr<int> Reshaped(LoweringContext& ctx, const AtenNode& node, int x, const ops::Shape& shape) {
  if (ctx.graph().values[x].shape == shape) return x;
  ops::Attrs attrs;
  attrs.SetInts("shape", shape);
  return ctx.Emit(node, "reshape", {x}, attrs);
}

void AddShapeRules(RuleTable& rules) {
  Lowered(rules, "aten.view.default", View, "reshape (none when the shape is unchanged)");
  Lowered(rules, "aten._unsafe_view.default", View, "reshape (none when the shape is unchanged)");
  Lowered(rules, "aten.reshape.default", View, "reshape (none when the shape is unchanged)");
  Lowered(rules, "aten.unsqueeze.default", Unsqueeze, "reshape");
  Lowered(rules, "aten.squeeze.dim", Squeeze, "reshape (none when no dim is dropped)");
  Lowered(rules, "aten.squeeze.dims", Squeeze, "reshape (none when no dim is dropped)");
  Lowered(rules, "aten.squeeze.default", Squeeze, "reshape (none when no dim is dropped)");
  Lowered(rules, "aten.view_copy.default", View, "reshape (none when the shape is unchanged)");
  Lowered(rules, "aten.permute.default", Permute, "permute");
  Lowered(rules, "aten.permute_copy.default", Permute, "permute");
  Lowered(rules, "aten.t.default", Transpose, "permute");
  Lowered(rules, "aten.transpose.int", Transpose, "permute");
  Lowered(rules, "aten.expand.default", Expand, "expand");
  Lowered(rules, "aten.slice.Tensor", Slice, "slice");
  Lowered(rules, "aten.narrow_copy.default", Narrow, "slice");
  Decomposed(rules, "aten.resize.default", Resize,
             "reshape (same element count); reshape, slice, reshape (fewer: the first elements)");
  Lowered(rules, "aten.cat.default", Cat, "concat");
  Lowered(rules, "aten.constant_pad_nd.default", Pad<0>, "pad");
  for (const char* target : {"aten.reflection_pad1d.default", "aten.reflection_pad2d.default",
                             "aten.reflection_pad3d.default"})
    Lowered(rules, target, Pad<1>, "pad (reflect)");
  for (const char* target : {"aten.replication_pad2d.default", "aten.replication_pad3d.default"})
    Lowered(rules, target, Pad<2>, "pad (replicate)");
  Resolved(rules, "aten.clone.default", Identity, "the input value itself");
  Resolved(rules, "aten.alias.default", Identity, "the input value itself");
  Resolved(rules, "aten._to_copy.default", ToCopy,
           "the input value when every value converts exactly; x != 0 (logical_not twice) to bool; trunc from "
           "float to integer; to int8/uint8/int16 wrapped around as ATen converts (trunc, sub, remainder, add)");
  Lowered(rules, "aten.copy.default", Copy, "expand (none when the shapes match)");
  Resolved(rules, "aten.contiguous.default", Identity, "the input value itself");
}

}  // namespace kiln::compiler

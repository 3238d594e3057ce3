// Lowering rules for ATen ops that pick elements by index or position: gather, index_select,
// embedding and single-tensor indexing (the device ops gather and take), select, split and repeat
// (built from slice, reshape and expand), and cumsum.
#include "absl/strings/str_cat.h"
#include "compiler/lowering/rules.h"
#include "ops/shape_util.h"

namespace kiln::compiler {
namespace {

// Index tensors are fp32 on the device: exact integers up to 2^24, which bounds the dims indexed.
absl::Status CheckIndexable(LoweringContext& ctx, const AtenNode& node, int x, int64_t dim) {
  const ops::Shape& shape = ctx.graph().values[x].shape;
  int64_t d;
  if (std::string err = ops::NormalizeDim(dim, std::max<int64_t>(shape.size(), 1), &d); !err.empty())
    return ctx.NodeError(node, err);
  if (!shape.empty() && shape[d] > (int64_t{1} << 24))
    return ctx.NodeError(node, absl::StrCat("dim ", dim, " of ", ops::ShapeToString(shape),
                                            " is larger than 2^24, beyond the indices fp32 holds exactly"));
  return absl::OkStatus();
}

absl::Status Gather(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim"));
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Tensor(node, "index"));
  KILN_RETURN_IF_ERROR(CheckIndexable(ctx, node, x, dim));
  ops::Attrs attrs;
  attrs.SetInt("dim", dim);
  return EmitAndBind(ctx, node, "gather", {x, index}, attrs);
}

absl::Status Take(LoweringContext& ctx, const AtenNode& node, int x, int index, int64_t dim) {
  KILN_RETURN_IF_ERROR(CheckIndexable(ctx, node, x, dim));
  ops::Attrs attrs;
  attrs.SetInt("dim", dim);
  return EmitAndBind(ctx, node, "take", {x, index}, attrs);
}

absl::Status IndexSelect(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim"));
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Tensor(node, "index"));
  return Take(ctx, node, x, index, dim);
}

// embedding(weight, indices): the rows of weight, one per index (padding_idx only affects the
// gradient).
absl::Status Embedding(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto weight, ctx.Tensor(node, "weight"));
  KILN_ASSIGN_OR_RETURN(auto indices, ctx.Tensor(node, "indices"));
  return Take(ctx, node, weight, indices, 0);
}

// x[..., idx, ...] with one index tensor (the others None, i.e. full slices) is take along that dim.
// Several index tensors broadcast against each other into one gather; not supported yet.
absl::Status Index(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  const Argument* indices = node.Find("indices");
  if (!indices || (indices->kind != Argument::Kind::kOptionalTensors && indices->kind != Argument::Kind::kTensors))
    return ctx.NodeError(node, "argument 'indices' must be a tensor list");
  int64_t dim = -1;
  int count = 0;
  for (size_t i = 0; i < indices->tensors.size(); ++i)
    if (!indices->tensors[i].empty()) {
      dim = static_cast<int64_t>(i);
      ++count;
    }
  if (count != 1)
    return ctx.NodeError(node, absl::StrCat("indexing with ", count,
                                            " index tensors is not supported yet (only one)"));
  const std::string& name = indices->tensors[dim];
  auto meta = ctx.aten().values.find(name);
  if (meta != ctx.aten().values.end() &&
      (meta->second.dtype == TorchDType::kBool || meta->second.dtype == TorchDType::kByte))
    return ctx.NodeError(node, absl::StrCat("indexing with the boolean mask '", name,
                                            "' has a data-dependent output shape"));
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Value(node, name));
  return Take(ctx, node, x, index, dim);
}

// select(x, dim, i) is a one-element slice with the dim dropped.
absl::Status Select(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim"));
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Int(node, "index"));
  ops::Shape shape = ctx.graph().values[x].shape;
  int64_t d;
  if (std::string err = ops::NormalizeDim(dim, static_cast<int64_t>(shape.size()), &d); !err.empty())
    return ctx.NodeError(node, err);
  const int64_t size = shape[d];
  if (index < -size || index >= size)
    return ctx.NodeError(node, absl::StrCat("index ", index, " is out of range for dim ", dim, " of ",
                                            ops::ShapeToString(shape)));
  const int64_t i = index < 0 ? index + size : index;
  ops::Attrs attrs;
  attrs.SetInt("dim", d).SetInt("start", i).SetInt("end", i + 1).SetInt("step", 1);
  KILN_ASSIGN_OR_RETURN(auto slice, ctx.Emit(node, "slice", {x}, attrs));
  shape.erase(shape.begin() + d);
  ops::Attrs reshape;
  reshape.SetInts("shape", shape);
  return EmitAndBind(ctx, node, "reshape", {slice}, reshape);
}

// split_with_sizes: one slice per output, each bound to its own output (the getitems of the node).
absl::Status SplitWithSizes(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto sizes, ctx.Ints(node, "split_sizes"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim", 0));
  const ops::Shape& shape = ctx.graph().values[x].shape;
  int64_t d;
  if (std::string err = ops::NormalizeDim(dim, static_cast<int64_t>(shape.size()), &d); !err.empty())
    return ctx.NodeError(node, err);
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) return ctx.NodeError(node, absl::StrCat("split size ", s, " is negative"));
    total += s;
  }
  if (total != shape[d])
    return ctx.NodeError(node, absl::StrCat("split sizes ", ops::ShapeToString(sizes), " sum to ", total,
                                            ", not dim ", dim, " of ", ops::ShapeToString(shape)));
  if (node.outputs.size() != sizes.size())
    return ctx.NodeError(node, absl::StrCat("has ", node.outputs.size(), " outputs for ", sizes.size(), " split sizes"));
  int64_t start = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const int64_t end = start + sizes[i];
    // An output the graph does not use has no name; nothing is emitted for it.
    if (!node.outputs[i].empty()) {
      ops::Attrs attrs;
      attrs.SetInt("dim", d).SetInt("start", start).SetInt("end", end).SetInt("step", 1);
      absl::StatusOr<int> part = ctx.graph().AddNode("slice", {x}, attrs, node.name, node.outputs[i]);
      if (!part.ok()) return ctx.NodeError(node, std::string(part.status().message()));
      KILN_RETURN_IF_ERROR(ctx.Bind(node, *part, i));
    }
    start = end;
  }
  return absl::OkStatus();
}

// repeat(x, r): x viewed as [1, x0, 1, x1, ...] (leading dims padded to len(r)), expanded to
// [r0, x0, r1, x1, ...], then merged to [r0*x0, r1*x1, ...]: tiles, not interleaved copies.
absl::Status Repeat(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto repeats, ctx.Ints(node, "repeats"));
  ops::Shape in = ctx.graph().values[x].shape;
  if (repeats.size() < in.size())
    return ctx.NodeError(node, absl::StrCat("repeats ", ops::ShapeToString(repeats), " has fewer dims than the input ",
                                            ops::ShapeToString(in)));
  for (int64_t r : repeats)
    if (r < 0) return ctx.NodeError(node, absl::StrCat("repeats ", ops::ShapeToString(repeats), " has a negative entry"));
  in.insert(in.begin(), repeats.size() - in.size(), 1);
  ops::Shape split, expanded, out;
  for (size_t i = 0; i < in.size(); ++i) {
    split.insert(split.end(), {1, in[i]});
    expanded.insert(expanded.end(), {repeats[i], in[i]});
    out.push_back(repeats[i] * in[i]);
  }
  if (std::string err = ops::CheckShape(expanded); !err.empty()) return ctx.NodeError(node, "result " + err);
  ops::Attrs a1, a2, a3;
  a1.SetInts("shape", split);
  a2.SetInts("shape", expanded);
  a3.SetInts("shape", out);
  KILN_ASSIGN_OR_RETURN(auto v1, ctx.Emit(node, "reshape", {x}, a1));
  KILN_ASSIGN_OR_RETURN(auto v2, ctx.Emit(node, "expand", {v1}, a2));
  return EmitAndBind(ctx, node, "reshape", {v2}, a3);
}

absl::Status Cumsum(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim"));
  // A float input summed as an integer dtype is truncated first; the device has no truncation yet.
  const Argument* dtype = node.Find("dtype");
  if (dtype && dtype->kind == Argument::Kind::kScalarType) {
    const auto to = static_cast<TorchDType>(dtype->i);
    const TorchDType from = ctx.DTypeOf(node, "self");
    const bool int_to = to == TorchDType::kLong || to == TorchDType::kInt;
    const bool int_from = from == TorchDType::kBool || from == TorchDType::kLong || from == TorchDType::kInt;
    if (to != TorchDType::kFloat && !(int_to && int_from))
      return ctx.NodeError(node, absl::StrCat("cumsum of ", TorchDTypeName(from), " as ", TorchDTypeName(to),
                                              " is not supported yet"));
  }
  ops::Attrs attrs;
  attrs.SetInt("dim", dim);
  return EmitAndBind(ctx, node, "cumsum", {x}, attrs);
}

}  // namespace

void AddIndexingRules(RuleTable& rules) {
  Lowered(rules, "aten.gather.default", Gather, "gather");
  Lowered(rules, "aten.index_select.default", IndexSelect, "take");
  Lowered(rules, "aten.embedding.default", Embedding, "take");
  Lowered(rules, "aten.index.Tensor", Index, "take (one index tensor)");
  Decomposed(rules, "aten.select.int", Select, "slice, reshape");
  Decomposed(rules, "aten.split_with_sizes.default", SplitWithSizes, "slice (one per output)");
  Decomposed(rules, "aten.repeat.default", Repeat, "reshape, expand, reshape");
  Lowered(rules, "aten.cumsum.default", Cumsum, "cumsum");
}

}  // namespace kiln::compiler

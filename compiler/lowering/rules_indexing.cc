// Lowering rules for ATen ops that pick or place elements by index or position: gather,
// index_select, embedding, tensor indexing, scatter, index_put, masked_scatter, sort and topk (the
// device ops gather, take, scatter, argsort); select, split and repeat (slice, reshape, expand);
// static views and scatters (as_strided, diagonal, flip, slice/select_scatter: takes through
// compile-time index maps); and cumsum.
#include <algorithm>
#include <limits>
#include <map>
#include <optional>

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

// Index tensors on adjacent dims (None entries are full slices), as index and index_put take them:
// the first indexed dim, the count, and the device values of the index tensors.
struct AdjacentIndices {
  int64_t first = 0;
  std::vector<int> values;
};

absl::StatusOr<AdjacentIndices> ReadIndices(LoweringContext& ctx, const AtenNode& node, const ops::Shape& in) {
  const Argument* indices = node.Find("indices");
  if (!indices || (indices->kind != Argument::Kind::kOptionalTensors && indices->kind != Argument::Kind::kTensors))
    return ctx.NodeError(node, "argument 'indices' must be a tensor list");
  std::vector<int64_t> dims;
  for (size_t i = 0; i < indices->tensors.size(); ++i)
    if (!indices->tensors[i].empty()) dims.push_back(static_cast<int64_t>(i));
  if (dims.empty()) return ctx.NodeError(node, "has no index tensor");
  if (dims.back() - dims.front() + 1 != static_cast<int64_t>(dims.size()))
    return ctx.NodeError(node, absl::StrCat("index tensors on the non-adjacent dims ", ops::ShapeToString(dims),
                                            " are not supported yet"));
  if (dims.back() >= static_cast<int64_t>(in.size()))
    return ctx.NodeError(node, absl::StrCat("indexes ", dims.back() + 1, " dims of ", ops::ShapeToString(in)));
  AdjacentIndices out;
  out.first = dims.front();
  for (int64_t d : dims) {
    const std::string& name = indices->tensors[d];
    auto meta = ctx.aten().values.find(name);
    if (meta != ctx.aten().values.end() &&
        (meta->second.dtype == TorchDType::kBool || meta->second.dtype == TorchDType::kByte))
      return ctx.NodeError(node, absl::StrCat("indexing with the boolean mask '", name,
                                              "' has a data-dependent output shape"));
    KILN_ASSIGN_OR_RETURN(auto v, ctx.Value(node, name));
    out.values.push_back(v);
  }
  return out;
}

// The row-major position ((i0 * s1 + i1) * s2 + i2) ... of the index tensors (broadcast against each
// other) in the merged indexed dims, each index normalized into [0, size); NaN where an index is
// outside [-size, size), so take reads NaN there and scatter skips it.
absl::StatusOr<int> CombinedPosition(LoweringContext& ctx, const AtenNode& node, const ops::Shape& in,
                                     const AdjacentIndices& idx) {
  std::optional<int> position, bad;
  for (size_t j = 0; j < idx.values.size(); ++j) {
    const int i = idx.values[j];
    const double size = static_cast<double>(in[idx.first + j]);
    const int size_c = ctx.ScalarConstant(size);
    KILN_ASSIGN_OR_RETURN(auto negative, ctx.Emit(node, "lt", {i, ctx.ScalarConstant(0.0)}));
    KILN_ASSIGN_OR_RETURN(auto wrapped, ctx.Emit(node, "add", {i, size_c}));
    KILN_ASSIGN_OR_RETURN(auto normalized, ctx.Emit(node, "where", {negative, wrapped, i}));
    KILN_ASSIGN_OR_RETURN(auto too_small, ctx.Emit(node, "lt", {i, ctx.ScalarConstant(-size)}));
    KILN_ASSIGN_OR_RETURN(auto too_large, ctx.Emit(node, "le", {size_c, i}));
    KILN_ASSIGN_OR_RETURN(auto out_of_range, ctx.Emit(node, "logical_or", {too_small, too_large}));
    if (!position) {
      position = normalized;
      bad = out_of_range;
      continue;
    }
    KILN_ASSIGN_OR_RETURN(auto scaled, ctx.Emit(node, "mul", {*position, size_c}));
    KILN_ASSIGN_OR_RETURN(position, ctx.Emit(node, "add", {scaled, normalized}));
    KILN_ASSIGN_OR_RETURN(bad, ctx.Emit(node, "logical_or", {*bad, out_of_range}));
  }
  return ctx.Emit(node, "where", {*bad, ctx.ScalarConstant(std::numeric_limits<double>::quiet_NaN()), *position});
}

// `in` with the indexed dims [first, first + count) merged into one.
ops::Shape MergeIndexedDims(const ops::Shape& in, const AdjacentIndices& idx) {
  const int64_t end = idx.first + static_cast<int64_t>(idx.values.size());
  ops::Shape merged(in.begin(), in.begin() + idx.first);
  merged.push_back(ops::DimProduct(in, idx.first, end));
  merged.insert(merged.end(), in.begin() + end, in.end());
  return merged;
}

absl::StatusOr<int> Reshaped(LoweringContext& ctx, const AtenNode& node, int x, const ops::Shape& shape) {
  if (ctx.graph().values[x].shape == shape) return x;
  ops::Attrs attrs;
  attrs.SetInts("shape", shape);
  return ctx.Emit(node, "reshape", {x}, attrs);
}

// x[..., i0, i1, ..., ...]: one index tensor is a take along its dim; several (on adjacent dims) are
// a take at their combined position in the merged dims. Index tensors on non-adjacent dims move the
// result's dims around in ATen; not supported yet.
absl::Status Index(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  const ops::Shape in = ctx.graph().values[x].shape;
  KILN_ASSIGN_OR_RETURN(auto idx, ReadIndices(ctx, node, in));
  if (idx.values.size() == 1) return Take(ctx, node, x, idx.values[0], idx.first);
  KILN_ASSIGN_OR_RETURN(auto position, CombinedPosition(ctx, node, in, idx));
  KILN_ASSIGN_OR_RETURN(auto flat, Reshaped(ctx, node, x, MergeIndexedDims(in, idx)));
  return Take(ctx, node, flat, position, idx.first);
}

// index_put(self, indices, values, accumulate): the inverse of Index, as one scatter along the merged
// indexed dims; values broadcast to the shape x[indices] has.
absl::Status IndexPut(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto values, ctx.Tensor(node, "values"));
  KILN_ASSIGN_OR_RETURN(auto accumulate, ctx.Bool(node, "accumulate", false));
  const ops::Shape in = ctx.graph().values[x].shape;
  KILN_ASSIGN_OR_RETURN(auto idx, ReadIndices(ctx, node, in));
  KILN_ASSIGN_OR_RETURN(auto position, CombinedPosition(ctx, node, in, idx));
  const ops::Shape merged = MergeIndexedDims(in, idx);
  if (merged[idx.first] > (int64_t{1} << 24))
    return ctx.NodeError(node, "indexes more than 2^24 positions, beyond what fp32 indices hold exactly");
  // The broadcast index shape B, flattened: the scatter's index and src are merged-shaped with B
  // (flattened) in place of the indexed dims.
  const ops::Shape b = ctx.graph().values[position].shape;
  const int64_t nb = ops::NumElements(b);
  const int64_t first = idx.first, rest = static_cast<int64_t>(merged.size()) - first - 1;
  ops::Shape result(in.begin(), in.begin() + first);  // x[indices]'s shape, which values broadcast to
  result.insert(result.end(), b.begin(), b.end());
  result.insert(result.end(), merged.end() - rest, merged.end());
  ops::Shape target(merged);
  target[first] = nb;
  ops::Shape column(merged.size(), 1);
  column[first] = nb;
  KILN_ASSIGN_OR_RETURN(auto pos_col, Reshaped(ctx, node, position, column));
  ops::Attrs expand;
  expand.SetInts("shape", target);
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Emit(node, "expand", {pos_col}, expand));
  ops::Shape vshape = ctx.graph().values[values].shape;
  int src = values;
  if (vshape != result) {
    ops::Attrs to_result;
    to_result.SetInts("shape", result);
    vshape.insert(vshape.begin(), result.size() > vshape.size() ? result.size() - vshape.size() : 0, 1);
    KILN_ASSIGN_OR_RETURN(src, Reshaped(ctx, node, values, vshape));
    KILN_ASSIGN_OR_RETURN(src, ctx.Emit(node, "expand", {src}, to_result));
  }
  KILN_ASSIGN_OR_RETURN(src, Reshaped(ctx, node, src, target));
  KILN_ASSIGN_OR_RETURN(auto flat, Reshaped(ctx, node, x, merged));
  ops::Attrs attrs;
  attrs.SetInt("dim", first).SetInt("reduce", accumulate ? 1 : 0).SetInt("include_self", 1);
  KILN_ASSIGN_OR_RETURN(auto scattered, ctx.Emit(node, "scatter", {flat, index, src}, attrs));
  KILN_ASSIGN_OR_RETURN(auto back, Reshaped(ctx, node, scattered, in));
  return ctx.Bind(node, back);
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

// ---- Views and scatters with static positions: one take of the flattened input(s) through a
// constant index map computed here. ----

constexpr int64_t kMaxIndexMap = int64_t{1} << 24;  // fp32 indices are exact below 2^24

// Flattens `x` to rank 1 (free when it already is).
absl::StatusOr<int> Flatten(LoweringContext& ctx, const AtenNode& node, int x) {
  const ops::Shape& shape = ctx.graph().values[x].shape;
  if (shape.size() == 1) return x;
  ops::Attrs attrs;
  attrs.SetInts("shape", {ops::NumElements(shape)});
  return ctx.Emit(node, "reshape", {x}, attrs);
}

// Binds take(flat, index) with `index` of `shape`, each entry a position in `flat` of `size`.
absl::Status BindIndexMap(LoweringContext& ctx, const AtenNode& node, int flat, int64_t size, ops::Shape shape,
                          std::vector<float> index) {
  if (size > kMaxIndexMap || static_cast<int64_t>(index.size()) > kMaxIndexMap)
    return ctx.NodeError(node, "needs an index map beyond 2^24 elements, which fp32 indices cannot address exactly");
  ops::Attrs attrs;
  if (index.empty()) {  // an empty result: no index map (a constant holds at least one element)
    attrs.SetInts("shape", shape);
    return EmitAndBind(ctx, node, "expand", {ctx.ScalarConstant(0.0)}, attrs);
  }
  const int map = ctx.graph().AddConstant(node.name + "_index", std::move(shape), std::move(index));
  attrs.SetInt("dim", 0);
  return EmitAndBind(ctx, node, "take", {flat, map}, attrs);
}

// Calls f(position, flat row-major index) for every position of `shape`.
template <typename F>
void ForEachPosition(const ops::Shape& shape, F&& f) {
  const int64_t n = ops::NumElements(shape);
  std::vector<int64_t> pos(shape.size(), 0);
  for (int64_t e = 0; e < n; ++e) {
    f(pos, e);
    for (size_t d = pos.size(); d-- > 0;) {
      if (++pos[d] < shape[d]) break;
      pos[d] = 0;
    }
  }
}

// The input must be its own contiguous storage for storage-relative strides to mean what they say.
absl::Status RequireContiguous(LoweringContext& ctx, const AtenNode& node, const std::string& arg) {
  const Argument* a = node.Find(arg);
  if (!a || a->kind != Argument::Kind::kTensor) return absl::OkStatus();
  auto meta = ctx.aten().values.find(a->tensor);
  if (meta == ctx.aten().values.end() || meta->second.strides.empty()) return absl::OkStatus();
  const std::vector<int64_t> contiguous = ops::ContiguousStrides(meta->second.sizes);
  for (size_t d = 0; d < contiguous.size() && d < meta->second.strides.size(); ++d)
    if (meta->second.sizes[d] > 1 && meta->second.strides[d] != contiguous[d])
      return ctx.NodeError(node, absl::StrCat("'", a->tensor, "' has strides ",
                                              ops::ShapeToString(meta->second.strides),
                                              "; only views of contiguous tensors are supported yet"));
  if (meta->second.storage_offset != 0)
    return ctx.NodeError(node, absl::StrCat("'", a->tensor, "' starts at storage offset ",
                                            meta->second.storage_offset, "; not supported yet"));
  return absl::OkStatus();
}

absl::Status AsStrided(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto size, ctx.Ints(node, "size"));
  KILN_ASSIGN_OR_RETURN(auto stride, ctx.Ints(node, "stride"));
  KILN_ASSIGN_OR_RETURN(auto offset, ctx.Int(node, "storage_offset", 0));
  KILN_RETURN_IF_ERROR(RequireContiguous(ctx, node, "self"));
  if (size.size() != stride.size())
    return ctx.NodeError(node, absl::StrCat("size ", ops::ShapeToString(size), " and stride ",
                                            ops::ShapeToString(stride), " differ in rank"));
  if (std::string err = ops::CheckShape(size); !err.empty()) return ctx.NodeError(node, "size " + err);
  if (ops::NumElements(size) > kMaxIndexMap)
    return ctx.NodeError(node, "needs an index map beyond 2^24 elements, which fp32 indices cannot address exactly");
  const int64_t numel = ops::NumElements(ctx.graph().values[x].shape);
  std::vector<float> index(ops::NumElements(size));
  std::string bad;
  ForEachPosition(size, [&](const std::vector<int64_t>& pos, int64_t e) {
    int64_t i = offset;
    for (size_t d = 0; d < pos.size(); ++d) i += pos[d] * stride[d];
    if ((i < 0 || i >= numel) && bad.empty())
      bad = absl::StrCat("element ", ops::ShapeToString(pos), " is at storage index ", i, ", outside the ", numel,
                         " elements of the input");
    index[e] = static_cast<float>(i);
  });
  if (!bad.empty()) return ctx.NodeError(node, bad);
  KILN_ASSIGN_OR_RETURN(auto flat, Flatten(ctx, node, x));
  return BindIndexMap(ctx, node, flat, numel, size, std::move(index));
}

// diagonal(x, offset, dim1, dim2): the other dims in order, then the diagonal.
absl::Status Diagonal(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto offset, ctx.Int(node, "offset", 0));
  KILN_ASSIGN_OR_RETURN(auto dim1, ctx.Int(node, "dim1", 0));
  KILN_ASSIGN_OR_RETURN(auto dim2, ctx.Int(node, "dim2", 1));
  const ops::Shape& in = ctx.graph().values[x].shape;
  const int64_t rank = static_cast<int64_t>(in.size());
  int64_t d1, d2;
  if (std::string err = ops::NormalizeDim(dim1, rank, &d1); !err.empty()) return ctx.NodeError(node, err);
  if (std::string err = ops::NormalizeDim(dim2, rank, &d2); !err.empty()) return ctx.NodeError(node, err);
  if (d1 == d2) return ctx.NodeError(node, absl::StrCat("dim1 and dim2 are both ", d1));
  const int64_t len = std::max<int64_t>(
      0, offset >= 0 ? std::min(in[d1], in[d2] - offset) : std::min(in[d1] + offset, in[d2]));
  const std::vector<int64_t> strides = ops::ContiguousStrides(in);
  ops::Shape size;
  std::vector<int64_t> stride;
  for (int64_t d = 0; d < rank; ++d)
    if (d != d1 && d != d2) {
      size.push_back(in[d]);
      stride.push_back(strides[d]);
    }
  size.push_back(len);
  stride.push_back(strides[d1] + strides[d2]);
  const int64_t start = len == 0 ? 0 : offset >= 0 ? offset * strides[d2] : -offset * strides[d1];
  if (ops::NumElements(size) > kMaxIndexMap)
    return ctx.NodeError(node, "needs an index map beyond 2^24 elements, which fp32 indices cannot address exactly");
  std::vector<float> index(ops::NumElements(size));
  ForEachPosition(size, [&](const std::vector<int64_t>& pos, int64_t e) {
    int64_t i = start;
    for (size_t d = 0; d < pos.size(); ++d) i += pos[d] * stride[d];
    index[e] = static_cast<float>(i);
  });
  KILN_ASSIGN_OR_RETURN(auto flat, Flatten(ctx, node, x));
  return BindIndexMap(ctx, node, flat, ops::NumElements(in), size, std::move(index));
}

// flip: along each flipped dim, take with a reversed arange.
absl::Status Flip(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dims, ctx.Ints(node, "dims"));
  const ops::Shape in = ctx.graph().values[x].shape;
  int y = x;
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d;
    if (std::string err = ops::NormalizeDim(dims[i], static_cast<int64_t>(in.size()), &d); !err.empty())
      return ctx.NodeError(node, err);
    KILN_RETURN_IF_ERROR(CheckIndexable(ctx, node, y, d));
    if (in[d] <= 1) continue;  // nothing to reverse
    std::vector<float> reversed(in[d]);
    for (int64_t k = 0; k < in[d]; ++k) reversed[k] = static_cast<float>(in[d] - 1 - k);
    const int index = ctx.graph().AddConstant(node.name + "_reversed", {in[d]}, std::move(reversed));
    ops::Attrs attrs;
    attrs.SetInt("dim", d);
    KILN_ASSIGN_OR_RETURN(y, ctx.Emit(node, "take", {y, index}, attrs));
  }
  return ctx.Bind(node, y);
}

// slice_scatter and select_scatter: self with the positions of a slice (or one index) along `dim`
// replaced by src, as one take from concat(flat(self), flat(src)).
absl::Status Scatter(LoweringContext& ctx, const AtenNode& node, bool select) {
  KILN_ASSIGN_OR_RETURN(auto self, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto src, ctx.Tensor(node, "src"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim", 0));
  const ops::Shape in = ctx.graph().values[self].shape;
  int64_t d;
  if (std::string err = ops::NormalizeDim(dim, static_cast<int64_t>(in.size()), &d); !err.empty())
    return ctx.NodeError(node, err);
  int64_t start, end, step = 1;
  if (select) {
    KILN_ASSIGN_OR_RETURN(auto index, ctx.Int(node, "index"));
    if (index < -in[d] || index >= in[d])
      return ctx.NodeError(node, absl::StrCat("index ", index, " is out of range for dim ", dim, " of ",
                                              ops::ShapeToString(in)));
    start = index < 0 ? index + in[d] : index;
    end = start + 1;
  } else {
    KILN_ASSIGN_OR_RETURN(auto s, ctx.Int(node, "start", 0));
    KILN_ASSIGN_OR_RETURN(auto e, ctx.Int(node, "end", INT64_MAX));
    KILN_ASSIGN_OR_RETURN(step, ctx.Int(node, "step", 1));
    if (step < 1) return ctx.NodeError(node, absl::StrCat("step ", step, " must be >= 1"));
    auto clamp = [&](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + in[d] : i, 0, in[d]); };
    start = clamp(s);
    end = clamp(e);
  }
  const int64_t count = end > start ? (end - start + step - 1) / step : 0;
  ops::Shape src_shape = in;
  src_shape[d] = count;
  if (select) src_shape.erase(src_shape.begin() + d);
  if (src_shape != ctx.graph().values[src].shape)
    return ctx.NodeError(node, absl::StrCat("src has shape ", ops::ShapeToString(ctx.graph().values[src].shape),
                                            ", the scattered positions ", ops::ShapeToString(src_shape)));
  const int64_t n = ops::NumElements(in);
  if (n == 0) return BindIndexMap(ctx, node, self, 0, in, {});  // empty: nothing to move
  if (n + ops::NumElements(src_shape) > kMaxIndexMap)
    return ctx.NodeError(node, "needs an index map beyond 2^24 elements, which fp32 indices cannot address exactly");
  ops::Shape slice_shape = in;
  slice_shape[d] = count;
  const std::vector<int64_t> src_strides = ops::ContiguousStrides(slice_shape);
  std::vector<float> index(n);
  ForEachPosition(in, [&](const std::vector<int64_t>& pos, int64_t e) {
    const int64_t i = pos[d] - start;
    if (i < 0 || pos[d] >= end || i % step != 0) {
      index[e] = static_cast<float>(e);
      return;
    }
    int64_t j = 0;
    for (size_t k = 0; k < pos.size(); ++k)
      j += (static_cast<int64_t>(k) == d ? i / step : pos[k]) * src_strides[k];
    index[e] = static_cast<float>(n + j);
  });
  KILN_ASSIGN_OR_RETURN(auto flat_self, Flatten(ctx, node, self));
  KILN_ASSIGN_OR_RETURN(auto flat_src, Flatten(ctx, node, src));
  ops::Attrs attrs;
  attrs.SetInt("dim", 0);
  KILN_ASSIGN_OR_RETURN(auto both, ctx.Emit(node, "concat", {flat_self, flat_src}, attrs));
  return BindIndexMap(ctx, node, both, n + ops::NumElements(src_shape), in, std::move(index));
}
absl::Status SliceScatter(LoweringContext& ctx, const AtenNode& node) { return Scatter(ctx, node, false); }
absl::Status SelectScatter(LoweringContext& ctx, const AtenNode& node) { return Scatter(ctx, node, true); }

// scatter.src/.value, scatter_add and scatter_reduce.two: the scatter device op.
absl::Status ScatterOp(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim"));
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Tensor(node, "index"));
  KILN_RETURN_IF_ERROR(CheckIndexable(ctx, node, x, dim));
  int src;
  if (node.Find("value")) {  // scatter.value: the scalar everywhere the index writes
    KILN_ASSIGN_OR_RETURN(auto value, ctx.Float(node, "value"));
    const ops::Shape& shape = ctx.graph().values[index].shape;
    src = ctx.ScalarConstant(value);
    if (!shape.empty()) {
      ops::Attrs expand;
      expand.SetInts("shape", shape);
      KILN_ASSIGN_OR_RETURN(src, ctx.Emit(node, "expand", {src}, expand));
    }
  } else {
    KILN_ASSIGN_OR_RETURN(src, ctx.Tensor(node, "src"));
  }
  int64_t reduce = ShortTarget(node.target) == "aten.scatter_add.default" ? 1 : 0;
  const Argument* r = node.Find("reduce");
  if (r && r->kind == Argument::Kind::kString) {
    static const std::map<std::string, int64_t> kReduce = {{"sum", 1}, {"add", 1}, {"prod", 2}, {"multiply", 2},
                                                           {"mean", 3}, {"amax", 4}, {"amin", 5}};
    auto it = kReduce.find(r->s);
    if (it == kReduce.end()) return ctx.NodeError(node, absl::StrCat("unknown reduce='", r->s, "'"));
    reduce = it->second;
  }
  KILN_ASSIGN_OR_RETURN(auto include_self, ctx.Bool(node, "include_self", true));
  ops::Attrs attrs;
  attrs.SetInt("dim", dim).SetInt("reduce", reduce).SetInt("include_self", include_self ? 1 : 0);
  return EmitAndBind(ctx, node, "scatter", {x, index, src}, attrs);
}

// sort(self, dim, descending) and topk(self, k, dim, largest, sorted) -> (values, indices): the
// indices are an argsort (sliced to k for topk), the values a gather at them. topk's result is
// always sorted, which sorted=False permits.
absl::Status SortOrTopk(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim", -1));
  const bool topk = node.Find("k") != nullptr;
  KILN_ASSIGN_OR_RETURN(auto descending, ctx.Bool(node, topk ? "largest" : "descending", topk));
  const ops::Shape& shape = ctx.graph().values[x].shape;
  int64_t d;
  if (std::string err = ops::NormalizeDim(dim, std::max<int64_t>(shape.size(), 1), &d); !err.empty())
    return ctx.NodeError(node, err);
  KILN_RETURN_IF_ERROR(CheckIndexable(ctx, node, x, d));
  ops::Attrs attrs;
  attrs.SetInt("dim", d).SetInt("descending", descending ? 1 : 0);
  KILN_ASSIGN_OR_RETURN(int order, ctx.Emit(node, "argsort", {x}, attrs));
  if (topk) {
    KILN_ASSIGN_OR_RETURN(auto k, ctx.Int(node, "k"));
    const int64_t size = shape.empty() ? 1 : shape[d];
    if (k < 0 || k > size)
      return ctx.NodeError(node, absl::StrCat("k=", k, " is out of range for dim ", dim, " of size ", size));
    if (!shape.empty() && k != size) {
      ops::Attrs slice;
      slice.SetInt("dim", d).SetInt("start", 0).SetInt("end", k).SetInt("step", 1);
      KILN_ASSIGN_OR_RETURN(order, ctx.Emit(node, "slice", {order}, slice));
    }
  }
  ops::Attrs gather;
  gather.SetInt("dim", d);
  const std::string values_name = node.outputs.empty() || node.outputs[0].empty() ? node.name : node.outputs[0];
  absl::StatusOr<int> values = ctx.graph().AddNode("gather", {x, order}, gather, node.name, values_name);
  if (!values.ok()) return ctx.NodeError(node, std::string(values.status().message()));
  if (!node.outputs.empty() && !node.outputs[0].empty()) KILN_RETURN_IF_ERROR(ctx.Bind(node, *values, 0));
  if (node.outputs.size() > 1 && !node.outputs[1].empty()) KILN_RETURN_IF_ERROR(ctx.Bind(node, order, 1));
  return absl::OkStatus();
}

// masked_scatter(self, mask, source): where the (broadcast) mask is set, the next element of source
// in row-major order. The running count of the mask (cumsum) gives each set position its source
// element; unset positions keep self (their take reads NaN, which where discards). Running out of
// source elements reads NaN where ATen raises.
absl::Status MaskedScatter(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto mask, ctx.Tensor(node, "mask"));
  KILN_ASSIGN_OR_RETURN(auto source, ctx.Tensor(node, "source"));
  const ops::Shape shape = ctx.graph().values[x].shape;
  const int64_t n = ops::NumElements(shape);
  if (n > (int64_t{1} << 24))
    return ctx.NodeError(node, "masks more than 2^24 elements, beyond what fp32 indices hold exactly");
  if (ctx.DTypeOf(node, "mask") != TorchDType::kBool)
    return ctx.NodeError(node, "mask must be a bool tensor");
  int m = mask;
  if (ctx.graph().values[mask].shape != shape) {
    ops::Attrs expand;
    expand.SetInts("shape", shape);
    KILN_ASSIGN_OR_RETURN(m, ctx.Emit(node, "expand", {mask}, expand));
  }
  KILN_ASSIGN_OR_RETURN(auto flat_mask, Reshaped(ctx, node, m, {n}));
  ops::Attrs cumsum;
  cumsum.SetInt("dim", 0);
  KILN_ASSIGN_OR_RETURN(auto count, ctx.Emit(node, "cumsum", {flat_mask}, cumsum));
  KILN_ASSIGN_OR_RETURN(auto position, ctx.Emit(node, "sub", {count, ctx.ScalarConstant(1.0)}));
  KILN_ASSIGN_OR_RETURN(auto flat_source, Reshaped(ctx, node, source, {ops::NumElements(ctx.graph().values[source].shape)}));
  ops::Attrs take;
  take.SetInt("dim", 0);
  KILN_ASSIGN_OR_RETURN(auto picked, ctx.Emit(node, "take", {flat_source, position}, take));
  KILN_ASSIGN_OR_RETURN(auto shaped, Reshaped(ctx, node, picked, shape));
  return EmitAndBind(ctx, node, "where", {m, shaped, x});
}

}  // namespace

void AddIndexingRules(RuleTable& rules) {
  Lowered(rules, "aten.gather.default", Gather, "gather");
  Lowered(rules, "aten.index_select.default", IndexSelect, "take");
  Lowered(rules, "aten.embedding.default", Embedding, "take");
  Decomposed(rules, "aten.index.Tensor", Index,
             "take; several index tensors: lt, add, where, le, logical_or, mul, reshape, take");
  Decomposed(rules, "aten.select.int", Select, "slice, reshape");
  Decomposed(rules, "aten.split_with_sizes.default", SplitWithSizes, "slice (one per output)");
  Decomposed(rules, "aten.repeat.default", Repeat, "reshape, expand, reshape");
  Lowered(rules, "aten.cumsum.default", Cumsum, "cumsum");
  Lowered(rules, "aten.scatter.src", ScatterOp, "scatter");
  Decomposed(rules, "aten.masked_scatter.default", MaskedScatter, "expand, reshape, cumsum, sub, take, where");
  Decomposed(rules, "aten.sort.default", SortOrTopk, "argsort (indices), gather (values)");
  Decomposed(rules, "aten.sort.stable", SortOrTopk, "argsort (indices), gather (values)");  // always stable
  Decomposed(rules, "aten.topk.default", SortOrTopk, "argsort, slice (indices), gather (values)");
  Decomposed(rules, "aten.index_put.default", IndexPut,
             "lt, add, where, le, logical_or, mul (positions), reshape, expand, scatter");
  Lowered(rules, "aten.scatter.value", ScatterOp, "scatter, expand (the value)");
  Lowered(rules, "aten.scatter_add.default", ScatterOp, "scatter (sum)");
  Lowered(rules, "aten.scatter_reduce.two", ScatterOp, "scatter (reduce: sum | prod | mean | amax | amin)");
  Decomposed(rules, "aten.as_strided.default", AsStrided, "reshape, take (constant index map)");
  Decomposed(rules, "aten.diagonal.default", Diagonal, "reshape, take (constant index map)");
  Decomposed(rules, "aten.flip.default", Flip, "take (a reversed index per dim)");
  Decomposed(rules, "aten.slice_scatter.default", SliceScatter, "reshape, concat, take (constant index map)");
  Decomposed(rules, "aten.select_scatter.default", SelectScatter, "reshape, concat, take (constant index map)");
}

}  // namespace kiln::compiler

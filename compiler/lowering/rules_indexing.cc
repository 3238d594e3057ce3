// Lowering rules for ATen ops that pick or place elements by index or position: gather,
// index_select, embedding, tensor indexing, scatter, index_put, masked_scatter, sort and topk (the
// device ops gather, take, scatter, argsort); select, split, unbind and repeat (slice, reshape,
// expand); static views and scatters (as_strided, unfold, diagonal, flip, and their scatters: takes
// through compile-time index maps); index_reduce, segment_reduce, put and nonzero_static (scatter);
// and the scans (cumsum, cumprod, logcumsumexp).
#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

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

// index_select of a rank-0 tensor (dim 0 or -1, one index) is the tensor itself, read as a
// one-element vector and back, so that an index other than 0 or -1 still reads NaN as take does.
absl::Status IndexSelect(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim"));
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Tensor(node, "index"));
  if (!ctx.graph().values[x].shape.empty()) return Take(ctx, node, x, index, dim);
  if (ops::NumElements(ctx.graph().values[index].shape) != 1)
    return ctx.NodeError(node, absl::StrCat("selecting ", ops::ShapeToString(ctx.graph().values[index].shape),
                                            " indices from a rank-0 tensor; it has one element"));
  KILN_RETURN_IF_ERROR(CheckIndexable(ctx, node, x, dim));
  KILN_ASSIGN_OR_RETURN(auto vec, Reshaped(ctx, node, x, {1}));
  KILN_ASSIGN_OR_RETURN(auto i, Reshaped(ctx, node, index, {1}));
  ops::Attrs attrs;
  attrs.SetInt("dim", 0);
  KILN_ASSIGN_OR_RETURN(auto picked, ctx.Emit(node, "take", {vec, i}, attrs));
  KILN_ASSIGN_OR_RETURN(auto scalar, Reshaped(ctx, node, picked, {}));
  return ctx.Bind(node, scalar);
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

// unbind_copy(x, dim): one select per output (a one-element slice with the dim dropped), each bound
// to its own output.
absl::Status Unbind(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim", 0));
  const ops::Shape& shape = ctx.graph().values[x].shape;
  int64_t d;
  if (std::string err = ops::NormalizeDim(dim, static_cast<int64_t>(shape.size()), &d); !err.empty())
    return ctx.NodeError(node, err);
  if (static_cast<int64_t>(node.outputs.size()) != shape[d])
    return ctx.NodeError(node, absl::StrCat("has ", node.outputs.size(), " outputs for the ", shape[d],
                                            " entries of dim ", dim, " of ", ops::ShapeToString(shape)));
  ops::Shape part_shape = shape;
  part_shape.erase(part_shape.begin() + d);
  for (int64_t i = 0; i < shape[d]; ++i) {
    if (node.outputs[i].empty()) continue;  // unused: nothing emitted
    ops::Attrs slice, reshape;
    slice.SetInt("dim", d).SetInt("start", i).SetInt("end", i + 1).SetInt("step", 1);
    reshape.SetInts("shape", part_shape);
    KILN_ASSIGN_OR_RETURN(auto sliced, ctx.Emit(node, "slice", {x}, slice));
    absl::StatusOr<int> part = ctx.graph().AddNode("reshape", {sliced}, reshape, node.name, node.outputs[i]);
    if (!part.ok()) return ctx.NodeError(node, std::string(part.status().message()));
    KILN_RETURN_IF_ERROR(ctx.Bind(node, *part, i));
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

// cumsum, cumprod and logcumsumexp: the device scan of the same name.
absl::Status Scan(LoweringContext& ctx, const AtenNode& node, const char* op) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim"));
  // A float input accumulated as an integer dtype is truncated first; the device has no truncation yet.
  const Argument* dtype = node.Find("dtype");
  if (dtype && dtype->kind == Argument::Kind::kScalarType) {
    const auto to = static_cast<TorchDType>(dtype->i);
    const TorchDType from = ctx.DTypeOf(node, "self");
    const bool int_to = to == TorchDType::kLong || to == TorchDType::kInt;
    const bool int_from = from == TorchDType::kBool || from == TorchDType::kLong || from == TorchDType::kInt;
    if (to != TorchDType::kFloat && !(int_to && int_from))
      return ctx.NodeError(node, absl::StrCat(op, " of ", TorchDTypeName(from), " as ", TorchDTypeName(to),
                                              " is not supported yet"));
  }
  ops::Attrs attrs;
  attrs.SetInt("dim", dim);
  return EmitAndBind(ctx, node, op, {x}, attrs);
}
absl::Status Cumsum(LoweringContext& ctx, const AtenNode& node) { return Scan(ctx, node, "cumsum"); }
absl::Status Cumprod(LoweringContext& ctx, const AtenNode& node) { return Scan(ctx, node, "cumprod"); }
absl::Status Logcumsumexp(LoweringContext& ctx, const AtenNode& node) { return Scan(ctx, node, "logcumsumexp"); }

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
  const int map = ctx.graph().AddIndexConstant(node.name + "_index", std::move(shape), std::move(index));
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

// Where each storage element of a tensor sits in its row-major (device) order. as_strided's sizes,
// strides and offset address the storage behind the tensor as torch.export recorded it (its own
// strides and storage offset), which the device holds only as the tensor's elements in row-major
// order: a storage index no element occupies has no value here.
class StorageMap {
 public:
  static absl::StatusOr<StorageMap> Of(LoweringContext& ctx, const AtenNode& node, const std::string& arg, int x) {
    StorageMap m;
    m.shape_ = ctx.graph().values[x].shape;
    m.numel_ = ops::NumElements(m.shape_);
    m.name_ = arg;
    const Argument* a = node.Find(arg);
    auto meta = a && a->kind == Argument::Kind::kTensor ? ctx.aten().values.find(a->tensor) : ctx.aten().values.end();
    if (meta == ctx.aten().values.end() || meta->second.sizes != m.shape_) return m;  // contiguous from 0
    m.name_ = a->tensor;
    m.offset_ = meta->second.storage_offset;
    m.strides_ = meta->second.strides.size() == m.shape_.size() ? meta->second.strides
                                                                 : ops::ContiguousStrides(m.shape_);
    if (m.Contiguous()) return m;
    if (m.numel_ > kMaxIndexMap)
      return ctx.NodeError(node, "needs an index map beyond 2^24 elements, which fp32 indices cannot address exactly");
    ForEachPosition(m.shape_, [&](const std::vector<int64_t>& pos, int64_t e) {
      int64_t s = m.offset_;
      for (size_t d = 0; d < pos.size(); ++d) s += pos[d] * m.strides_[d];
      m.flat_.emplace(s, e);  // overlapping elements (stride 0) hold the same value: any one will do
    });
    return m;
  }

  // The row-major index of the element at storage index `s`; nullopt when no element is there.
  std::optional<int64_t> Flat(int64_t s) const {
    if (flat_.empty()) {
      const int64_t e = s - offset_;
      return e >= 0 && e < numel_ ? std::optional<int64_t>(e) : std::nullopt;
    }
    auto it = flat_.find(s);
    return it == flat_.end() ? std::nullopt : std::optional<int64_t>(it->second);
  }

  // What the storage holds, for errors: "the 12 elements of 'x'" or with its layout when it has one.
  std::string Describe() const {
    if (Contiguous() && offset_ == 0) return absl::StrCat("the ", numel_, " elements of the input");
    return absl::StrCat("the ", numel_, " elements of '", name_, "' (strides ", ops::ShapeToString(strides_),
                        ", storage offset ", offset_, ")");
  }

 private:
  bool Contiguous() const {
    const std::vector<int64_t> contiguous = ops::ContiguousStrides(shape_);
    for (size_t d = 0; d < shape_.size(); ++d)
      if (shape_[d] > 1 && strides_[d] != contiguous[d]) return false;
    return true;
  }

  ops::Shape shape_;
  int64_t numel_ = 0, offset_ = 0;
  std::vector<int64_t> strides_;
  std::string name_;
  std::unordered_map<int64_t, int64_t> flat_;  // empty when contiguous
};

// The row-major index in `storage`'s tensor of every element of the view (size, stride, offset), in
// the view's row-major order; an error names the first element outside it.
absl::StatusOr<std::vector<int64_t>> StridedPositions(LoweringContext& ctx, const AtenNode& node,
                                                      const StorageMap& storage, const ops::Shape& size,
                                                      const std::vector<int64_t>& stride, int64_t offset) {
  if (size.size() != stride.size())
    return ctx.NodeError(node, absl::StrCat("size ", ops::ShapeToString(size), " and stride ",
                                            ops::ShapeToString(stride), " differ in rank"));
  if (std::string err = ops::CheckShape(size); !err.empty()) return ctx.NodeError(node, "size " + err);
  if (ops::NumElements(size) > kMaxIndexMap)
    return ctx.NodeError(node, "needs an index map beyond 2^24 elements, which fp32 indices cannot address exactly");
  std::vector<int64_t> positions(ops::NumElements(size));
  std::string bad;
  ForEachPosition(size, [&](const std::vector<int64_t>& pos, int64_t e) {
    int64_t s = offset;
    for (size_t d = 0; d < pos.size(); ++d) s += pos[d] * stride[d];
    const std::optional<int64_t> flat = storage.Flat(s);
    if (!flat && bad.empty())
      bad = absl::StrCat("element ", ops::ShapeToString(pos), " is at storage index ", s, ", outside ",
                         storage.Describe());
    positions[e] = flat.value_or(0);
  });
  if (!bad.empty()) return ctx.NodeError(node, bad);
  return positions;
}

// Binds take(flat(x), positions) shaped `shape`.
absl::Status BindGather(LoweringContext& ctx, const AtenNode& node, int x, ops::Shape shape,
                        const std::vector<int64_t>& positions) {
  KILN_ASSIGN_OR_RETURN(auto flat, Flatten(ctx, node, x));
  return BindIndexMap(ctx, node, flat, ops::NumElements(ctx.graph().values[x].shape), std::move(shape),
                      std::vector<float>(positions.begin(), positions.end()));
}

// Binds self with element targets[j] replaced by element j of src (row-major), as one take from
// concat(flat(self), flat(src)); a position written twice takes the later element.
absl::Status BindScatter(LoweringContext& ctx, const AtenNode& node, int self, int src,
                         const std::vector<int64_t>& targets) {
  const ops::Shape in = ctx.graph().values[self].shape;
  const int64_t n = ops::NumElements(in), m = static_cast<int64_t>(targets.size());
  if (n == 0) return BindIndexMap(ctx, node, self, 0, in, {});  // empty: nothing to move
  if (n + m > kMaxIndexMap)
    return ctx.NodeError(node, "needs an index map beyond 2^24 elements, which fp32 indices cannot address exactly");
  std::vector<float> index(n);
  for (int64_t e = 0; e < n; ++e) index[e] = static_cast<float>(e);
  for (int64_t j = 0; j < m; ++j) index[targets[j]] = static_cast<float>(n + j);
  KILN_ASSIGN_OR_RETURN(auto flat_self, Flatten(ctx, node, self));
  KILN_ASSIGN_OR_RETURN(auto flat_src, Flatten(ctx, node, src));
  ops::Attrs attrs;
  attrs.SetInt("dim", 0);
  KILN_ASSIGN_OR_RETURN(auto both, ctx.Emit(node, "concat", {flat_self, flat_src}, attrs));
  return BindIndexMap(ctx, node, both, n + m, in, std::move(index));
}

absl::Status CheckSrcShape(LoweringContext& ctx, const AtenNode& node, int src, const ops::Shape& want) {
  if (ctx.graph().values[src].shape == want) return absl::OkStatus();
  return ctx.NodeError(node, absl::StrCat("src has shape ", ops::ShapeToString(ctx.graph().values[src].shape),
                                          ", the scattered positions ", ops::ShapeToString(want)));
}

// as_strided and as_strided_copy.
absl::Status AsStrided(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto size, ctx.Ints(node, "size"));
  KILN_ASSIGN_OR_RETURN(auto stride, ctx.Ints(node, "stride"));
  KILN_ASSIGN_OR_RETURN(auto offset, ctx.Int(node, "storage_offset", 0));
  KILN_ASSIGN_OR_RETURN(auto storage, StorageMap::Of(ctx, node, "self", x));
  KILN_ASSIGN_OR_RETURN(auto positions, StridedPositions(ctx, node, storage, size, stride, offset));
  return BindGather(ctx, node, x, size, positions);
}

// as_strided_scatter(self, src, size, stride, offset): self with the elements of that view replaced.
absl::Status AsStridedScatter(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto self, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto src, ctx.Tensor(node, "src"));
  KILN_ASSIGN_OR_RETURN(auto size, ctx.Ints(node, "size"));
  KILN_ASSIGN_OR_RETURN(auto stride, ctx.Ints(node, "stride"));
  KILN_ASSIGN_OR_RETURN(auto offset, ctx.Int(node, "storage_offset", 0));
  KILN_ASSIGN_OR_RETURN(auto storage, StorageMap::Of(ctx, node, "self", self));
  KILN_ASSIGN_OR_RETURN(auto targets, StridedPositions(ctx, node, storage, size, stride, offset));
  KILN_RETURN_IF_ERROR(CheckSrcShape(ctx, node, src, size));
  return BindScatter(ctx, node, self, src, targets);
}

// x.unfold(dim, size, step): every window of `size` elements `step` apart along dim, as a new last
// dim; a strided view of x's own (row-major) elements.
absl::Status Unfold(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dimension"));
  KILN_ASSIGN_OR_RETURN(auto size, ctx.Int(node, "size"));
  KILN_ASSIGN_OR_RETURN(auto step, ctx.Int(node, "step"));
  ops::Shape in = ctx.graph().values[x].shape;
  const bool scalar = in.empty();
  if (scalar) in = {1};  // a rank-0 tensor unfolds as a one-element vector
  int64_t d;
  if (std::string err = ops::NormalizeDim(dim, static_cast<int64_t>(in.size()), &d); !err.empty())
    return ctx.NodeError(node, err);
  if (size < 0 || size > in[d] || step < 1)
    return ctx.NodeError(node, absl::StrCat("size ", size, " and step ", step, " do not fit dim ", dim, " of ",
                                            ops::ShapeToString(ctx.graph().values[x].shape),
                                            " (need 0 <= size <= the dim and step >= 1)"));
  std::vector<int64_t> strides = ops::ContiguousStrides(in);
  ops::Shape out = in;
  out[d] = (in[d] - size) / step + 1;
  if (scalar) out.clear();
  out.push_back(size);
  std::vector<int64_t> stride = scalar ? std::vector<int64_t>{} : strides;
  if (!scalar) stride[d] = strides[d] * step;
  stride.push_back(strides[d]);
  KILN_ASSIGN_OR_RETURN(auto storage, StorageMap::Of(ctx, node, "", x));  // the device's row-major order
  KILN_ASSIGN_OR_RETURN(auto positions, StridedPositions(ctx, node, storage, out, stride, 0));
  return BindGather(ctx, node, x, out, positions);
}

// The elements diagonal(x, offset, dim1, dim2) picks, in its row-major order (the other dims in
// order, then the diagonal), and its shape.
absl::StatusOr<std::pair<ops::Shape, std::vector<int64_t>>> DiagonalPositions(LoweringContext& ctx,
                                                                              const AtenNode& node, int x) {
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
  KILN_ASSIGN_OR_RETURN(auto storage, StorageMap::Of(ctx, node, "", x));  // the device's row-major order
  KILN_ASSIGN_OR_RETURN(auto positions, StridedPositions(ctx, node, storage, size, stride, start));
  return std::make_pair(size, positions);
}

absl::Status Diagonal(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto diag, DiagonalPositions(ctx, node, x));
  return BindGather(ctx, node, x, diag.first, diag.second);
}

// diagonal_scatter(self, src, offset, dim1, dim2): self with that diagonal replaced by src.
absl::Status DiagonalScatter(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto self, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto src, ctx.Tensor(node, "src"));
  KILN_ASSIGN_OR_RETURN(auto diag, DiagonalPositions(ctx, node, self));
  KILN_RETURN_IF_ERROR(CheckSrcShape(ctx, node, src, diag.first));
  return BindScatter(ctx, node, self, src, diag.second);
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
    const int index = ctx.graph().AddIndexConstant(node.name + "_reversed", {in[d]}, std::move(reversed));
    ops::Attrs attrs;
    attrs.SetInt("dim", d);
    KILN_ASSIGN_OR_RETURN(y, ctx.Emit(node, "take", {y, index}, attrs));
  }
  return ctx.Bind(node, y);
}

// slice_scatter and select_scatter: self with the positions of a slice (or one index) along `dim`
// replaced by src.
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
  KILN_RETURN_IF_ERROR(CheckSrcShape(ctx, node, src, src_shape));
  if (ops::NumElements(in) > kMaxIndexMap)
    return ctx.NodeError(node, "needs an index map beyond 2^24 elements, which fp32 indices cannot address exactly");
  ops::Shape slice_shape = in;
  slice_shape[d] = count;
  const std::vector<int64_t> strides = ops::ContiguousStrides(in);
  std::vector<int64_t> targets(ops::NumElements(slice_shape));
  ForEachPosition(slice_shape, [&](const std::vector<int64_t>& pos, int64_t j) {
    int64_t e = 0;
    for (size_t k = 0; k < pos.size(); ++k)
      e += (static_cast<int64_t>(k) == d ? start + pos[k] * step : pos[k]) * strides[k];
    targets[j] = e;
  });
  return BindScatter(ctx, node, self, src, targets);
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

// index_reduce(self, dim, index, source, reduce, include_self): source's slices along dim reduced into
// self's slices at index, as scatter_reduce with the index broadcast over source's other dims. Integer
// means round down, as ATen divides them.
absl::Status IndexReduce(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim"));
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Tensor(node, "index"));
  KILN_ASSIGN_OR_RETURN(auto source, ctx.Tensor(node, "source"));
  KILN_ASSIGN_OR_RETURN(auto include_self, ctx.Bool(node, "include_self", true));
  const Argument* r = node.Find("reduce");
  static const std::map<std::string, int64_t> kReduce = {{"prod", 2}, {"mean", 3}, {"amax", 4}, {"amin", 5}};
  auto it = r && r->kind == Argument::Kind::kString ? kReduce.find(r->s) : kReduce.end();
  if (it == kReduce.end())
    return ctx.NodeError(node, absl::StrCat("reduce must be 'prod', 'mean', 'amax' or 'amin', got '",
                                            r && r->kind == Argument::Kind::kString ? r->s : "?", "'"));
  KILN_RETURN_IF_ERROR(CheckIndexable(ctx, node, x, dim));
  const ops::Shape src_shape = ctx.graph().values[source].shape;
  const ops::Shape index_shape = ctx.graph().values[index].shape;
  const int64_t rank = std::max<int64_t>(static_cast<int64_t>(src_shape.size()), 1);
  int64_t d;
  if (std::string err = ops::NormalizeDim(dim, rank, &d); !err.empty()) return ctx.NodeError(node, err);
  const int64_t len = src_shape.empty() ? 1 : src_shape[d];
  if (index_shape.size() > 1 || ops::NumElements(index_shape) != len)
    return ctx.NodeError(node, absl::StrCat("index has shape ", ops::ShapeToString(index_shape),
                                            "; it must be a vector of ", len, " entries, one per slice of source ",
                                            ops::ShapeToString(src_shape), " along dim ", dim));
  int broadcast = index;
  if (src_shape.size() > 1) {
    ops::Shape column(src_shape.size(), 1);
    column[d] = len;
    KILN_ASSIGN_OR_RETURN(broadcast, Reshaped(ctx, node, index, column));
    ops::Attrs expand;
    expand.SetInts("shape", src_shape);
    KILN_ASSIGN_OR_RETURN(broadcast, ctx.Emit(node, "expand", {broadcast}, expand));
  }
  ops::Attrs attrs;
  attrs.SetInt("dim", d).SetInt("reduce", it->second).SetInt("include_self", include_self ? 1 : 0);
  const TorchDType t = ctx.DTypeOf(node, "self");
  const bool integer = t == TorchDType::kLong || t == TorchDType::kInt || t == TorchDType::kShort ||
                       t == TorchDType::kChar || t == TorchDType::kByte;
  if (it->first != "mean" || !integer) return EmitAndBind(ctx, node, "scatter", {x, broadcast, source}, attrs);
  KILN_ASSIGN_OR_RETURN(auto mean, ctx.Emit(node, "scatter", {x, broadcast, source}, attrs));
  return EmitAndBind(ctx, node, "floor", {mean});
}

// segment_reduce(data, reduce, lengths | offsets, axis, initial): data's consecutive runs along axis
// (of the given lengths, or between consecutive offsets) each reduced to one entry. Each element's
// segment is the number of segment ends at or before it (ends = cumsum(lengths)), and a scatter
// reduces it there; an element past the last end gets segment S, which the scatter skips. An empty
// segment is `initial`, or the reduction's identity (NaN for mean). With `initial`, max/min/sum/prod
// include it once; a mean is (sum + initial) / count.
absl::Status SegmentReduce(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto data, ctx.Tensor(node, "data"));
  KILN_ASSIGN_OR_RETURN(auto lengths, ctx.OptionalTensor(node, "lengths"));
  KILN_ASSIGN_OR_RETURN(auto offsets, ctx.OptionalTensor(node, "offsets"));
  KILN_ASSIGN_OR_RETURN(auto axis, ctx.Int(node, "axis", 0));
  const Argument* r = node.Find("reduce");
  static const std::map<std::string, int64_t> kReduce = {{"sum", 1}, {"prod", 2}, {"mean", 3}, {"max", 4}, {"min", 5}};
  auto it = r && r->kind == Argument::Kind::kString ? kReduce.find(r->s) : kReduce.end();
  if (it == kReduce.end())
    return ctx.NodeError(node, absl::StrCat("reduce must be 'sum', 'prod', 'mean', 'max' or 'min', got '",
                                            r && r->kind == Argument::Kind::kString ? r->s : "?", "'"));
  std::optional<double> initial;
  if (!ctx.IsNone(node, "initial") && node.Find("initial")) {
    KILN_ASSIGN_OR_RETURN(initial, ctx.Float(node, "initial"));
  }
  if (lengths.has_value() == offsets.has_value())
    return ctx.NodeError(node, "needs exactly one of lengths and offsets (indices are not supported by ATen either)");
  const ops::Shape in = ctx.graph().values[data].shape;
  int64_t d;
  if (std::string err = ops::NormalizeDim(axis, static_cast<int64_t>(in.size()), &d); !err.empty())
    return ctx.NodeError(node, err);
  const ops::Shape bounds = ctx.graph().values[lengths ? *lengths : *offsets].shape;
  if (bounds.size() != 1 || (offsets && bounds[0] < 1))
    return ctx.NodeError(node, absl::StrCat(lengths ? "lengths " : "offsets ", ops::ShapeToString(bounds),
                                            " must be a vector", offsets ? " of at least one entry" : "",
                                            " (one segment per entry; batched segments are not supported yet)"));
  KILN_RETURN_IF_ERROR(CheckIndexable(ctx, node, data, d));
  int length;
  if (lengths) {
    length = *lengths;
  } else {
    ops::Attrs tail, head;
    tail.SetInt("dim", 0).SetInt("start", 1).SetInt("end", bounds[0]).SetInt("step", 1);
    head.SetInt("dim", 0).SetInt("start", 0).SetInt("end", bounds[0] - 1).SetInt("step", 1);
    KILN_ASSIGN_OR_RETURN(auto next, ctx.Emit(node, "slice", {*offsets}, tail));
    KILN_ASSIGN_OR_RETURN(auto prev, ctx.Emit(node, "slice", {*offsets}, head));
    KILN_ASSIGN_OR_RETURN(length, ctx.Emit(node, "sub", {next, prev}));
  }
  const int64_t segments = ctx.graph().values[length].shape[0], n = in[d];
  ops::Shape out = in;
  out[d] = segments;
  if (std::string err = ops::CheckShape({n, segments}); !err.empty()) return ctx.NodeError(node, "comparison " + err);
  ops::Attrs cumsum, sum;
  cumsum.SetInt("dim", 0);
  sum.SetInts("dims", {1}).SetInt("keepdim", 0);
  KILN_ASSIGN_OR_RETURN(auto ends, ctx.Emit(node, "cumsum", {length}, cumsum));
  KILN_ASSIGN_OR_RETURN(auto ends_row, Reshaped(ctx, node, ends, {1, segments}));
  std::vector<float> iota(n);
  for (int64_t i = 0; i < n; ++i) iota[i] = static_cast<float>(i);
  const int positions = ctx.graph().AddIndexConstant(node.name + "_positions", {n, 1}, std::move(iota));
  KILN_ASSIGN_OR_RETURN(auto ended, ctx.Emit(node, "le", {ends_row, positions}));
  KILN_ASSIGN_OR_RETURN(auto segment, ctx.Emit(node, "reduce_sum", {ended}, sum));
  ops::Shape column(in.size(), 1);
  column[d] = n;
  KILN_ASSIGN_OR_RETURN(auto index, Reshaped(ctx, node, segment, column));
  if (column != in) {
    ops::Attrs expand;
    expand.SetInts("shape", in);
    KILN_ASSIGN_OR_RETURN(index, ctx.Emit(node, "expand", {index}, expand));
  }
  const double inf = std::numeric_limits<double>::infinity();
  const int64_t reduce = it->second;
  const double identity = reduce == 2 ? 1.0 : reduce == 3 ? std::numeric_limits<double>::quiet_NaN()
                          : reduce == 4 ? -inf : reduce == 5 ? inf : 0.0;
  auto filled = [&](double value) -> absl::StatusOr<int> {
    ops::Attrs expand;
    expand.SetInts("shape", out);
    return ctx.Emit(node, "expand", {ctx.ScalarConstant(value)}, expand);
  };
  ops::Attrs scatter;
  scatter.SetInt("dim", d).SetInt("reduce", reduce == 3 && initial ? 1 : reduce);
  scatter.SetInt("include_self", initial ? 1 : 0);
  KILN_ASSIGN_OR_RETURN(auto base, filled(initial.value_or(identity)));
  if (reduce != 3 || !initial) return EmitAndBind(ctx, node, "scatter", {base, index, data}, scatter);
  // mean with initial: (sum + initial) / count where the segment has elements, else initial.
  KILN_ASSIGN_OR_RETURN(auto total, ctx.Emit(node, "scatter", {base, index, data}, scatter));
  KILN_ASSIGN_OR_RETURN(auto zeros, filled(0.0));
  ops::Attrs ones_shape;
  ones_shape.SetInts("shape", in);
  KILN_ASSIGN_OR_RETURN(auto ones, ctx.Emit(node, "expand", {ctx.ScalarConstant(1.0)}, ones_shape));
  KILN_ASSIGN_OR_RETURN(auto count, ctx.Emit(node, "scatter", {zeros, index, ones}, scatter));
  KILN_ASSIGN_OR_RETURN(auto mean, ctx.Emit(node, "div", {total, count}));
  KILN_ASSIGN_OR_RETURN(auto empty, ctx.Emit(node, "logical_not", {count}));
  return EmitAndBind(ctx, node, "where", {empty, base, mean});
}

// put(self, index, source, accumulate): source written (or added) at flat positions of self; an
// index outside [-numel, numel) writes nothing.
absl::Status Put(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Tensor(node, "index"));
  KILN_ASSIGN_OR_RETURN(auto source, ctx.Tensor(node, "source"));
  KILN_ASSIGN_OR_RETURN(auto accumulate, ctx.Bool(node, "accumulate", false));
  const ops::Shape in = ctx.graph().values[x].shape;
  const int64_t n = ops::NumElements(in);
  const int64_t k = ops::NumElements(ctx.graph().values[index].shape);
  if (n > kMaxIndexMap)
    return ctx.NodeError(node, "indexes more than 2^24 positions, beyond what fp32 indices hold exactly");
  if (ops::NumElements(ctx.graph().values[source].shape) != k)
    return ctx.NodeError(node, absl::StrCat("source ", ops::ShapeToString(ctx.graph().values[source].shape),
                                            " and index ", ops::ShapeToString(ctx.graph().values[index].shape),
                                            " differ in element count"));
  KILN_ASSIGN_OR_RETURN(auto flat, Reshaped(ctx, node, x, {n}));
  KILN_ASSIGN_OR_RETURN(auto flat_index, Reshaped(ctx, node, index, {k}));
  KILN_ASSIGN_OR_RETURN(auto flat_source, Reshaped(ctx, node, source, {k}));
  ops::Attrs attrs;
  attrs.SetInt("dim", 0).SetInt("reduce", accumulate ? 1 : 0).SetInt("include_self", 1);
  KILN_ASSIGN_OR_RETURN(auto put, ctx.Emit(node, "scatter", {flat, flat_index, flat_source}, attrs));
  KILN_ASSIGN_OR_RETURN(auto back, Reshaped(ctx, node, put, in));
  return ctx.Bind(node, back);
}

// nonzero_static(x, size, fill_value): the coordinates of the first `size` nonzero elements (row-major),
// one row each, the rest of the rows fill_value. Each nonzero element's row is the running count of
// nonzeros before it (cumsum); a scatter writes its (constant) coordinates there, and skips the NaN
// row given to zeros and to nonzeros beyond `size`.
absl::Status NonzeroStatic(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto size, ctx.Int(node, "size"));
  KILN_ASSIGN_OR_RETURN(auto fill, ctx.Float(node, "fill_value", -1.0));
  const ops::Shape in = ctx.graph().values[x].shape;
  const int64_t n = ops::NumElements(in), rank = static_cast<int64_t>(in.size());
  if (size < 0) return ctx.NodeError(node, absl::StrCat("size ", size, " is negative"));
  if (n > kMaxIndexMap || size > kMaxIndexMap)
    return ctx.NodeError(node, "needs positions beyond 2^24, which fp32 indices cannot address exactly");
  ops::Attrs result;
  result.SetInts("shape", {size, rank});
  KILN_ASSIGN_OR_RETURN(auto filled, ctx.Emit(node, "expand", {ctx.ScalarConstant(fill)}, result));
  if (n == 0 || size == 0 || rank == 0) return ctx.Bind(node, filled);  // no coordinates to write
  std::vector<float> coords(n * rank);
  ForEachPosition(in, [&](const std::vector<int64_t>& pos, int64_t e) {
    for (int64_t d = 0; d < rank; ++d) coords[e * rank + d] = static_cast<float>(pos[d]);
  });
  const int coord = ctx.graph().AddIndexConstant(node.name + "_coords", {n, rank}, std::move(coords));
  KILN_ASSIGN_OR_RETURN(auto flat, Reshaped(ctx, node, x, {n}));
  KILN_ASSIGN_OR_RETURN(auto is_zero, ctx.Emit(node, "logical_not", {flat}));
  KILN_ASSIGN_OR_RETURN(auto nonzero, ctx.Emit(node, "logical_not", {is_zero}));
  ops::Attrs cumsum;
  cumsum.SetInt("dim", 0);
  KILN_ASSIGN_OR_RETURN(auto count, ctx.Emit(node, "cumsum", {nonzero}, cumsum));
  KILN_ASSIGN_OR_RETURN(auto row, ctx.Emit(node, "sub", {count, ctx.ScalarConstant(1.0)}));
  KILN_ASSIGN_OR_RETURN(auto fits, ctx.Emit(node, "lt", {row, ctx.ScalarConstant(static_cast<double>(size))}));
  KILN_ASSIGN_OR_RETURN(auto kept, ctx.Emit(node, "logical_and", {nonzero, fits}));
  const int nan = ctx.ScalarConstant(std::numeric_limits<double>::quiet_NaN());
  KILN_ASSIGN_OR_RETURN(auto target, ctx.Emit(node, "where", {kept, row, nan}));
  KILN_ASSIGN_OR_RETURN(auto column, Reshaped(ctx, node, target, {n, 1}));
  ops::Attrs expand;
  expand.SetInts("shape", {n, rank});
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Emit(node, "expand", {column}, expand));
  ops::Attrs attrs;
  attrs.SetInt("dim", 0).SetInt("reduce", 0).SetInt("include_self", 1);
  return EmitAndBind(ctx, node, "scatter", {filled, index, coord}, attrs);
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
  Lowered(rules, "aten.index_select.default", IndexSelect, "take (of a rank-0 tensor: reshape, take, reshape)");
  Lowered(rules, "aten.embedding.default", Embedding, "take");
  Decomposed(rules, "aten.index.Tensor", Index,
             "take; several index tensors: lt, add, where, le, logical_or, mul, reshape, take");
  Decomposed(rules, "aten.select.int", Select, "slice, reshape");
  Decomposed(rules, "aten.split_with_sizes.default", SplitWithSizes, "slice (one per output)");
  Decomposed(rules, "aten.repeat.default", Repeat, "reshape, expand, reshape");
  Lowered(rules, "aten.cumsum.default", Cumsum, "cumsum");
  // Integer products are exact only while they stay below 2^24 (fp32 on the device).
  Lowered(rules, "aten.cumprod.default", Cumprod, "cumprod (integers exact below 2^24)");
  Lowered(rules, "aten.logcumsumexp.default", Logcumsumexp, "logcumsumexp");
  Lowered(rules, "aten.scatter.src", ScatterOp, "scatter");
  Decomposed(rules, "aten.masked_scatter.default", MaskedScatter, "expand, reshape, cumsum, sub, take, where");
  Decomposed(rules, "aten.sort.default", SortOrTopk, "argsort (indices), gather (values)");
  Decomposed(rules, "aten.sort.stable", SortOrTopk, "argsort (indices), gather (values)");  // always stable
  Decomposed(rules, "aten.topk.default", SortOrTopk, "argsort, slice (indices), gather (values)");
  Decomposed(rules, "aten.index_put.default", IndexPut,
             "lt, add, where, le, logical_or, mul (positions), reshape, expand, scatter");
  Lowered(rules, "aten.scatter.value", ScatterOp, "scatter, expand (the value)");
  Lowered(rules, "aten.scatter_add.default", ScatterOp, "scatter (sum)");
  Lowered(rules, "aten.scatter_reduce.two", ScatterOp, "scatter (reduce: sum/prod/mean/amax/amin)");
  Decomposed(rules, "aten.as_strided.default", AsStrided, "reshape, take (constant index map)");
  Decomposed(rules, "aten.as_strided_copy.default", AsStrided, "reshape, take (constant index map)");
  Decomposed(rules, "aten.as_strided_scatter.default", AsStridedScatter, "reshape, concat, take (constant index map)");
  Decomposed(rules, "aten.unfold.default", Unfold, "reshape, take (constant index map)");
  Decomposed(rules, "aten.diagonal.default", Diagonal, "reshape, take (constant index map)");
  Decomposed(rules, "aten.diagonal_scatter.default", DiagonalScatter, "reshape, concat, take (constant index map)");
  Decomposed(rules, "aten.unbind_copy.int", Unbind, "slice, reshape (one pair per output)");
  Decomposed(rules, "aten.index_reduce.default", IndexReduce,
             "reshape, expand (the index), scatter (prod/mean/amax/amin), floor (integer mean)");
  Decomposed(rules, "aten.segment_reduce.default", SegmentReduce,
             "slice, sub (offsets), cumsum, reshape, le, reduce_sum (each element's segment), expand, scatter; "
             "mean with initial: scatter, div, logical_not, where");
  Decomposed(rules, "aten.put.default", Put, "reshape, scatter (replace or sum), reshape");
  Decomposed(rules, "aten.nonzero_static.default", NonzeroStatic,
             "expand, reshape, logical_not, cumsum, sub, lt, logical_and, where, scatter");
  Decomposed(rules, "aten.flip.default", Flip, "take (a reversed index per dim)");
  Decomposed(rules, "aten.slice_scatter.default", SliceScatter, "reshape, concat, take (constant index map)");
  Decomposed(rules, "aten.select_scatter.default", SelectScatter, "reshape, concat, take (constant index map)");
}

}  // namespace kiln::compiler

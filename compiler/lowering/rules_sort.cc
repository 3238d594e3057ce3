// Lowering rules for order statistics and searches: median and nanmedian (argsort, then a gather at a
// position counted from the NaNs), kthvalue (argsort, then a gather at k - 1), mode and cummax/cummin
// (a comparison of every element with every other along the dim), searchsorted and bucketize (a count
// of the boundaries below each value), and histc, histogram and histogramdd (a scatter-add of each
// value's bin).
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "compiler/lowering/rules.h"
#include "ops/shape_util.h"

namespace kiln::compiler {
namespace {

// Binds `v` reshaped to `shape` as output `index`; a reshape it needs is named after that output (a
// multi-output node's outputs each have their own device value). Nothing when the graph does not use
// the output.
absl::Status BindOutput(LoweringContext& ctx, const AtenNode& node, size_t index, int v, const ops::Shape& shape) {
  if (index >= node.outputs.size() || node.outputs[index].empty()) return absl::OkStatus();
  if (ctx.graph().values[v].shape == shape) return ctx.Bind(node, v, index);
  ops::Attrs attrs;
  attrs.SetInts("shape", shape);
  absl::StatusOr<int> r = ctx.graph().AddNode("reshape", {v}, attrs, node.name, node.outputs[index]);
  if (!r.ok()) return ctx.NodeError(node, std::string(r.status().message()));
  return ctx.Bind(node, *r, index);
}

// median and nanmedian, over one dim (.dim: values and indices) or all elements (.default: the value).
// A stable ascending argsort puts NaN last, so with c non-NaN elements of n: median's element is the
// first NaN (sorted position c) when there is one, else position (n - 1) / 2; nanmedian's is
// position max((c - 1) / 2, 0), rounded down. The index is the argsort entry there; the value a gather
// of x at that index.
template <bool kIgnoreNan>
absl::Status Median(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  const bool all = node.Find("dim") == nullptr;
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim", 0));
  KILN_ASSIGN_OR_RETURN(auto keepdim, ctx.Bool(node, "keepdim", false));
  ops::Shape shape = ctx.graph().values[x].shape;
  const int64_t numel = ops::NumElements(shape);
  if (all || shape.empty()) {  // a vector of every element; the result's shape is restored at the end
    KILN_ASSIGN_OR_RETURN(x, Reshaped(ctx, node, x, {numel}));
  }
  const ops::Shape line = ctx.graph().values[x].shape;
  int64_t d;
  if (std::string err = ops::NormalizeDim(all ? 0 : dim, std::max<int64_t>(shape.size(), 1), &d); !err.empty())
    return ctx.NodeError(node, err);
  if (shape.empty()) d = 0;
  const int64_t n = line[d];
  if (n == 0)
    return ctx.NodeError(node, absl::StrCat("has no median: the reduced dim of ", ops::ShapeToString(shape),
                                            " is empty"));
  if (n > (int64_t{1} << 24))
    return ctx.NodeError(node, absl::StrCat("dim ", dim, " of ", ops::ShapeToString(shape),
                                            " is larger than 2^24, beyond the indices fp32 holds exactly"));
  ops::Attrs sort, sum, gather;
  sort.SetInt("dim", d).SetInt("descending", 0);
  sum.SetInts("dims", {d}).SetInt("keepdim", 1);
  gather.SetInt("dim", d);
  KILN_ASSIGN_OR_RETURN(auto order, ctx.Emit(node, "argsort", {x}, sort));
  KILN_ASSIGN_OR_RETURN(auto is_number, ctx.Emit(node, "eq", {x, x}));  // NaN != NaN
  KILN_ASSIGN_OR_RETURN(auto count, ctx.Emit(node, "reduce_sum", {is_number}, sum));
  int position;
  if (kIgnoreNan) {
    KILN_ASSIGN_OR_RETURN(auto below, ctx.Emit(node, "sub", {count, ctx.ScalarConstant(1.0)}));
    KILN_ASSIGN_OR_RETURN(auto half, ctx.Emit(node, "mul", {below, ctx.ScalarConstant(0.5)}));
    KILN_ASSIGN_OR_RETURN(auto lower, ctx.Emit(node, "floor", {half}));
    KILN_ASSIGN_OR_RETURN(position, ctx.Emit(node, "maximum", {lower, ctx.ScalarConstant(0.0)}));
  } else {
    const int n_c = ctx.ScalarConstant(static_cast<double>(n));
    KILN_ASSIGN_OR_RETURN(auto has_nan, ctx.Emit(node, "lt", {count, n_c}));
    KILN_ASSIGN_OR_RETURN(position, ctx.Emit(node, "where", {has_nan, count, ctx.ScalarConstant((n - 1) / 2)}));
  }
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Emit(node, "gather", {order, position}, gather));
  // The result's shape: all elements -> []; one dim -> that dim dropped, or kept as 1.
  ops::Shape out;
  if (!all && !keepdim) {
    out = shape;
    if (!out.empty()) out.erase(out.begin() + d);
  } else if (!all) {
    out = shape;
    if (!out.empty()) out[d] = 1;
  }
  if (all) {
    KILN_ASSIGN_OR_RETURN(auto value, ctx.Emit(node, "gather", {x, index}, gather));
    KILN_ASSIGN_OR_RETURN(auto scalar, Reshaped(ctx, node, value, out));
    return ctx.Bind(node, scalar);
  }
  if (node.outputs.size() > 1) KILN_RETURN_IF_ERROR(BindOutput(ctx, node, 1, index, out));
  if (node.outputs.empty() || node.outputs[0].empty()) return absl::OkStatus();
  KILN_ASSIGN_OR_RETURN(auto value, ctx.Emit(node, "gather", {x, index}, gather));
  return BindOutput(ctx, node, 0, value, out);
}

// The operand of a rule over one dim: x (a rank-0 x as a vector of one) with that dim normalized, its
// size, and the shape of a per-dim result (the dim kept as 1, or dropped).
struct AlongDim {
  int x;
  int64_t d;
  int64_t n;
  ops::Shape shape;   // self's shape
  ops::Shape kept;    // x's shape with dim d as 1
  ops::Shape result;  // the ATen result's shape (per dim: d kept as 1, or dropped)
};

absl::StatusOr<AlongDim> Along(LoweringContext& ctx, const AtenNode& node, const char* what, bool keepdim) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim", -1));
  const ops::Shape shape = ctx.graph().values[x].shape;
  AlongDim a;
  if (std::string err = ops::NormalizeDim(dim, std::max<int64_t>(shape.size(), 1), &a.d); !err.empty())
    return ctx.NodeError(node, err);
  if (shape.empty()) {
    KILN_ASSIGN_OR_RETURN(x, Reshaped(ctx, node, x, {1}));
    a.d = 0;
  }
  a.x = x;
  a.shape = shape;
  a.n = ctx.graph().values[x].shape[a.d];
  a.kept = ctx.graph().values[x].shape;
  a.kept[a.d] = 1;
  a.result = shape;
  if (!shape.empty() && !keepdim) a.result.erase(a.result.begin() + a.d);
  else if (!shape.empty()) a.result[a.d] = 1;
  if (a.n == 0)
    return ctx.NodeError(node, absl::StrCat("has no ", what, ": dim ", dim, " of ", ops::ShapeToString(shape),
                                            " is empty"));
  if (a.n > (int64_t{1} << 24))
    return ctx.NodeError(node, absl::StrCat("dim ", dim, " of ", ops::ShapeToString(shape),
                                            " is larger than 2^24, beyond the indices fp32 holds exactly"));
  return a;
}

// The positions 0 .. n-1 along dim `d` of a rank-`rank` value (1 in every other dim), as a constant.
int Positions(LoweringContext& ctx, const AtenNode& node, int64_t rank, int64_t d, int64_t n) {
  ops::Shape shape(rank, 1);
  shape[d] = n;
  std::vector<float> iota(n);
  for (int64_t i = 0; i < n; ++i) iota[i] = static_cast<float>(i);
  return ctx.graph().AddConstant(absl::StrCat(node.name, "_positions", d), std::move(shape), std::move(iota));
}

// x with a dim of 1 inserted at `at`.
absl::StatusOr<int> Unsqueezed(LoweringContext& ctx, const AtenNode& node, int x, int64_t at) {
  ops::Shape shape = ctx.graph().values[x].shape;
  shape.insert(shape.begin() + at, 1);
  return Reshaped(ctx, node, x, shape);
}

// The pairs (i, j) of a dim of n along which every element meets every other: an error when they
// would not fit in one device value.
absl::Status CheckPairs(LoweringContext& ctx, const AtenNode& node, const AlongDim& a) {
  ops::Shape pairs = ctx.graph().values[a.x].shape;
  pairs.insert(pairs.begin() + a.d, a.n);
  if (std::string err = ops::CheckShape(pairs); !err.empty())
    return ctx.NodeError(node, "the comparison of each element with each other along the dim: " + err);
  return absl::OkStatus();
}

// kthvalue(self, k, dim, keepdim) -> (values, indices): the k-th smallest, NaN counted as the largest
// (a stable ascending argsort puts it last), at position k - 1 of the argsort.
absl::Status Kthvalue(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto keepdim, ctx.Bool(node, "keepdim", false));
  KILN_ASSIGN_OR_RETURN(auto k, ctx.Int(node, "k"));
  KILN_ASSIGN_OR_RETURN(AlongDim a, Along(ctx, node, "k-th value", keepdim));
  if (k < 1 || k > a.n)
    return ctx.NodeError(node, absl::StrCat("k = ", k, " is outside [1, ", a.n, "], the size of the dim"));
  ops::Attrs sort, gather, fill;
  sort.SetInt("dim", a.d).SetInt("descending", 0);
  gather.SetInt("dim", a.d);
  fill.SetInts("shape", a.kept);
  KILN_ASSIGN_OR_RETURN(auto order, ctx.Emit(node, "argsort", {a.x}, sort));
  const int kth = ctx.ScalarConstant(static_cast<double>(k - 1));
  KILN_ASSIGN_OR_RETURN(auto position, ctx.Emit(node, "expand", {kth}, fill));
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Emit(node, "gather", {order, position}, gather));
  KILN_RETURN_IF_ERROR(BindOutput(ctx, node, 1, index, a.result));
  if (node.outputs.empty() || node.outputs[0].empty()) return absl::OkStatus();
  KILN_ASSIGN_OR_RETURN(auto value, ctx.Emit(node, "gather", {a.x, index}, gather));
  return BindOutput(ctx, node, 0, value, a.result);
}

// mode(self, dim, keepdim) -> (values, indices): the most frequent value, the smallest of those tied,
// and the last index holding it (as ATen's CPU kernel, which sorts stably for small dims). Each
// element's count is its equals along the dim (an n x n comparison); NaN equals nothing.
absl::Status Mode(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto keepdim, ctx.Bool(node, "keepdim", false));
  KILN_ASSIGN_OR_RETURN(AlongDim a, Along(ctx, node, "mode", keepdim));
  KILN_RETURN_IF_ERROR(CheckPairs(ctx, node, a));
  KILN_ASSIGN_OR_RETURN(auto xi, Unsqueezed(ctx, node, a.x, a.d + 1));  // [.., n, 1, ..]
  KILN_ASSIGN_OR_RETURN(auto xj, Unsqueezed(ctx, node, a.x, a.d));      // [.., 1, n, ..]
  KILN_ASSIGN_OR_RETURN(auto same, ctx.Emit(node, "eq", {xi, xj}));
  ops::Attrs pairs, along;
  pairs.SetInts("dims", {a.d + 1}).SetInt("keepdim", 0);
  along.SetInts("dims", {a.d}).SetInt("keepdim", 1);
  KILN_ASSIGN_OR_RETURN(auto count, ctx.Emit(node, "reduce_sum", {same}, pairs));
  KILN_ASSIGN_OR_RETURN(auto most, ctx.Emit(node, "reduce_max", {count}, along));
  KILN_ASSIGN_OR_RETURN(auto is_most, ctx.Emit(node, "eq", {count, most}));
  const int inf = ctx.ScalarConstant(std::numeric_limits<double>::infinity());
  KILN_ASSIGN_OR_RETURN(auto candidates, ctx.Emit(node, "where", {is_most, a.x, inf}));
  KILN_ASSIGN_OR_RETURN(auto value, ctx.Emit(node, "reduce_min", {candidates}, along));
  KILN_ASSIGN_OR_RETURN(auto holds, ctx.Emit(node, "eq", {a.x, value}));
  const int positions = Positions(ctx, node, ctx.graph().values[a.x].shape.size(), a.d, a.n);
  KILN_ASSIGN_OR_RETURN(auto where, ctx.Emit(node, "where", {holds, positions, ctx.ScalarConstant(-1.0)}));
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Emit(node, "reduce_max", {where}, along));
  KILN_RETURN_IF_ERROR(BindOutput(ctx, node, 1, index, a.result));
  return BindOutput(ctx, node, 0, value, a.result);
}

// cummax and cummin(self, dim) -> (values, indices): at i, the max (min) of elements 0..i, NaN
// propagating, and the last index at or before i holding it (ATen takes a later equal, and a later
// NaN). Each i reduces the elements j <= i of an n x n comparison.
template <bool kMax>
absl::Status CumulativeExtreme(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(AlongDim a, Along(ctx, node, kMax ? "cummax" : "cummin", true));
  a.result = a.shape;
  KILN_RETURN_IF_ERROR(CheckPairs(ctx, node, a));
  const int64_t rank = ctx.graph().values[a.x].shape.size();
  // earlier[i, j] = j <= i, laid out as [.., n (i), n (j), ..].
  ops::Shape tri(rank + 1, 1);
  tri[a.d] = tri[a.d + 1] = a.n;
  std::vector<float> earlier(a.n * a.n);
  for (int64_t i = 0; i < a.n; ++i)
    for (int64_t j = 0; j < a.n; ++j) earlier[i * a.n + j] = j <= i ? 1.0f : 0.0f;
  const int mask = ctx.graph().AddConstant(node.name + "_earlier", tri, std::move(earlier));
  KILN_ASSIGN_OR_RETURN(auto xj, Unsqueezed(ctx, node, a.x, a.d));  // [.., 1, n, ..]
  const int fill = ctx.ScalarConstant(kMax ? -std::numeric_limits<double>::infinity()
                                           : std::numeric_limits<double>::infinity());
  KILN_ASSIGN_OR_RETURN(auto prefix, ctx.Emit(node, "where", {mask, xj, fill}));
  ops::Attrs over_j;
  over_j.SetInts("dims", {a.d + 1}).SetInt("keepdim", 1);
  KILN_ASSIGN_OR_RETURN(auto value, ctx.Emit(node, kMax ? "reduce_max" : "reduce_min", {prefix}, over_j));
  // [.., n, 1, ..]: element j matches value i when equal, or both NaN.
  KILN_ASSIGN_OR_RETURN(auto equal, ctx.Emit(node, "eq", {xj, value}));
  KILN_ASSIGN_OR_RETURN(auto x_number, ctx.Emit(node, "eq", {xj, xj}));
  KILN_ASSIGN_OR_RETURN(auto value_number, ctx.Emit(node, "eq", {value, value}));
  KILN_ASSIGN_OR_RETURN(auto either_number, ctx.Emit(node, "logical_or", {x_number, value_number}));
  KILN_ASSIGN_OR_RETURN(auto both_nan, ctx.Emit(node, "logical_not", {either_number}));
  KILN_ASSIGN_OR_RETURN(auto matches, ctx.Emit(node, "logical_or", {equal, both_nan}));
  KILN_ASSIGN_OR_RETURN(auto eligible, ctx.Emit(node, "logical_and", {matches, mask}));
  const int positions = Positions(ctx, node, rank + 1, a.d + 1, a.n);
  KILN_ASSIGN_OR_RETURN(auto where, ctx.Emit(node, "where", {eligible, positions, ctx.ScalarConstant(-1.0)}));
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Emit(node, "reduce_max", {where}, over_j));
  KILN_RETURN_IF_ERROR(BindOutput(ctx, node, 1, index, a.result));
  return BindOutput(ctx, node, 0, value, a.result);
}

// The number of entries of `sequence` (its last dim) below each value (le: at or below): the
// insertion point of searchsorted and bucketize. sequence [..., M] with values [..., K] (the same
// leading dims), or a vector sequence with values of any shape; computed as a comparison of every
// value with every entry, summed, which holds K x M comparisons at once.
absl::Status CountBelow(LoweringContext& ctx, const AtenNode& node, int sequence, int values, bool right) {
  const ops::Shape seq = ctx.graph().values[sequence].shape;
  ops::Shape v = ctx.graph().values[values].shape;
  if (seq.empty()) return ctx.NodeError(node, "the sorted sequence is a rank-0 tensor; it must have a dim to search");
  const ops::Shape lead_seq(seq.begin(), seq.end() - 1);
  if (seq.size() > 1 && (v.size() != seq.size() || !std::equal(lead_seq.begin(), lead_seq.end(), v.begin())))
    return ctx.NodeError(node, absl::StrCat("sorted sequence ", ops::ShapeToString(seq), " and values ",
                                            ops::ShapeToString(v),
                                            " must agree in every dim but the last (or the sequence be a vector)"));
  const int64_t m = seq.back();
  ops::Shape seq_b = lead_seq, v_b = v;
  if (seq.size() == 1) seq_b.assign(v.size(), 1);
  else seq_b.push_back(1);
  seq_b.push_back(m);
  v_b.push_back(1);
  ops::Shape compared = v;
  compared.push_back(m);
  if (std::string err = ops::CheckShape(compared); !err.empty()) return ctx.NodeError(node, "comparison " + err);
  KILN_ASSIGN_OR_RETURN(auto s, Reshaped(ctx, node, sequence, seq_b));
  KILN_ASSIGN_OR_RETURN(auto x, Reshaped(ctx, node, values, v_b));
  KILN_ASSIGN_OR_RETURN(auto below, ctx.Emit(node, right ? "le" : "lt", {s, x}));
  ops::Attrs sum;
  sum.SetInts("dims", {-1}).SetInt("keepdim", 0);
  return EmitAndBind(ctx, node, "reduce_sum", {below}, sum);
}

// searchsorted(sorted_sequence, self, right, side, sorter): side='right' (or right=True) counts the
// entries at or below each value; a sorter first puts the sequence in order (a gather).
absl::Status SearchSorted(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto sequence, ctx.Tensor(node, "sorted_sequence"));
  KILN_ASSIGN_OR_RETURN(auto values, ctx.TensorOrScalar(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto right, ctx.Bool(node, "right", false));
  const Argument* side = node.Find("side");
  if (side && side->kind == Argument::Kind::kString) {
    if (side->s != "left" && side->s != "right")
      return ctx.NodeError(node, absl::StrCat("side must be 'left' or 'right', got '", side->s, "'"));
    if (right && side->s == "left") return ctx.NodeError(node, "side='left' contradicts right=True");
    right = side->s == "right";
  }
  KILN_ASSIGN_OR_RETURN(auto sorter, ctx.OptionalTensor(node, "sorter"));
  if (sorter) {
    if (ctx.graph().values[*sorter].shape != ctx.graph().values[sequence].shape)
      return ctx.NodeError(node, absl::StrCat("sorter ", ops::ShapeToString(ctx.graph().values[*sorter].shape),
                                              " must have the sorted sequence's shape ",
                                              ops::ShapeToString(ctx.graph().values[sequence].shape)));
    ops::Attrs gather;
    gather.SetInt("dim", -1);
    KILN_ASSIGN_OR_RETURN(sequence, ctx.Emit(node, "gather", {sequence, *sorter}, gather));
  }
  return CountBelow(ctx, node, sequence, values, right);
}

// bucketize(self, boundaries, right) is searchsorted(boundaries, self, right).
absl::Status Bucketize(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto values, ctx.TensorOrScalar(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto boundaries, ctx.Tensor(node, "boundaries"));
  KILN_ASSIGN_OR_RETURN(auto right, ctx.Bool(node, "right", false));
  if (ctx.graph().values[boundaries].shape.size() != 1)
    return ctx.NodeError(node, absl::StrCat("boundaries ", ops::ShapeToString(ctx.graph().values[boundaries].shape),
                                            " must be a vector"));
  return CountBelow(ctx, node, boundaries, values, right);
}

// histc(x, bins, min, max): counts of x in `bins` equal bins over [min, max] (the data's range when
// min == max, widened by 1 each way when that is empty too); the max falls in the last bin, values
// outside the range and NaN in none. Each value's bin, floor((x - lo) * bins / (hi - lo)), is
// scatter-added into zeros; a NaN bin is skipped.
absl::Status Histc(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto bins, ctx.Int(node, "bins", 100));
  KILN_ASSIGN_OR_RETURN(auto min, ctx.Float(node, "min", 0.0));
  KILN_ASSIGN_OR_RETURN(auto max, ctx.Float(node, "max", 0.0));
  if (bins <= 0) return ctx.NodeError(node, absl::StrCat("bins must be positive, got ", bins));
  if (bins > (int64_t{1} << 24))
    return ctx.NodeError(node, absl::StrCat(bins, " bins is beyond 2^24, the indices fp32 holds exactly"));
  if (min > max) return ctx.NodeError(node, absl::StrCat("min ", min, " is above max ", max));
  const int64_t n = ops::NumElements(ctx.graph().values[x].shape);
  KILN_ASSIGN_OR_RETURN(auto flat, Reshaped(ctx, node, x, {n}));
  ops::Attrs zeros;
  zeros.SetInts("shape", {bins});
  KILN_ASSIGN_OR_RETURN(auto counts, ctx.Emit(node, "expand", {ctx.ScalarConstant(0.0)}, zeros));
  if (n == 0) return ctx.Bind(node, counts);
  int lo = ctx.ScalarConstant(min), hi = ctx.ScalarConstant(max);
  if (min == max) {
    ops::Attrs all;
    all.SetInts("dims", {}).SetInt("keepdim", 0);
    KILN_ASSIGN_OR_RETURN(auto data_lo, ctx.Emit(node, "reduce_min", {flat}, all));
    KILN_ASSIGN_OR_RETURN(auto data_hi, ctx.Emit(node, "reduce_max", {flat}, all));
    KILN_ASSIGN_OR_RETURN(auto same, ctx.Emit(node, "eq", {data_lo, data_hi}));
    KILN_ASSIGN_OR_RETURN(lo, ctx.Emit(node, "sub", {data_lo, same}));
    KILN_ASSIGN_OR_RETURN(hi, ctx.Emit(node, "add", {data_hi, same}));
  }
  const int bins_c = ctx.ScalarConstant(static_cast<double>(bins));
  KILN_ASSIGN_OR_RETURN(auto offset, ctx.Emit(node, "sub", {flat, lo}));
  KILN_ASSIGN_OR_RETURN(auto scaled, ctx.Emit(node, "mul", {offset, bins_c}));
  KILN_ASSIGN_OR_RETURN(auto width, ctx.Emit(node, "sub", {hi, lo}));
  KILN_ASSIGN_OR_RETURN(auto position, ctx.Emit(node, "div", {scaled, width}));
  KILN_ASSIGN_OR_RETURN(auto bin, ctx.Emit(node, "floor", {position}));
  KILN_ASSIGN_OR_RETURN(bin, ctx.Emit(node, "minimum", {bin, ctx.ScalarConstant(static_cast<double>(bins - 1))}));
  KILN_ASSIGN_OR_RETURN(auto above_lo, ctx.Emit(node, "le", {lo, flat}));
  KILN_ASSIGN_OR_RETURN(auto below_hi, ctx.Emit(node, "le", {flat, hi}));
  KILN_ASSIGN_OR_RETURN(auto inside, ctx.Emit(node, "logical_and", {above_lo, below_hi}));
  const int nan = ctx.ScalarConstant(std::numeric_limits<double>::quiet_NaN());
  KILN_ASSIGN_OR_RETURN(auto index, ctx.Emit(node, "where", {inside, bin, nan}));
  ops::Attrs ones, scatter;
  ones.SetInts("shape", {n});
  KILN_ASSIGN_OR_RETURN(auto one, ctx.Emit(node, "expand", {ctx.ScalarConstant(1.0)}, ones));
  scatter.SetInt("dim", 0).SetInt("reduce", 1).SetInt("include_self", 1);
  return EmitAndBind(ctx, node, "scatter", {counts, index, one}, scatter);
}

// The counts (or weights) of the elements of `flat` per bin of the increasing `edges` [bins + 1],
// whose last is `hi`, and their density when asked; binds both outputs. Defined below.
absl::Status BinCounts(LoweringContext& ctx, const AtenNode& node, int flat, int edges, int hi, int64_t bins);

absl::Status CheckBins(LoweringContext& ctx, const AtenNode& node, int64_t bins) {
  if (bins <= 0) return ctx.NodeError(node, absl::StrCat("bins must be positive, got ", bins));
  if (bins >= (int64_t{1} << 24))
    return ctx.NodeError(node, absl::StrCat(bins, " bins is beyond 2^24, the indices fp32 holds exactly"));
  return absl::OkStatus();
}

// The outer edges (lo, hi) of a histogram of `flat` [n], as ATen picks them: `range` (a, b) when
// given, else the data's min and max; widened by 0.5 each way when empty (-0.5, 0.5 without data).
absl::StatusOr<std::pair<int, int>> OuterEdges(LoweringContext& ctx, const AtenNode& node, int flat,
                                               std::optional<std::pair<double, double>> range) {
  if (range) {
    auto [a, b] = *range;
    if (!std::isfinite(a) || !std::isfinite(b) || a > b)
      return ctx.NodeError(node, absl::StrCat("range (", a, ", ", b, ") must be finite with min <= max"));
    if (a == b) a -= 0.5, b += 0.5;
    return std::pair{ctx.ScalarConstant(static_cast<float>(a)), ctx.ScalarConstant(static_cast<float>(b))};
  }
  if (ctx.graph().values[flat].shape[0] == 0) return std::pair{ctx.ScalarConstant(-0.5), ctx.ScalarConstant(0.5)};
  ops::Attrs all;
  all.SetInts("dims", {}).SetInt("keepdim", 0);
  KILN_ASSIGN_OR_RETURN(auto data_lo, ctx.Emit(node, "reduce_min", {flat}, all));
  KILN_ASSIGN_OR_RETURN(auto data_hi, ctx.Emit(node, "reduce_max", {flat}, all));
  KILN_ASSIGN_OR_RETURN(auto same, ctx.Emit(node, "eq", {data_lo, data_hi}));
  KILN_ASSIGN_OR_RETURN(auto widen, ctx.Emit(node, "mul", {same, ctx.ScalarConstant(0.5)}));
  KILN_ASSIGN_OR_RETURN(auto lo, ctx.Emit(node, "sub", {data_lo, widen}));
  KILN_ASSIGN_OR_RETURN(auto hi, ctx.Emit(node, "add", {data_hi, widen}));
  return std::pair{lo, hi};
}

// linspace(lo, hi, bins + 1) as ATen computes it in fp32: start + step * i for the first half, end -
// step * (steps - 1 - i) after. `tag` keeps the constants of several edge vectors apart.
absl::StatusOr<int> LinspaceEdges(LoweringContext& ctx, const AtenNode& node, int lo, int hi, int64_t bins,
                                  const std::string& tag = "") {
  std::vector<float> from_lo(bins + 1), from_hi(bins + 1), first_half(bins + 1);
  for (int64_t i = 0; i <= bins; ++i) {
    from_lo[i] = static_cast<float>(i);
    from_hi[i] = static_cast<float>(bins - i);
    first_half[i] = i < (bins + 1) / 2 ? 1.0f : 0.0f;
  }
  const int up = ctx.graph().AddConstant(node.name + tag + "_from_lo", {bins + 1}, std::move(from_lo));
  const int down = ctx.graph().AddConstant(node.name + tag + "_from_hi", {bins + 1}, std::move(from_hi));
  const int half = ctx.graph().AddConstant(node.name + tag + "_first_half", {bins + 1}, std::move(first_half));
  KILN_ASSIGN_OR_RETURN(auto span, ctx.Emit(node, "sub", {hi, lo}));
  KILN_ASSIGN_OR_RETURN(auto step, ctx.Emit(node, "div", {span, ctx.ScalarConstant(static_cast<double>(bins))}));
  KILN_ASSIGN_OR_RETURN(auto rise, ctx.Emit(node, "mul", {step, up}));
  KILN_ASSIGN_OR_RETURN(auto ascending, ctx.Emit(node, "add", {lo, rise}));
  KILN_ASSIGN_OR_RETURN(auto fall, ctx.Emit(node, "mul", {step, down}));
  KILN_ASSIGN_OR_RETURN(auto descending, ctx.Emit(node, "sub", {hi, fall}));
  return ctx.Emit(node, "where", {half, ascending, descending});
}

// histogram(x, bins, range, weight, density) -> (hist, bin_edges), as ATen's CPU kernel: the edges are
// linspace(lo, hi, bins + 1) in fp32 over the range (the data's min and max without one; widened by
// 0.5 each way when empty), each element in [edge 0, edge bins] falls in the bin of the last edge at
// or below it (the last bin also holds its right edge), NaN and elements outside in none. The bins
// are a scatter-add of the weights (or ones); density divides by their sum and by each bin's width.
absl::Status Histogram(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto bins, ctx.Int(node, "bins", 100));
  KILN_RETURN_IF_ERROR(CheckBins(ctx, node, bins));
  const int64_t n = ops::NumElements(ctx.graph().values[x].shape);
  KILN_ASSIGN_OR_RETURN(auto flat, Reshaped(ctx, node, x, {n}));
  std::optional<std::pair<double, double>> range;
  if (const Argument* r = node.Find("range"); r && r->kind == Argument::Kind::kFloats) {
    if (r->floats.size() != 2)
      return ctx.NodeError(node, absl::StrCat("range must be (min, max), got ", r->floats.size(), " values"));
    range = {r->floats[0], r->floats[1]};
  }
  KILN_ASSIGN_OR_RETURN(auto outer, OuterEdges(ctx, node, flat, range));
  KILN_ASSIGN_OR_RETURN(auto edges, LinspaceEdges(ctx, node, outer.first, outer.second, bins));
  return BinCounts(ctx, node, flat, edges, outer.second, bins);
}

// histogram.bins_tensor: the edges given (increasing, as ATen requires), each element in the bin of
// the last edge at or below it, as its binary search finds.
absl::Status HistogramEdges(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto edges, ctx.Tensor(node, "bins"));
  const ops::Shape edge_shape = ctx.graph().values[edges].shape;
  if (edge_shape.size() != 1 || edge_shape[0] < 2)
    return ctx.NodeError(node, absl::StrCat("bins ", ops::ShapeToString(edge_shape),
                                            " must be a vector of at least 2 edges"));
  const int64_t bins = edge_shape[0] - 1;
  if (bins >= (int64_t{1} << 24))
    return ctx.NodeError(node, absl::StrCat(bins, " bins is beyond 2^24, the indices fp32 holds exactly"));
  const int64_t n = ops::NumElements(ctx.graph().values[x].shape);
  KILN_ASSIGN_OR_RETURN(auto flat, Reshaped(ctx, node, x, {n}));
  ops::Attrs last;
  last.SetInt("dim", 0).SetInt("start", bins).SetInt("end", bins + 1).SetInt("step", 1);
  KILN_ASSIGN_OR_RETURN(auto hi, ctx.Emit(node, "slice", {edges}, last));
  return BinCounts(ctx, node, flat, edges, hi, bins);
}

// Each element of `flat` [n]'s bin among the increasing `edges` [bins + 1] whose last is `hi`: the
// last edge at or below it (the last bin also holds hi); NaN outside [edge 0, hi] and for NaN.
absl::StatusOr<int> BinIndex(LoweringContext& ctx, const AtenNode& node, int flat, int edges, int hi, int64_t bins) {
  const int64_t n = ctx.graph().values[flat].shape[0];
  if (std::string err = ops::CheckShape({n, bins + 1}); !err.empty())
    return ctx.NodeError(node, "the comparison of each element with each bin edge: " + err);
  KILN_ASSIGN_OR_RETURN(auto column, Reshaped(ctx, node, flat, {n, 1}));
  KILN_ASSIGN_OR_RETURN(auto row, Reshaped(ctx, node, edges, {1, bins + 1}));
  KILN_ASSIGN_OR_RETURN(auto at_or_below, ctx.Emit(node, "le", {row, column}));
  ops::Attrs sum;
  sum.SetInts("dims", {1}).SetInt("keepdim", 0);
  KILN_ASSIGN_OR_RETURN(auto count, ctx.Emit(node, "reduce_sum", {at_or_below}, sum));
  KILN_ASSIGN_OR_RETURN(auto bin, ctx.Emit(node, "sub", {count, ctx.ScalarConstant(1.0)}));
  KILN_ASSIGN_OR_RETURN(bin, ctx.Emit(node, "minimum", {bin, ctx.ScalarConstant(static_cast<double>(bins - 1))}));
  // Inside [edge 0, edge bins] = [lo, hi]: edge 0 is at or below, and hi at or above.
  KILN_ASSIGN_OR_RETURN(auto above_lo, ctx.Emit(node, "lt", {ctx.ScalarConstant(0.0), count}));
  KILN_ASSIGN_OR_RETURN(auto below_hi, ctx.Emit(node, "le", {flat, hi}));
  KILN_ASSIGN_OR_RETURN(auto inside, ctx.Emit(node, "logical_and", {above_lo, below_hi}));
  const int nan = ctx.ScalarConstant(std::numeric_limits<double>::quiet_NaN());
  return ctx.Emit(node, "where", {inside, bin, nan});
}

// Scatter-adds the weight (or one) of each of the n elements into zeros [bins] at `index` (NaN: none).
absl::StatusOr<int> ScatterCounts(LoweringContext& ctx, const AtenNode& node, int index, std::optional<int> weight,
                                  int64_t n, int64_t bins) {
  ops::Attrs zeros;
  zeros.SetInts("shape", {bins});
  KILN_ASSIGN_OR_RETURN(auto hist, ctx.Emit(node, "expand", {ctx.ScalarConstant(0.0)}, zeros));
  if (n == 0) return hist;
  int source;
  if (weight) {
    KILN_ASSIGN_OR_RETURN(source, Reshaped(ctx, node, *weight, {n}));
  } else {
    ops::Attrs ones;
    ones.SetInts("shape", {n});
    KILN_ASSIGN_OR_RETURN(source, ctx.Emit(node, "expand", {ctx.ScalarConstant(1.0)}, ones));
  }
  ops::Attrs scatter;
  scatter.SetInt("dim", 0).SetInt("reduce", 1).SetInt("include_self", 1);
  return ctx.Emit(node, "scatter", {hist, index, source}, scatter);
}

// hist / its sum / the width of each bin along `dim` (edges[1:] - edges[:-1]).
absl::StatusOr<int> DivideByWidths(LoweringContext& ctx, const AtenNode& node, int hist, int edges, int64_t bins,
                                   size_t dim, size_t rank) {
  ops::Attrs left_edges, right_edges;
  left_edges.SetInt("dim", 0).SetInt("start", 0).SetInt("end", bins).SetInt("step", 1);
  right_edges.SetInt("dim", 0).SetInt("start", 1).SetInt("end", bins + 1).SetInt("step", 1);
  KILN_ASSIGN_OR_RETURN(auto left, ctx.Emit(node, "slice", {edges}, left_edges));
  KILN_ASSIGN_OR_RETURN(auto right, ctx.Emit(node, "slice", {edges}, right_edges));
  KILN_ASSIGN_OR_RETURN(auto width, ctx.Emit(node, "sub", {right, left}));
  ops::Shape along(rank, 1);
  along[dim] = bins;
  KILN_ASSIGN_OR_RETURN(width, Reshaped(ctx, node, width, along));
  return ctx.Emit(node, "div", {hist, width});
}

absl::StatusOr<int> DivideBySum(LoweringContext& ctx, const AtenNode& node, int hist) {
  ops::Attrs all;
  all.SetInts("dims", {}).SetInt("keepdim", 0);
  KILN_ASSIGN_OR_RETURN(auto total, ctx.Emit(node, "reduce_sum", {hist}, all));
  return ctx.Emit(node, "div", {hist, total});
}

absl::Status BinCounts(LoweringContext& ctx, const AtenNode& node, int flat, int edges, int hi, int64_t bins) {
  KILN_ASSIGN_OR_RETURN(auto weight, ctx.OptionalTensor(node, "weight"));
  KILN_ASSIGN_OR_RETURN(auto density, ctx.Bool(node, "density", false));
  const int64_t n = ctx.graph().values[flat].shape[0];
  if (weight && ops::NumElements(ctx.graph().values[*weight].shape) != n)
    return ctx.NodeError(node, absl::StrCat("weight ", ops::ShapeToString(ctx.graph().values[*weight].shape),
                                            " must have the input's ", n, " elements"));
  if (node.outputs.size() > 1 && !node.outputs[1].empty()) KILN_RETURN_IF_ERROR(ctx.Bind(node, edges, 1));
  if (node.outputs.empty() || node.outputs[0].empty()) return absl::OkStatus();
  int index = flat;
  if (n > 0) {
    KILN_ASSIGN_OR_RETURN(index, BinIndex(ctx, node, flat, edges, hi, bins));
  }
  KILN_ASSIGN_OR_RETURN(auto hist, ScatterCounts(ctx, node, index, weight, n, bins));
  if (density) {
    KILN_ASSIGN_OR_RETURN(hist, DivideBySum(ctx, node, hist));
    KILN_ASSIGN_OR_RETURN(hist, DivideByWidths(ctx, node, hist, edges, bins, 0, 1));
  }
  return ctx.Bind(node, hist);
}

// _histogramdd_bin_edges(self [..., D], bins [D], range, weight, density) -> D edge vectors, and
// _histogramdd_from_bin_cts(...) -> hist [bins...]: torch.histogramdd with bin counts, as ATen's CPU
// kernel. Each of the D columns gets its edges as histogram's (from its own pair of `range` or its
// own min and max); _histogramdd_from_bin_tensors(self, bins: D edge vectors, weight, density) takes
// them as given (increasing, as ATen requires). An element falls in the bin whose per-dim bins are
// those of its coordinates (each as histogram's), and in none when a coordinate is outside its
// edges. The counts are a scatter-add at the flattened bin index (a NaN index, from any dim, adds
// nothing); density divides by their sum and by the bin widths along each dim.
template <bool kCounts>
absl::Status HistogramDd(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  const Argument* bins_arg = node.Find("bins");
  const bool given_edges = bins_arg && bins_arg->kind == Argument::Kind::kTensors;
  std::vector<int> edges;
  std::vector<int64_t> bins;
  if (given_edges) {
    for (const std::string& name : bins_arg->tensors) {
      KILN_ASSIGN_OR_RETURN(auto e, ctx.Value(node, name));
      const ops::Shape& es = ctx.graph().values[e].shape;
      if (es.size() != 1 || es[0] < 2)
        return ctx.NodeError(node, absl::StrCat("bins[", edges.size(), "] ", ops::ShapeToString(es),
                                                " must be a vector of at least 2 edges"));
      edges.push_back(e);
      bins.push_back(es[0] - 1);
    }
  } else {
    KILN_ASSIGN_OR_RETURN(bins, ctx.Ints(node, "bins"));
  }
  const ops::Shape shape = ctx.graph().values[x].shape;
  if (shape.empty())
    return ctx.NodeError(node, "self must be points [..., D], got a 0-d tensor");
  const int64_t dims = shape.back(), n = dims == 0 ? 0 : ops::NumElements(shape) / dims;
  if (static_cast<int64_t>(bins.size()) != dims)
    return ctx.NodeError(node, absl::StrCat("bins ", ops::ShapeToString(bins), " must give one count for each of the ",
                                            dims, " dims of the points ", ops::ShapeToString(shape)));
  int64_t cells = 1;
  for (int64_t b : bins) {
    KILN_RETURN_IF_ERROR(CheckBins(ctx, node, b));
    cells *= b;
    if (cells >= (int64_t{1} << 24))
      return ctx.NodeError(node, absl::StrCat("bins ", ops::ShapeToString(bins),
                                              " make 2^24 or more cells, beyond the indices fp32 holds exactly"));
  }
  const Argument* range = node.Find("range");
  const bool has_range = range && range->kind == Argument::Kind::kFloats;
  if (has_range && static_cast<int64_t>(range->floats.size()) != 2 * dims)
    return ctx.NodeError(node, absl::StrCat("range must be ", 2 * dims, " values (min, max for each dim), got ",
                                            range->floats.size()));
  KILN_ASSIGN_OR_RETURN(auto points, Reshaped(ctx, node, x, {n, dims}));
  std::vector<int> hi(dims), columns(dims);
  edges.resize(dims);
  for (int64_t d = 0; d < dims; ++d) {
    ops::Attrs column;
    column.SetInt("dim", 1).SetInt("start", d).SetInt("end", d + 1).SetInt("step", 1);
    KILN_ASSIGN_OR_RETURN(auto sliced, ctx.Emit(node, "slice", {points}, column));
    KILN_ASSIGN_OR_RETURN(columns[d], Reshaped(ctx, node, sliced, {n}));
    if (given_edges) {
      ops::Attrs last;
      last.SetInt("dim", 0).SetInt("start", bins[d]).SetInt("end", bins[d] + 1).SetInt("step", 1);
      KILN_ASSIGN_OR_RETURN(hi[d], ctx.Emit(node, "slice", {edges[d]}, last));
      continue;
    }
    std::optional<std::pair<double, double>> pair;
    if (has_range) pair = {range->floats[2 * d], range->floats[2 * d + 1]};
    KILN_ASSIGN_OR_RETURN(auto outer, OuterEdges(ctx, node, columns[d], pair));
    hi[d] = outer.second;
    KILN_ASSIGN_OR_RETURN(edges[d], LinspaceEdges(ctx, node, outer.first, outer.second, bins[d], absl::StrCat("_", d)));
  }
  if (!kCounts) {
    for (int64_t d = 0; d < dims; ++d) KILN_RETURN_IF_ERROR(ctx.Bind(node, edges[d], static_cast<size_t>(d)));
    return absl::OkStatus();
  }
  KILN_ASSIGN_OR_RETURN(auto weight, ctx.OptionalTensor(node, "weight"));
  KILN_ASSIGN_OR_RETURN(auto density, ctx.Bool(node, "density", false));
  if (weight && ops::NumElements(ctx.graph().values[*weight].shape) != n)
    return ctx.NodeError(node, absl::StrCat("weight ", ops::ShapeToString(ctx.graph().values[*weight].shape),
                                            " must have one value for each of the ", n, " points"));
  int index = ctx.ScalarConstant(0.0);
  if (n > 0) {
    int64_t stride = cells;
    for (int64_t d = 0; d < dims; ++d) {
      stride /= bins[d];
      KILN_ASSIGN_OR_RETURN(auto bin, BinIndex(ctx, node, columns[d], edges[d], hi[d], bins[d]));
      KILN_ASSIGN_OR_RETURN(auto scaled, ctx.Emit(node, "mul", {bin, ctx.ScalarConstant(static_cast<double>(stride))}));
      KILN_ASSIGN_OR_RETURN(index, ctx.Emit(node, "add", {index, scaled}));
    }
  }
  KILN_ASSIGN_OR_RETURN(auto hist, ScatterCounts(ctx, node, index, weight, n, cells));
  KILN_ASSIGN_OR_RETURN(hist, Reshaped(ctx, node, hist, bins));
  if (density) {
    KILN_ASSIGN_OR_RETURN(hist, DivideBySum(ctx, node, hist));
    for (int64_t d = 0; d < dims; ++d) {
      KILN_ASSIGN_OR_RETURN(hist, DivideByWidths(ctx, node, hist, edges[d], bins[d], d, dims));
    }
  }
  return ctx.Bind(node, hist);
}

}  // namespace

void AddSortRules(RuleTable& rules) {
  Decomposed(rules, "aten.median.default", Median<false>,
             "reshape, argsort, eq, reduce_sum, lt, where, gather (index), gather (value)");
  Decomposed(rules, "aten.median.dim", Median<false>,
             "argsort, eq, reduce_sum, lt, where, gather (index), gather (value), reshape");
  Decomposed(rules, "aten.nanmedian.default", Median<true>,
             "reshape, argsort, eq, reduce_sum, sub, mul, floor, maximum, gather (index), gather (value)");
  Decomposed(rules, "aten.nanmedian.dim", Median<true>,
             "argsort, eq, reduce_sum, sub, mul, floor, maximum, gather (index), gather (value), reshape");
  Decomposed(rules, "aten.kthvalue.default", Kthvalue, "argsort, expand, gather (index), gather (value), reshape");
  Decomposed(rules, "aten.mode.default", Mode,
             "reshape, eq (each element with each other), reduce_sum, reduce_max, eq, where, reduce_min (value), "
             "eq, where, reduce_max (last index)");
  Decomposed(rules, "aten.cummax.default", CumulativeExtreme<true>,
             "reshape, where (the elements up to each position), reduce_max (value), eq, logical_or, logical_not, "
             "logical_and, where, reduce_max (last index)");
  Decomposed(rules, "aten.cummin.default", CumulativeExtreme<false>,
             "reshape, where (the elements up to each position), reduce_min (value), eq, logical_or, logical_not, "
             "logical_and, where, reduce_max (last index)");
  for (const char* target : {"aten.searchsorted.Tensor", "aten.searchsorted.Scalar"})
    Decomposed(rules, target, SearchSorted,
               "gather (sorter), reshape, lt or le (each value with each entry), reduce_sum");
  for (const char* target : {"aten.bucketize.Tensor", "aten.bucketize.Scalar"})
    Decomposed(rules, target, Bucketize, "reshape, lt or le (each value with each boundary), reduce_sum");
  Decomposed(rules, "aten.histogram.bin_ct", Histogram,
             "reduce_min, reduce_max, eq, mul, sub, add, div, where (the edges: ATen's linspace), reshape, le (each "
             "element with each edge), reduce_sum, minimum, lt, logical_and, expand, scatter (sum), slice, "
             "div (density)");
  Decomposed(rules, "aten.histogram.bins_tensor", HistogramEdges,
             "reshape, slice (the last edge), le (each element with each edge), reduce_sum, sub, minimum, lt, le, "
             "logical_and, where, expand, scatter (sum), div (density)");
  Decomposed(rules, "aten._histogramdd_bin_edges.default", HistogramDd<false>,
             "reshape, slice (each dim's column), reduce_min, reduce_max, eq, mul, sub, add, div, where (each "
             "dim's edges: ATen's linspace)");
  Decomposed(rules, "aten._histogramdd_from_bin_cts.default", HistogramDd<true>,
             "reshape, slice, reduce_min, reduce_max, eq, mul, sub, add, div, where (each dim's edges), le (each "
             "coordinate with each edge), reduce_sum, minimum, lt, logical_and, expand, scatter (sum), div (density)");
  Decomposed(rules, "aten._histogramdd_from_bin_tensors.default", HistogramDd<true>,
             "reshape, slice (each dim's column and last edge), le (each coordinate with each edge), reduce_sum, "
             "minimum, lt, logical_and, where, mul, add, expand, scatter (sum), div (density)");
  Decomposed(rules, "aten.histc.default", Histc,
             "reshape, expand, reduce_min, reduce_max, eq, sub, add (the data's range), mul, div, floor, minimum, "
             "le, logical_and, where, scatter (sum)");
}

}  // namespace kiln::compiler

// Lowering rules for order statistics and searches: median and nanmedian (argsort, then a gather at a
// position counted from the NaNs), searchsorted and bucketize (a count of the boundaries below each
// value), and histc (a scatter-add of each value's bin).
#include <algorithm>
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
  for (const char* target : {"aten.searchsorted.Tensor", "aten.searchsorted.Scalar"})
    Decomposed(rules, target, SearchSorted,
               "gather (sorter), reshape, lt or le (each value with each entry), reduce_sum");
  for (const char* target : {"aten.bucketize.Tensor", "aten.bucketize.Scalar"})
    Decomposed(rules, target, Bucketize, "reshape, lt or le (each value with each boundary), reduce_sum");
  Decomposed(rules, "aten.histc.default", Histc,
             "reshape, expand, reduce_min, reduce_max, eq, sub, add (the data's range), mul, div, floor, minimum, "
             "le, logical_and, where, scatter (sum)");
}

}  // namespace kiln::compiler

// Lowering rules for the products and distances that decompose into matmul and reductions: addmv,
// addbmm, _trilinear (nn.functional.bilinear) and dist.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "compiler/lowering/rules.h"
#include "ops/shape_util.h"

namespace kiln::compiler {
namespace {

// Binds beta * self + alpha * product, as ATen's addmm family computes it: beta = 0 ignores self
// (NaN in it does not propagate), a factor of 1 emits no multiplication.
absl::Status BindScaledSum(LoweringContext& ctx, const AtenNode& node, int product) {
  KILN_ASSIGN_OR_RETURN(auto self, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto beta, ctx.Float(node, "beta", 1.0));
  KILN_ASSIGN_OR_RETURN(auto alpha, ctx.Float(node, "alpha", 1.0));
  // Integer tensors take the factors as integers, truncated (alpha=2.6 multiplies by 2).
  const TorchDType t = ctx.DTypeOf(node, "self");
  if (t == TorchDType::kLong || t == TorchDType::kInt || t == TorchDType::kShort || t == TorchDType::kChar ||
      t == TorchDType::kByte) {
    alpha = std::trunc(alpha);
    beta = std::trunc(beta);
  }
  if (alpha != 1.0) {
    KILN_ASSIGN_OR_RETURN(product, ctx.Emit(node, "mul", {product, ctx.ScalarConstant(alpha)}));
  }
  if (beta == 0.0) {
    const ops::Shape& out = ctx.graph().values[product].shape;
    const ops::Shape& in = ctx.graph().values[self].shape;
    ops::Shape broadcast;
    if (std::string err = ops::BroadcastShapes(out, in, &broadcast); !err.empty() || broadcast != out)
      return ctx.NodeError(node, absl::StrCat("self ", ops::ShapeToString(in), " does not broadcast to the product ",
                                              ops::ShapeToString(out)));
    return ctx.Bind(node, product);
  }
  if (beta != 1.0) {
    KILN_ASSIGN_OR_RETURN(self, ctx.Emit(node, "mul", {self, ctx.ScalarConstant(beta)}));
  }
  return EmitAndBind(ctx, node, "add", {self, product});
}

// addmv(self, mat, vec): the matrix-vector product as a matmul with vec as a column.
absl::Status Addmv(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto mat, ctx.Tensor(node, "mat"));
  KILN_ASSIGN_OR_RETURN(auto vec, ctx.Tensor(node, "vec"));
  const ops::Shape& m = ctx.graph().values[mat].shape;
  const ops::Shape& v = ctx.graph().values[vec].shape;
  if (m.size() != 2 || v.size() != 1 || m[1] != v[0])
    return ctx.NodeError(node, absl::StrCat("mat ", ops::ShapeToString(m), " and vec ", ops::ShapeToString(v),
                                            " are not a matrix and a vector of its width"));
  KILN_ASSIGN_OR_RETURN(auto column, Reshaped(ctx, node, vec, {v[0], 1}));
  KILN_ASSIGN_OR_RETURN(auto product, ctx.Emit(node, "matmul", {mat, column}));
  KILN_ASSIGN_OR_RETURN(product, Reshaped(ctx, node, product, {m[0]}));
  return BindScaledSum(ctx, node, product);
}

// addbmm(self, batch1, batch2): the batched product summed over the batch.
absl::Status Addbmm(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto batch1, ctx.Tensor(node, "batch1"));
  KILN_ASSIGN_OR_RETURN(auto batch2, ctx.Tensor(node, "batch2"));
  const ops::Shape& a = ctx.graph().values[batch1].shape;
  const ops::Shape& b = ctx.graph().values[batch2].shape;
  if (a.size() != 3 || b.size() != 3 || a[0] != b[0] || a[2] != b[1])
    return ctx.NodeError(node, absl::StrCat("batch1 ", ops::ShapeToString(a), " and batch2 ", ops::ShapeToString(b),
                                            " are not batches of the same count of multipliable matrices"));
  KILN_ASSIGN_OR_RETURN(auto products, ctx.Emit(node, "matmul", {batch1, batch2}));
  ops::Attrs sum;
  sum.SetInts("dims", {0}).SetInt("keepdim", 0);
  KILN_ASSIGN_OR_RETURN(auto product, ctx.Emit(node, "reduce_sum", {products}, sum));
  return BindScaledSum(ctx, node, product);
}

// Permutes x to `order` (nothing when it is the identity).
absl::StatusOr<int> Permuted(LoweringContext& ctx, const AtenNode& node, int x, const std::vector<int64_t>& order) {
  bool identity = true;
  for (size_t i = 0; i < order.size(); ++i) identity &= order[i] == static_cast<int64_t>(i);
  if (identity) return x;
  ops::Attrs attrs;
  attrs.SetInts("dims", order);
  return ctx.Emit(node, "permute", {x}, attrs);
}

// sum over `summed` of a * b (same rank, broadcasting), the summed dims kept as size 1: one batched
// matmul. A summed dim only one side has is summed on that side first; every other dim is a batch
// dim (both sides have it), a row dim (only a has it) or a column dim (only b has it).
absl::StatusOr<int> Contract(LoweringContext& ctx, const AtenNode& node, int a, int b, const std::set<int64_t>& summed) {
  const int64_t rank = static_cast<int64_t>(ctx.graph().values[a].shape.size());
  for (int* x : {&a, &b}) {
    const int other = x == &a ? b : a;
    std::vector<int64_t> alone;
    for (int64_t d : summed)
      if (ctx.graph().values[*x].shape[d] != 1 && ctx.graph().values[other].shape[d] == 1) alone.push_back(d);
    if (alone.empty()) continue;
    ops::Attrs sum;
    sum.SetInts("dims", alone).SetInt("keepdim", 1);
    KILN_ASSIGN_OR_RETURN(*x, ctx.Emit(node, "reduce_sum", {*x}, sum));
  }
  const ops::Shape sa = ctx.graph().values[a].shape, sb = ctx.graph().values[b].shape;
  std::vector<int64_t> batch, rows, cols, inner, a_rest, b_rest;
  int64_t nb = 1, nm = 1, nn = 1, nk = 1;
  for (int64_t d = 0; d < rank; ++d) {
    const bool in_a = sa[d] != 1, in_b = sb[d] != 1;
    if (in_a && in_b && sa[d] != sb[d])
      return ctx.NodeError(node, absl::StrCat("operands ", ops::ShapeToString(sa), " and ", ops::ShapeToString(sb),
                                              " do not broadcast in dim ", d));
    if (in_a && in_b && summed.count(d)) {
      inner.push_back(d);
      nk *= sa[d];
    } else if (in_a && in_b) {
      batch.push_back(d);
      nb *= sa[d];
    } else if (in_a) {
      rows.push_back(d);
      nm *= sa[d];
      b_rest.push_back(d);
    } else if (in_b) {
      cols.push_back(d);
      nn *= sb[d];
      a_rest.push_back(d);
    } else {
      a_rest.push_back(d);
      b_rest.push_back(d);
    }
  }
  auto concat = [](std::initializer_list<const std::vector<int64_t>*> parts) {
    std::vector<int64_t> all;
    for (const auto* p : parts) all.insert(all.end(), p->begin(), p->end());
    return all;
  };
  KILN_ASSIGN_OR_RETURN(a, Permuted(ctx, node, a, concat({&batch, &rows, &inner, &a_rest})));
  KILN_ASSIGN_OR_RETURN(a, Reshaped(ctx, node, a, {nb, nm, nk}));
  KILN_ASSIGN_OR_RETURN(b, Permuted(ctx, node, b, concat({&batch, &inner, &cols, &b_rest})));
  KILN_ASSIGN_OR_RETURN(b, Reshaped(ctx, node, b, {nb, nk, nn}));
  KILN_ASSIGN_OR_RETURN(auto product, ctx.Emit(node, "matmul", {a, b}));
  // Back to the operands' dim order, every summed (or absent) dim as size 1.
  const std::vector<int64_t> kept = concat({&batch, &rows, &cols});
  ops::Shape kept_shape;
  for (int64_t d : kept) kept_shape.push_back(sa[d] != 1 ? sa[d] : sb[d]);
  KILN_ASSIGN_OR_RETURN(product, Reshaped(ctx, node, product, kept_shape));
  std::vector<int64_t> order(kept.size());
  for (size_t i = 0; i < kept.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return kept[x] < kept[y]; });
  KILN_ASSIGN_OR_RETURN(product, Permuted(ctx, node, product, order));
  ops::Shape full(rank, 1);
  for (int64_t d : kept) full[d] = sa[d] != 1 ? sa[d] : sb[d];
  return Reshaped(ctx, node, product, full);
}

// _trilinear(i1, i2, i3, expand1, expand2, expand3, sumdim): each input gets size-1 dims at its
// expand positions (so all three have the same rank); their broadcast product is summed over sumdim.
// As in ATen, i1 and i2 are contracted first over the summed dims i3 lacks, then the result with i3
// over the rest, each a matmul: nn.functional.bilinear, _trilinear(x1, weight, x2, [1, 3], [0],
// [1, 2], [2, 3]), is x1 @ weight then a batched product with x2, never all N x out x in1 x in2 terms.
absl::Status Trilinear(LoweringContext& ctx, const AtenNode& node) {
  const char* names[] = {"i1", "i2", "i3"};
  const char* expands[] = {"expand1", "expand2", "expand3"};
  int inputs[3];
  int64_t total = -1;
  for (int k = 0; k < 3; ++k) {
    KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, names[k]));
    KILN_ASSIGN_OR_RETURN(auto expand, ctx.Ints(node, expands[k]));
    const ops::Shape in = ctx.graph().values[x].shape;
    const int64_t rank = static_cast<int64_t>(in.size() + expand.size());
    if (total >= 0 && rank != total)
      return ctx.NodeError(node, absl::StrCat(names[k], " ", ops::ShapeToString(in), " with expand ",
                                              ops::ShapeToString(expand), " has rank ", rank, ", not ", total));
    total = rank;
    const std::set<int64_t> inserted(expand.begin(), expand.end());
    if (inserted.size() != expand.size() || (!inserted.empty() && (*inserted.begin() < 0 || *inserted.rbegin() >= rank)))
      return ctx.NodeError(node, absl::StrCat(expands[k], " ", ops::ShapeToString(expand),
                                              " must be distinct dims below ", rank));
    ops::Shape full;
    for (int64_t d = 0, j = 0; d < rank; ++d) full.push_back(inserted.count(d) ? 1 : in[j++]);
    KILN_ASSIGN_OR_RETURN(inputs[k], Reshaped(ctx, node, x, full));
  }
  KILN_ASSIGN_OR_RETURN(auto sumdim, ctx.Ints(node, "sumdim"));
  std::set<int64_t> summed, first;
  for (int64_t d : sumdim) {
    if (d < 0 || d >= total) return ctx.NodeError(node, absl::StrCat("sumdim ", d, " is not a dim below ", total));
    summed.insert(d);
    if (ctx.graph().values[inputs[2]].shape[d] == 1) first.insert(d);
  }
  KILN_ASSIGN_OR_RETURN(auto pair, Contract(ctx, node, inputs[0], inputs[1], first));
  std::set<int64_t> rest;
  for (int64_t d : summed)
    if (!first.count(d)) rest.insert(d);
  KILN_ASSIGN_OR_RETURN(auto all, Contract(ctx, node, pair, inputs[2], rest));
  ops::Shape out;
  for (int64_t d = 0; d < total; ++d)
    if (!summed.count(d)) out.push_back(ctx.graph().values[all].shape[d]);
  KILN_ASSIGN_OR_RETURN(all, Reshaped(ctx, node, all, out));
  return ctx.Bind(node, all);
}

// dist(self, other, p): the p-norm of the broadcast difference. p = 2 is sqrt(sum(d * d)), inf and
// -inf the max and min of |d|, 0 the count of nonzero d, others sum(|d|^p)^(1/p).
absl::Status Dist(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto a, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto b, ctx.Tensor(node, "other"));
  KILN_ASSIGN_OR_RETURN(auto p, ctx.Float(node, "p", 2.0));
  KILN_ASSIGN_OR_RETURN(auto d, ctx.Emit(node, "sub", {a, b}));
  ops::Attrs all;
  all.SetInts("dims", {}).SetInt("keepdim", 0);
  if (p == 2.0) {
    KILN_ASSIGN_OR_RETURN(auto squared, ctx.Emit(node, "mul", {d, d}));
    KILN_ASSIGN_OR_RETURN(auto sum, ctx.Emit(node, "reduce_sum", {squared}, all));
    return EmitAndBind(ctx, node, "sqrt", {sum});
  }
  if (p == 0.0) {
    KILN_ASSIGN_OR_RETURN(auto zero, ctx.Emit(node, "logical_not", {d}));
    KILN_ASSIGN_OR_RETURN(auto nonzero, ctx.Emit(node, "logical_not", {zero}));
    return EmitAndBind(ctx, node, "reduce_sum", {nonzero}, all);
  }
  KILN_ASSIGN_OR_RETURN(auto magnitude, ctx.Emit(node, "abs", {d}));
  if (std::isinf(p)) return EmitAndBind(ctx, node, p > 0 ? "reduce_max" : "reduce_min", {magnitude}, all);
  if (p == 1.0) return EmitAndBind(ctx, node, "reduce_sum", {magnitude}, all);
  KILN_ASSIGN_OR_RETURN(auto powered, ctx.Emit(node, "pow", {magnitude, ctx.ScalarConstant(p)}));
  KILN_ASSIGN_OR_RETURN(auto sum, ctx.Emit(node, "reduce_sum", {powered}, all));
  return EmitAndBind(ctx, node, "pow", {sum, ctx.ScalarConstant(1.0 / p)});
}

}  // namespace

void AddLinalgRules(RuleTable& rules) {
  Decomposed(rules, "aten.addmv.default", Addmv, "reshape, matmul, reshape, mul (alpha or beta != 1), add");
  Decomposed(rules, "aten.addbmm.default", Addbmm, "matmul, reduce_sum, mul (alpha or beta != 1), add");
  Decomposed(rules, "aten._trilinear.default", Trilinear,
             "reshape, reduce_sum (a dim only one side has), permute, matmul (i1 with i2; the result with i3)");
  Decomposed(rules, "aten.dist.default", Dist,
             "sub, mul, reduce_sum, sqrt (p = 2); abs, reduce_max or reduce_min (p = inf or -inf); logical_not, "
             "reduce_sum (p = 0); abs, pow, reduce_sum, pow (other p)");
}

}  // namespace kiln::compiler

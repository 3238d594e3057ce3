// Lowering rules for ATen's backward (gradient) ops. They are ops like any other: the device
// computes them from their operands (the forward's saved tensors and the incoming gradient).
#include <algorithm>
#include <numeric>
#include <optional>

#include "absl/strings/str_cat.h"
#include "compiler/lowering/op_builder.h"
#include "compiler/lowering/pool_windows.h"
#include "compiler/lowering/rules.h"

namespace kiln::compiler {
namespace {

using ops::Shape;
using ops::ShapeToString;

// _adaptive_avg_pool2d_backward(grad_output, self): the forward is R x C^T with constant averaging
// matrices, so the gradient is R^T g C.
absl::Status AdaptiveAvgPool2dBackward(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto g, ctx.Tensor(node, "grad_output"));
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  const Shape in = b.Shape(x), out = b.Shape(g);
  if (in.size() < 3 || out.size() != in.size())
    return b.Error(absl::StrCat("expects [.., H, W] input and gradient of the same rank, got ", ShapeToString(in),
                                " and ", ShapeToString(out)));
  const size_t r = in.size();
  const int64_t h = in[r - 2], w = in[r - 1], oh = out[r - 2], ow = out[r - 1];
  if (oh <= 0 || ow <= 0 || h <= 0 || w <= 0)
    return b.Error(absl::StrCat("adaptive pooling from ", h, "x", w, " to ", oh, "x", ow, " needs positive sizes"));
  const int cols = b.Constant("cols", {ow, w}, AdaptiveWindows(w, ow));
  const int rows_t = b.Constant("rows_t", {h, oh}, Transposed(AdaptiveWindows(h, oh), oh, h));
  KILN_ASSIGN_OR_RETURN(auto by_cols, b.Op("matmul", {g, cols}));
  KILN_ASSIGN_OR_RETURN(auto gx, b.Op("matmul", {rows_t, by_cols}));
  return ctx.Bind(node, gx);
}

// avg_pool2d_backward: the forward is M_H x M_W^T (both of ATen's divisors factor per axis), so the
// gradient is M_H^T g M_W, and a divisor override is one division.
absl::Status AvgPool2dBackward(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto g, ctx.Tensor(node, "grad_output"));
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto kernel, ctx.Ints(node, "kernel_size"));
  KILN_ASSIGN_OR_RETURN(auto stride, ctx.Ints(node, "stride", std::vector<int64_t>{}));
  KILN_ASSIGN_OR_RETURN(auto padding, ctx.Ints(node, "padding", std::vector<int64_t>{0}));
  KILN_ASSIGN_OR_RETURN(auto count_include_pad, ctx.Bool(node, "count_include_pad", true));
  KILN_ASSIGN_OR_RETURN(auto divisor, ctx.Int(node, "divisor_override", 0));
  if (stride.empty()) stride = kernel;
  ExpandToSpatial(2, {&kernel, &stride, &padding});
  if (kernel.size() != 2 || stride.size() != 2 || padding.size() != 2)
    return b.Error("kernel_size, stride and padding must hold 1 or 2 values");
  const Shape in = b.Shape(x), out = b.Shape(g);
  if ((in.size() != 3 && in.size() != 4) || out.size() != in.size())
    return b.Error(absl::StrCat("expects [N, C, H, W] or [C, H, W] input and gradient, got ", ShapeToString(in),
                                " and ", ShapeToString(out)));
  const size_t r = in.size();
  std::vector<float> m[2];
  for (int i = 0; i < 2; ++i) {
    if (kernel[i] <= 0 || stride[i] <= 0 || padding[i] < 0)
      return b.Error(absl::StrCat("kernel ", ShapeToString(kernel), ", stride ", ShapeToString(stride),
                                  " and padding ", ShapeToString(padding), " must be positive (padding >= 0)"));
    m[i] = AvgPoolWindows(in[r - 2 + i], out[r - 2 + i], kernel[i], stride[i], padding[i], count_include_pad,
                          divisor != 0);
  }
  const int cols = b.Constant("cols", {out[r - 1], in[r - 1]}, std::move(m[1]));
  const int rows_t = b.Constant("rows_t", {in[r - 2], out[r - 2]}, Transposed(m[0], out[r - 2], in[r - 2]));
  KILN_ASSIGN_OR_RETURN(auto by_cols, b.Op("matmul", {g, cols}));
  KILN_ASSIGN_OR_RETURN(auto gx, b.Op("matmul", {rows_t, by_cols}));
  if (divisor != 0) {
    KILN_ASSIGN_OR_RETURN(gx, b.Op("div", {gx, b.Scalar(static_cast<double>(divisor))}));
  }
  return ctx.Bind(node, gx);
}

// max_pool2d_with_indices_backward: each output's gradient goes to the input position its index
// names (flat within its [H, W] plane), summed where windows overlap: a scatter-add.
absl::Status MaxPool2dBackward(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto g, ctx.Tensor(node, "grad_output"));
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto indices, ctx.Tensor(node, "indices"));
  const Shape in = b.Shape(x), out = b.Shape(g);
  if (in.size() < 3 || out.size() != in.size() || b.Shape(indices) != out)
    return b.Error(absl::StrCat("expects [.., H, W] input with gradient and indices of one shape, got ",
                                ShapeToString(in), ", ", ShapeToString(out), " and ", ShapeToString(b.Shape(indices))));
  const size_t r = in.size();
  const int64_t lead = ops::DimProduct(in, 0, r - 2);
  KILN_ASSIGN_OR_RETURN(auto zeros, b.Filled({lead, in[r - 2] * in[r - 1]}, 0.0));
  KILN_ASSIGN_OR_RETURN(auto flat_g, b.Reshape(g, {lead, out[r - 2] * out[r - 1]}));
  KILN_ASSIGN_OR_RETURN(auto flat_i, b.Reshape(indices, {lead, out[r - 2] * out[r - 1]}));
  KILN_ASSIGN_OR_RETURN(auto sum, b.ScatterAdd(zeros, flat_i, flat_g, 1));
  KILN_ASSIGN_OR_RETURN(auto gx, b.Reshape(sum, in));
  return ctx.Bind(node, gx);
}

// embedding_dense_backward(grad_output, indices, num_weights, padding_idx, scale_grad_by_freq):
// row i of the weight gradient sums the gradient rows whose index is i (a scatter-add); rows of
// padding_idx get none, and scale_grad_by_freq divides each row by how often its index occurs.
absl::Status EmbeddingDenseBackward(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto g, ctx.Tensor(node, "grad_output"));
  KILN_ASSIGN_OR_RETURN(auto indices, ctx.Tensor(node, "indices"));
  KILN_ASSIGN_OR_RETURN(auto num_weights, ctx.Int(node, "num_weights"));
  KILN_ASSIGN_OR_RETURN(auto padding_idx, ctx.Int(node, "padding_idx", -1));
  KILN_ASSIGN_OR_RETURN(auto scale_by_freq, ctx.Bool(node, "scale_grad_by_freq", false));
  const Shape gs = b.Shape(g), is = b.Shape(indices);
  const int64_t n = ops::NumElements(is);
  if (gs.size() != is.size() + 1 || !std::equal(is.begin(), is.end(), gs.begin()))
    return b.Error(absl::StrCat("gradient ", ShapeToString(gs), " must be the indices' shape ", ShapeToString(is),
                                " plus the embedding dim"));
  if (num_weights < 0) return b.Error(absl::StrCat("num_weights ", num_weights, " is negative"));
  const int64_t d = gs.back();
  KILN_ASSIGN_OR_RETURN(auto index, b.Reshape(indices, {n, 1}));
  if (padding_idx >= 0 && padding_idx < num_weights) {
    // An out-of-range index is skipped by the scatter: padding rows receive nothing.
    KILN_ASSIGN_OR_RETURN(auto is_pad, b.Op("eq", {index, b.Scalar(static_cast<double>(padding_idx))}));
    KILN_ASSIGN_OR_RETURN(index, b.Op("where", {is_pad, b.Scalar(static_cast<double>(num_weights)), index}));
  }
  KILN_ASSIGN_OR_RETURN(auto rows, b.Reshape(g, {n, d}));
  KILN_ASSIGN_OR_RETURN(auto row_index, b.Expand(index, {n, d}));
  KILN_ASSIGN_OR_RETURN(auto zeros, b.Filled({num_weights, d}, 0.0));
  KILN_ASSIGN_OR_RETURN(auto gw, b.ScatterAdd(zeros, row_index, rows, 0));
  if (scale_by_freq) {
    KILN_ASSIGN_OR_RETURN(auto zero_counts, b.Filled({num_weights, 1}, 0.0));
    KILN_ASSIGN_OR_RETURN(auto ones, b.Filled({n, 1}, 1.0));
    KILN_ASSIGN_OR_RETURN(auto counts, b.ScatterAdd(zero_counts, index, ones, 0));
    KILN_ASSIGN_OR_RETURN(auto at_least_one, b.Op("maximum", {counts, b.Scalar(1.0)}));
    KILN_ASSIGN_OR_RETURN(gw, b.Op("div", {gw, at_least_one}));
  }
  return ctx.Bind(node, gw);
}

// The normalization backward shared by layer and group norm, over a view where `dims` are the
// normalized dims: with x_hat = (x - mean) * rstd and gw = dy * weight,
// dx = rstd * (gw - mean(gw) - x_hat * mean(gw * x_hat)).
struct NormGrads {
  int dx, x_hat;
};
absl::StatusOr<NormGrads> NormBackward(OpBuilder& b, int dy, int x, int mean, int rstd, std::optional<int> weight,
                                       const std::vector<int64_t>& dims) {
  KILN_ASSIGN_OR_RETURN(auto centered, b.Op("sub", {x, mean}));
  KILN_ASSIGN_OR_RETURN(auto x_hat, b.Op("mul", {centered, rstd}));
  int gw = dy;
  if (weight) {
    KILN_ASSIGN_OR_RETURN(gw, b.Op("mul", {dy, *weight}));
  }
  KILN_ASSIGN_OR_RETURN(auto mean_gw, b.Reduce("reduce_mean", gw, dims, true));
  KILN_ASSIGN_OR_RETURN(auto gw_xhat, b.Op("mul", {gw, x_hat}));
  KILN_ASSIGN_OR_RETURN(auto mean_gw_xhat, b.Reduce("reduce_mean", gw_xhat, dims, true));
  KILN_ASSIGN_OR_RETURN(auto t, b.Op("mul", {x_hat, mean_gw_xhat}));
  KILN_ASSIGN_OR_RETURN(auto s, b.Op("sub", {gw, mean_gw}));
  KILN_ASSIGN_OR_RETURN(auto u, b.Op("sub", {s, t}));
  KILN_ASSIGN_OR_RETURN(auto dx, b.Op("mul", {u, rstd}));
  return NormGrads{dx, x_hat};
}

// native_layer_norm_backward(grad_out, input, normalized_shape, mean, rstd, weight?, bias?,
// output_mask) -> (dx, dweight, dbias), each when the graph uses it.
absl::Status LayerNormBackward(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto dy, ctx.Tensor(node, "grad_out"));
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "input"));
  KILN_ASSIGN_OR_RETURN(auto normalized, ctx.Ints(node, "normalized_shape"));
  KILN_ASSIGN_OR_RETURN(auto mean, ctx.Tensor(node, "mean"));
  KILN_ASSIGN_OR_RETURN(auto rstd, ctx.Tensor(node, "rstd"));
  KILN_ASSIGN_OR_RETURN(auto weight, ctx.OptionalTensor(node, "weight"));
  const Shape in = b.Shape(x);
  const size_t k = normalized.size();
  if (k == 0 || k > in.size() || !std::equal(normalized.begin(), normalized.end(), in.end() - k) || b.Shape(dy) != in)
    return b.Error(absl::StrCat("input ", ShapeToString(in), " and gradient ", ShapeToString(b.Shape(dy)),
                                " must match and end in normalized_shape ", ShapeToString(normalized)));
  const size_t lead = in.size() - k;
  Shape stats(in.begin(), in.begin() + lead);
  stats.resize(in.size(), 1);
  if (ops::NumElements(b.Shape(mean)) != ops::NumElements(stats) ||
      ops::NumElements(b.Shape(rstd)) != ops::NumElements(stats))
    return b.Error(absl::StrCat("mean ", ShapeToString(b.Shape(mean)), " and rstd ", ShapeToString(b.Shape(rstd)),
                                " must hold one value per normalized row ", ShapeToString(stats)));
  KILN_ASSIGN_OR_RETURN(mean, b.Reshape(mean, stats));
  KILN_ASSIGN_OR_RETURN(rstd, b.Reshape(rstd, stats));
  std::vector<int64_t> norm_dims(k), lead_dims(lead);
  std::iota(norm_dims.begin(), norm_dims.end(), static_cast<int64_t>(lead));
  std::iota(lead_dims.begin(), lead_dims.end(), 0);
  KILN_ASSIGN_OR_RETURN(NormGrads grads, NormBackward(b, dy, x, mean, rstd, weight, norm_dims));
  KILN_RETURN_IF_ERROR(b.BindIfWanted(grads.dx, 0));
  if (b.Wants(1)) {
    KILN_ASSIGN_OR_RETURN(auto prod, b.Op("mul", {dy, grads.x_hat}));
    KILN_ASSIGN_OR_RETURN(auto dw, lead ? b.Reduce("reduce_sum", prod, lead_dims, false) : prod);
    KILN_RETURN_IF_ERROR(b.BindIfWanted(dw, 1));
  }
  if (b.Wants(2)) {
    KILN_ASSIGN_OR_RETURN(auto db, lead ? b.Reduce("reduce_sum", dy, lead_dims, false) : dy);
    KILN_RETURN_IF_ERROR(b.BindIfWanted(db, 2));
  }
  return absl::OkStatus();
}

// native_group_norm_backward(grad_out, input, mean, rstd, weight?, N, C, HxW, group, output_mask)
// -> (dx, dweight, dbias): the layer-norm gradient over the [N, group, C / group, HxW] view, and the
// per-channel sums over N and HxW.
absl::Status GroupNormBackward(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto dy, ctx.Tensor(node, "grad_out"));
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "input"));
  KILN_ASSIGN_OR_RETURN(auto mean, ctx.Tensor(node, "mean"));
  KILN_ASSIGN_OR_RETURN(auto rstd, ctx.Tensor(node, "rstd"));
  KILN_ASSIGN_OR_RETURN(auto weight, ctx.OptionalTensor(node, "weight"));
  KILN_ASSIGN_OR_RETURN(auto n, ctx.Int(node, "N"));
  KILN_ASSIGN_OR_RETURN(auto c, ctx.Int(node, "C"));
  KILN_ASSIGN_OR_RETURN(auto hxw, ctx.Int(node, "HxW"));
  KILN_ASSIGN_OR_RETURN(auto groups, ctx.Int(node, "group"));
  const Shape in = b.Shape(x);
  if (groups <= 0 || c % groups != 0)
    return b.Error(absl::StrCat(c, " channels do not split into ", groups, " groups"));
  if (ops::NumElements(in) != n * c * hxw || b.Shape(dy) != in || in.size() < 2)
    return b.Error(absl::StrCat("input ", ShapeToString(in), " and gradient ", ShapeToString(b.Shape(dy)),
                                " must match and hold N * C * HxW = ", n, " * ", c, " * ", hxw, " elements"));
  if (ops::NumElements(b.Shape(mean)) != n * groups || ops::NumElements(b.Shape(rstd)) != n * groups)
    return b.Error(absl::StrCat("mean ", ShapeToString(b.Shape(mean)), " and rstd ", ShapeToString(b.Shape(rstd)),
                                " must hold N * group = ", n * groups, " values"));
  const Shape view = {n, groups, c / groups, hxw};
  KILN_ASSIGN_OR_RETURN(auto xv, b.Reshape(x, view));
  KILN_ASSIGN_OR_RETURN(auto dyv, b.Reshape(dy, view));
  KILN_ASSIGN_OR_RETURN(mean, b.Reshape(mean, {n, groups, 1, 1}));
  KILN_ASSIGN_OR_RETURN(rstd, b.Reshape(rstd, {n, groups, 1, 1}));
  std::optional<int> wv;
  if (weight) {
    KILN_ASSIGN_OR_RETURN(wv, b.Reshape(*weight, {1, groups, c / groups, 1}));
  }
  KILN_ASSIGN_OR_RETURN(NormGrads grads, NormBackward(b, dyv, xv, mean, rstd, wv, {2, 3}));
  if (b.Wants(0)) {
    KILN_ASSIGN_OR_RETURN(auto dx, b.Reshape(grads.dx, in));
    KILN_RETURN_IF_ERROR(b.BindIfWanted(dx, 0));
  }
  if (b.Wants(1)) {
    KILN_ASSIGN_OR_RETURN(auto prod, b.Op("mul", {dyv, grads.x_hat}));
    KILN_ASSIGN_OR_RETURN(auto per_channel, b.Reshape(prod, {n, c, hxw}));
    KILN_ASSIGN_OR_RETURN(auto dw, b.Reduce("reduce_sum", per_channel, {0, 2}, false));
    KILN_RETURN_IF_ERROR(b.BindIfWanted(dw, 1));
  }
  if (b.Wants(2)) {
    KILN_ASSIGN_OR_RETURN(auto per_channel, b.Reshape(dy, {n, c, hxw}));
    KILN_ASSIGN_OR_RETURN(auto db, b.Reduce("reduce_sum", per_channel, {0, 2}, false));
    KILN_RETURN_IF_ERROR(b.BindIfWanted(db, 2));
  }
  return absl::OkStatus();
}

}  // namespace

void AddBackwardRules(RuleTable& rules) {
  Decomposed(rules, "aten._adaptive_avg_pool2d_backward.default", AdaptiveAvgPool2dBackward,
             "matmul (columns), matmul (rows): transposed constant averaging matrices");
  Decomposed(rules, "aten.avg_pool2d_backward.default", AvgPool2dBackward,
             "matmul (columns), matmul (rows): transposed constant window matrices; div (divisor_override)");
  Decomposed(rules, "aten.max_pool2d_with_indices_backward.default", MaxPool2dBackward,
             "expand, reshape, scatter (sum at the saved indices)");
  Decomposed(rules, "aten.embedding_dense_backward.default", EmbeddingDenseBackward,
             "reshape, eq, where (padding_idx), expand, scatter (sum per row), maximum, div (scale_grad_by_freq)");
  Decomposed(rules, "aten.native_layer_norm_backward.default", LayerNormBackward,
             "reshape, sub, mul, reduce_mean, reduce_sum");
  Decomposed(rules, "aten.native_group_norm_backward.default", GroupNormBackward,
             "reshape, sub, mul, reduce_mean, reduce_sum");
}

}  // namespace kiln::compiler

// Lowering rules for neural-network ops that read their input at computed positions: pairwise
// distances, col2im (fold), 3-D max pooling with indices, grid sampling and embedding bags. Each is
// decomposed into gathers/scatters with constant index maps (or runtime ones computed on the device)
// and elementwise ops.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "compiler/lowering/op_builder.h"
#include "compiler/lowering/rules.h"

namespace kiln::compiler {
namespace {

using ops::Shape;
using ops::ShapeToString;

// The p-norm of `diff` over `dim` as ATen's distance kernels define it: p = 0 counts non-zeros,
// p = inf is the largest magnitude.
absl::StatusOr<int> PNorm(OpBuilder& b, int diff, double p, int64_t dim) {
  if (p == 0) {
    KILN_ASSIGN_OR_RETURN(auto zero, b.Op("eq", {diff, b.Scalar(0.0)}));
    KILN_ASSIGN_OR_RETURN(auto nonzero, b.Op("logical_not", {zero}));
    return b.Reduce("reduce_sum", nonzero, {dim}, false);
  }
  KILN_ASSIGN_OR_RETURN(auto mag, b.Op("abs", {diff}));
  if (std::isinf(p)) return b.Reduce("reduce_max", mag, {dim}, false);
  if (p == 1) return b.Reduce("reduce_sum", mag, {dim}, false);
  if (p == 2) {
    KILN_ASSIGN_OR_RETURN(auto sq, b.Op("mul", {diff, diff}));
    KILN_ASSIGN_OR_RETURN(auto sum, b.Reduce("reduce_sum", sq, {dim}, false));
    return b.Op("sqrt", {sum});
  }
  KILN_ASSIGN_OR_RETURN(auto powered, b.Op("pow", {mag, b.Scalar(p)}));
  KILN_ASSIGN_OR_RETURN(auto sum, b.Reduce("reduce_sum", powered, {dim}, false));
  return b.Op("pow", {sum, b.Scalar(1.0 / p)});
}

absl::StatusOr<double> NormOrder(OpBuilder& b, LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto p, ctx.Float(node, "p", 2.0));
  if (!(p >= 0)) return b.Error(absl::StrCat("p = ", p, " must be >= 0"));
  return p;
}

// _cdist_forward(x1 [.., P, M], x2 [.., R, M], p, compute_mode) -> [.., P, R]: the p-norm of
// x1[.., P, 1, M] - x2[.., 1, R, M] (computed directly; compute_mode's matmul form is only faster).
absl::Status Cdist(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto x1, ctx.Tensor(node, "x1"));
  KILN_ASSIGN_OR_RETURN(auto x2, ctx.Tensor(node, "x2"));
  KILN_ASSIGN_OR_RETURN(double p, NormOrder(b, ctx, node));
  Shape s1 = b.Shape(x1), s2 = b.Shape(x2);
  if (s1.size() < 2 || s2.size() < 2 || s1.back() != s2.back())
    return b.Error(absl::StrCat("x1 ", ShapeToString(s1), " and x2 ", ShapeToString(s2),
                                " must be [.., P, M] and [.., R, M] with the same M"));
  s1.insert(s1.end() - 1, 1);
  s2.insert(s2.end() - 2, 1);
  KILN_ASSIGN_OR_RETURN(auto a, b.Reshape(x1, s1));
  KILN_ASSIGN_OR_RETURN(auto c, b.Reshape(x2, s2));
  KILN_ASSIGN_OR_RETURN(auto diff, b.Op("sub", {a, c}));
  KILN_ASSIGN_OR_RETURN(auto dist, PNorm(b, diff, p, -1));
  return ctx.Bind(node, dist);
}

// _pdist_forward(x [N, M], p) -> [N (N - 1) / 2]: the p-norm of x[i] - x[j] for i < j, row-major.
absl::Status Pdist(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(double p, NormOrder(b, ctx, node));
  const Shape s = b.Shape(x);
  if (s.size() != 2) return b.Error(absl::StrCat("expects an [N, M] input, got ", ShapeToString(s)));
  std::vector<float> first, second;
  for (int64_t i = 0; i < s[0]; ++i)
    for (int64_t j = i + 1; j < s[0]; ++j) {
      first.push_back(static_cast<float>(i));
      second.push_back(static_cast<float>(j));
    }
  const int64_t pairs = static_cast<int64_t>(first.size());
  if (pairs == 0) {
    KILN_ASSIGN_OR_RETURN(auto empty, b.Filled({0}, 0.0));
    return ctx.Bind(node, empty);
  }
  KILN_ASSIGN_OR_RETURN(auto a, b.AlongDim("take", {x, b.Constant("first", {pairs}, std::move(first))}, 0));
  KILN_ASSIGN_OR_RETURN(auto c, b.AlongDim("take", {x, b.Constant("second", {pairs}, std::move(second))}, 0));
  KILN_ASSIGN_OR_RETURN(auto diff, b.Op("sub", {a, c}));
  KILN_ASSIGN_OR_RETURN(auto dist, PNorm(b, diff, p, 1));
  return ctx.Bind(node, dist);
}

// An int-pair argument ([k] means [k, k]).
absl::StatusOr<std::vector<int64_t>> Pair(OpBuilder& b, LoweringContext& ctx, const AtenNode& node,
                                          const std::string& arg) {
  KILN_ASSIGN_OR_RETURN(auto v, ctx.Ints(node, arg));
  if (v.size() == 1) v.push_back(v[0]);
  if (v.size() != 2) return b.Error(absl::StrCat("'", arg, "' ", ShapeToString(v), " must hold 1 or 2 values"));
  return v;
}

// col2im(x [N, C * kh * kw, L], output_size, kernel_size, dilation, padding, stride) -> [N, C, H, W]:
// every column entry is added at its position in the padded plane (a scatter-add with a constant
// index map), and the padding is cropped.
absl::Status Col2Im(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto size, Pair(b, ctx, node, "output_size"));
  KILN_ASSIGN_OR_RETURN(auto kernel, Pair(b, ctx, node, "kernel_size"));
  KILN_ASSIGN_OR_RETURN(auto dilation, Pair(b, ctx, node, "dilation"));
  KILN_ASSIGN_OR_RETURN(auto padding, Pair(b, ctx, node, "padding"));
  KILN_ASSIGN_OR_RETURN(auto stride, Pair(b, ctx, node, "stride"));
  const Shape in = b.Shape(x);
  const bool batched = in.size() == 3;
  if (in.size() != 2 && in.size() != 3) return b.Error(absl::StrCat("expects [N, C * kh * kw, L] input, got ", ShapeToString(in)));
  int64_t blocks[2];
  for (int i = 0; i < 2; ++i) {
    if (kernel[i] <= 0 || dilation[i] <= 0 || stride[i] <= 0 || padding[i] < 0)
      return b.Error("kernel_size, dilation and stride must be positive and padding >= 0");
    blocks[i] = (size[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) / stride[i] + 1;
  }
  const int64_t n = batched ? in[0] : 1, rows = in[in.size() - 2], l = in.back(), k = kernel[0] * kernel[1];
  if (rows % k != 0 || blocks[0] <= 0 || blocks[1] <= 0 || l != blocks[0] * blocks[1])
    return b.Error(absl::StrCat("input ", ShapeToString(in), " does not hold C * ", kernel[0], " * ", kernel[1],
                                " rows of ", blocks[0], " * ", blocks[1], " blocks for output ", ShapeToString(size)));
  const int64_t c = rows / k, hp = size[0] + 2 * padding[0], wp = size[1] + 2 * padding[1];
  std::vector<float> map;
  map.reserve(k * l);
  for (int64_t i = 0; i < kernel[0]; ++i)
    for (int64_t j = 0; j < kernel[1]; ++j)
      for (int64_t y = 0; y < blocks[0]; ++y)
        for (int64_t z = 0; z < blocks[1]; ++z)
          map.push_back(static_cast<float>((y * stride[0] + i * dilation[0]) * wp + z * stride[1] + j * dilation[1]));
  KILN_ASSIGN_OR_RETURN(auto src, b.Reshape(x, {n, c, k * l}));
  KILN_ASSIGN_OR_RETURN(auto index, b.Expand(b.Constant("positions", {1, 1, k * l}, std::move(map)), {n, c, k * l}));
  KILN_ASSIGN_OR_RETURN(auto zeros, b.Filled({n, c, hp * wp}, 0.0));
  KILN_ASSIGN_OR_RETURN(auto sum, b.ScatterAdd(zeros, index, src, 2));
  KILN_ASSIGN_OR_RETURN(auto plane, b.Reshape(sum, {n, c, hp, wp}));
  KILN_ASSIGN_OR_RETURN(auto out, b.Pad(plane, {0, 0, 0, 0, -padding[0], -padding[0], -padding[1], -padding[1]}, 0.0));
  if (!batched) {
    KILN_ASSIGN_OR_RETURN(out, b.Reshape(out, {c, size[0], size[1]}));
  }
  return ctx.Bind(node, out);
}

// ATen's pooling output size along one axis (pooling_output_shape).
int64_t PooledSize(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil, bool ceil_mode) {
  const int64_t span = in + 2 * pad - dil * (k - 1) - 1;
  int64_t out = (span + (ceil_mode ? stride - 1 : 0)) / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// max_pool3d_with_indices(x [.., D, H, W], kernel, stride, padding, dilation, ceil_mode) -> (values,
// indices): the input padded with -inf, every window's taps taken into a row with a constant index
// map, then reduce_max (values) and argmax mapped back to the flat D * H * W position (indices).
absl::Status MaxPool3dWithIndices(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto kernel, ctx.Ints(node, "kernel_size"));
  KILN_ASSIGN_OR_RETURN(auto stride, ctx.Ints(node, "stride", std::vector<int64_t>{}));
  KILN_ASSIGN_OR_RETURN(auto padding, ctx.Ints(node, "padding", std::vector<int64_t>{0}));
  KILN_ASSIGN_OR_RETURN(auto dilation, ctx.Ints(node, "dilation", std::vector<int64_t>{1}));
  KILN_ASSIGN_OR_RETURN(auto ceil_mode, ctx.Bool(node, "ceil_mode", false));
  if (stride.empty()) stride = kernel;
  for (auto* v : {&kernel, &stride, &padding, &dilation})
    if (v->size() == 1) *v = {(*v)[0], (*v)[0], (*v)[0]};
  if (kernel.size() != 3 || stride.size() != 3 || padding.size() != 3 || dilation.size() != 3)
    return b.Error("kernel_size, stride, padding and dilation must hold 1 or 3 values");
  const Shape in = b.Shape(x);
  if (in.size() != 4 && in.size() != 5)
    return b.Error(absl::StrCat("expects [N, C, D, H, W] or [C, D, H, W] input, got ", ShapeToString(in)));
  const size_t r = in.size();
  int64_t size[3], out[3], padded[3];
  for (int i = 0; i < 3; ++i) {
    size[i] = in[r - 3 + i];
    if (kernel[i] <= 0 || stride[i] <= 0 || dilation[i] <= 0 || padding[i] < 0 || 2 * padding[i] > kernel[i])
      return b.Error(absl::StrCat("kernel ", ShapeToString(kernel), ", stride ", ShapeToString(stride), ", padding ",
                                  ShapeToString(padding), ", dilation ", ShapeToString(dilation),
                                  ": sizes must be positive and padding at most half the kernel"));
    out[i] = PooledSize(size[i], kernel[i], padding[i], stride[i], dilation[i], ceil_mode);
    if (out[i] <= 0) return b.Error(absl::StrCat("input ", ShapeToString(in), " is smaller than the window"));
    // Room for the last window (ceil_mode may reach past the padding; those taps read -inf too).
    padded[i] = std::max(size[i] + 2 * padding[i], (out[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1);
  }
  const int64_t lead = ops::DimProduct(in, 0, r - 3), taps = kernel[0] * kernel[1] * kernel[2];
  const int64_t outputs = out[0] * out[1] * out[2];
  std::vector<float> where_padded, where_in;  // [outputs, taps]: flat position in the padded / the input
  where_padded.reserve(outputs * taps);
  where_in.reserve(outputs * taps);
  for (int64_t od = 0; od < out[0]; ++od)
    for (int64_t oh = 0; oh < out[1]; ++oh)
      for (int64_t ow = 0; ow < out[2]; ++ow)
        for (int64_t a = 0; a < kernel[0]; ++a)
          for (int64_t c = 0; c < kernel[1]; ++c)
            for (int64_t e = 0; e < kernel[2]; ++e) {
              const int64_t pd = od * stride[0] + a * dilation[0], ph = oh * stride[1] + c * dilation[1],
                            pw = ow * stride[2] + e * dilation[2];
              where_padded.push_back(static_cast<float>((pd * padded[1] + ph) * padded[2] + pw));
              const int64_t d = pd - padding[0], h = ph - padding[1], w = pw - padding[2];
              const bool inside = d >= 0 && d < size[0] && h >= 0 && h < size[1] && w >= 0 && w < size[2];
              where_in.push_back(inside ? static_cast<float>((d * size[1] + h) * size[2] + w) : -1.0f);
            }
  KILN_ASSIGN_OR_RETURN(auto x3, b.Reshape(x, {lead, size[0], size[1], size[2]}));
  std::vector<int64_t> pads = {0, 0};
  for (int i = 0; i < 3; ++i) pads.insert(pads.end(), {padding[i], padded[i] - size[i] - padding[i]});
  KILN_ASSIGN_OR_RETURN(auto xp, b.Pad(x3, pads, -std::numeric_limits<double>::infinity()));
  KILN_ASSIGN_OR_RETURN(auto flat, b.Reshape(xp, {lead, padded[0] * padded[1] * padded[2]}));
  KILN_ASSIGN_OR_RETURN(auto taken, b.AlongDim("take", {flat, b.Constant("taps", {outputs * taps}, std::move(where_padded))}, 1));
  KILN_ASSIGN_OR_RETURN(auto windows, b.Reshape(taken, {lead, outputs, taps}));
  Shape result(in.begin(), in.end() - 3);
  result.insert(result.end(), {out[0], out[1], out[2]});
  if (b.Wants(0)) {
    KILN_ASSIGN_OR_RETURN(auto values, b.Reduce("reduce_max", windows, {2}, false));
    KILN_ASSIGN_OR_RETURN(values, b.Reshape(values, result));
    KILN_RETURN_IF_ERROR(b.BindIfWanted(values, 0));
  }
  if (b.Wants(1)) {
    ops::Attrs keep;
    keep.SetInt("dim", 2).SetInt("keepdim", 1);
    KILN_ASSIGN_OR_RETURN(auto tap, b.Op("argmax", {windows}, keep));
    KILN_ASSIGN_OR_RETURN(auto table, b.Expand(b.Constant("positions", {1, outputs, taps}, std::move(where_in)),
                                               {lead, outputs, taps}));
    KILN_ASSIGN_OR_RETURN(auto index, b.AlongDim("gather", {table, tap}, 2));
    KILN_ASSIGN_OR_RETURN(index, b.Reshape(index, result));
    KILN_RETURN_IF_ERROR(b.BindIfWanted(index, 1));
  }
  return absl::OkStatus();
}

}  // namespace

void AddSamplingRules(RuleTable& rules) {
  Decomposed(rules, "aten._cdist_forward.default", Cdist,
             "reshape, sub, abs, mul, pow, reduce_sum, reduce_max, sqrt, eq, logical_not (by p)");
  Decomposed(rules, "aten._pdist_forward.default", Pdist,
             "take (constant row pairs), sub, abs, mul, pow, reduce_sum, reduce_max, sqrt, eq, logical_not (by p)");
  Decomposed(rules, "aten.col2im.default", Col2Im, "reshape, expand, scatter (sum at constant positions), pad (crop)");
  Decomposed(rules, "aten.max_pool3d_with_indices.default", MaxPool3dWithIndices,
             "reshape, pad (-inf), take (constant window map), reduce_max (values), argmax, expand, gather (indices)");
}

}  // namespace kiln::compiler

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
#include "compiler/lowering/pool_windows.h"
#include "compiler/lowering/rules.h"

namespace kiln::compiler {
namespace {

using ops::Shape;
using ops::ShapeToString;

// The p-norm of `diff` over `dim` as ATen's distance kernels define it: p = 0 counts non-zeros,
// p = inf is the largest magnitude.
absl::StatusOr<int> PNorm(OpBuilder& b, int diff, double p, std::vector<int64_t> dims) {
  if (p == 0) {
    KILN_ASSIGN_OR_RETURN(auto zero, b.Op("eq", {diff, b.Scalar(0.0)}));
    KILN_ASSIGN_OR_RETURN(auto nonzero, b.Op("logical_not", {zero}));
    return b.Reduce("reduce_sum", nonzero, dims, false);
  }
  KILN_ASSIGN_OR_RETURN(auto mag, b.Op("abs", {diff}));
  if (std::isinf(p)) return b.Reduce("reduce_max", mag, dims, false);
  if (p == 1) return b.Reduce("reduce_sum", mag, dims, false);
  if (p == 2) {
    KILN_ASSIGN_OR_RETURN(auto sq, b.Op("mul", {diff, diff}));
    KILN_ASSIGN_OR_RETURN(auto sum, b.Reduce("reduce_sum", sq, dims, false));
    return b.Op("sqrt", {sum});
  }
  KILN_ASSIGN_OR_RETURN(auto powered, b.Op("pow", {mag, b.Scalar(p)}));
  KILN_ASSIGN_OR_RETURN(auto sum, b.Reduce("reduce_sum", powered, dims, false));
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
  KILN_ASSIGN_OR_RETURN(auto dist, PNorm(b, diff, p, {-1}));
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
  KILN_ASSIGN_OR_RETURN(auto dist, PNorm(b, diff, p, {1}));
  return ctx.Bind(node, dist);
}

// dist(self, other, p) -> []: the p-norm of self - other (broadcast) over all elements.
absl::Status Dist(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto y, ctx.Tensor(node, "other"));
  KILN_ASSIGN_OR_RETURN(double p, NormOrder(b, ctx, node));
  KILN_ASSIGN_OR_RETURN(auto diff, b.Op("sub", {x, y}));
  KILN_ASSIGN_OR_RETURN(auto dist, PNorm(b, diff, p, {}));  // no dims: all of them
  return ctx.Bind(node, dist);
}

// An int-pair argument ([k] means [k, k]).
absl::StatusOr<std::vector<int64_t>> Pair(OpBuilder& b, LoweringContext& ctx, const AtenNode& node,
                                          const std::string& arg) {
  KILN_ASSIGN_OR_RETURN(auto v, ctx.Ints(node, arg));
  ExpandToSpatial(2, {&v});
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

// Per axis, for each output position, the input coordinates of its window's taps; -1 for a tap that
// reads nothing (padding, or a short adaptive window).
using AxisTaps = std::vector<std::vector<int64_t>>;

AxisTaps StridedTaps(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
  AxisTaps taps(out, std::vector<int64_t>(k));
  for (int64_t o = 0; o < out; ++o)
    for (int64_t t = 0; t < k; ++t) {
      const int64_t i = o * stride - pad + t * dil;
      taps[o][t] = i >= 0 && i < in ? i : -1;
    }
  return taps;
}

// ATen's adaptive windows [floor(o * in / out), ceil((o + 1) * in / out)), padded to the longest.
AxisTaps AdaptiveTaps(int64_t in, int64_t out) {
  AxisTaps taps(out);
  size_t longest = 0;
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = (o * in) / out; i < ((o + 1) * in + out - 1) / out; ++i) taps[o].push_back(i);
    longest = std::max(longest, taps[o].size());
  }
  for (auto& t : taps) t.resize(longest, -1);
  return taps;
}

// Max pooling over the trailing axes.size() dims of x with explicit windows, bound as the node's
// (values, indices): x flattened per plane with one -inf appended (what absent taps read), every
// window's taps taken into a row with a constant index map, then reduce_max for the values (unless
// `values` is given: a device op computed them) and argmax mapped back to the flat position in the
// plane for the indices (exact while a plane has at most 2^24 elements). Only the outputs the graph
// uses are computed.
absl::Status BindWindowMax(OpBuilder& b, int x, const std::vector<AxisTaps>& axes, std::optional<int> values) {
  const Shape in = b.Shape(x);
  const size_t k = axes.size(), r = in.size();
  Shape result(in.begin(), in.end() - k);
  int64_t outputs = 1, taps = 1;
  for (const AxisTaps& a : axes) {
    result.push_back(static_cast<int64_t>(a.size()));
    outputs *= static_cast<int64_t>(a.size());
    taps *= a.empty() ? 0 : static_cast<int64_t>(a[0].size());
  }
  if (values) KILN_RETURN_IF_ERROR(b.BindIfWanted(*values, 0));
  const bool need_values = !values && b.Wants(0);
  if (!need_values && !b.Wants(1)) return absl::OkStatus();
  const int64_t lead = ops::DimProduct(in, 0, r - k), plane = ops::DimProduct(in, r - k, r);
  if (outputs * taps == 0 || plane == 0) return b.Error(absl::StrCat("cannot pool ", ShapeToString(in), " to ", ShapeToString(result)));
  std::vector<float> where_taken, where_in;  // [outputs, taps]: the element taken / its position in the plane
  where_taken.reserve(outputs * taps);
  where_in.reserve(outputs * taps);
  std::vector<int64_t> o(k, 0), t(k, 0);
  for (int64_t oi = 0; oi < outputs; ++oi) {
    std::fill(t.begin(), t.end(), 0);
    for (int64_t ti = 0; ti < taps; ++ti) {
      int64_t flat = 0;
      bool inside = true;
      for (size_t a = 0; a < k; ++a) {
        const int64_t c = axes[a][o[a]][t[a]];
        inside &= c >= 0;
        flat = flat * in[r - k + a] + c;
      }
      where_taken.push_back(static_cast<float>(inside ? flat : plane));
      where_in.push_back(inside ? static_cast<float>(flat) : -1.0f);
      for (size_t a = k; a-- > 0 && ++t[a] == static_cast<int64_t>(axes[a][0].size());) t[a] = 0;
    }
    for (size_t a = k; a-- > 0 && ++o[a] == static_cast<int64_t>(axes[a].size());) o[a] = 0;
  }
  KILN_ASSIGN_OR_RETURN(auto flat, b.Reshape(x, {lead, plane}));
  KILN_ASSIGN_OR_RETURN(auto with_floor, b.Pad(flat, {0, 0, 0, 1}, -std::numeric_limits<double>::infinity()));
  KILN_ASSIGN_OR_RETURN(auto taken, b.AlongDim("take", {with_floor, b.Constant("taps", {outputs * taps}, std::move(where_taken))}, 1));
  KILN_ASSIGN_OR_RETURN(auto windows, b.Reshape(taken, {lead, outputs, taps}));
  if (need_values) {
    KILN_ASSIGN_OR_RETURN(auto v, b.Reduce("reduce_max", windows, {2}, false));
    KILN_ASSIGN_OR_RETURN(v, b.Reshape(v, result));
    KILN_RETURN_IF_ERROR(b.BindIfWanted(v, 0));
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

// max_pool2d_with_indices / max_pool3d_with_indices(x, kernel, stride, padding, dilation, ceil_mode)
// -> (values, indices). 2-D values come from the max_pool2d device op; 3-D values, and the indices
// (the flat position in the input plane ATen returns), from BindWindowMax.
template <size_t kSpatial>
absl::Status MaxPoolWithIndices(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto kernel, ctx.Ints(node, "kernel_size"));
  KILN_ASSIGN_OR_RETURN(auto stride, ctx.Ints(node, "stride", std::vector<int64_t>{}));
  KILN_ASSIGN_OR_RETURN(auto padding, ctx.Ints(node, "padding", std::vector<int64_t>{0}));
  KILN_ASSIGN_OR_RETURN(auto dilation, ctx.Ints(node, "dilation", std::vector<int64_t>{1}));
  KILN_ASSIGN_OR_RETURN(auto ceil_mode, ctx.Bool(node, "ceil_mode", false));
  if (stride.empty()) stride = kernel;  // ATen: stride defaults to the kernel size
  ExpandToSpatial(kSpatial, {&kernel, &stride, &padding, &dilation});
  if (kernel.size() != kSpatial || stride.size() != kSpatial || padding.size() != kSpatial ||
      dilation.size() != kSpatial)
    return b.Error(absl::StrCat("kernel_size, stride, padding and dilation must hold 1 or ", kSpatial, " values"));
  const Shape in = b.Shape(x);
  if (in.size() != kSpatial + 1 && in.size() != kSpatial + 2)
    return b.Error(absl::StrCat("expects a rank-", kSpatial + 1, " or rank-", kSpatial + 2, " input, got ",
                                ShapeToString(in)));
  std::optional<int> values;
  if (kSpatial == 2 && b.Wants(0)) {
    ops::Attrs attrs;
    attrs.SetInts("kernel", kernel).SetInts("stride", stride).SetInts("padding", padding)
        .SetInts("dilation", dilation).SetInt("ceil_mode", ceil_mode ? 1 : 0);
    KILN_ASSIGN_OR_RETURN(values, b.Op("max_pool2d", {x}, attrs));
    if (!b.Wants(1)) return b.BindIfWanted(*values, 0);
  }
  std::vector<AxisTaps> axes;
  for (size_t i = 0; i < kSpatial; ++i) {
    const int64_t size = in[in.size() - kSpatial + i];
    if (kernel[i] <= 0 || stride[i] <= 0 || dilation[i] <= 0 || padding[i] < 0 || 2 * padding[i] > kernel[i])
      return b.Error(absl::StrCat("kernel ", ShapeToString(kernel), ", stride ", ShapeToString(stride), ", padding ",
                                  ShapeToString(padding), ", dilation ", ShapeToString(dilation),
                                  ": sizes must be positive and padding at most half the kernel"));
    const int64_t out = PooledSize(size, kernel[i], padding[i], stride[i], dilation[i], ceil_mode);
    if (out <= 0) return b.Error(absl::StrCat("input ", ShapeToString(in), " is smaller than the window"));
    axes.push_back(StridedTaps(size, out, kernel[i], stride[i], padding[i], dilation[i]));
  }
  return BindWindowMax(b, x, axes, values);
}

// adaptive_max_pool2d / adaptive_max_pool3d(x, output_size) -> (values, indices) over ATen's
// adaptive windows.
template <size_t kSpatial>
absl::Status AdaptiveMaxPool(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto size, ctx.Ints(node, "output_size"));
  ExpandToSpatial(kSpatial, {&size});
  const Shape in = b.Shape(x);
  if (size.size() != kSpatial || (in.size() != kSpatial + 1 && in.size() != kSpatial + 2))
    return b.Error(absl::StrCat("expects a rank-", kSpatial + 1, " or rank-", kSpatial + 2, " input and ", kSpatial,
                                " output sizes, got ", ShapeToString(in), " and ", ShapeToString(size)));
  std::vector<AxisTaps> axes;
  for (size_t i = 0; i < kSpatial; ++i) {
    const int64_t n = in[in.size() - kSpatial + i];
    if (size[i] <= 0 || n <= 0)
      return b.Error(absl::StrCat("adaptive pooling of ", ShapeToString(in), " to ", ShapeToString(size),
                                  " needs positive sizes"));
    axes.push_back(AdaptiveTaps(n, size[i]));
  }
  return BindWindowMax(b, x, axes, std::nullopt);
}

// One grid coordinate in [-1, 1] to a pixel coordinate along an axis of `size` pixels, with the
// padding mode applied (ATen's grid_sampler_compute_source_index, in its order of float ops).
absl::StatusOr<int> SourceIndex(OpBuilder& b, int coord, int64_t size, int64_t padding_mode, bool align_corners) {
  const double n = static_cast<double>(size);
  KILN_ASSIGN_OR_RETURN(auto plus_one, b.Op("add", {coord, b.Scalar(1.0)}));
  int x;
  if (align_corners) {
    KILN_ASSIGN_OR_RETURN(auto half, b.Op("div", {plus_one, b.Scalar(2.0)}));
    KILN_ASSIGN_OR_RETURN(x, b.Op("mul", {half, b.Scalar(n - 1)}));
  } else {
    KILN_ASSIGN_OR_RETURN(auto scaled, b.Op("mul", {plus_one, b.Scalar(n)}));
    KILN_ASSIGN_OR_RETURN(auto shifted, b.Op("sub", {scaled, b.Scalar(1.0)}));
    KILN_ASSIGN_OR_RETURN(x, b.Op("div", {shifted, b.Scalar(2.0)}));
  }
  if (padding_mode == 0) return x;  // zeros: out-of-range taps read 0
  if (padding_mode == 2) {          // reflection about the edges (align_corners) or the pixel borders
    const double twice_low = align_corners ? 0.0 : -1.0, twice_high = align_corners ? 2 * (n - 1) : 2 * n - 1;
    if (twice_low == twice_high) return b.Filled(b.Shape(x), 0.0);
    const double low = twice_low / 2, span = (twice_high - twice_low) / 2;
    KILN_ASSIGN_OR_RETURN(auto from_low, b.Op("sub", {x, b.Scalar(low)}));
    KILN_ASSIGN_OR_RETURN(auto dist, b.Op("abs", {from_low}));
    KILN_ASSIGN_OR_RETURN(auto extra, b.Op("fmod", {dist, b.Scalar(span)}));
    KILN_ASSIGN_OR_RETURN(auto ratio, b.Op("div", {dist, b.Scalar(span)}));
    KILN_ASSIGN_OR_RETURN(auto flips, b.Op("floor", {ratio}));
    KILN_ASSIGN_OR_RETURN(auto parity, b.Op("fmod", {flips, b.Scalar(2.0)}));
    KILN_ASSIGN_OR_RETURN(auto even, b.Op("eq", {parity, b.Scalar(0.0)}));
    KILN_ASSIGN_OR_RETURN(auto forward, b.Op("add", {extra, b.Scalar(low)}));
    KILN_ASSIGN_OR_RETURN(auto back, b.Op("sub", {b.Scalar(span + low), extra}));
    KILN_ASSIGN_OR_RETURN(x, b.Op("where", {even, forward, back}));
  }
  ops::Attrs clip;  // border, and reflection's final clip
  clip.SetFloat("min", 0.0).SetFloat("max", n - 1);
  return b.Op("clamp", {x}, clip);
}

// grid_sampler_2d(input [N, C, H, W], grid [N, Ho, Wo, 2], interpolation_mode, padding_mode,
// align_corners) -> [N, C, Ho, Wo], and grid_sampler_3d over [N, C, D, H, W] with (x, y, z) grid
// points: per output point, the grid's coordinates become pixel positions; bilinear (trilinear) mode
// gathers the 2^k neighbours (nearest: the one at the rounded position, halves to even) from the
// flattened volumes, each zero where it falls outside the input, and weights them in ATen's order.
template <size_t kDims>
absl::Status GridSampler(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto input, ctx.Tensor(node, "input"));
  KILN_ASSIGN_OR_RETURN(auto grid, ctx.Tensor(node, "grid"));
  KILN_ASSIGN_OR_RETURN(auto mode, ctx.Int(node, "interpolation_mode"));
  KILN_ASSIGN_OR_RETURN(auto padding_mode, ctx.Int(node, "padding_mode"));
  KILN_ASSIGN_OR_RETURN(auto align_corners, ctx.Bool(node, "align_corners"));
  const Shape in = b.Shape(input), gs = b.Shape(grid);
  const size_t r = kDims + 2;
  if (in.size() != r || gs.size() != r || gs[0] != in[0] || gs.back() != static_cast<int64_t>(kDims))
    return b.Error(absl::StrCat("expects input [N, C, ", kDims == 2 ? "H, W" : "D, H, W", "] and grid [N, ",
                                kDims == 2 ? "Ho, Wo" : "Do, Ho, Wo", ", ", kDims, "], got ", ShapeToString(in),
                                " and ", ShapeToString(gs)));
  if (mode != 0 && mode != 1)
    return b.Error(absl::StrCat("interpolation mode ", mode, (mode == 2 ? " (bicubic)" : ""),
                                " is not supported yet; bilinear (0) and nearest (1) are"));
  if (padding_mode < 0 || padding_mode > 2)
    return b.Error(absl::StrCat("padding mode ", padding_mode, " must be 0 (zeros), 1 (border) or 2 (reflection)"));
  const int64_t n = in[0], c = in[1], volume = ops::DimProduct(in, 2, r), points = ops::DimProduct(gs, 1, r - 1);
  KILN_ASSIGN_OR_RETURN(auto planes, b.Reshape(input, {n, c, volume}));
  int64_t size[kDims], stride[kDims];  // coordinate i (x, y, z) runs along input dim r - 1 - i
  int coord[kDims];                     // [N, 1, points]
  for (size_t i = 0; i < kDims; ++i) {
    size[i] = in[r - 1 - i];
    stride[i] = i == 0 ? 1 : stride[i - 1] * size[i - 1];
    KILN_ASSIGN_OR_RETURN(auto part, b.Slice(grid, static_cast<int64_t>(r - 1), i, i + 1));
    KILN_ASSIGN_OR_RETURN(auto flat, b.Reshape(part, {n, 1, points}));
    KILN_ASSIGN_OR_RETURN(coord[i], SourceIndex(b, flat, size[i], padding_mode, align_corners));
  }
  // The input at integer position p, 0 outside it: [N, C, points].
  auto tap = [&](const int (&p)[kDims]) -> absl::StatusOr<int> {
    std::optional<int> inside, pos;
    for (size_t i = 0; i < kDims; ++i) {
      KILN_ASSIGN_OR_RETURN(auto low, b.Op("le", {b.Scalar(0.0), p[i]}));
      KILN_ASSIGN_OR_RETURN(auto high, b.Op("lt", {p[i], b.Scalar(static_cast<double>(size[i]))}));
      KILN_ASSIGN_OR_RETURN(auto in_axis, b.Op("logical_and", {low, high}));
      KILN_ASSIGN_OR_RETURN(auto offset, stride[i] == 1 ? absl::StatusOr<int>(p[i])
                                                        : b.Op("mul", {p[i], b.Scalar(static_cast<double>(stride[i]))}));
      if (inside) {
        KILN_ASSIGN_OR_RETURN(inside, b.Op("logical_and", {*inside, in_axis}));
        KILN_ASSIGN_OR_RETURN(pos, b.Op("add", {*pos, offset}));
      } else {
        inside = in_axis;
        pos = offset;
      }
    }
    KILN_ASSIGN_OR_RETURN(auto safe, b.Op("where", {*inside, *pos, b.Scalar(0.0)}));
    KILN_ASSIGN_OR_RETURN(auto index, b.Expand(safe, {n, c, points}));
    KILN_ASSIGN_OR_RETURN(auto value, b.AlongDim("gather", {planes, index}, 2));
    return b.Op("where", {*inside, value, b.Scalar(0.0)});
  };
  int out;
  if (mode == 1) {
    int p[kDims];
    for (size_t i = 0; i < kDims; ++i) {
      KILN_ASSIGN_OR_RETURN(p[i], b.Op("round", {coord[i]}));
    }
    KILN_ASSIGN_OR_RETURN(out, tap(p));
  } else {
    int lo[kDims], hi[kDims], w_hi[kDims], w_lo[kDims];  // w_hi: the fraction past lo
    for (size_t i = 0; i < kDims; ++i) {
      KILN_ASSIGN_OR_RETURN(lo[i], b.Op("floor", {coord[i]}));
      KILN_ASSIGN_OR_RETURN(hi[i], b.Op("add", {lo[i], b.Scalar(1.0)}));
      KILN_ASSIGN_OR_RETURN(w_hi[i], b.Op("sub", {coord[i], lo[i]}));
      KILN_ASSIGN_OR_RETURN(w_lo[i], b.Op("sub", {b.Scalar(1.0), w_hi[i]}));
    }
    std::optional<int> sum;
    for (int corner = 0; corner < (1 << kDims); ++corner) {  // x varies fastest, as ATen sums them
      int p[kDims];
      std::optional<int> weight;
      for (size_t i = 0; i < kDims; ++i) {
        const bool up = (corner >> i) & 1;
        p[i] = up ? hi[i] : lo[i];
        const int w = up ? w_hi[i] : w_lo[i];
        if (weight) {
          KILN_ASSIGN_OR_RETURN(weight, b.Op("mul", {*weight, w}));
        } else {
          weight = w;
        }
      }
      KILN_ASSIGN_OR_RETURN(auto value, tap(p));
      KILN_ASSIGN_OR_RETURN(auto term, b.Op("mul", {value, *weight}));
      if (sum) {
        KILN_ASSIGN_OR_RETURN(sum, b.Op("add", {*sum, term}));
      } else {
        sum = term;
      }
    }
    out = *sum;
  }
  Shape result = {n, c};
  result.insert(result.end(), gs.begin() + 1, gs.end() - 1);
  KILN_ASSIGN_OR_RETURN(out, b.Reshape(out, result));
  return ctx.Bind(node, out);
}

// _embedding_bag / _embedding_bag_forward_only(weight [V, D], indices [L], offsets [B (+1)], ...,
// mode, ..., per_sample_weights?, include_last_offset, padding_idx) -> (output [B, D], offset2bag,
// bag_size, max_indices): index i belongs to bag (number of bag offsets <= i) - 1, computed on the
// device from the runtime offsets; its weight row (times its per-sample weight) is scatter-added
// (sum, mean) or scatter-maxed (max) into its bag. Entries equal to padding_idx, and before the first
// or after the last offset, go nowhere; empty bags are 0. Only the output is produced: the other
// three are ATen's bookkeeping for the backward, and a graph that uses one fails at that use.
absl::Status EmbeddingBag(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto weight, ctx.Tensor(node, "weight"));
  KILN_ASSIGN_OR_RETURN(auto indices, ctx.Tensor(node, "indices"));
  KILN_ASSIGN_OR_RETURN(auto offsets, ctx.Tensor(node, "offsets"));
  KILN_ASSIGN_OR_RETURN(auto mode, ctx.Int(node, "mode", 0));
  KILN_ASSIGN_OR_RETURN(auto per_sample, ctx.OptionalTensor(node, "per_sample_weights"));
  KILN_ASSIGN_OR_RETURN(auto include_last, ctx.Bool(node, "include_last_offset", false));
  KILN_ASSIGN_OR_RETURN(auto padding_idx, ctx.Int(node, "padding_idx", -1));
  const Shape ws = b.Shape(weight), is = b.Shape(indices), os = b.Shape(offsets);
  if (ws.size() != 2 || is.size() != 1 || os.size() != 1)
    return b.Error(absl::StrCat("expects weight [V, D], indices [L] and offsets [B], got ", ShapeToString(ws), ", ",
                                ShapeToString(is), " and ", ShapeToString(os)));
  if (mode < 0 || mode > 2) return b.Error(absl::StrCat("mode ", mode, " must be 0 (sum), 1 (mean) or 2 (max)"));
  if (per_sample && (mode != 0 || b.Shape(*per_sample) != is))
    return b.Error(absl::StrCat("per_sample_weights ", ShapeToString(b.Shape(*per_sample)),
                                " need mode sum and the indices' shape ", ShapeToString(is)));
  const int64_t l = is[0], d = ws[1], bags = os[0] - (include_last ? 1 : 0);
  if (bags < 0) return b.Error("include_last_offset needs at least one offset");
  KILN_ASSIGN_OR_RETURN(auto out0, b.Filled({bags, d}, 0.0));
  if (l == 0 || bags == 0) return ctx.Bind(node, out0);
  std::vector<float> position(l);
  for (int64_t i = 0; i < l; ++i) position[i] = static_cast<float>(i);
  const int pos = b.Constant("positions", {l, 1}, std::move(position));
  KILN_ASSIGN_OR_RETURN(auto starts, b.Slice(offsets, 0, 0, bags));
  KILN_ASSIGN_OR_RETURN(auto starts_row, b.Reshape(starts, {1, bags}));
  KILN_ASSIGN_OR_RETURN(auto started, b.Op("le", {starts_row, pos}));  // [L, B]
  KILN_ASSIGN_OR_RETURN(auto count, b.Reduce("reduce_sum", started, {1}, true));
  KILN_ASSIGN_OR_RETURN(auto bag, b.Op("sub", {count, b.Scalar(1.0)}));  // [L, 1]; -1 before the first offset
  KILN_ASSIGN_OR_RETURN(auto nowhere, b.Op("lt", {bag, b.Scalar(0.0)}));
  if (include_last) {
    KILN_ASSIGN_OR_RETURN(auto end, b.Slice(offsets, 0, bags, bags + 1));
    KILN_ASSIGN_OR_RETURN(auto end_2d, b.Reshape(end, {1, 1}));
    KILN_ASSIGN_OR_RETURN(auto past, b.Op("le", {end_2d, pos}));
    KILN_ASSIGN_OR_RETURN(nowhere, b.Op("logical_or", {nowhere, past}));
  }
  KILN_ASSIGN_OR_RETURN(auto index_col, b.Reshape(indices, {l, 1}));
  if (padding_idx >= 0) {
    KILN_ASSIGN_OR_RETURN(auto is_pad, b.Op("eq", {index_col, b.Scalar(static_cast<double>(padding_idx))}));
    KILN_ASSIGN_OR_RETURN(nowhere, b.Op("logical_or", {nowhere, is_pad}));
  }
  // The scatter skips an out-of-range bag (a negative one would count from the end).
  KILN_ASSIGN_OR_RETURN(auto target, b.Op("where", {nowhere, b.Scalar(static_cast<double>(bags)), bag}));
  KILN_ASSIGN_OR_RETURN(auto rows, b.AlongDim("take", {weight, indices}, 0));  // [L, D]
  if (per_sample) {
    KILN_ASSIGN_OR_RETURN(auto scale, b.Reshape(*per_sample, {l, 1}));
    KILN_ASSIGN_OR_RETURN(rows, b.Op("mul", {rows, scale}));
  }
  KILN_ASSIGN_OR_RETURN(auto target_rows, b.Expand(target, {l, d}));
  int out;
  if (mode == 2) {
    ops::Attrs amax;
    amax.SetInt("dim", 0).SetInt("reduce", 4).SetInt("include_self", 0);
    KILN_ASSIGN_OR_RETURN(out, b.Op("scatter", {out0, target_rows, rows}, amax));
  } else {
    KILN_ASSIGN_OR_RETURN(out, b.ScatterAdd(out0, target_rows, rows, 0));
  }
  if (mode == 1) {
    KILN_ASSIGN_OR_RETURN(auto zero_counts, b.Filled({bags, 1}, 0.0));
    KILN_ASSIGN_OR_RETURN(auto ones, b.Filled({l, 1}, 1.0));
    KILN_ASSIGN_OR_RETURN(auto sizes, b.ScatterAdd(zero_counts, target, ones, 0));
    KILN_ASSIGN_OR_RETURN(auto at_least_one, b.Op("maximum", {sizes, b.Scalar(1.0)}));
    KILN_ASSIGN_OR_RETURN(out, b.Op("div", {out, at_least_one}));
  }
  return ctx.Bind(node, out);
}

}  // namespace

void AddSamplingRules(RuleTable& rules) {
  for (const char* target : {"aten._embedding_bag.default", "aten._embedding_bag_forward_only.default"})
    Decomposed(rules, target, EmbeddingBag,
               "slice, reshape, le, reduce_sum, sub, lt, logical_or, eq, where (bag of each index), take (rows), "
               "mul (per_sample_weights), expand, scatter (sum or amax per bag), maximum, div (mean)");
  Decomposed(rules, "aten.grid_sampler_3d.default", GridSampler<3>,
             "slice, reshape, add, sub, mul, div, abs, fmod, floor, eq, where, clamp (coordinates), round (nearest), "
             "le, lt, logical_and, expand, gather (taps)");
  Decomposed(rules, "aten.grid_sampler_2d.default", GridSampler<2>,
             "slice, reshape, add, sub, mul, div, abs, fmod, floor, eq, where, clamp (coordinates), round (nearest), "
             "le, lt, logical_and, expand, gather (taps)");
  Decomposed(rules, "aten._cdist_forward.default", Cdist,
             "reshape, sub, abs, mul, pow, reduce_sum, reduce_max, sqrt, eq, logical_not (by p)");
  Decomposed(rules, "aten.dist.default", Dist,
             "sub, abs, mul, pow, reduce_sum, reduce_max, sqrt, eq, logical_not (by p)");
  Decomposed(rules, "aten._pdist_forward.default", Pdist,
             "take (constant row pairs), sub, abs, mul, pow, reduce_sum, reduce_max, sqrt, eq, logical_not (by p)");
  Decomposed(rules, "aten.col2im.default", Col2Im, "reshape, expand, scatter (sum at constant positions), pad (crop)");
  Lowered(rules, "aten.max_pool2d_with_indices.default", MaxPoolWithIndices<2>,
          "max_pool2d; indices: reshape, pad (-inf), take (constant window map), argmax, expand, gather");
  Decomposed(rules, "aten.max_pool3d_with_indices.default", MaxPoolWithIndices<3>,
             "reshape, pad (-inf), take (constant window map), reduce_max (values), argmax, expand, gather (indices)");
  Decomposed(rules, "aten.adaptive_max_pool2d.default", AdaptiveMaxPool<2>,
             "reshape, pad (-inf), take (constant window map), reduce_max (values), argmax, expand, gather (indices)");
  Decomposed(rules, "aten.adaptive_max_pool3d.default", AdaptiveMaxPool<3>,
             "reshape, pad (-inf), take (constant window map), reduce_max (values), argmax, expand, gather (indices)");
}

}  // namespace kiln::compiler

// Lowering rules for convolution and its gradient. The device has conv2d; 1-D convolutions run as
// 2-D over [.., 1, L], 3-D ones as a sum of 2-D ones over the kernel's depth taps, and transposed
// convolutions (and the input gradient, the same computation) as conv2d over a zero-spread input.
#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "compiler/lowering/op_builder.h"
#include "compiler/lowering/rules.h"

namespace kiln::compiler {
namespace {

using ops::Shape;
using ops::ShapeToString;

// A list argument of an n-D convolution, one value per spatial dim ([k] means k for each); 1-D
// lists get a leading `unit` so 1-D runs as 2-D over [.., 1, L].
absl::StatusOr<std::vector<int64_t>> PerDim(OpBuilder& b, LoweringContext& ctx, const AtenNode& node,
                                            const std::string& arg, size_t spatial, int64_t unit) {
  KILN_ASSIGN_OR_RETURN(auto v, ctx.Ints(node, arg));
  if (v.size() == 1 && spatial > 1) v.resize(spatial, v[0]);
  if (v.size() != spatial) return b.Error(absl::StrCat("'", arg, "' ", ShapeToString(v), " must hold ", spatial, " values"));
  if (spatial == 1) v.insert(v.begin(), unit);
  return v;
}

// [.., L] -> [.., 1, L].
absl::StatusOr<int> As2d(OpBuilder& b, int v) {
  Shape s = b.Shape(v);
  s.insert(s.end() - 1, 1);
  return b.Reshape(v, s);
}

absl::StatusOr<int> Conv2d(OpBuilder& b, int x, int w, std::optional<int> bias, std::vector<int64_t> stride,
                           std::vector<int64_t> padding, std::vector<int64_t> dilation, int64_t groups) {
  ops::Attrs a;
  a.SetInts("stride", std::move(stride)).SetInts("padding", std::move(padding))
      .SetInts("dilation", std::move(dilation)).SetInt("groups", groups);
  std::vector<int> inputs = {x, w};
  if (bias) inputs.push_back(*bias);
  return b.Op("conv2d", inputs, a);
}

// A 3-D convolution as 2-D ones: for each depth tap a of the kernel, the depth slices it reads
// (od * stride + a * dilation of the depth-padded input) go through conv2d with w[:, :, a] as
// [N * OD, C, H, W] batches, and the taps' results are summed.
absl::StatusOr<int> Conv3d(OpBuilder& b, int x, int w, std::optional<int> bias, const std::vector<int64_t>& stride,
                           const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, int64_t groups) {
  const Shape xs = b.Shape(x), ws = b.Shape(w);
  const int64_t n = xs[0], c = xs[1], o = ws[0], kd = ws[2];
  const int64_t od = (xs[2] + 2 * padding[0] - dilation[0] * (kd - 1) - 1) / stride[0] + 1;
  if (od <= 0) return b.Error(absl::StrCat("conv3d output would be empty: input ", ShapeToString(xs), ", weight ", ShapeToString(ws)));
  KILN_ASSIGN_OR_RETURN(auto xp, b.Pad(x, {0, 0, 0, 0, padding[0], padding[0], 0, 0, 0, 0}, 0.0));
  std::optional<int> sum;
  for (int64_t a = 0; a < kd; ++a) {
    std::vector<float> depths(od);
    for (int64_t i = 0; i < od; ++i) depths[i] = static_cast<float>(i * stride[0] + a * dilation[0]);
    KILN_ASSIGN_OR_RETURN(auto slices, b.AlongDim("take", {xp, b.Constant("depths", {od}, std::move(depths))}, 2));
    KILN_ASSIGN_OR_RETURN(auto depth_major, b.Permute(slices, {0, 2, 1, 3, 4}));
    KILN_ASSIGN_OR_RETURN(auto batch, b.Reshape(depth_major, {n * od, c, xs[3], xs[4]}));
    KILN_ASSIGN_OR_RETURN(auto tap, b.Slice(w, 2, a, a + 1));
    KILN_ASSIGN_OR_RETURN(auto w2, b.Reshape(tap, {o, ws[1], ws[3], ws[4]}));
    KILN_ASSIGN_OR_RETURN(auto y, Conv2d(b, batch, w2, a == 0 ? bias : std::nullopt, {stride[1], stride[2]},
                                         {padding[1], padding[2]}, {dilation[1], dilation[2]}, groups));
    if (sum) {
      KILN_ASSIGN_OR_RETURN(sum, b.Op("add", {*sum, y}));
    } else {
      sum = y;
    }
  }
  const Shape ys = b.Shape(*sum);
  KILN_ASSIGN_OR_RETURN(auto split, b.Reshape(*sum, {n, od, o, ys[2], ys[3]}));
  return b.Permute(split, {0, 2, 1, 3, 4});
}

// The transposed convolution of g [N, O, *in] with w [O, C / groups, *k] (2 or 3 spatial dims) to
// [N, C, *out]: what a convolution with that weight maps back to its input (its input gradient). g
// gets stride - 1 zeros between elements, padding to a full correlation (negative pads crop, which
// also places ATen's output_padding), and is convolved with w flipped in space and transposed per
// group.
absl::StatusOr<int> TransposedConv(OpBuilder& b, int g, int w, const std::vector<int64_t>& stride,
                                   const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation,
                                   int64_t groups, const std::vector<int64_t>& out) {
  const Shape gs = b.Shape(g), ws = b.Shape(w);
  const size_t k = gs.size() - 2;
  const int64_t n = gs[0], o = gs[1], c = ws[1] * groups;
  int spread = g;
  bool strided = false;
  for (int64_t s : stride) strided |= s > 1;
  if (strided) {  // [N, O, d0, 1, d1, 1, ...] padded to [N, O, d0, s0, d1, s1, ...]
    Shape interleaved = {n, o}, spread_shape = {n, o};
    std::vector<int64_t> pads = {0, 0, 0, 0};
    for (size_t i = 0; i < k; ++i) {
      interleaved.insert(interleaved.end(), {gs[2 + i], 1});
      spread_shape.push_back(gs[2 + i] * stride[i]);
      pads.insert(pads.end(), {0, 0, 0, stride[i] - 1});
    }
    KILN_ASSIGN_OR_RETURN(auto v, b.Reshape(g, interleaved));
    KILN_ASSIGN_OR_RETURN(auto zeros_between, b.Pad(v, pads, 0.0));
    KILN_ASSIGN_OR_RETURN(spread, b.Reshape(zeros_between, spread_shape));
  }
  std::vector<int64_t> pads = {0, 0, 0, 0};
  for (size_t i = 0; i < k; ++i) {
    const int64_t span = dilation[i] * (ws[2 + i] - 1), before = span - padding[i];
    pads.push_back(before);
    pads.push_back(out[i] + span - before - b.Shape(spread)[2 + i]);  // a correlation of `out` outputs
  }
  KILN_ASSIGN_OR_RETURN(auto padded, b.Pad(spread, pads, 0.0));
  int flipped = w;
  for (size_t i = 2; i < ws.size(); ++i) {
    if (ws[i] == 1) continue;
    std::vector<float> reversed(ws[i]);
    for (int64_t j = 0; j < ws[i]; ++j) reversed[j] = static_cast<float>(ws[i] - 1 - j);
    KILN_ASSIGN_OR_RETURN(flipped, b.AlongDim("take", {flipped, b.Constant("flip", {ws[i]}, reversed)}, i));
  }
  Shape grouped_shape = {groups, o / groups, c / groups}, wt_shape = {c, o / groups};
  std::vector<int64_t> swap = {0, 2, 1};
  for (size_t i = 0; i < k; ++i) {
    grouped_shape.push_back(ws[2 + i]);
    wt_shape.push_back(ws[2 + i]);
    swap.push_back(static_cast<int64_t>(3 + i));
  }
  KILN_ASSIGN_OR_RETURN(auto grouped, b.Reshape(flipped, grouped_shape));
  KILN_ASSIGN_OR_RETURN(auto swapped, b.Permute(grouped, swap));
  KILN_ASSIGN_OR_RETURN(auto w_t, b.Reshape(swapped, wt_shape));
  const std::vector<int64_t> ones(k, 1), zeros(k, 0);
  if (k == 3) return Conv3d(b, padded, w_t, std::nullopt, ones, zeros, dilation, groups);
  return Conv2d(b, padded, w_t, std::nullopt, ones, zeros, dilation, groups);
}

// convolution(input, weight, bias?, stride, padding, dilation, transposed, output_padding, groups)
// over 1, 2 or 3 spatial dims.
absl::Status Convolution(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "input"));
  KILN_ASSIGN_OR_RETURN(auto w, ctx.Tensor(node, "weight"));
  KILN_ASSIGN_OR_RETURN(auto bias, ctx.OptionalTensor(node, "bias"));
  KILN_ASSIGN_OR_RETURN(auto transposed, ctx.Bool(node, "transposed", false));
  KILN_ASSIGN_OR_RETURN(auto groups, ctx.Int(node, "groups", 1));
  const Shape xs = b.Shape(x), ws = b.Shape(w);
  if (xs.size() < 3 || xs.size() > 5 || ws.size() != xs.size())
    return b.Error(absl::StrCat("expects a 1-D, 2-D or 3-D convolution ([N, C, ...] input and a weight of its rank), "
                                "got input ", ShapeToString(xs), " and weight ", ShapeToString(ws)));
  if (groups <= 0) return b.Error(absl::StrCat("groups ", groups, " must be positive"));
  const size_t spatial = xs.size() - 2;
  KILN_ASSIGN_OR_RETURN(auto stride, PerDim(b, ctx, node, "stride", spatial, 1));
  KILN_ASSIGN_OR_RETURN(auto padding, PerDim(b, ctx, node, "padding", spatial, 0));
  KILN_ASSIGN_OR_RETURN(auto dilation, PerDim(b, ctx, node, "dilation", spatial, 1));
  if (spatial == 1) {
    KILN_ASSIGN_OR_RETURN(x, As2d(b, x));
    KILN_ASSIGN_OR_RETURN(w, As2d(b, w));
  }
  int y;
  if (!transposed) {
    if (spatial == 3) {
      KILN_ASSIGN_OR_RETURN(y, Conv3d(b, x, w, bias, stride, padding, dilation, groups));
    } else {
      KILN_ASSIGN_OR_RETURN(y, Conv2d(b, x, w, bias, stride, padding, dilation, groups));
    }
  } else {
    KILN_ASSIGN_OR_RETURN(auto output_padding, PerDim(b, ctx, node, "output_padding", spatial, 0));
    const Shape xk = b.Shape(x), wk = b.Shape(w);
    if (xk[1] != wk[0] || xk[1] % groups != 0)
      return b.Error(absl::StrCat("transposed convolution: input ", ShapeToString(xs), " and weight ",
                                  ShapeToString(ws), " need weight [C_in, C_out / groups, ...] with C_in divisible by ",
                                  groups, " groups"));
    std::vector<int64_t> out(xk.size() - 2);
    for (size_t i = 0; i < out.size(); ++i) {
      if (stride[i] <= 0 || dilation[i] <= 0 || padding[i] < 0 || output_padding[i] < 0)
        return b.Error("stride and dilation must be positive, padding and output_padding >= 0");
      out[i] = (xk[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (wk[2 + i] - 1) + output_padding[i] + 1;
      if (out[i] <= 0) return b.Error(absl::StrCat("transposed convolution output would be empty: input ", ShapeToString(xs)));
    }
    KILN_ASSIGN_OR_RETURN(y, TransposedConv(b, x, w, stride, padding, dilation, groups, out));
    if (bias) {
      Shape per_channel_shape(xk.size(), 1);
      per_channel_shape[1] = wk[1] * groups;
      KILN_ASSIGN_OR_RETURN(auto per_channel, b.Reshape(*bias, per_channel_shape));
      KILN_ASSIGN_OR_RETURN(y, b.Op("add", {y, per_channel}));
    }
  }
  if (spatial == 1) {
    Shape s = b.Shape(y);
    s.erase(s.end() - 2);
    KILN_ASSIGN_OR_RETURN(y, b.Reshape(y, s));
  }
  return ctx.Bind(node, y);
}

// A 2-D or 3-D convolution (dispatching on the input's rank).
absl::StatusOr<int> ConvNd(OpBuilder& b, int x, int w, std::optional<int> bias, const std::vector<int64_t>& stride,
                           const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, int64_t groups) {
  if (b.Shape(x).size() == 5) return Conv3d(b, x, w, bias, stride, padding, dilation, groups);
  return Conv2d(b, x, w, bias, stride, padding, dilation, groups);
}

// The weight gradient of z = conv(u, w) [N, O, *out] for the incoming gradient dz, w of shape
// [O, C / groups, *k]: for each group, u with channels as the batch and batch as channels, convolved
// with dz as the kernel, stride and dilation swapped: [C / groups, O, >= k...], cropped to k.
absl::StatusOr<int> ConvWeightGrad(OpBuilder& b, int u, int dz, const Shape& w_shape, const std::vector<int64_t>& stride,
                                   const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation,
                                   int64_t groups) {
  const Shape us = b.Shape(u);
  const size_t k = us.size() - 2;
  const int64_t n = us[0], c = us[1];
  // u'[c', g * N + n] = u[n, g * C/G + c'];  dz'[g * O/G + o', n] = dz[n, g * O/G + o'].
  Shape grouped = {n, groups, c / groups}, batched = {c / groups, groups * n};
  std::vector<int64_t> to_batch = {2, 1, 0}, swap01 = {1, 0};
  for (size_t i = 0; i < k; ++i) {
    grouped.push_back(us[2 + i]);
    batched.push_back(us[2 + i]);
    to_batch.push_back(static_cast<int64_t>(3 + i));
    swap01.push_back(static_cast<int64_t>(2 + i));
  }
  KILN_ASSIGN_OR_RETURN(auto ug, b.Reshape(u, grouped));
  KILN_ASSIGN_OR_RETURN(auto up, b.Permute(ug, to_batch));
  KILN_ASSIGN_OR_RETURN(auto u_t, b.Reshape(up, batched));
  KILN_ASSIGN_OR_RETURN(auto dz_t, b.Permute(dz, swap01));
  KILN_ASSIGN_OR_RETURN(int full, ConvNd(b, u_t, dz_t, std::nullopt, dilation, padding, stride, groups));
  for (size_t i = 0; i < k; ++i) {
    KILN_ASSIGN_OR_RETURN(full, b.Slice(full, static_cast<int64_t>(2 + i), 0, w_shape[2 + i]));
  }
  return b.Permute(full, swap01);
}

// convolution_backward(grad_output, input, weight, bias_sizes, stride, padding, dilation, transposed,
// output_padding, groups, output_mask) -> (grad_input, grad_weight, grad_bias) of a 1-D (as 2-D),
// 2-D or 3-D convolution, each computed when the graph uses it. For y = conv(x, w): grad_input is
// the transposed convolution of dy with w, grad_weight ConvWeightGrad(x, dy). A transposed
// convolution is conv's adjoint, so the roles swap: grad_input = conv(dy, w), grad_weight =
// ConvWeightGrad(dy, x). grad_bias sums dy over batch and space.
absl::Status ConvolutionBackward(LoweringContext& ctx, const AtenNode& node) {
  OpBuilder b(ctx, node);
  KILN_ASSIGN_OR_RETURN(auto g, ctx.Tensor(node, "grad_output"));
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "input"));
  KILN_ASSIGN_OR_RETURN(auto w, ctx.Tensor(node, "weight"));
  KILN_ASSIGN_OR_RETURN(auto transposed, ctx.Bool(node, "transposed", false));
  KILN_ASSIGN_OR_RETURN(auto groups, ctx.Int(node, "groups", 1));
  const Shape xs = b.Shape(x), ws = b.Shape(w), gs = b.Shape(g);
  if (xs.size() < 3 || xs.size() > 5 || ws.size() != xs.size() || gs.size() != xs.size())
    return b.Error(absl::StrCat("expects a 1-D, 2-D or 3-D convolution: input ", ShapeToString(xs), ", weight ",
                                ShapeToString(ws), ", grad_output ", ShapeToString(gs)));
  const size_t spatial = xs.size() - 2;
  KILN_ASSIGN_OR_RETURN(auto stride, PerDim(b, ctx, node, "stride", spatial, 1));
  KILN_ASSIGN_OR_RETURN(auto padding, PerDim(b, ctx, node, "padding", spatial, 0));
  KILN_ASSIGN_OR_RETURN(auto dilation, PerDim(b, ctx, node, "dilation", spatial, 1));
  if (spatial == 1) {
    KILN_ASSIGN_OR_RETURN(x, As2d(b, x));
    KILN_ASSIGN_OR_RETURN(w, As2d(b, w));
    KILN_ASSIGN_OR_RETURN(g, As2d(b, g));
  }
  // In the forward convolution's terms: `in` [N, C, ..] -> `out` [N, O, ..] with weight [O, C/G, ..].
  const int in = transposed ? g : x, out = transposed ? x : g;
  const Shape is = b.Shape(in), os = b.Shape(out), wk = b.Shape(w);
  const int64_t n = is[0], c = is[1], o = wk[0];
  if (groups <= 0 || c % groups != 0 || o % groups != 0 || wk[1] * groups != c || os[0] != n || os[1] != o)
    return b.Error(absl::StrCat("input ", ShapeToString(xs), ", weight ", ShapeToString(ws), " and grad_output ",
                                ShapeToString(gs), " do not fit a", transposed ? " transposed" : "",
                                " convolution with ", groups, " groups"));
  if (b.Wants(0)) {
    int gx;
    if (transposed) {
      KILN_ASSIGN_OR_RETURN(gx, ConvNd(b, g, w, std::nullopt, stride, padding, dilation, groups));
    } else {
      KILN_ASSIGN_OR_RETURN(gx, TransposedConv(b, g, w, stride, padding, dilation, groups,
                                               std::vector<int64_t>(is.begin() + 2, is.end())));
    }
    KILN_ASSIGN_OR_RETURN(gx, b.Reshape(gx, xs));
    KILN_RETURN_IF_ERROR(b.BindIfWanted(gx, 0));
  }
  if (b.Wants(1)) {
    KILN_ASSIGN_OR_RETURN(auto gw, ConvWeightGrad(b, in, out, wk, stride, padding, dilation, groups));
    KILN_ASSIGN_OR_RETURN(gw, b.Reshape(gw, ws));
    KILN_RETURN_IF_ERROR(b.BindIfWanted(gw, 1));
  }
  if (b.Wants(2)) {
    std::vector<int64_t> dims = {0};
    for (size_t i = 2; i < b.Shape(g).size(); ++i) dims.push_back(static_cast<int64_t>(i));
    KILN_ASSIGN_OR_RETURN(auto gb, b.Reduce("reduce_sum", g, dims, false));
    KILN_RETURN_IF_ERROR(b.BindIfWanted(gb, 2));
  }
  return absl::OkStatus();
}

}  // namespace

void AddConvolutionRules(RuleTable& rules) {
  Lowered(rules, "aten.convolution.default", Convolution,
          "conv2d; 1-D: reshape; 3-D: pad, take, permute, reshape, slice, add (one conv2d per depth tap); "
          "transposed: reshape, pad (zero spread), take (flip), permute, add (bias)");
  Decomposed(rules, "aten.convolution_backward.default", ConvolutionBackward,
             "reshape, pad, take (flip), permute, conv2d (input and weight gradients; 3-D: per depth tap), add, "
             "slice, reduce_sum (bias)");
}

}  // namespace kiln::compiler

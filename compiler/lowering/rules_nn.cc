// Lowering rules for neural-network ATen ops: matmul, convolution, normalization, pooling,
// softmax and reductions.
#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "compiler/lowering/op_builder.h"
#include "compiler/lowering/pool_windows.h"
#include "compiler/lowering/rules.h"
#include "ops/shape_util.h"

namespace kiln::compiler {
namespace {

absl::Status Addmm(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto bias, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto a, ctx.Tensor(node, "mat1"));
  KILN_ASSIGN_OR_RETURN(auto b, ctx.Tensor(node, "mat2"));
  KILN_ASSIGN_OR_RETURN(auto beta, ctx.Float(node, "beta", 1.0));
  KILN_ASSIGN_OR_RETURN(auto alpha, ctx.Float(node, "alpha", 1.0));
  if (beta == 1.0 && alpha == 1.0) return EmitAndBind(ctx, node, "matmul", {a, b, bias});
  // out = beta * bias + alpha * (a @ b)
  KILN_ASSIGN_OR_RETURN(auto ab, ctx.Emit(node, "matmul", {a, b}));
  KILN_ASSIGN_OR_RETURN(auto scaled, ctx.Emit(node, "mul", {ab, ctx.ScalarConstant(alpha)}));
  KILN_ASSIGN_OR_RETURN(auto scaled_bias, ctx.Emit(node, "mul", {bias, ctx.ScalarConstant(beta)}));
  return EmitAndBind(ctx, node, "add", {scaled, scaled_bias});
}

absl::Status Matmul(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto a, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto b, ctx.Tensor(node, "mat2"));
  return EmitAndBind(ctx, node, "matmul", {a, b});
}

absl::Status BatchNormNoTraining(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "input"));
  KILN_ASSIGN_OR_RETURN(auto weight, ctx.OptionalTensor(node, "weight"));
  KILN_ASSIGN_OR_RETURN(auto bias, ctx.OptionalTensor(node, "bias"));
  KILN_ASSIGN_OR_RETURN(auto mean, ctx.Tensor(node, "running_mean"));
  KILN_ASSIGN_OR_RETURN(auto var, ctx.Tensor(node, "running_var"));
  KILN_ASSIGN_OR_RETURN(auto eps, ctx.Float(node, "eps"));
  std::vector<int> inputs = {x, mean, var};
  if (weight || bias) {
    // batch_norm's optional operands are positional: a bias without weight needs unit weights.
    const int64_t c = ctx.graph().values[mean].shape.empty() ? 1 : ctx.graph().values[mean].shape[0];
    inputs.push_back(weight ? *weight : ctx.graph().AddConstant("ones", {c}, std::vector<float>(c, 1.0f)));
    if (bias) inputs.push_back(*bias);
  }
  ops::Attrs attrs;
  attrs.SetFloat("eps", eps);
  KILN_RETURN_IF_ERROR(EmitAndBind(ctx, node, "batch_norm", inputs, attrs));
  // ATen returns empty saved statistics (outputs 1 and 2) in inference mode.
  OpBuilder b(ctx, node);
  for (size_t i = 1; i < 3; ++i)
    if (b.Wants(i)) KILN_RETURN_IF_ERROR(b.BindIfWanted(b.Constant("empty", {0}, {}), i));
  return absl::OkStatus();
}

absl::Status LayerNorm(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "input"));
  KILN_ASSIGN_OR_RETURN(auto shape, ctx.Ints(node, "normalized_shape"));
  KILN_ASSIGN_OR_RETURN(auto weight, ctx.OptionalTensor(node, "weight"));
  KILN_ASSIGN_OR_RETURN(auto bias, ctx.OptionalTensor(node, "bias"));
  KILN_ASSIGN_OR_RETURN(auto eps, ctx.Float(node, "eps"));
  std::vector<int> inputs = {x};
  if (weight || bias) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    inputs.push_back(weight ? *weight : ctx.graph().AddConstant("ones", shape, std::vector<float>(n, 1.0f)));
    if (bias) inputs.push_back(*bias);
  }
  ops::Attrs attrs;
  attrs.SetInt("normalized_ndim", static_cast<int64_t>(shape.size())).SetFloat("eps", eps);
  KILN_RETURN_IF_ERROR(EmitAndBind(ctx, node, "layer_norm", inputs, attrs));
  // Outputs 1 and 2 (mean and rstd over the normalized dims, kept as size 1), when the graph uses them.
  OpBuilder b(ctx, node);
  if (!b.Wants(1) && !b.Wants(2)) return absl::OkStatus();
  const int64_t rank = static_cast<int64_t>(ctx.graph().values[x].shape.size());
  std::vector<int64_t> dims;
  for (int64_t d = rank - static_cast<int64_t>(shape.size()); d < rank; ++d) dims.push_back(d);
  ops::Attrs stats;
  stats.SetInts("dims", dims).SetInt("keepdim", 1);
  KILN_ASSIGN_OR_RETURN(auto mean, ctx.Emit(node, "reduce_mean", {x}, stats));
  KILN_ASSIGN_OR_RETURN(auto centered, ctx.Emit(node, "sub", {x, mean}));
  KILN_ASSIGN_OR_RETURN(auto squared, ctx.Emit(node, "mul", {centered, centered}));
  KILN_ASSIGN_OR_RETURN(auto var, ctx.Emit(node, "reduce_mean", {squared}, stats));
  KILN_ASSIGN_OR_RETURN(auto var_eps, ctx.Emit(node, "add", {var, ctx.ScalarConstant(eps)}));
  KILN_ASSIGN_OR_RETURN(auto rstd, ctx.Emit(node, "rsqrt", {var_eps}));
  KILN_RETURN_IF_ERROR(b.BindIfWanted(mean, 1));
  KILN_RETURN_IF_ERROR(b.BindIfWanted(rstd, 2));
  return absl::OkStatus();
}

bool IsIntegral(TorchDType t) {
  return t == TorchDType::kByte || t == TorchDType::kChar || t == TorchDType::kShort || t == TorchDType::kInt ||
         t == TorchDType::kLong;
}

// ATen averages integer tensors with C++ integer division (toward zero). `sum` holds the window sums
// (exact in fp32 below 2^24); one division by each output's divisor (the override, or the product of
// the trailing axes' `divisors`) rounds correctly, so trunc gives ATen's quotient.
absl::StatusOr<int> TruncatedAverage(OpBuilder& b, int sum, int64_t divisor_override,
                                     const std::vector<std::vector<float>>& divisors) {
  int by = b.Scalar(static_cast<double>(divisor_override));
  if (divisor_override == 0) {
    std::vector<float> map = {1.0f};
    ops::Shape shape;
    for (const std::vector<float>& axis : divisors) {
      std::vector<float> next;
      for (float m : map)
        for (float d : axis) next.push_back(m * d);
      map = std::move(next);
      shape.push_back(static_cast<int64_t>(axis.size()));
    }
    by = b.Constant("divisors", shape, std::move(map));
  }
  KILN_ASSIGN_OR_RETURN(auto average, b.Op("div", {sum, by}));
  return b.Op("trunc", {average});
}

absl::Status AvgPool(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto kernel, ctx.Ints(node, "kernel_size"));
  KILN_ASSIGN_OR_RETURN(auto stride, ctx.Ints(node, "stride", std::vector<int64_t>{}));
  KILN_ASSIGN_OR_RETURN(auto padding, ctx.Ints(node, "padding", std::vector<int64_t>{0, 0}));
  KILN_ASSIGN_OR_RETURN(auto ceil_mode, ctx.Bool(node, "ceil_mode", false));
  KILN_ASSIGN_OR_RETURN(auto count_include_pad, ctx.Bool(node, "count_include_pad", true));
  KILN_ASSIGN_OR_RETURN(auto divisor, ctx.Int(node, "divisor_override", 0));
  if (stride.empty()) stride = kernel;
  ExpandToSpatial(2, {&kernel, &stride, &padding});
  ops::Attrs attrs;
  attrs.SetInts("kernel", kernel).SetInts("stride", stride).SetInts("padding", padding)
      .SetInt("ceil_mode", ceil_mode ? 1 : 0).SetInt("count_include_pad", count_include_pad ? 1 : 0);
  if (IsIntegral(ctx.DTypeOf(node, "self"))) {
    OpBuilder b(ctx, node);
    attrs.SetInt("divisor_override", 1);
    KILN_ASSIGN_OR_RETURN(auto sum, b.Op("avg_pool2d", {x}, attrs));
    const ops::Shape &in = b.Shape(x), &out = b.Shape(sum);
    const size_t r = in.size();
    std::vector<std::vector<float>> divisors;
    for (int i = 0; i < 2; ++i)
      divisors.push_back(AvgPoolDivisors(in[r - 2 + i], out[r - 2 + i], kernel[i], stride[i], padding[i],
                                         count_include_pad));
    KILN_ASSIGN_OR_RETURN(auto average, TruncatedAverage(b, sum, divisor, divisors));
    return ctx.Bind(node, average);
  }
  if (divisor > 0) attrs.SetInt("divisor_override", divisor);
  if (divisor >= 0) return EmitAndBind(ctx, node, "avg_pool2d", {x}, attrs);
  // ATen divides by a negative override too; the device op takes positive ones, so sum and divide.
  attrs.SetInt("divisor_override", 1);
  KILN_ASSIGN_OR_RETURN(auto sum, ctx.Emit(node, "avg_pool2d", {x}, attrs));
  return EmitAndBind(ctx, node, "div", {sum, ctx.ScalarConstant(static_cast<double>(divisor))});
}

// Adaptive average pooling whose windows tile the input evenly (VGG's and AlexNet's 7x7/6x6 heads,
// global pooling) is plain average pooling; uneven (overlapping) windows are two matmuls with
// constant averaging matrices, rows then columns.
absl::Status AdaptiveAvgPool(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto size, ctx.Ints(node, "output_size"));
  ExpandToSpatial(2, {&size});
  const ops::Shape& in = ctx.graph().values[x].shape;
  if (in.size() < 3 || size.size() != 2) return ctx.NodeError(node, "expects [.., H, W] input and a 2-D output size");
  const int64_t h = in[in.size() - 2], w = in.back();
  if (size[0] == h && size[1] == w) return ctx.Bind(node, x);
  if (size[0] <= 0 || size[1] <= 0 || h == 0 || w == 0)
    return ctx.NodeError(node, absl::StrCat("adaptive pooling from ", h, "x", w, " to ", size[0], "x", size[1],
                                            " needs positive sizes"));
  if (h % size[0] != 0 || w % size[1] != 0) {
    std::vector<float> cols = AdaptiveWindows(w, size[1]);  // [ow, W], used transposed
    std::vector<float> cols_t(cols.size());
    for (int64_t i = 0; i < size[1]; ++i)
      for (int64_t j = 0; j < w; ++j) cols_t[j * size[1] + i] = cols[i * w + j];
    const int rows_m = ctx.graph().AddConstant(node.name + "_rows", {size[0], h}, AdaptiveWindows(h, size[0]));
    const int cols_m = ctx.graph().AddConstant(node.name + "_cols", {w, size[1]}, std::move(cols_t));
    KILN_ASSIGN_OR_RETURN(auto by_cols, ctx.Emit(node, "matmul", {x, cols_m}));
    return EmitAndBind(ctx, node, "matmul", {rows_m, by_cols});
  }
  const std::vector<int64_t> kernel = {h / size[0], w / size[1]};
  ops::Attrs attrs;
  attrs.SetInts("kernel", kernel).SetInts("stride", kernel).SetInts("padding", {0, 0})
      .SetInt("ceil_mode", 0).SetInt("count_include_pad", 1);
  return EmitAndBind(ctx, node, "avg_pool2d", {x}, attrs);
}

template <const char* kOp>
absl::Status Softmax(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim"));
  ops::Attrs attrs;
  attrs.SetInt("dim", dim);
  return EmitAndBind(ctx, node, kOp, {x}, attrs);
}
constexpr char kSoftmax[] = "softmax", kLogSoftmax[] = "log_softmax";

template <const char* kOp>
absl::Status Reduce(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dims, ctx.Ints(node, "dim", std::vector<int64_t>{}));
  KILN_ASSIGN_OR_RETURN(auto keepdim, ctx.Bool(node, "keepdim", false));
  // sum(x, dtype=...) converts x first: exactly (the device holds every dtype as fp32 values),
  // except float to an integer dtype, which truncates each element as to_copy does.
  const Argument* dtype = node.Find("dtype");
  if (dtype && dtype->kind == Argument::Kind::kScalarType) {
    const auto to = static_cast<TorchDType>(dtype->i);
    const TorchDType from = ctx.DTypeOf(node, "self");
    const bool int_to = to == TorchDType::kLong || to == TorchDType::kInt;
    const bool int_from = from == TorchDType::kLong || from == TorchDType::kInt || from == TorchDType::kBool;
    if (int_to && !int_from) {
      KILN_ASSIGN_OR_RETURN(x, ctx.Emit(node, "trunc", {x}));
    } else if (to != from && to != TorchDType::kFloat && to != TorchDType::kDouble && !int_to) {
      return ctx.NodeError(node, absl::StrCat("reducing ", TorchDTypeName(from), " as ", TorchDTypeName(to),
                                              " is not supported yet"));
    }
  }
  ops::Attrs attrs;
  attrs.SetInts("dims", dims).SetInt("keepdim", keepdim ? 1 : 0);
  return EmitAndBind(ctx, node, kOp, {x}, attrs);
}
constexpr char kSum[] = "reduce_sum", kMean[] = "reduce_mean", kMax[] = "reduce_max", kMin[] = "reduce_min";

// avg_pool1d and adaptive_avg_pool1d: 2-D pooling over [..., 1, L].
absl::Status AvgPool1d(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  const ops::Shape in = ctx.graph().values[x].shape;
  if (in.size() != 2 && in.size() != 3)
    return ctx.NodeError(node, absl::StrCat("expects [N, C, L] or [C, L] input, got ", ops::ShapeToString(in)));
  const int64_t length = in.back();
  std::vector<int64_t> kernel, stride, padding = {0};
  bool ceil_mode = false, count_include_pad = true;
  if (node.Find("output_size")) {
    KILN_ASSIGN_OR_RETURN(auto size, ctx.Ints(node, "output_size"));
    if (size.size() != 1 || size[0] <= 0 || length % size[0] != 0)
      return ctx.NodeError(node, absl::StrCat("adaptive pooling from ", length, " to ", ops::ShapeToString(size),
                                              " has uneven windows; not supported yet"));
    kernel = stride = {length / size[0]};
  } else {
    KILN_ASSIGN_OR_RETURN(kernel, ctx.Ints(node, "kernel_size"));
    KILN_ASSIGN_OR_RETURN(stride, ctx.Ints(node, "stride", std::vector<int64_t>{}));
    KILN_ASSIGN_OR_RETURN(padding, ctx.Ints(node, "padding", std::vector<int64_t>{0}));
    KILN_ASSIGN_OR_RETURN(ceil_mode, ctx.Bool(node, "ceil_mode", false));
    KILN_ASSIGN_OR_RETURN(count_include_pad, ctx.Bool(node, "count_include_pad", true));
    if (stride.empty()) stride = kernel;
  }
  if (kernel.size() != 1 || stride.size() != 1 || padding.size() != 1)
    return ctx.NodeError(node, "kernel, stride and padding must each hold one value");
  ops::Shape as_2d = in;
  as_2d.insert(as_2d.end() - 1, 1);
  ops::Attrs reshape, pool, back;
  reshape.SetInts("shape", as_2d);
  pool.SetInts("kernel", {1, kernel[0]}).SetInts("stride", {1, stride[0]}).SetInts("padding", {0, padding[0]})
      .SetInt("ceil_mode", ceil_mode ? 1 : 0).SetInt("count_include_pad", count_include_pad ? 1 : 0);
  const bool integral = IsIntegral(ctx.DTypeOf(node, "self"));
  if (integral) pool.SetInt("divisor_override", 1);
  KILN_ASSIGN_OR_RETURN(auto x2, ctx.Emit(node, "reshape", {x}, reshape));
  KILN_ASSIGN_OR_RETURN(auto pooled, ctx.Emit(node, "avg_pool2d", {x2}, pool));
  if (integral) {
    OpBuilder b(ctx, node);
    KILN_ASSIGN_OR_RETURN(pooled, TruncatedAverage(b, pooled, 0, {AvgPoolDivisors(length, b.Shape(pooled).back(),
                                                  kernel[0], stride[0], padding[0], count_include_pad)}));
  }
  ops::Shape out = ctx.graph().values[pooled].shape;
  out.erase(out.end() - 2);
  back.SetInts("shape", out);
  return EmitAndBind(ctx, node, "reshape", {pooled}, back);
}

// The output [H, W] of an upsample.vec node: output_size when given, else floor(input * scale_factors)
// as ATen computes it; the scales (empty when output_size was given) go to *scales.
absl::StatusOr<std::vector<int64_t>> UpsampleSize(LoweringContext& ctx, const AtenNode& node, const ops::Shape& in,
                                                  std::vector<double>* scales) {
  std::vector<int64_t> size;
  if (!ctx.IsNone(node, "output_size")) {
    KILN_ASSIGN_OR_RETURN(size, ctx.Ints(node, "output_size"));
  }
  const Argument* sf = node.Find("scale_factors");
  if (sf && sf->kind == Argument::Kind::kFloats) *scales = sf->floats;
  if (size.empty()) {
    if (scales->size() != 2) return ctx.NodeError(node, "needs output_size or two scale_factors");
    for (int i = 0; i < 2; ++i) size.push_back(static_cast<int64_t>(std::floor(in[2 + i] * (*scales)[i])));
  }
  return size;
}

// upsample_nearest2d: along H and W, take the source row/column ATen's nearest_idx picks (scales
// in float, as ATen computes them).
absl::Status UpsampleNearest(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "input"));
  const ops::Shape in = ctx.graph().values[x].shape;
  if (in.size() != 4) return ctx.NodeError(node, absl::StrCat("expects [N, C, H, W] input, got ", ops::ShapeToString(in)));
  std::vector<double> scales;
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> size, UpsampleSize(ctx, node, in, &scales));
  if (size.size() != 2 || size[0] <= 0 || size[1] <= 0)
    return ctx.NodeError(node, absl::StrCat("output size ", ops::ShapeToString(size), " must be two positive sizes"));
  int y = x;
  for (int i = 0; i < 2; ++i) {
    const int64_t n_in = in[2 + i], n_out = size[i];
    const float scale = scales.size() == 2 && scales[i] > 0 ? static_cast<float>(1.0 / scales[i])
                                                           : static_cast<float>(n_in) / static_cast<float>(n_out);
    std::vector<float> index(n_out);
    for (int64_t o = 0; o < n_out; ++o)
      index[o] = static_cast<float>(
          n_out == n_in ? o : std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * scale)), n_in - 1));
    const int map = ctx.graph().AddIndexConstant(node.name + "_index", {n_out}, std::move(index));
    ops::Attrs attrs;
    attrs.SetInt("dim", 2 + i);
    KILN_ASSIGN_OR_RETURN(y, ctx.Emit(node, "take", {y, map}, attrs));
  }
  return ctx.Bind(node, y);
}

// avg_pool3d is separable: a box window's sum, and both of ATen's divisors (the window clipped to
// the padded or to the unpadded input), factor into per-axis parts. So: 2-D pooling over (H, W) of
// every depth slice, then over (D, 1) of the [D, OH * OW] planes.
absl::Status AvgPool3d(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto kernel, ctx.Ints(node, "kernel_size"));
  KILN_ASSIGN_OR_RETURN(auto stride, ctx.Ints(node, "stride", std::vector<int64_t>{}));
  KILN_ASSIGN_OR_RETURN(auto padding, ctx.Ints(node, "padding", std::vector<int64_t>{0}));
  KILN_ASSIGN_OR_RETURN(auto ceil_mode, ctx.Bool(node, "ceil_mode", false));
  KILN_ASSIGN_OR_RETURN(auto count_include_pad, ctx.Bool(node, "count_include_pad", true));
  // With divisor_override (any non-zero value, negative too), both stages sum (divisor 1) and a div
  // applies the override.
  KILN_ASSIGN_OR_RETURN(auto divisor, ctx.Int(node, "divisor_override", 0));
  const bool integral = IsIntegral(ctx.DTypeOf(node, "self"));  // stages sum; TruncatedAverage divides
  if (stride.empty()) stride = kernel;
  ExpandToSpatial(3, {&kernel, &stride, &padding});
  if (kernel.size() != 3 || stride.size() != 3 || padding.size() != 3)
    return ctx.NodeError(node, "kernel, stride and padding must hold 1 or 3 values");
  const ops::Shape in = ctx.graph().values[x].shape;
  if (in.size() != 4 && in.size() != 5)
    return ctx.NodeError(node, absl::StrCat("expects [N, C, D, H, W] or [C, D, H, W] input, got ", ops::ShapeToString(in)));
  const size_t r = in.size();
  const int64_t lead = ops::DimProduct(in, 0, r - 3), d = in[r - 3];
  auto pool = [&](int x_in, std::vector<int64_t> k, std::vector<int64_t> st, std::vector<int64_t> pad,
                  int64_t stage_divisor) {
    ops::Attrs attrs;
    attrs.SetInts("kernel", k).SetInts("stride", st).SetInts("padding", pad).SetInt("ceil_mode", ceil_mode ? 1 : 0)
        .SetInt("count_include_pad", count_include_pad ? 1 : 0);
    if (stage_divisor > 0) attrs.SetInt("divisor_override", stage_divisor);
    return ctx.Emit(node, "avg_pool2d", {x_in}, attrs);
  };
  auto reshape = [&](int v, ops::Shape shape) {
    ops::Attrs attrs;
    attrs.SetInts("shape", shape);
    return ctx.Emit(node, "reshape", {v}, attrs);
  };
  // [batch, 1, rows, cols] views: only the batch dim of a pooling input may be empty.
  KILN_ASSIGN_OR_RETURN(auto slices, reshape(x, {lead * d, 1, in[r - 2], in[r - 1]}));
  const int64_t stage_divisor = divisor != 0 || integral ? 1 : 0;
  KILN_ASSIGN_OR_RETURN(auto hw, pool(slices, {kernel[1], kernel[2]}, {stride[1], stride[2]}, {padding[1], padding[2]},
                                      stage_divisor));
  const ops::Shape hw_shape = ctx.graph().values[hw].shape;
  KILN_ASSIGN_OR_RETURN(auto planes, reshape(hw, {lead, 1, d, hw_shape[2] * hw_shape[3]}));
  KILN_ASSIGN_OR_RETURN(auto dhw, pool(planes, {kernel[0], 1}, {stride[0], 1}, {padding[0], 0}, stage_divisor));
  const int64_t out_d = ctx.graph().values[dhw].shape[2];
  if (integral) {
    OpBuilder b(ctx, node);
    KILN_ASSIGN_OR_RETURN(auto by_depth, reshape(dhw, {lead, out_d, hw_shape[2], hw_shape[3]}));
    std::vector<std::vector<float>> divisors = {
        AvgPoolDivisors(d, out_d, kernel[0], stride[0], padding[0], count_include_pad),
        AvgPoolDivisors(in[r - 2], hw_shape[2], kernel[1], stride[1], padding[1], count_include_pad),
        AvgPoolDivisors(in[r - 1], hw_shape[3], kernel[2], stride[2], padding[2], count_include_pad)};
    KILN_ASSIGN_OR_RETURN(dhw, TruncatedAverage(b, by_depth, divisor, divisors));
  } else if (divisor != 0) {
    KILN_ASSIGN_OR_RETURN(dhw, ctx.Emit(node, "div", {dhw, ctx.ScalarConstant(static_cast<double>(divisor))}));
  }
  ops::Shape out(in.begin(), in.end() - 3);
  out.insert(out.end(), {out_d, hw_shape[2], hw_shape[3]});
  KILN_ASSIGN_OR_RETURN(auto y, reshape(dhw, out));
  return ctx.Bind(node, y);
}

// _adaptive_avg_pool3d: matmuls with constant averaging matrices along W, H, then D (D through a
// view that puts it in the row position).
absl::Status AdaptiveAvgPool3d(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto size, ctx.Ints(node, "output_size"));
  ExpandToSpatial(3, {&size});
  const ops::Shape in = ctx.graph().values[x].shape;
  if (in.size() < 4 || size.size() != 3) return ctx.NodeError(node, "expects [.., D, H, W] input and a 3-D output size");
  const size_t r = in.size();
  const int64_t d = in[r - 3], h = in[r - 2], w = in[r - 1];
  if (size[0] <= 0 || size[1] <= 0 || size[2] <= 0 || d == 0 || h == 0 || w == 0)
    return ctx.NodeError(node, absl::StrCat("adaptive pooling from ", ops::ShapeToString({d, h, w}), " to ",
                                            ops::ShapeToString(size), " needs positive sizes"));
  std::vector<float> cols = AdaptiveWindows(w, size[2]);
  std::vector<float> cols_t(cols.size());
  for (int64_t i = 0; i < size[2]; ++i)
    for (int64_t j = 0; j < w; ++j) cols_t[j * size[2] + i] = cols[i * w + j];
  const int cols_m = ctx.graph().AddConstant(node.name + "_cols", {w, size[2]}, std::move(cols_t));
  const int rows_m = ctx.graph().AddConstant(node.name + "_rows", {size[1], h}, AdaptiveWindows(h, size[1]));
  const int depth_m = ctx.graph().AddConstant(node.name + "_depth", {size[0], d}, AdaptiveWindows(d, size[0]));
  KILN_ASSIGN_OR_RETURN(auto by_cols, ctx.Emit(node, "matmul", {x, cols_m}));
  KILN_ASSIGN_OR_RETURN(auto by_rows, ctx.Emit(node, "matmul", {rows_m, by_cols}));
  ops::Shape planes(in.begin(), in.end() - 3);
  planes.insert(planes.end(), {d, size[1] * size[2]});
  ops::Shape out(in.begin(), in.end() - 3);
  out.insert(out.end(), {size[0], size[1], size[2]});
  ops::Attrs to_planes, to_out;
  to_planes.SetInts("shape", planes);
  to_out.SetInts("shape", out);
  KILN_ASSIGN_OR_RETURN(auto flat, ctx.Emit(node, "reshape", {by_rows}, to_planes));
  KILN_ASSIGN_OR_RETURN(auto by_depth, ctx.Emit(node, "matmul", {depth_m, flat}));
  return EmitAndBind(ctx, node, "reshape", {by_depth}, to_out);
}

// The [out, in] matrix of ATen's linear interpolation weights along one axis (UpSample.h:
// area_pixel_compute_scale, compute_source_index_and_lambda, in float as ATen computes them).
std::vector<float> LinearWeights(int64_t in, int64_t out, bool align_corners, double scale_factor) {
  std::vector<float> m(out * in, 0.0f);
  float ratio;
  if (align_corners) ratio = out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.0f;
  else ratio = scale_factor > 0 ? static_cast<float>(1.0 / scale_factor) : static_cast<float>(in) / static_cast<float>(out);
  for (int64_t o = 0; o < out; ++o) {
    if (in == out) {
      m[o * in + o] = 1.0f;
      continue;
    }
    float src = align_corners ? ratio * static_cast<float>(o) : ratio * (static_cast<float>(o) + 0.5f) - 0.5f;
    if (!align_corners && src < 0) src = 0;
    const int64_t i0 = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
    const float l1 = std::min(std::max(src - static_cast<float>(i0), 0.0f), 1.0f);
    const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
    m[o * in + i0] += 1.0f - l1;
    m[o * in + i1] += l1;
  }
  return m;
}

// upsample_bilinear2d is separable: rows then columns, each a matmul with a constant weight matrix.
absl::Status UpsampleBilinear(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "input"));
  KILN_ASSIGN_OR_RETURN(auto align_corners, ctx.Bool(node, "align_corners", false));
  const ops::Shape in = ctx.graph().values[x].shape;
  if (in.size() != 4) return ctx.NodeError(node, absl::StrCat("expects [N, C, H, W] input, got ", ops::ShapeToString(in)));
  std::vector<double> scales;
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> size, UpsampleSize(ctx, node, in, &scales));
  if (size.size() != 2 || size[0] <= 0 || size[1] <= 0 || in[2] == 0 || in[3] == 0)
    return ctx.NodeError(node, absl::StrCat("cannot resample ", ops::ShapeToString(in), " to ", ops::ShapeToString(size)));
  const double sh = scales.size() == 2 ? scales[0] : 0.0, sw = scales.size() == 2 ? scales[1] : 0.0;
  std::vector<float> cols = LinearWeights(in[3], size[1], align_corners, sw);  // [ow, W], used transposed
  std::vector<float> cols_t(cols.size());
  for (int64_t i = 0; i < size[1]; ++i)
    for (int64_t j = 0; j < in[3]; ++j) cols_t[j * size[1] + i] = cols[i * in[3] + j];
  const int rows_m = ctx.graph().AddConstant(node.name + "_rows", {size[0], in[2]},
                                             LinearWeights(in[2], size[0], align_corners, sh));
  const int cols_m = ctx.graph().AddConstant(node.name + "_cols", {in[3], size[1]}, std::move(cols_t));
  KILN_ASSIGN_OR_RETURN(auto by_cols, ctx.Emit(node, "matmul", {x, cols_m}));
  return EmitAndBind(ctx, node, "matmul", {rows_m, by_cols});
}

struct Moments {
  int mean, rstd, normalized, var;  // var: biased
};

// (t - mean) * rsqrt(var + eps) with mean and (biased) variance over the dims `stats` names, as ATen's
// normalizations compute batch statistics.
absl::StatusOr<Moments> Normalize(LoweringContext& ctx, const AtenNode& node, int t, const ops::Attrs& stats,
                                  double eps) {
  KILN_ASSIGN_OR_RETURN(auto mean, ctx.Emit(node, "reduce_mean", {t}, stats));
  KILN_ASSIGN_OR_RETURN(auto centered, ctx.Emit(node, "sub", {t, mean}));
  KILN_ASSIGN_OR_RETURN(auto squared, ctx.Emit(node, "mul", {centered, centered}));
  KILN_ASSIGN_OR_RETURN(auto var, ctx.Emit(node, "reduce_mean", {squared}, stats));
  KILN_ASSIGN_OR_RETURN(auto var_eps, ctx.Emit(node, "add", {var, ctx.ScalarConstant(eps)}));
  KILN_ASSIGN_OR_RETURN(auto rstd, ctx.Emit(node, "rsqrt", {var_eps}));
  KILN_ASSIGN_OR_RETURN(auto normalized, ctx.Emit(node, "mul", {centered, rstd}));
  return Moments{mean, rstd, normalized, var};
}

// The shared tail of the normalizations that return (out, mean, rstd): weight and bias [C] apply along
// dim 1 of the rank-`rank` result y (viewed as [C, 1, ...]); y is bound as output 0, and mean and rstd,
// when the graph uses them, as outputs 1 and 2 reshaped to `stats_shape`.
absl::Status AffineAndBind(LoweringContext& ctx, const AtenNode& node, int y, size_t rank, int64_t channels,
                           std::optional<int> weight, std::optional<int> bias, const Moments& m,
                           std::vector<int64_t> stats_shape) {
  ops::Shape per_channel(rank - 1, 1);
  per_channel[0] = channels;
  ops::Attrs channel;
  channel.SetInts("shape", per_channel);
  for (const auto& [param, op] : {std::pair{weight, "mul"}, std::pair{bias, "add"}}) {
    if (!param) continue;
    KILN_ASSIGN_OR_RETURN(auto p, ctx.Emit(node, "reshape", {*param}, channel));
    KILN_ASSIGN_OR_RETURN(y, ctx.Emit(node, op, {y, p}));
  }
  KILN_RETURN_IF_ERROR(ctx.Bind(node, y, 0));
  ops::Attrs flat;
  flat.SetInts("shape", std::move(stats_shape));
  for (size_t i = 1; i < 3 && i < node.outputs.size(); ++i) {
    if (node.outputs[i].empty()) continue;
    absl::StatusOr<int> v = ctx.graph().AddNode("reshape", {i == 1 ? m.mean : m.rstd}, flat, node.name, node.outputs[i]);
    if (!v.ok()) return ctx.NodeError(node, std::string(v.status().message()));
    KILN_RETURN_IF_ERROR(ctx.Bind(node, *v, i));
  }
  return absl::OkStatus();
}

// native_group_norm(x, weight?, bias?, N, C, HxW, group, eps) -> (out, mean, rstd): statistics over
// [N, group, C / group * HxW], then the per-channel affine. mean and rstd ([N, group]) are bound too.
absl::Status GroupNorm(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "input"));
  KILN_ASSIGN_OR_RETURN(auto weight, ctx.OptionalTensor(node, "weight"));
  KILN_ASSIGN_OR_RETURN(auto bias, ctx.OptionalTensor(node, "bias"));
  KILN_ASSIGN_OR_RETURN(auto groups, ctx.Int(node, "group"));
  KILN_ASSIGN_OR_RETURN(auto eps, ctx.Float(node, "eps"));
  const ops::Shape in = ctx.graph().values[x].shape;
  if (in.size() < 2) return ctx.NodeError(node, absl::StrCat("expects [N, C, ...] input, got ", ops::ShapeToString(in)));
  const int64_t n = in[0], c = in[1];
  if (groups <= 0 || c % groups != 0)
    return ctx.NodeError(node, absl::StrCat(c, " channels do not split into ", groups, " groups"));
  ops::Attrs grouped, stats, back;
  grouped.SetInts("shape", {n, groups, ops::NumElements(in) / std::max<int64_t>(n * groups, 1)});
  stats.SetInts("dims", {2}).SetInt("keepdim", 1);
  back.SetInts("shape", in);
  KILN_ASSIGN_OR_RETURN(auto g, ctx.Emit(node, "reshape", {x}, grouped));
  KILN_ASSIGN_OR_RETURN(Moments m, Normalize(ctx, node, g, stats, eps));
  KILN_ASSIGN_OR_RETURN(int y, ctx.Emit(node, "reshape", {m.normalized}, back));
  return AffineAndBind(ctx, node, y, in.size(), c, weight, bias, m, {n, groups});
}

// _native_batch_norm_legit.no_stats(x, weight?, bias?, training, momentum, eps) -> (out, mean, rstd):
// batch statistics over every dim but the channels (dim 1), biased variance as ATen's training mode.
// _native_batch_norm_legit(x, weight?, bias?, running_mean, running_var, training, momentum, eps) is
// the same in training mode; it also updates the running statistics in place, which torch.export
// turns into _native_batch_norm_legit_functional (below) plus a buffer mutation that the .pt2 reader
// rejects by name. In inference mode it normalizes with the running statistics (mean/rstd are empty).
// _native_batch_norm_legit_functional returns the updated statistics as outputs 3 and 4
// (kRunningOut): (1 - momentum) * running + momentum * batch (the variance unbiased), or the running
// ones unchanged.
template <size_t kRunningOut = 3>
absl::Status BatchNormLegit(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "input"));
  KILN_ASSIGN_OR_RETURN(auto weight, ctx.OptionalTensor(node, "weight"));
  KILN_ASSIGN_OR_RETURN(auto bias, ctx.OptionalTensor(node, "bias"));
  KILN_ASSIGN_OR_RETURN(auto eps, ctx.Float(node, "eps"));
  KILN_ASSIGN_OR_RETURN(auto training, ctx.Bool(node, "training", true));
  const bool running_stats = node.Find("running_mean") != nullptr;
  const ops::Shape in = ctx.graph().values[x].shape;
  if (in.size() < 2) return ctx.NodeError(node, absl::StrCat("expects [N, C, ...] input, got ", ops::ShapeToString(in)));
  if (!training) {
    if (!running_stats) return ctx.NodeError(node, "inference mode needs running statistics");
    KILN_RETURN_IF_ERROR(BatchNormNoTraining(ctx, node));
    for (size_t i = kRunningOut; i < kRunningOut + 2 && i < node.outputs.size(); ++i) {
      if (node.outputs[i].empty()) continue;
      KILN_ASSIGN_OR_RETURN(auto unchanged, ctx.Tensor(node, i == kRunningOut ? "running_mean" : "running_var"));
      KILN_RETURN_IF_ERROR(ctx.Bind(node, unchanged, i));
    }
    return absl::OkStatus();
  }
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < static_cast<int64_t>(in.size()); ++d)
    if (d != 1) dims.push_back(d);
  ops::Attrs stats;
  stats.SetInts("dims", dims).SetInt("keepdim", 1);
  KILN_ASSIGN_OR_RETURN(Moments m, Normalize(ctx, node, x, stats, eps));
  KILN_RETURN_IF_ERROR(AffineAndBind(ctx, node, m.normalized, in.size(), in[1], weight, bias, m, {in[1]}));
  const bool wants_update = (node.outputs.size() > kRunningOut && !node.outputs[kRunningOut].empty()) ||
                            (node.outputs.size() > kRunningOut + 1 && !node.outputs[kRunningOut + 1].empty());
  if (!wants_update) return absl::OkStatus();
  KILN_ASSIGN_OR_RETURN(auto momentum, ctx.Float(node, "momentum"));
  const double count = static_cast<double>(ops::NumElements(in) / std::max<int64_t>(in[1], 1));
  ops::Attrs flat;
  flat.SetInts("shape", {in[1]});
  for (size_t i = kRunningOut; i < kRunningOut + 2 && i < node.outputs.size(); ++i) {
    if (node.outputs[i].empty()) continue;
    KILN_ASSIGN_OR_RETURN(auto running, ctx.Tensor(node, i == kRunningOut ? "running_mean" : "running_var"));
    int batch = m.mean;
    if (i == kRunningOut + 1) {  // the running variance is unbiased
      KILN_ASSIGN_OR_RETURN(batch, ctx.Emit(node, "mul", {m.var, ctx.ScalarConstant(count / std::max(count - 1, 1.0))}));
    }
    KILN_ASSIGN_OR_RETURN(auto batch_flat, ctx.Emit(node, "reshape", {batch}, flat));
    KILN_ASSIGN_OR_RETURN(auto new_part, ctx.Emit(node, "mul", {batch_flat, ctx.ScalarConstant(momentum)}));
    KILN_ASSIGN_OR_RETURN(auto old_part, ctx.Emit(node, "mul", {running, ctx.ScalarConstant(1.0 - momentum)}));
    absl::StatusOr<int> v = ctx.graph().AddNode("add", {old_part, new_part}, {}, node.name, node.outputs[i]);
    if (!v.ok()) return ctx.NodeError(node, std::string(v.status().message()));
    KILN_RETURN_IF_ERROR(ctx.Bind(node, *v, i));
  }
  return absl::OkStatus();
}

// _batch_norm_with_update_functional(input, weight?, bias?, running_mean, running_var, momentum, eps)
// -> (out, save_mean, save_rstd, reserve, running_mean_out, running_var_out): training-mode batch
// norm with the updated running statistics as outputs 4 and 5; reserve is cuDNN's workspace, empty
// on every other backend.
absl::Status BatchNormWithUpdate(LoweringContext& ctx, const AtenNode& node) {
  KILN_RETURN_IF_ERROR(BatchNormLegit<4>(ctx, node));
  if (node.outputs.size() <= 3 || node.outputs[3].empty()) return absl::OkStatus();
  return ctx.Bind(node, ctx.graph().AddConstant(node.name + "_reserve", {0}, {}), 3);
}

// prod.default (all dims) and prod.dim_int (one dim).
absl::Status Prod(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  std::vector<int64_t> dims;
  if (node.Find("dim")) {
    KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim"));
    dims.push_back(dim);
  }
  KILN_ASSIGN_OR_RETURN(auto keepdim, ctx.Bool(node, "keepdim", false));
  const Argument* dtype = node.Find("dtype");
  if (dtype && dtype->kind == Argument::Kind::kScalarType && dtype->i != static_cast<int>(TorchDType::kFloat))
    return ctx.NodeError(node, "products to another dtype are not supported yet");
  ops::Attrs attrs;
  attrs.SetInts("dims", dims).SetInt("keepdim", keepdim ? 1 : 0);
  return EmitAndBind(ctx, node, "reduce_prod", {x}, attrs);
}

// argmax/argmin(self, dim=None, keepdim): the index as an fp32 value (exact below 2^24).
template <bool kMax>
absl::Status ArgReduce(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto keepdim, ctx.Bool(node, "keepdim", false));
  ops::Attrs attrs;
  attrs.SetInt("keepdim", keepdim ? 1 : 0);
  if (!ctx.IsNone(node, "dim")) {
    KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim"));
    attrs.SetInt("dim", dim);
  }
  return EmitAndBind(ctx, node, kMax ? "argmax" : "argmin", {x}, attrs);
}

// max.dim/min.dim return (values, indices): one device op for each output the graph names.
template <bool kMax>
absl::Status MaxMinDim(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dim, ctx.Int(node, "dim"));
  KILN_ASSIGN_OR_RETURN(auto keepdim, ctx.Bool(node, "keepdim", false));
  for (size_t i = 0; i < 2 && i < node.outputs.size(); ++i) {
    if (node.outputs[i].empty()) continue;
    ops::Attrs attrs;
    attrs.SetInt("keepdim", keepdim ? 1 : 0);
    if (i == 0) attrs.SetInts("dims", {dim});
    else attrs.SetInt("dim", dim);
    const char* op = i == 0 ? (kMax ? "reduce_max" : "reduce_min") : (kMax ? "argmax" : "argmin");
    absl::StatusOr<int> v = ctx.graph().AddNode(op, {x}, attrs, node.name, node.outputs[i]);
    if (!v.ok()) return ctx.NodeError(node, std::string(v.status().message()));
    KILN_RETURN_IF_ERROR(ctx.Bind(node, *v, i));
  }
  return absl::OkStatus();
}

// var(x, dims, correction) = sum((x - mean)^2) / (N - correction), N the reduced element count;
// var_mean returns the mean too.
absl::Status Var(LoweringContext& ctx, const AtenNode& node) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, "self"));
  KILN_ASSIGN_OR_RETURN(auto dims, ctx.Ints(node, "dim", std::vector<int64_t>{}));
  KILN_ASSIGN_OR_RETURN(auto keepdim, ctx.Bool(node, "keepdim", false));
  double correction = 1.0;
  if (node.Find("unbiased")) {
    KILN_ASSIGN_OR_RETURN(auto unbiased, ctx.Bool(node, "unbiased", true));
    correction = unbiased ? 1.0 : 0.0;
  } else {
    KILN_ASSIGN_OR_RETURN(correction, ctx.Float(node, "correction", 1.0));
  }
  const ops::Shape& shape = ctx.graph().values[x].shape;
  double n = 1.0;
  for (size_t d = 0; d < shape.size(); ++d) {
    bool reduced = dims.empty();
    for (int64_t r : dims) reduced |= (r < 0 ? r + static_cast<int64_t>(shape.size()) : r) == static_cast<int64_t>(d);
    if (reduced) n *= static_cast<double>(shape[d]);
  }
  ops::Attrs keep, out;
  keep.SetInts("dims", dims).SetInt("keepdim", 1);
  out.SetInts("dims", dims).SetInt("keepdim", keepdim ? 1 : 0);
  KILN_ASSIGN_OR_RETURN(auto mean, ctx.Emit(node, "reduce_mean", {x}, keep));
  KILN_ASSIGN_OR_RETURN(auto centered, ctx.Emit(node, "sub", {x, mean}));
  KILN_ASSIGN_OR_RETURN(auto squared, ctx.Emit(node, "mul", {centered, centered}));
  KILN_ASSIGN_OR_RETURN(auto sum, ctx.Emit(node, "reduce_sum", {squared}, out));
  // Dividing (not multiplying by the reciprocal) gives ATen's inf/NaN when N <= correction.
  KILN_ASSIGN_OR_RETURN(auto var, ctx.Emit(node, "div", {sum, ctx.ScalarConstant(std::max(n - correction, 0.0))}));
  if (!node.outputs.empty() && !node.outputs[0].empty()) KILN_RETURN_IF_ERROR(ctx.Bind(node, var, 0));
  if (node.outputs.size() < 2 || node.outputs[1].empty()) return absl::OkStatus();
  // var_mean also returns the mean, shaped as the variance.
  if (ctx.graph().values[mean].shape == ctx.graph().values[var].shape) return ctx.Bind(node, mean, 1);
  ops::Attrs reshape;
  reshape.SetInts("shape", ctx.graph().values[var].shape);
  absl::StatusOr<int> m = ctx.graph().AddNode("reshape", {mean}, reshape, node.name, node.outputs[1]);
  if (!m.ok()) return ctx.NodeError(node, std::string(m.status().message()));
  return ctx.Bind(node, *m, 1);
}

}  // namespace

void AddNeuralNetRules(RuleTable& rules) {
  Lowered(rules, "aten.addmm.default", Addmm, "matmul, mul, add (alpha or beta != 1)");
  Lowered(rules, "aten.mm.default", Matmul, "matmul");
  Lowered(rules, "aten.bmm.default", Matmul, "matmul");
  Lowered(rules, "aten._native_batch_norm_legit_no_training.default", BatchNormNoTraining, "batch_norm");
  Decomposed(rules, "aten._native_batch_norm_legit.no_stats", BatchNormLegit<>,
             "reduce_mean, sub, mul, add, rsqrt, reshape (batch statistics; mean and rstd outputs too)");
  Decomposed(rules, "aten._native_batch_norm_legit.default", BatchNormLegit<>,
             "reduce_mean, sub, mul, add, rsqrt, reshape (training: batch statistics and mean/rstd outputs), "
             "batch_norm (inference)");
  Decomposed(rules, "aten._native_batch_norm_legit_functional.default", BatchNormLegit<>,
             "reduce_mean, sub, mul, add, rsqrt, reshape (training: batch statistics and mean/rstd outputs; the "
             "updated running statistics), batch_norm (inference)");
  Decomposed(rules, "aten._batch_norm_with_update_functional.default", BatchNormWithUpdate,
             "reduce_mean, sub, mul, add, rsqrt, reshape (batch statistics and mean/rstd outputs; the updated "
             "running statistics)");
  Lowered(rules, "aten.native_layer_norm.default", LayerNorm,
          "layer_norm; mean and rstd outputs: reduce_mean, sub, mul, add, rsqrt");
  Decomposed(rules, "aten.native_group_norm.default", GroupNorm,
             "reshape, reduce_mean, sub, mul, add, rsqrt (mean and rstd outputs too)");
  Lowered(rules, "aten.avg_pool2d.default", AvgPool, "avg_pool2d, div (negative divisor_override)");
  Lowered(rules, "aten._adaptive_avg_pool2d.default", AdaptiveAvgPool,
          "avg_pool2d (even windows), matmul (uneven windows: constant averaging matrices)");
  Lowered(rules, "aten._softmax.default", Softmax<kSoftmax>, "softmax");
  Lowered(rules, "aten._log_softmax.default", Softmax<kLogSoftmax>, "log_softmax");
  Lowered(rules, "aten.sum.dim_IntList", Reduce<kSum>, "reduce_sum");
  Lowered(rules, "aten.mean.dim", Reduce<kMean>, "reduce_mean");
  Lowered(rules, "aten.mean.default", Reduce<kMean>, "reduce_mean");
  Lowered(rules, "aten.amax.default", Reduce<kMax>, "reduce_max");
  Lowered(rules, "aten.amin.default", Reduce<kMin>, "reduce_min");
  Lowered(rules, "aten.max.default", Reduce<kMax>, "reduce_max");  // the max of all elements
  Lowered(rules, "aten.min.default", Reduce<kMin>, "reduce_min");
  Decomposed(rules, "aten.avg_pool1d.default", AvgPool1d, "reshape, avg_pool2d, reshape");
  Decomposed(rules, "aten.adaptive_avg_pool1d.default", AvgPool1d, "reshape, avg_pool2d, reshape (even windows)");
  Decomposed(rules, "aten.upsample_nearest2d.vec", UpsampleNearest, "take (rows), take (columns)");
  Decomposed(rules, "aten.avg_pool3d.default", AvgPool3d,
             "reshape, avg_pool2d (over H and W), reshape, avg_pool2d (over D), div (divisor_override), reshape");
  Decomposed(rules, "aten._adaptive_avg_pool3d.default", AdaptiveAvgPool3d,
             "matmul (W), matmul (H), reshape, matmul (D), reshape: constant averaging matrices");
  Decomposed(rules, "aten.upsample_bilinear2d.vec", UpsampleBilinear,
             "matmul (columns), matmul (rows): constant interpolation weights");
  Lowered(rules, "aten.prod.default", Prod, "reduce_prod");
  Lowered(rules, "aten.prod.dim_int", Prod, "reduce_prod");
  Lowered(rules, "aten.argmax.default", ArgReduce<true>, "argmax");
  Lowered(rules, "aten.argmin.default", ArgReduce<false>, "argmin");
  Decomposed(rules, "aten.max.dim", MaxMinDim<true>, "reduce_max (values), argmax (indices)");
  Decomposed(rules, "aten.min.dim", MaxMinDim<false>, "reduce_min (values), argmin (indices)");
  Decomposed(rules, "aten.var.correction", Var, "reduce_mean, sub, mul, reduce_sum, div");
  Decomposed(rules, "aten.var.dim", Var, "reduce_mean, sub, mul, reduce_sum, div");
  Decomposed(rules, "aten.var_mean.correction", Var, "reduce_mean, sub, mul, reduce_sum, div, reshape (the mean)");
}

}  // namespace kiln::compiler

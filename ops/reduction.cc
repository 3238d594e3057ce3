// Sum, mean, max and min over a set of dims (empty set = all dims), optionally keeping them as
// size 1; and the running sum along one dim (cumsum).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/op_families.h"
#include "ops/shape_util.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

// Marks the reduced dims of a rank-`rank` input; "" on success.
std::string ReducedDims(const Attrs& attrs, size_t rank, std::vector<bool>* reduced) {
  const std::vector<int64_t>& dims = attrs.Ints("dims");
  reduced->assign(rank, dims.empty());
  for (int64_t d : dims) {
    int64_t nd;
    // A scalar accepts dim 0 / -1 (as PyTorch does) and has nothing to reduce.
    if (std::string err = NormalizeDim(d, std::max<int64_t>(rank, 1), &nd); !err.empty()) return err;
    if (rank == 0) continue;
    if ((*reduced)[nd])
      return "dim " + std::to_string(d) + " appears more than once in dims " + ShapeToString(dims);
    (*reduced)[nd] = true;
  }
  return "";
}

std::string InferReduceImpl(const std::vector<Shape>& inputs, const Attrs& attrs, bool is_max,
                            Shape* out) {
  const Shape& x = inputs[0];
  std::vector<bool> reduced;
  if (std::string err = ReducedDims(attrs, x.size(), &reduced); !err.empty()) return err;
  bool keepdim;
  if (std::string err = GetFlag(attrs, "keepdim", &keepdim); !err.empty()) return err;
  Shape result;
  for (size_t d = 0; d < x.size(); ++d) {
    if (!reduced[d]) {
      result.push_back(x[d]);
      continue;
    }
    if (is_max && x[d] == 0) return "cannot take the max or min over zero-size dim " + std::to_string(d);
    if (keepdim) result.push_back(1);
  }
  *out = std::move(result);
  return "";
}

std::string InferReduce(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  return InferReduceImpl(inputs, attrs, false, out);
}
std::string InferReduceMax(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  return InferReduceImpl(inputs, attrs, true, out);
}

// One element operation per stored output element per reduced element.
double ReduceWork(const std::vector<Shape>& inputs, const Shape& output, const Attrs& attrs) {
  std::vector<bool> reduced;
  ReducedDims(attrs, inputs[0].size(), &reduced);
  double extent = 1.0;
  for (size_t d = 0; d < reduced.size(); ++d)
    if (reduced[d]) extent *= static_cast<double>(inputs[0][d]);
  return static_cast<double>(StoredElements(output, Layout::kTile)) * extent;
}

// Strides mapping each input index to its output (accumulator) element: 0 along reduced dims.
std::vector<int64_t> AccumulatorStrides(const Shape& x, const std::vector<bool>& reduced) {
  Shape kept(x.size());
  for (size_t d = 0; d < x.size(); ++d) kept[d] = reduced[d] ? 1 : x[d];
  std::vector<int64_t> strides = ContiguousStrides(kept);
  for (size_t d = 0; d < x.size(); ++d)
    if (reduced[d]) strides[d] = 0;
  return strides;
}

// Sums in double so long reductions stay accurate.
void SumKernelImpl(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out, bool mean) {
  const ConstView& x = inputs[0];
  std::vector<bool> reduced;
  ReducedDims(attrs, x.shape.size(), &reduced);
  const int64_t n_out = NumElements(out.shape);
  const int64_t n_in = NumElements(x.shape);
  std::vector<double> acc(n_out, 0.0);
  const std::array<std::vector<int64_t>, 2> strides = {ContiguousStrides(x.shape),
                                                       AccumulatorStrides(x.shape, reduced)};
  ForEachRun(x.shape, strides, [&](int64_t count, const std::array<int64_t, 2>& off,
                                   const std::array<int64_t, 2>& st) {
    const float* src = x.data + off[0];
    double* dst = acc.data() + off[1];
    if (st[1] == 0) {
      double s = 0.0;
      for (int64_t i = 0; i < count; ++i) s += src[i * st[0]];
      *dst += s;
    } else {
      for (int64_t i = 0; i < count; ++i) dst[i * st[1]] += src[i * st[0]];
    }
  });
  // Mean of an empty reduction is NaN (0/0), as in PyTorch.
  const double extent = static_cast<double>(n_in) / static_cast<double>(std::max<int64_t>(n_out, 1));
  const double scale = mean ? 1.0 / extent : 1.0;
  for (int64_t i = 0; i < n_out; ++i)
    out.data[i] = mean && n_in == 0 ? std::numeric_limits<float>::quiet_NaN()
                                    : static_cast<float>(acc[i] * scale);
}

void SumKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  SumKernelImpl(inputs, attrs, out, false);
}
void MeanKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  SumKernelImpl(inputs, attrs, out, true);
}

template <bool kMax>
void ExtremumKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const ConstView& x = inputs[0];
  std::vector<bool> reduced;
  ReducedDims(attrs, x.shape.size(), &reduced);
  const int64_t n_out = NumElements(out.shape);
  const float inf = std::numeric_limits<float>::infinity();
  std::fill(out.data, out.data + n_out, kMax ? -inf : inf);
  const std::array<std::vector<int64_t>, 2> strides = {ContiguousStrides(x.shape),
                                                       AccumulatorStrides(x.shape, reduced)};
  // NaN propagates, as in torch.amax and torch.amin.
  ForEachRun(x.shape, strides, [&](int64_t count, const std::array<int64_t, 2>& off,
                                   const std::array<int64_t, 2>& st) {
    const float* src = x.data + off[0];
    float* dst = out.data + off[1];
    for (int64_t i = 0; i < count; ++i) {
      const float v = src[i * st[0]];
      float& m = dst[i * st[1]];
      if ((kMax ? v > m : v < m) || std::isnan(v)) m = v;
    }
  });
}

// Product in double, as ATen accumulates float products.
void ProdKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const ConstView& x = inputs[0];
  std::vector<bool> reduced;
  ReducedDims(attrs, x.shape.size(), &reduced);
  const int64_t n_out = NumElements(out.shape);
  std::vector<double> acc(n_out, 1.0);
  const std::array<std::vector<int64_t>, 2> strides = {ContiguousStrides(x.shape),
                                                       AccumulatorStrides(x.shape, reduced)};
  ForEachRun(x.shape, strides, [&](int64_t count, const std::array<int64_t, 2>& off,
                                   const std::array<int64_t, 2>& st) {
    const float* src = x.data + off[0];
    double* dst = acc.data() + off[1];
    for (int64_t i = 0; i < count; ++i) dst[i * st[1]] *= src[i * st[0]];
  });
  for (int64_t i = 0; i < n_out; ++i) out.data[i] = static_cast<float>(acc[i]);
}

// ---- argmax / argmin ----

// The reduced dim (-1: all elements, flattened) of an arg-reduction; "" on success.
std::string ArgDim(const Shape& x, const Attrs& attrs, int64_t* dim) {
  *dim = -1;
  if (!attrs.Has("dim")) return "";
  return NormalizeDim(attrs.Int("dim"), std::max<size_t>(x.size(), 1), dim);
}

std::string InferArg(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const Shape& x = inputs[0];
  int64_t dim;
  if (std::string err = ArgDim(x, attrs, &dim); !err.empty()) return err;
  bool keepdim;
  if (std::string err = GetFlag(attrs, "keepdim", &keepdim); !err.empty()) return err;
  Shape result;
  for (size_t d = 0; d < x.size(); ++d) {
    const bool reduced = dim < 0 || static_cast<int64_t>(d) == dim;
    if (reduced && x[d] == 0) return "cannot take the arg-max or arg-min over zero-size dim " + std::to_string(d);
    if (!reduced) result.push_back(x[d]);
    else if (keepdim) result.push_back(1);
  }
  *out = std::move(result);
  return "";
}

double ArgWork(const std::vector<Shape>& inputs, const Shape&, const Attrs&) {
  return static_cast<double>(StoredElements(inputs[0], Layout::kTile));
}

// The index (as a float, exact below 2^24) of the first max (min) along the dim; NaN counts as the
// extreme, as in torch.argmax.
template <bool kMax>
void ArgKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const Shape& x = inputs[0].shape;
  if (NumElements(x) == 0) return;
  int64_t dim;
  ArgDim(x, attrs, &dim);
  const int64_t outer = dim < 0 ? 1 : DimProduct(x, 0, dim);
  const int64_t size = dim < 0 || x.empty() ? NumElements(x) : x[dim];
  const int64_t inner = dim < 0 ? 1 : DimProduct(x, dim + 1, x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < inner; ++k) {
      const float* src = inputs[0].data + o * size * inner + k;
      int64_t best = 0;
      float v = src[0];
      for (int64_t i = 1; i < size && !std::isnan(v); ++i) {
        const float c = src[i * inner];
        if (std::isnan(c) || (kMax ? c > v : c < v)) {
          v = c;
          best = i;
        }
      }
      out.data[o * inner + k] = static_cast<float>(best);
    }
}

// ---- cumsum ----

std::string InferCumsum(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  int64_t dim;
  // A scalar accepts dim 0 / -1, as PyTorch does.
  if (std::string err = NormalizeDim(attrs.Int("dim"), std::max<size_t>(inputs[0].size(), 1), &dim);
      !err.empty())
    return err;
  *out = inputs[0];
  return "";
}

// One addition per stored output element.
double CumsumWork(const std::vector<Shape>&, const Shape& output, const Attrs&) {
  return static_cast<double>(StoredElements(output, Layout::kTile));
}

// Accumulates in double, as ATen's CPU cumsum does for float.
void CumsumKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const Shape& x = inputs[0].shape;
  if (NumElements(x) == 0) return;
  int64_t dim = 0;
  NormalizeDim(attrs.Int("dim"), std::max<size_t>(x.size(), 1), &dim);
  const int64_t outer = x.empty() ? 1 : DimProduct(x, 0, dim);
  const int64_t n = x.empty() ? 1 : x[dim];
  const int64_t inner = x.empty() ? 1 : DimProduct(x, dim + 1, x.size());
  std::vector<double> acc(inner);
  for (int64_t o = 0; o < outer; ++o) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const float* src = inputs[0].data + (o * n + i) * inner;
      float* dst = out.data + (o * n + i) * inner;
      for (int64_t k = 0; k < inner; ++k) dst[k] = static_cast<float>(acc[k] += src[k]);
    }
  }
}

OpDef MakeReduction(std::string_view name, std::string_view summary, InferShapeFn infer,
                    KernelFn kernel) {
  OpDef def;
  def.name = name;
  def.summary = summary;
  def.inputs = {"x"};
  def.attrs = {
      {"dims", AttrKind::kInts, "Dims to reduce (negative counts from the end); empty = all dims"},
      {"keepdim", AttrKind::kInt, "1: keep reduced dims as size 1"},
  };
  def.unit = Unit::kVector;
  def.infer_shape = infer;
  def.work = ReduceWork;
  def.kernel = kernel;
  return def;
}

}  // namespace

std::vector<OpDef> ReductionOps() {
  std::vector<OpDef> ops;
  ops.push_back(MakeReduction("reduce_sum", "Sum over dims", InferReduce, SumKernel));
  ops.push_back(MakeReduction("reduce_mean", "Arithmetic mean over dims", InferReduce, MeanKernel));
  ops.push_back(MakeReduction("reduce_max", "Maximum over dims (NaN propagates)", InferReduceMax,
                              ExtremumKernel<true>));
  ops.push_back(MakeReduction("reduce_min", "Minimum over dims (NaN propagates)", InferReduceMax,
                              ExtremumKernel<false>));
  ops.push_back(MakeReduction("reduce_prod", "Product over dims", InferReduce, ProdKernel));
  for (const bool is_max : {true, false}) {
    OpDef def;
    def.name = is_max ? "argmax" : "argmin";
    def.summary = is_max ? "Index of the first maximum along a dim, or of the flattened tensor (NaN is the maximum)"
                         : "Index of the first minimum along a dim, or of the flattened tensor (NaN is the minimum)";
    def.inputs = {"x"};
    def.attrs = {{"dim", AttrKind::kInt, "Dim to reduce (negative counts from the end); absent: all, flattened", true},
                 {"keepdim", AttrKind::kInt, "1: keep reduced dims as size 1"}};
    def.unit = Unit::kVector;
    def.infer_shape = InferArg;
    def.work = ArgWork;
    def.kernel = is_max ? ArgKernel<true> : ArgKernel<false>;
    ops.push_back(std::move(def));
  }
  {
    OpDef def;
    def.name = "cumsum";
    def.summary = "Running sum along one dim";
    def.inputs = {"x"};
    def.attrs = {{"dim", AttrKind::kInt, "Dim to accumulate along (negative counts from the end)"}};
    def.unit = Unit::kVector;
    def.infer_shape = InferCumsum;
    def.work = CumsumWork;
    def.kernel = CumsumKernel;
    ops.push_back(std::move(def));
  }
  return ops;
}

}  // namespace kiln::ops

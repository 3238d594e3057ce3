// Sum, mean, max and min over a set of dims (empty set = all dims), optionally keeping them as
// size 1; and the scans along one dim (cumsum, cumprod, logcumsumexp).
#include <algorithm>
#include <utility>

#include "ops/op_families.h"
#include "ops/op_params.h"
#include "ops/shape_util.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

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

// One element operation per stored input element: each is accumulated once into its partial result.
double ReduceWork(const std::vector<Shape>& inputs, const Shape&, const Attrs&) {
  return static_cast<double>(StoredElements(inputs[0], Layout::kTile));
}

// As the op library reduces: the input tiles are dealt to the cores, each core reduces its tiles into
// partial output tiles, and the partials are then added up (one element operation per stored output
// element per partial). A global mean of a [1, 32, 112, 112] activation has 32 output tiles but 512
// input tiles, so it keeps all the cores busy, where splitting by output tiles would idle most.
WorkSplit ReduceSplit(const std::vector<Shape>& inputs, const Shape& output, const Attrs&) {
  return {ComputeTiles(inputs[0]), ComputeTiles(output), static_cast<double>(StoredElements(output, Layout::kTile))};
}

// ---- argmax / argmin ----

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

// ---- scans: cumsum, cumprod, logcumsumexp ----

std::string InferCumsum(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  int64_t dim;
  // A scalar accepts dim 0 / -1, as PyTorch does.
  if (std::string err = NormalizeDim(attrs.Int("dim"), std::max<size_t>(inputs[0].size(), 1), &dim);
      !err.empty())
    return err;
  *out = inputs[0];
  return "";
}

// One accumulation per stored output element.
double CumsumWork(const std::vector<Shape>&, const Shape& output, const Attrs&) {
  return static_cast<double>(StoredElements(output, Layout::kTile));
}

OpDef MakeReduction(std::string_view name, std::string_view summary, InferShapeFn infer) {
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
  def.split = ReduceSplit;
  return def;
}

}  // namespace

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

// The reduced dim (-1: all elements, flattened) of an arg-reduction; "" on success.
std::string ArgDim(const Shape& x, const Attrs& attrs, int64_t* dim) {
  *dim = -1;
  if (!attrs.Has("dim")) return "";
  return NormalizeDim(attrs.Int("dim"), std::max<size_t>(x.size(), 1), dim);
}

std::vector<OpDef> ReductionOps() {
  std::vector<OpDef> ops;
  ops.push_back(MakeReduction("reduce_sum", "Sum over dims", InferReduce));
  ops.push_back(MakeReduction("reduce_mean", "Arithmetic mean over dims", InferReduce));
  ops.push_back(MakeReduction("reduce_max", "Maximum over dims (NaN propagates)", InferReduceMax));
  ops.push_back(MakeReduction("reduce_min", "Minimum over dims (NaN propagates)", InferReduceMax));
  ops.push_back(MakeReduction("reduce_prod", "Product over dims", InferReduce));
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
    ops.push_back(std::move(def));
  }
  for (const auto& [name, summary] : std::vector<std::pair<const char*, const char*>>{
           {"cumsum", "Running sum along one dim"},
           {"cumprod", "Running product along one dim"},
           {"logcumsumexp", "Running log(sum(exp(x))) along one dim, without overflow"}}) {
    OpDef def;
    def.name = name;
    def.summary = summary;
    def.inputs = {"x"};
    def.attrs = {{"dim", AttrKind::kInt, "Dim to accumulate along (negative counts from the end)"}};
    def.unit = Unit::kVector;
    def.infer_shape = InferCumsum;
    def.work = CumsumWork;
    ops.push_back(std::move(def));
  }
  return ops;
}

}  // namespace kiln::ops

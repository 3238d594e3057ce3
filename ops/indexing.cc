// Ops that read or write elements at positions held in an index tensor: take (index_select,
// embedding, tensor indexing), gather (take_along_axis) and scatter (its inverse, with reductions).
//
// Index tensors hold fp32 like every device tensor, so indices are exact up to 2^24. The device
// cannot raise an error mid-program: an index that is not an integer in [-size, size) reads NaN
// instead of out-of-bounds memory. Negative indices count from the end, as in Python.
#include <algorithm>
#include <cmath>

#include "ops/op_families.h"
#include "ops/op_params.h"
#include "ops/shape_util.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

double NoWork(const std::vector<Shape>&, const Shape&, const Attrs&) { return 0.0; }

// ---- take ----

std::string InferTake(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const Shape& x = inputs[0];
  if (x.empty()) return "cannot take from a rank-0 tensor";
  int64_t dim;
  if (std::string err = NormalizeDim(attrs.Int("dim"), x.size(), &dim); !err.empty()) return err;
  Shape result(x.begin(), x.begin() + dim);
  result.insert(result.end(), inputs[1].begin(), inputs[1].end());
  result.insert(result.end(), x.begin() + dim + 1, x.end());
  *out = std::move(result);
  return "";
}

// Only the selected slices of x come from DRAM: at most one per index, however large x (an embedding
// table). A slice along the last dim is a column, one element in every row segment the DRAM serves, so
// that gather is charged all of x.
std::vector<double> TakeReadShare(const std::vector<Shape>& inputs, const Shape&, const Attrs& attrs) {
  const Shape& x = inputs[0];
  int64_t dim = 0;
  NormalizeDim(attrs.Int("dim"), x.size(), &dim);
  if (dim + 1 == static_cast<int64_t>(x.size()) || x[dim] == 0) return {1.0, 1.0};
  return {static_cast<double>(NumElements(inputs[1])) / static_cast<double>(x[dim]), 1.0};
}

// ---- gather ----

std::string InferGather(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const Shape& x = inputs[0];
  const Shape& index = inputs[1];
  // As torch.gather: a rank-0 operand acts as rank 1.
  const size_t rank = std::max<size_t>(x.size(), 1);
  int64_t dim;
  if (std::string err = NormalizeDim(attrs.Int("dim"), rank, &dim); !err.empty()) return err;
  if (std::max<size_t>(index.size(), 1) != rank)
    return "index " + ShapeToString(index) + " must have the rank of x " + ShapeToString(x);
  for (size_t d = 0; d < x.size() && d < index.size(); ++d)
    if (static_cast<int64_t>(d) != dim && index[d] > x[d])
      return "index " + ShapeToString(index) + " is larger than x " + ShapeToString(x) + " in dim " +
             std::to_string(d);
  *out = index;
  return "";
}

// ---- argsort ----

std::string InferArgsort(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  int64_t dim;
  if (std::string err = NormalizeDim(attrs.Int("dim"), std::max<size_t>(inputs[0].size(), 1), &dim); !err.empty())
    return err;
  bool descending;
  if (std::string err = GetFlag(attrs, "descending", &descending); !err.empty()) return err;
  *out = inputs[0];
  return "";
}

// n log n comparisons per sorted line, counted on the stored (tile-padded) elements.
double ArgsortWork(const std::vector<Shape>& inputs, const Shape& output, const Attrs& attrs) {
  int64_t dim = 0;
  NormalizeDim(attrs.Int("dim"), std::max<size_t>(inputs[0].size(), 1), &dim);
  const double n = inputs[0].empty() ? 1.0 : static_cast<double>(inputs[0][dim]);
  return static_cast<double>(StoredElements(output, Layout::kTile)) * std::max(1.0, std::log2(std::max(n, 1.0)));
}

// ---- scatter ----


std::string InferScatter(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const Shape& x = inputs[0];
  const Shape& index = inputs[1];
  const Shape& src = inputs[2];
  const size_t rank = std::max<size_t>(x.size(), 1);
  int64_t dim;
  if (std::string err = NormalizeDim(attrs.Int("dim"), rank, &dim); !err.empty()) return err;
  const int64_t reduce = attrs.Int("reduce");
  if (reduce < kReplace || reduce > kAmin)
    return "attribute 'reduce' must be in [0, 5] (replace, sum, prod, mean, amax, amin), got " + std::to_string(reduce);
  bool include_self;
  if (std::string err = GetFlag(attrs, "include_self", &include_self); !err.empty()) return err;
  if (std::max<size_t>(index.size(), 1) != rank || std::max<size_t>(src.size(), 1) != rank)
    return "x " + ShapeToString(x) + ", index " + ShapeToString(index) + " and src " + ShapeToString(src) +
           " must have the same rank";
  // A rank-0 operand counts as one element of rank 1, as the kernel reads it.
  auto size = [](const Shape& s, size_t d) { return s.empty() ? int64_t{1} : s[d]; };
  for (size_t d = 0; d < rank; ++d) {
    if (size(index, d) > size(src, d))
      return "index " + ShapeToString(index) + " is larger than src " + ShapeToString(src) + " in dim " +
             std::to_string(d);
    if (static_cast<int64_t>(d) != dim && size(index, d) > size(x, d))
      return "index " + ShapeToString(index) + " is larger than x " + ShapeToString(x) + " in dim " +
             std::to_string(d);
  }
  *out = x;
  return "";
}

double ScatterWork(const std::vector<Shape>& inputs, const Shape&, const Attrs&) {
  return static_cast<double>(NumElements(inputs[1]));
}

}  // namespace

std::vector<OpDef> IndexingOps() {
  std::vector<OpDef> ops;
  {
    OpDef def;
    def.name = "take";
    def.summary = "x's slices at `index` along `dim`: shape x[:dim] + index.shape + x[dim+1:] "
                  "(index_select, embedding); bad indices read NaN";
    def.inputs = {"x", "index"};
    def.attrs = {{"dim", AttrKind::kInt, "Dim of x to index (negative counts from the end)"}};
    def.unit = Unit::kDataMovement;
    def.infer_shape = InferTake;
    def.work = NoWork;
    def.read_share = TakeReadShare;
    ops.push_back(std::move(def));
  }
  {
    OpDef def;
    def.name = "gather";
    def.summary = "out[p] = x[p with p[dim] replaced by index[p]], shape of index (torch.gather); "
                  "bad indices read NaN";
    def.inputs = {"x", "index"};
    def.attrs = {{"dim", AttrKind::kInt, "Dim of x to index (negative counts from the end)"}};
    def.unit = Unit::kDataMovement;
    def.infer_shape = InferGather;
    def.work = NoWork;
    ops.push_back(std::move(def));
  }
  {
    OpDef def;
    def.name = "argsort";
    def.summary = "Positions that sort each line along dim (stable; NaN is the largest value)";
    def.inputs = {"x"};
    def.attrs = {{"dim", AttrKind::kInt, "Dim to sort along (negative counts from the end)"},
                 {"descending", AttrKind::kInt, "1: largest first"}};
    def.unit = Unit::kVector;
    def.infer_shape = InferArgsort;
    def.work = ArgsortWork;
    ops.push_back(std::move(def));
  }
  {
    OpDef def;
    def.name = "scatter";
    def.summary = "x with src[p] written at p with p[dim] = index[p] (torch.scatter / scatter_reduce); "
                  "bad indices are skipped";
    def.inputs = {"x", "index", "src"};
    def.attrs = {{"dim", AttrKind::kInt, "Dim of x the index addresses (negative counts from the end)"},
                 {"reduce", AttrKind::kInt, "0: replace, 1: sum, 2: prod, 3: mean, 4: amax, 5: amin"},
                 {"include_self", AttrKind::kInt, "1: x's own value takes part in the reduction"}};
    def.unit = Unit::kDataMovement;
    def.infer_shape = InferScatter;
    def.work = ScatterWork;
    ops.push_back(std::move(def));
  }
  return ops;
}

}  // namespace kiln::ops

// Ops that only move elements: reshape, permute, rearrange, expand, slice, concat, pad.
#include <algorithm>

#include "ops/op_families.h"
#include "ops/op_params.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

// Moving data costs no arithmetic; the cost model charges these by bytes instead.
double NoWork(const std::vector<Shape>&, const Shape&, const Attrs&) { return 0.0; }

// ---- reshape ----

std::string InferCopy(const std::vector<Shape>& inputs, const Attrs&, Shape* out) {
  *out = inputs[0];
  return "";
}

// `target` is a shape x can be reshaped to; "" on success.
std::string CheckReshape(const Shape& x, const Shape& target) {
  for (int64_t d : target)
    if (d < 0) return "reshape target " + ShapeToString(target) + " must be fully specified (no -1)";
  if (std::string err = CheckShape(target); !err.empty()) return "reshape target " + err;
  if (NumElements(target) != NumElements(x))
    return "cannot reshape " + ShapeToString(x) + " (" + std::to_string(NumElements(x)) + " elements) to " +
           ShapeToString(target) + " (" + std::to_string(NumElements(target)) + " elements)";
  return "";
}

std::string InferReshape(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  if (std::string err = CheckReshape(inputs[0], attrs.Ints("shape")); !err.empty()) return err;
  *out = attrs.Ints("shape");
  return "";
}

// ---- permute ----

std::string InferPermute(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  std::vector<int64_t> perm;
  if (std::string err = PermutationDims(attrs, inputs[0].size(), &perm); !err.empty()) return err;
  Shape result(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) result[i] = inputs[0][perm[i]];
  *out = std::move(result);
  return "";
}

// ---- rearrange ----

std::string InferRearrange(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const Shape& view = attrs.Ints("view");
  if (std::string err = CheckReshape(inputs[0], view); !err.empty()) return "rearrange view: " + err;
  Shape permuted;
  if (std::string err = InferPermute({view}, attrs, &permuted); !err.empty()) return "rearrange dims: " + err;
  const Shape& shape = attrs.Ints("shape");
  if (std::string err = CheckReshape(inputs[0], shape); !err.empty()) return "rearrange shape: " + err;
  *out = shape;
  return "";
}

// ---- expand ----

std::string InferExpand(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const Shape& x = inputs[0];
  const Shape& target = attrs.Ints("shape");
  bool ok = target.size() >= x.size();
  for (size_t i = 0; ok && i < target.size(); ++i) {
    if (target[i] < 0) ok = false;
    const size_t lead = target.size() - x.size();
    if (i >= lead && x[i - lead] != 1 && x[i - lead] != target[i]) ok = false;
  }
  if (!ok)
    return "cannot expand " + ShapeToString(x) + " to " + ShapeToString(target) +
           " (dims align right; only size-1 dims expand)";
  *out = target;
  return "";
}

// ---- slice ----


std::string InferSlice(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  SliceRange r;
  if (std::string err = GetSlice(inputs[0], attrs, &r); !err.empty()) return err;
  *out = inputs[0];
  (*out)[r.dim] = r.size;
  return "";
}

// ---- concat ----

std::string InferConcat(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const Shape& first = inputs[0];
  if (first.empty()) return "cannot concatenate rank-0 tensors";
  int64_t dim;
  if (std::string err = NormalizeDim(attrs.Int("dim"), first.size(), &dim); !err.empty()) return err;
  Shape result = first;
  for (size_t i = 1; i < inputs.size(); ++i) {
    const Shape& s = inputs[i];
    bool ok = s.size() == first.size();
    for (size_t d = 0; ok && d < s.size(); ++d)
      if (static_cast<int64_t>(d) != dim && s[d] != first[d]) ok = false;
    if (!ok)
      return "operand " + std::to_string(i) + " shape " + ShapeToString(s) + " does not match " +
             ShapeToString(first) + " outside concat dim " + std::to_string(dim);
    result[dim] += s[dim];
  }
  *out = std::move(result);
  return "";
}

// ---- pad ----


std::string InferPad(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  std::vector<int64_t> pads;
  int64_t mode;
  if (std::string err = GetPad(inputs[0], attrs, &pads, &mode); !err.empty()) return err;
  Shape result = inputs[0];
  for (size_t d = 0; d < result.size(); ++d) result[d] += pads[2 * d] + pads[2 * d + 1];
  *out = std::move(result);
  return "";
}

OpDef MakeDataMovement(std::string_view name, std::string_view summary, std::vector<AttrDef> attrs,
                       InferShapeFn infer) {
  OpDef def;
  def.name = name;
  def.summary = summary;
  def.inputs = {"x"};
  def.attrs = std::move(attrs);
  def.unit = Unit::kDataMovement;
  def.infer_shape = infer;
  def.work = NoWork;
  return def;
}

}  // namespace

// Normalizes `dims` into a permutation of [0, rank); "" on success.
std::string PermutationDims(const Attrs& attrs, size_t rank, std::vector<int64_t>* perm) {
  const std::vector<int64_t>& dims = attrs.Ints("dims");
  const std::string bad = "dims " + ShapeToString(dims) + " is not a permutation of " +
                          std::to_string(rank) + " dims";
  if (dims.size() != rank) return bad;
  std::vector<bool> seen(rank, false);
  perm->resize(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t d;
    if (!NormalizeDim(dims[i], static_cast<int64_t>(rank), &d).empty() || seen[d]) return bad;
    seen[d] = true;
    (*perm)[i] = d;
  }
  return "";
}

std::string GetSlice(const Shape& x, const Attrs& attrs, SliceRange* r) {
  if (x.empty()) return "cannot slice a rank-0 tensor";
  if (std::string err = NormalizeDim(attrs.Int("dim"), x.size(), &r->dim); !err.empty()) return err;
  r->step = attrs.Int("step", 1);
  if (r->step < 1) return "attribute 'step' must be >= 1, got " + std::to_string(r->step);
  // Python-style: negative indices count from the end, then both ends clamp into [0, size].
  const int64_t size = x[r->dim];
  auto clamp = [size](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + size : i, 0, size); };
  const int64_t start = clamp(attrs.Int("start")), end = clamp(attrs.Int("end"));
  r->start = start;
  r->size = end > start ? CeilDiv(end - start, r->step) : 0;  // step may be near INT64_MAX
  return "";
}

// Validates pads/mode against x; "" on success.
std::string GetPad(const Shape& x, const Attrs& attrs, std::vector<int64_t>* pads, int64_t* mode) {
  *pads = attrs.Ints("pads");
  *mode = attrs.Int("mode");
  if (*mode < kConstant || *mode > kReplicate)
    return "attribute 'mode' must be 0 (constant), 1 (reflect) or 2 (replicate), got " + std::to_string(*mode);
  if (pads->size() != 2 * x.size())
    return "attribute 'pads' " + ShapeToString(*pads) + " must hold a before and an after count for each of the " +
           std::to_string(x.size()) + " dims";
  for (size_t d = 0; d < x.size(); ++d) {
    const int64_t before = (*pads)[2 * d], after = (*pads)[2 * d + 1];
    // Bounded so that sizes stay far from overflow; CheckShape bounds the result.
    if (before < -kMaxElements || before > kMaxElements || after < -kMaxElements || after > kMaxElements)
      return "attribute 'pads' " + ShapeToString(*pads) + " has a count beyond 2^40";
    if (*mode == kConstant) {
      if (x[d] + before + after < 0)
        return "pads " + ShapeToString(*pads) + " crop dim " + std::to_string(d) + " of " + ShapeToString(x) +
               " below zero";
      continue;
    }
    if (before < 0 || after < 0) return "reflect and replicate padding take no negative pads";
    if (*mode == kReflect && (before >= x[d] || after >= x[d]) && (before > 0 || after > 0))
      return "reflect padding of dim " + std::to_string(d) + " by " + std::to_string(std::max(before, after)) +
             " needs the dim to be larger than that, got " + std::to_string(x[d]);
    if (*mode == kReplicate && x[d] == 0 && (before > 0 || after > 0))
      return "replicate padding of the empty dim " + std::to_string(d);
  }
  return "";
}

std::vector<OpDef> DataMovementOps() {
  std::vector<OpDef> ops;
  ops.push_back(MakeDataMovement(
      "copy", "The same values in another buffer: a weight staged from DRAM into SRAM ahead of its reader "
      "(compiler/passes/prefetch_weights.h), on the DRAM DMA engine",
      {}, InferCopy));
  ops.push_back(MakeDataMovement(
      "reshape", "Same elements in row-major order, new shape",
      {{"shape", AttrKind::kInts, "Target shape, fully specified; same element count"}},
      InferReshape));
  ops.push_back(MakeDataMovement(
      "permute", "Reorders dims: output dim i is input dim dims[i]",
      {{"dims", AttrKind::kInts, "A permutation of the input dims (negative counts from the end)"}},
      InferPermute));
  ops.push_back(MakeDataMovement(
      "rearrange",
      "Reads x as `view`, permutes that by `dims` and gives the result `shape`: a reshape -> permute -> reshape "
      "chain as one copy",
      {{"view", AttrKind::kInts, "The shape x is read as (row-major, same element count)"},
       {"dims", AttrKind::kInts, "A permutation of the view's dims: output dim i is view dim dims[i]"},
       {"shape", AttrKind::kInts, "The result's shape (row-major, same element count)"}},
      InferRearrange));
  ops.push_back(MakeDataMovement(
      "expand", "Broadcasts to a larger shape by repeating size-1 dims",
      {{"shape", AttrKind::kInts, "Target shape, fully specified; input dims align right"}},
      InferExpand));
  ops.push_back(MakeDataMovement(
      "slice", "Elements start:end:step along one dim (Python slice semantics)",
      {{"dim", AttrKind::kInt, "Dim to slice (negative counts from the end)"},
       {"start", AttrKind::kInt, "First index; negative counts from the end; clamped to the dim"},
       {"end", AttrKind::kInt, "One past the last index; negative counts from the end; clamped"},
       {"step", AttrKind::kInt, "Stride between taken indices, >= 1"}},
      InferSlice));
  ops.push_back(MakeDataMovement(
      "pad", "Pads (or, with negative constant pads, crops) every dim: constant, reflect or replicate",
      {{"pads", AttrKind::kInts, "[before_0, after_0, before_1, after_1, ...]: a count per side of every dim"},
       {"mode", AttrKind::kInt, "0: constant value, 1: reflect (mirror without the edge), 2: replicate the edge"},
       {"value", AttrKind::kFloat, "Fill value of constant padding (default 0)", true}},
      InferPad));
  OpDef concat = MakeDataMovement(
      "concat", "Joins one or more tensors along a dim; all other dims must match",
      {{"dim", AttrKind::kInt, "Dim to join along (negative counts from the end)"}}, InferConcat);
  concat.inputs = {"tensors"};
  concat.variadic = true;
  ops.push_back(std::move(concat));
  return ops;
}

}  // namespace kiln::ops

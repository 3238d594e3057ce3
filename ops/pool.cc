// 2-D max and average pooling over [N, C, H, W] (or [C, H, W]) with PyTorch semantics.
#include "ops/op_families.h"
#include "ops/op_params.h"
#include "ops/shape_util.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

// Shared by both pools: validates the input and window, returns [..., OH, OW].
std::string InferPool(const Shape& x, const PoolParams& p, bool max_pool, Shape* out) {
  if (x.size() != 3 && x.size() != 4)
    return "pooling input must be [N, C, H, W] or [C, H, W], got " + ShapeToString(x);
  // As PyTorch: only a batch dim may be empty.
  for (size_t d = x.size() - 3; d < x.size(); ++d)
    if (x[d] == 0)
      return "pooling input " + ShapeToString(x) + " has an empty channel or spatial dim";
  for (int d = 0; d < 2; ++d) {
    // PyTorch bounds padding by half the (effective) window so every window sees some input.
    const int64_t window = max_pool ? DilatedWindow(p.kernel[d], p.dilation[d]) : p.kernel[d];
    if (p.padding[d] > window / 2)
      return "attribute 'padding' " + ShapeToString({p.padding[0], p.padding[1]}) + ": " +
             std::to_string(p.padding[d]) + " exceeds half the window size " + std::to_string(window);
  }
  const size_t r = x.size();
  const int64_t oh = WindowOutputSize(x[r - 2], p.kernel[0], p.stride[0], p.padding[0],
                                      p.dilation[0], p.ceil_mode);
  const int64_t ow = WindowOutputSize(x[r - 1], p.kernel[1], p.stride[1], p.padding[1],
                                      p.dilation[1], p.ceil_mode);
  if (oh < 1 || ow < 1)
    return "pooling output would be empty for input " + ShapeToString(x);
  *out = x;
  (*out)[r - 2] = oh;
  (*out)[r - 1] = ow;
  return "";
}

std::string InferMaxPool(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  PoolParams p;
  if (std::string err = GetPoolParams(attrs, true, &p); !err.empty()) return err;
  return InferPool(inputs[0], p, true, out);
}

std::string InferAvgPool(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  PoolParams p;
  if (std::string err = GetPoolParams(attrs, false, &p); !err.empty()) return err;
  bool include_pad;
  if (std::string err = GetFlag(attrs, "count_include_pad", &include_pad); !err.empty()) return err;
  if (attrs.Int("divisor_override", 0) < 0)
    return "attribute 'divisor_override' must be >= 0, got " +
           std::to_string(attrs.Int("divisor_override", 0));
  return InferPool(inputs[0], p, false, out);
}

// One element operation per window tap of every stored output element.
double PoolWork(const std::vector<Shape>&, const Shape& output, const Attrs& attrs) {
  const std::vector<int64_t>& k = attrs.Ints("kernel");
  const double taps = k.size() == 2 ? static_cast<double>(k[0]) * static_cast<double>(k[1]) : 1.0;
  return static_cast<double>(StoredElements(output, Layout::kTile)) * taps;
}

}  // namespace

std::string GetPoolParams(const Attrs& attrs, bool has_dilation, PoolParams* p) {
  if (std::string err = GetIntPair(attrs, "kernel", 1, &p->kernel); !err.empty()) return err;
  if (std::string err = GetIntPair(attrs, "stride", 1, &p->stride); !err.empty()) return err;
  if (std::string err = GetIntPair(attrs, "padding", 0, &p->padding); !err.empty()) return err;
  if (has_dilation)
    if (std::string err = GetIntPair(attrs, "dilation", 1, &p->dilation); !err.empty()) return err;
  return GetFlag(attrs, "ceil_mode", &p->ceil_mode);
}

std::vector<OpDef> PoolOps() {
  std::vector<OpDef> ops;
  {
    OpDef def;
    def.name = "max_pool2d";
    def.summary = "2-D max pooling over the last two dims (padding counts as -inf)";
    def.inputs = {"x"};
    def.attrs = {
        {"kernel", AttrKind::kInts, "Window size [kh, kw], each in [1, 2^40]"},
        {"stride", AttrKind::kInts, "Window step [sh, sw], each in [1, 2^40]"},
        {"padding", AttrKind::kInts, "Implicit -inf padding [ph, pw], at most half the dilated window"},
        {"dilation", AttrKind::kInts, "Spacing between window taps [dh, dw], each in [1, 2^40]"},
        {"ceil_mode", AttrKind::kInt, "1: round the output size up (last window must start in bounds)"},
    };
    def.unit = Unit::kVector;
    def.infer_shape = InferMaxPool;
    def.work = PoolWork;
    ops.push_back(std::move(def));
  }
  {
    OpDef def;
    def.name = "avg_pool2d";
    def.summary = "2-D average pooling over the last two dims";
    def.inputs = {"x"};
    def.attrs = {
        {"kernel", AttrKind::kInts, "Window size [kh, kw], each in [1, 2^40]"},
        {"stride", AttrKind::kInts, "Window step [sh, sw], each in [1, 2^40]"},
        {"padding", AttrKind::kInts, "Implicit zero padding [ph, pw], at most half the kernel"},
        {"ceil_mode", AttrKind::kInt, "1: round the output size up (last window must start in bounds)"},
        {"count_include_pad", AttrKind::kInt, "1: padding counts toward the divisor"},
        {"divisor_override", AttrKind::kInt, "If > 0, divide every window sum by this", true},
    };
    def.unit = Unit::kVector;
    def.infer_shape = InferAvgPool;
    def.work = PoolWork;
    ops.push_back(std::move(def));
  }
  return ops;
}

}  // namespace kiln::ops

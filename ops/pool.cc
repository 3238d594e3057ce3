// 2-D max and average pooling over [N, C, H, W] (or [C, H, W]) with PyTorch semantics.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/op_families.h"
#include "ops/shape_util.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

struct PoolParams {
  std::array<int64_t, 2> kernel, stride, padding, dilation = {1, 1};
  bool ceil_mode = false;
};

std::string GetPoolParams(const Attrs& attrs, bool has_dilation, PoolParams* p) {
  if (std::string err = GetIntPair(attrs, "kernel", 1, &p->kernel); !err.empty()) return err;
  if (std::string err = GetIntPair(attrs, "stride", 1, &p->stride); !err.empty()) return err;
  if (std::string err = GetIntPair(attrs, "padding", 0, &p->padding); !err.empty()) return err;
  if (has_dilation)
    if (std::string err = GetIntPair(attrs, "dilation", 1, &p->dilation); !err.empty()) return err;
  return GetFlag(attrs, "ceil_mode", &p->ceil_mode);
}

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

// The taps [first, last) of a window starting at `start` that land inside [0, size). Loops run
// over these only, so a window far wider than the input costs no more than the input.
std::pair<int64_t, int64_t> TapsInside(int64_t start, int64_t kernel, int64_t dilation, int64_t size) {
  const int64_t first = std::clamp<int64_t>(CeilDiv(-start, dilation), 0, kernel);
  const int64_t last = std::clamp<int64_t>(CeilDiv(size - start, dilation), first, kernel);
  return {first, last};
}

void MaxPoolKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  PoolParams p;
  GetPoolParams(attrs, true, &p);
  const Shape& xs = inputs[0].shape;
  const size_t r = xs.size();
  const int64_t h = xs[r - 2], w = xs[r - 1], oh = out.shape[r - 2], ow = out.shape[r - 1];
  const int64_t planes = DimProduct(xs, 0, r - 2);
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* src = inputs[0].data + pl * h * w;
    float* dst = out.data + pl * oh * ow;
    for (int64_t y = 0; y < oh; ++y) {
      const int64_t h0 = y * p.stride[0] - p.padding[0];
      for (int64_t x = 0; x < ow; ++x) {
        const int64_t w0 = x * p.stride[1] - p.padding[1];
        // Padding never wins: it is -inf. NaN propagates, as in PyTorch.
        float m = -std::numeric_limits<float>::infinity();
        const auto [i0, i1] = TapsInside(h0, p.kernel[0], p.dilation[0], h);
        const auto [j0, j1] = TapsInside(w0, p.kernel[1], p.dilation[1], w);
        for (int64_t i = i0; i < i1; ++i) {
          const float* row = src + (h0 + i * p.dilation[0]) * w;
          for (int64_t j = j0; j < j1; ++j) {
            const float v = row[w0 + j * p.dilation[1]];
            if (v > m || std::isnan(v)) m = v;
          }
        }
        dst[y * ow + x] = m;
      }
    }
  }
}

void AvgPoolKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  PoolParams p;
  GetPoolParams(attrs, false, &p);
  const bool include_pad = attrs.Int("count_include_pad", 1) == 1;
  const int64_t divisor_override = attrs.Int("divisor_override", 0);
  const Shape& xs = inputs[0].shape;
  const size_t r = xs.size();
  const int64_t h = xs[r - 2], w = xs[r - 1], oh = out.shape[r - 2], ow = out.shape[r - 1];
  const int64_t planes = DimProduct(xs, 0, r - 2);
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* src = inputs[0].data + pl * h * w;
    float* dst = out.data + pl * oh * ow;
    for (int64_t y = 0; y < oh; ++y) {
      for (int64_t x = 0; x < ow; ++x) {
        // PyTorch: the padded window (clipped to input + padding) sizes count_include_pad's divisor;
        // the window clipped to the input sizes the other. Ceil-mode overhang counts for neither.
        int64_t hs = y * p.stride[0] - p.padding[0], ws = x * p.stride[1] - p.padding[1];
        int64_t he = std::min(hs + p.kernel[0], h + p.padding[0]);
        int64_t we = std::min(ws + p.kernel[1], w + p.padding[1]);
        // In double: a window of up to 2^40 x 2^40 taps overflows int64.
        const double padded_count = static_cast<double>(he - hs) * static_cast<double>(we - ws);
        hs = std::max<int64_t>(hs, 0);
        ws = std::max<int64_t>(ws, 0);
        he = std::min(he, h);
        we = std::min(we, w);
        if (hs >= he || ws >= we) {
          dst[y * ow + x] = 0.0f;
          continue;
        }
        float sum = 0.0f;
        for (int64_t ih = hs; ih < he; ++ih)
          for (int64_t iw = ws; iw < we; ++iw) sum += src[ih * w + iw];
        const double divisor = divisor_override > 0 ? static_cast<double>(divisor_override)
                               : include_pad        ? padded_count
                                                    : static_cast<double>((he - hs) * (we - ws));
        dst[y * ow + x] = sum / static_cast<float>(divisor);
      }
    }
  }
}

}  // namespace

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
    def.kernel = MaxPoolKernel;
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
    def.kernel = AvgPoolKernel;
    ops.push_back(std::move(def));
  }
  return ops;
}

}  // namespace kiln::ops

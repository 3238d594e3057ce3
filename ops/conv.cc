// 2-D convolution (NCHW, grouped, strided, dilated) lowered to im2col + the shared SGEMM.
#include <algorithm>
#include <cstring>

#include "ops/op_families.h"
#include "ops/shape_util.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

struct ConvParams {
  std::array<int64_t, 2> stride, padding, dilation;
  int64_t groups;
};

std::string GetConvParams(const Attrs& attrs, ConvParams* p) {
  if (std::string err = GetIntPair(attrs, "stride", 1, &p->stride); !err.empty()) return err;
  if (std::string err = GetIntPair(attrs, "padding", 0, &p->padding); !err.empty()) return err;
  if (std::string err = GetIntPair(attrs, "dilation", 1, &p->dilation); !err.empty()) return err;
  p->groups = attrs.Int("groups", 1);
  if (p->groups < 1) return "attribute 'groups' must be >= 1, got " + std::to_string(p->groups);
  return "";
}

std::string InferConv2d(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const Shape& x = inputs[0];
  const Shape& w = inputs[1];
  if (x.size() != 4) return "conv2d input must be [N, C, H, W], got " + ShapeToString(x);
  if (w.size() != 4) return "conv2d weight must be [O, C/groups, KH, KW], got " + ShapeToString(w);
  ConvParams p;
  if (std::string err = GetConvParams(attrs, &p); !err.empty()) return err;
  if (x[1] % p.groups != 0 || w[0] % p.groups != 0)
    return "groups=" + std::to_string(p.groups) + " must divide input channels " +
           std::to_string(x[1]) + " and output channels " + std::to_string(w[0]);
  if (w[1] * p.groups != x[1])
    return "weight " + ShapeToString(w) + " expects " + std::to_string(w[1]) +
           " input channels per group (groups=" + std::to_string(p.groups) + ") but input " +
           ShapeToString(x) + " has " + std::to_string(x[1]) + " channels";
  if (inputs.size() > 2 && inputs[2] != Shape{w[0]})
    return "bias must be [" + std::to_string(w[0]) + "], got " + ShapeToString(inputs[2]);
  const int64_t oh = WindowOutputSize(x[2], w[2], p.stride[0], p.padding[0], p.dilation[0], false);
  const int64_t ow = WindowOutputSize(x[3], w[3], p.stride[1], p.padding[1], p.dilation[1], false);
  if (oh < 1 || ow < 1)
    return "conv2d output would be empty: padded input " + ShapeToString(x) +
           " is smaller than the dilated kernel " + ShapeToString(w);
  *out = {x[0], w[0], oh, ow};
  return "";
}

// Implicit GEMM per group on tile-padded dims: [O/g x C/g*KH*KW] * [C/g*KH*KW x OH*OW], per image.
double Conv2dWork(const std::vector<Shape>& inputs, const Shape& output, const Attrs& attrs) {
  const Shape& w = inputs[1];
  const double groups = static_cast<double>(std::max<int64_t>(1, attrs.Int("groups", 1)));
  const double n = static_cast<double>(output[0]);
  const int64_t og = output[1] / static_cast<int64_t>(groups);
  return 2.0 * groups * n * RoundUpToTile(output[2] * output[3]) *
         RoundUpToTile(w[1] * w[2] * w[3]) * RoundUpToTile(og);
}

// The same product on true shapes: what the convolution needs, not what the tiles cost.
double Conv2dFlops(const std::vector<Shape>& inputs, const Shape& output, const Attrs&) {
  const Shape& w = inputs[1];
  return 2.0 * static_cast<double>(NumElements(output)) * static_cast<double>(w[1] * w[2] * w[3]);
}

// ceil(a / b) for b > 0 and any sign of a.
inline int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// Unfolds one group's input [Cg, H, W] into col [Cg*KH*KW, OH*OW]; padding reads as zero.
void Im2Col(const float* in, int64_t cg, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t oh,
            int64_t ow, const ConvParams& p, float* col) {
  const int64_t sh = p.stride[0], sw = p.stride[1], ph = p.padding[0], pw = p.padding[1];
  const int64_t dh = p.dilation[0], dw = p.dilation[1];
  for (int64_t c = 0; c < cg; ++c) {
    for (int64_t i = 0; i < kh; ++i) {
      for (int64_t j = 0; j < kw; ++j) {
        float* dst = col + ((c * kh + i) * kw + j) * oh * ow;
        // Output columns whose input column lies inside [0, w); computed once per kernel tap.
        const int64_t shift = j * dw - pw;  // iw = ow * sw + shift
        const int64_t lo = std::clamp<int64_t>(CeilDiv(-shift, sw), 0, ow);
        const int64_t hi = std::clamp<int64_t>(CeilDiv(w - shift, sw), lo, ow);
        for (int64_t y = 0; y < oh; ++y, dst += ow) {
          const int64_t ih = y * sh - ph + i * dh;
          if (ih < 0 || ih >= h) {
            std::fill(dst, dst + ow, 0.0f);
            continue;
          }
          const float* row = in + (c * h + ih) * w;
          std::fill(dst, dst + lo, 0.0f);
          if (sw == 1) {
            std::memcpy(dst + lo, row + lo + shift, (hi - lo) * sizeof(float));
          } else {
            for (int64_t x = lo; x < hi; ++x) dst[x] = row[x * sw + shift];
          }
          std::fill(dst + hi, dst + ow, 0.0f);
        }
      }
    }
  }
}

void Conv2dKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const ConstView& x = inputs[0];
  const ConstView& w = inputs[1];
  ConvParams p;
  GetConvParams(attrs, &p);
  const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const int64_t o = w.shape[0], cg = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  const int64_t oh = out.shape[2], ow = out.shape[3];
  const int64_t og = o / p.groups;
  const int64_t k = cg * kh * kw, pix = oh * ow;
  const bool has_bias = inputs.size() > 2;
  // A 1x1, stride-1, unpadded conv is already a GEMM on the input: skip the unfold.
  const bool direct = kh == 1 && kw == 1 && p.stride[0] == 1 && p.stride[1] == 1 &&
                      p.padding[0] == 0 && p.padding[1] == 0;
  std::vector<float> col(direct ? 0 : k * pix);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t g = 0; g < p.groups; ++g) {
      const float* in = x.data + (b * c + g * cg) * h * wd;
      const float* rhs = in;
      if (!direct) {
        Im2Col(in, cg, h, wd, kh, kw, oh, ow, p, col.data());
        rhs = col.data();
      }
      float* dst = out.data + (b * o + g * og) * pix;
      if (has_bias) {
        const float* bias = inputs[2].data + g * og;
        for (int64_t r = 0; r < og; ++r) std::fill(dst + r * pix, dst + (r + 1) * pix, bias[r]);
      }
      Sgemm(og, pix, k, w.data + g * og * k, k, rhs, pix, dst, pix, has_bias);
    }
  }
}

}  // namespace

std::vector<OpDef> ConvOps() {
  OpDef def;
  def.name = "conv2d";
  def.summary = "2-D convolution over NCHW input with stride, padding, dilation and groups";
  def.inputs = {"input", "weight", "bias"};
  def.num_optional_inputs = 1;
  def.attrs = {
      {"stride", AttrKind::kInts, "Window step [sh, sw], each >= 1"},
      {"padding", AttrKind::kInts, "Zero padding [ph, pw] added on both sides, each >= 0"},
      {"dilation", AttrKind::kInts, "Spacing between kernel taps [dh, dw], each >= 1"},
      {"groups", AttrKind::kInt, "Channel groups; C and O must be divisible by it (C for depthwise)"},
  };
  def.unit = Unit::kMatrix;
  def.infer_shape = InferConv2d;
  def.work = Conv2dWork;
  def.flops = Conv2dFlops;
  def.kernel = Conv2dKernel;
  std::vector<OpDef> ops;
  ops.push_back(std::move(def));
  return ops;
}

}  // namespace kiln::ops

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
  if (w[1] != x[1] / p.groups)  // not w[1] * groups, which can overflow
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

// Unfolds output pixels [p0, p1) (row-major over [OH, OW]) of one group's input [Cg, H, W] into
// col [Cg*KH*KW, p1 - p0]; padding reads as zero.
void Im2Col(const float* in, int64_t cg, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t ow,
            const ConvParams& p, int64_t p0, int64_t p1, float* col) {
  const int64_t sh = p.stride[0], sw = p.stride[1], ph = p.padding[0], pw = p.padding[1];
  const int64_t dh = p.dilation[0], dw = p.dilation[1];
  const int64_t width = p1 - p0;
  for (int64_t c = 0; c < cg; ++c) {
    for (int64_t i = 0; i < kh; ++i) {
      for (int64_t j = 0; j < kw; ++j) {
        float* const tap = col + ((c * kh + i) * kw + j) * width;
        // Output columns whose input column lies inside [0, w); computed once per kernel tap.
        const int64_t shift = j * dw - pw;  // iw = ox * sw + shift
        const int64_t lo = std::clamp<int64_t>(CeilDiv(-shift, sw), 0, ow);
        const int64_t hi = std::clamp<int64_t>(CeilDiv(w - shift, sw), lo, ow);
        // One output row, or the part of it inside [p0, p1), at a time: columns [x0, x1).
        for (int64_t q = p0; q < p1;) {
          const int64_t y = q / ow, x0 = q % ow, x1 = std::min(ow, x0 + (p1 - q));
          float* dst = tap + (q - p0);  // dst[x - x0] is output column x
          q += x1 - x0;
          const int64_t ih = y * sh - ph + i * dh;
          if (ih < 0 || ih >= h) {
            std::fill(dst, dst + (x1 - x0), 0.0f);
            continue;
          }
          const float* row = in + (c * h + ih) * w;
          const int64_t a = std::clamp(lo, x0, x1), b = std::clamp(hi, a, x1);
          std::fill(dst, dst + (a - x0), 0.0f);
          if (sw == 1) {
            if (b > a) std::memcpy(dst + (a - x0), row + a + shift, (b - a) * sizeof(float));
          } else {
            for (int64_t x = a; x < b; ++x) dst[x - x0] = row[x * sw + shift];
          }
          std::fill(dst + (b - x0), dst + (x1 - x0), 0.0f);
        }
      }
    }
  }
}

// Floats of im2col buffer per GEMM (16 MiB): a whole ResNet layer fits in one, while a huge kernel
// over a huge image (which a tiny program can ask for) is unfolded a block of pixels at a time
// rather than into k * OH * OW floats at once.
constexpr int64_t kIm2ColBudget = int64_t{1} << 22;

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
  // Nothing to compute; and with no channels, `groups` need not be bounded by any tensor size.
  if (NumElements(out.shape) == 0) return;
  // A 1x1, stride-1, unpadded conv is already a GEMM on the input: skip the unfold.
  const bool direct = kh == 1 && kw == 1 && p.stride[0] == 1 && p.stride[1] == 1 &&
                      p.padding[0] == 0 && p.padding[1] == 0;
  const int64_t block = direct ? pix : std::clamp<int64_t>(kIm2ColBudget / std::max<int64_t>(k, 1), 1, pix);
  std::vector<float> col(direct ? 0 : k * block);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t g = 0; g < p.groups; ++g) {
      const float* in = x.data + (b * c + g * cg) * h * wd;
      const float* wg = w.data + g * og * k;
      float* dst = out.data + (b * o + g * og) * pix;
      if (has_bias) {
        const float* bias = inputs[2].data + g * og;
        for (int64_t r = 0; r < og; ++r) std::fill(dst + r * pix, dst + (r + 1) * pix, bias[r]);
      }
      if (direct) {
        Sgemm(og, pix, k, wg, k, in, pix, dst, pix, has_bias);
        continue;
      }
      for (int64_t p0 = 0; p0 < pix; p0 += block) {
        const int64_t p1 = std::min(pix, p0 + block);
        Im2Col(in, cg, h, wd, kh, kw, ow, p, p0, p1, col.data());
        Sgemm(og, p1 - p0, k, wg, k, col.data(), p1 - p0, dst + p0, pix, has_bias);
      }
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
      {"stride", AttrKind::kInts, "Window step [sh, sw], each in [1, 2^40]"},
      {"padding", AttrKind::kInts, "Zero padding [ph, pw] added on both sides, each in [0, 2^40]"},
      {"dilation", AttrKind::kInts, "Spacing between kernel taps [dh, dw], each in [1, 2^40]"},
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

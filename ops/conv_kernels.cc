// The conv2d kernel: im2col + the shared SGEMM (ops/conv.cc describes the op).
#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/epilogue_kernel.h"
#include "ops/kernel_families.h"
#include "ops/kernel_util.h"
#include "ops/op_params.h"

namespace kiln::ops {
namespace {

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
  const bool scaled = attrs.Int("input_scale", 0) == 1;
  const size_t operands = inputs.size() - (scaled ? 1 : 0);  // the scale comes last
  const bool has_bias = operands > 2;
  // Nothing to compute; and with no channels, `groups` need not be bounded by any tensor size.
  if (NumElements(out.shape) == 0) return;
  // x[b, ch] * scale[b, ch], exactly as the mul this fuses computed it.
  std::vector<float> scaled_input;
  const float* input = x.data;
  if (scaled) {
    scaled_input.resize(NumElements(x.shape));
    const float* scale = inputs.back().data;
    for (int64_t bc = 0; bc < n * c; ++bc)
      for (int64_t i = 0; i < h * wd; ++i) scaled_input[bc * h * wd + i] = x.data[bc * h * wd + i] * scale[bc];
    input = scaled_input.data();
  }
  // A 1x1, stride-1, unpadded conv is already a GEMM on the input: skip the unfold.
  const bool direct = kh == 1 && kw == 1 && p.stride[0] == 1 && p.stride[1] == 1 &&
                      p.padding[0] == 0 && p.padding[1] == 0;
  const int64_t block = direct ? pix : std::clamp<int64_t>(kIm2ColBudget / std::max<int64_t>(k, 1), 1, pix);
  std::vector<float> col(direct ? 0 : k * block);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t g = 0; g < p.groups; ++g) {
      const float* in = input + (b * c + g * cg) * h * wd;
      const float* wg = w.data + g * og * k;
      float* dst = out.data + (b * o + g * og) * pix;
      if (has_bias) {
        const float* bias = inputs[2].data + g * og;
        for (int64_t r = 0; r < og; ++r) std::fill(dst + r * pix, dst + (r + 1) * pix, bias[r]);
      }
      if (direct) {
        Sgemm(og, pix, k, wg, k, in, pix, dst, pix, has_bias);
      } else {
        for (int64_t p0 = 0; p0 < pix; p0 += block) {
          const int64_t p1 = std::min(pix, p0 + block);
          Im2Col(in, cg, h, wd, kh, kw, ow, p, p0, p1, col.data());
          Sgemm(og, p1 - p0, k, wg, k, col.data(), p1 - p0, dst + p0, pix, has_bias);
        }
      }
      // While this image's group is still in cache.
      const float* residual = operands > 3 ? inputs[3].data + (b * o + g * og) * pix : nullptr;
      ApplyEpilogue(attrs, residual, dst, og * pix);
    }
  }
}

// An SE activation (conv2d_squeeze_excite's se_activation / se_gate_activation) over n values in
// place: the epilogue's code, so a fused gate computes exactly as the ops it replaces.
void ApplySeActivation(const Attrs& attrs, const char* name, float* values, int64_t n) {
  if (!attrs.Has(name)) return;
  ApplyEpilogue(Attrs().SetInt("activation", attrs.Int(name)), nullptr, values, n);
}

// The convolution, then per image: the mean of each channel, fc1, fc2 and the gate's multiply.
void Conv2dSqueezeExciteKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  Conv2dKernel({inputs[0], inputs[1], inputs[2]}, attrs, out);
  const int64_t n = out.shape[0], c = out.shape[1], pix = out.shape[2] * out.shape[3];
  const int64_t r = inputs[3].shape[0];
  const float *w1 = inputs[3].data, *b1 = inputs[4].data, *w2 = inputs[5].data, *b2 = inputs[6].data;
  std::vector<float> mean(c), hidden(r), gate(c);
  for (int64_t b = 0; b < n; ++b) {
    float* y = out.data + b * c * pix;
    for (int64_t ch = 0; ch < c; ++ch) {
      double sum = 0;
      for (int64_t i = 0; i < pix; ++i) sum += y[ch * pix + i];
      mean[ch] = static_cast<float>(sum / static_cast<double>(pix));
    }
    for (int64_t j = 0; j < r; ++j) {
      float acc = b1[j];
      for (int64_t ch = 0; ch < c; ++ch) acc += w1[j * c + ch] * mean[ch];
      hidden[j] = acc;
    }
    ApplySeActivation(attrs, "se_activation", hidden.data(), r);
    for (int64_t ch = 0; ch < c; ++ch) {
      float acc = b2[ch];
      for (int64_t j = 0; j < r; ++j) acc += w2[ch * r + j] * hidden[j];
      gate[ch] = acc;
    }
    ApplySeActivation(attrs, "se_gate_activation", gate.data(), c);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < pix; ++i) y[ch * pix + i] *= gate[ch];
  }
}

}  // namespace

std::vector<KernelDef> ConvKernels() {
  return {
      {"conv2d", Conv2dKernel},
      {"conv2d_squeeze_excite", Conv2dSqueezeExciteKernel},
  };
}

}  // namespace kiln::ops

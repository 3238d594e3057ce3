// 2-D convolution (NCHW, grouped, strided, dilated): operands, attributes, shape rule and work. The
// kernel (im2col + the shared SGEMM) is in conv_kernels.cc.
#include <algorithm>
#include <iterator>

#include "ops/epilogue.h"
#include "ops/op_families.h"
#include "ops/op_params.h"
#include "ops/shape_util.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

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
  bool scaled;
  if (std::string err = GetFlag(attrs, "input_scale", &scaled); !err.empty()) return err;
  if (scaled) {
    if (inputs.size() < 4) return "input_scale=1 takes a bias and then the scale as the last operand";
    const Shape want = {x[0], x[1], 1, 1};
    if (inputs.back() != want)
      return "input scale must be " + ShapeToString(want) + " (one factor per image and input channel), got " +
             ShapeToString(inputs.back());
  }
  if (!scaled && inputs.size() > 4) return "a fifth operand is an input scale, which needs input_scale=1";
  const size_t operands = inputs.size() - (scaled ? 1 : 0);  // bias and residual come before the scale
  if (operands > 2 && inputs[2] != Shape{w[0]})
    return "bias must be [" + std::to_string(w[0]) + "], got " + ShapeToString(inputs[2]);
  if (std::string err = CheckEpilogue(attrs); !err.empty()) return err;
  const int64_t oh = WindowOutputSize(x[2], w[2], p.stride[0], p.padding[0], p.dilation[0], false);
  const int64_t ow = WindowOutputSize(x[3], w[3], p.stride[1], p.padding[1], p.dilation[1], false);
  if (oh < 1 || ow < 1)
    return "conv2d output would be empty: padded input " + ShapeToString(x) +
           " is smaller than the dilated kernel " + ShapeToString(w);
  *out = {x[0], w[0], oh, ow};
  if (operands > 3 && inputs[3] != *out)
    return "residual must have the output's shape " + ShapeToString(*out) + ", got " + ShapeToString(inputs[3]);
  return "";
}

// A depthwise convolution (groups > 1, one input channel per group) is KH*KW multiply-adds per output
// element. As a GEMM per group it would fill a 32x32 tile from one channel and one output channel
// (1024x the work), so the op library runs it tap by tap on the vector engine.
bool IsDepthwise(const std::vector<Shape>& inputs, const Attrs& attrs) {
  return attrs.Int("groups", 1) > 1 && inputs[1][1] == 1;
}

Unit Conv2dUnit(const std::vector<Shape>& inputs, const Shape&, const Attrs& attrs) {
  return IsDepthwise(inputs, attrs) ? Unit::kVector : Unit::kMatrix;
}

// Matrix engine: implicit GEMM per group on tile-padded dims, [O/g x C/g*KH*KW] * [C/g*KH*KW x OH*OW]
// per image, in FLOPs. Vector engine (depthwise): a multiply and an add per tap per output element of
// tile-padded [N, pad(OH*OW), pad(O)]: the op library keeps activations channels last, so a 7x7 map of
// 1152 channels is 64 x 1152 elements, not 1152 padded 32x32 tiles.
// An input scale adds one multiply per stored input element, as the input streams in.
double Conv2dWork(const std::vector<Shape>& inputs, const Shape& output, const Attrs& attrs) {
  const Shape& w = inputs[1];
  const double scale =
      attrs.Int("input_scale", 0) == 1 ? static_cast<double>(StoredElements(inputs[0], Layout::kTile)) : 0.0;
  const double n = static_cast<double>(output[0]);
  if (IsDepthwise(inputs, attrs))  // on [OH*OW, O] tiles, channels last, as the GEMM's output
    return scale + 2.0 * static_cast<double>(w[2] * w[3]) * n * static_cast<double>(RoundUpToTile(output[2] * output[3])) *
                       static_cast<double>(RoundUpToTile(output[1]));
  const double groups = static_cast<double>(std::max<int64_t>(1, attrs.Int("groups", 1)));
  const int64_t og = output[1] / static_cast<int64_t>(groups);
  return scale + 2.0 * groups * n * RoundUpToTile(output[2] * output[3]) * RoundUpToTile(w[1] * w[2] * w[3]) *
                    RoundUpToTile(og);
}

// The same product on true shapes: what the convolution needs, not what the tiles cost. Zero for a
// depthwise convolution, which does not use the matrix engine (the roofline counts its FLOPs only).
double Conv2dFlops(const std::vector<Shape>& inputs, const Shape& output, const Attrs& attrs) {
  if (IsDepthwise(inputs, attrs)) return 0.0;
  const Shape& w = inputs[1];
  return 2.0 * static_cast<double>(NumElements(output)) * static_cast<double>(w[1] * w[2] * w[3]);
}

// ---- conv2d_squeeze_excite: a convolution whose result is gated by a squeeze-excitation ----

// "" when the SE activation `name` is absent or an epilogue activation other than clamp (which would
// need bounds of its own).
std::string CheckSeActivation(const Attrs& attrs, const char* name) {
  const int64_t a = attrs.Int(name, 0);
  if (a >= 0 && a < static_cast<int64_t>(std::size(kEpilogueActivations)) && a != kClampActivation) return "";
  return std::string("attribute '") + name + "' must be an activation of `activation` but clamp, got " +
         std::to_string(a);
}

// The convolution's shape rule, then fc1 [R, C, 1, 1] (R >= 1; C the convolution's output channels),
// fc1_bias [R], fc2 [C, R, 1, 1] and fc2_bias [C].
std::string InferConv2dSe(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  if (std::string err = InferConv2d({inputs[0], inputs[1], inputs[2]}, attrs, out); !err.empty()) return err;
  const int64_t c = (*out)[1], r = inputs[3].empty() ? 1 : std::max<int64_t>(inputs[3][0], 1);
  const Shape want[] = {{r, c, 1, 1}, {r}, {c, r, 1, 1}, {c}};
  const char* names[] = {"fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"};
  for (int i = 0; i < 4; ++i)
    if (inputs[3 + i] != want[i])
      return std::string(names[i]) + " must be " + ShapeToString(want[i]) + ", got " + ShapeToString(inputs[3 + i]);
  if (std::string err = CheckSeActivation(attrs, "se_activation"); !err.empty()) return err;
  return CheckSeActivation(attrs, "se_gate_activation");
}

// The convolution, then the gate on the engine the convolution runs on: the mean over H, W (one add
// per stored result element), the two fully connected layers and the multiply of every stored result
// element by its gate. The vector engine does these element by element (a depthwise convolution:
// the FC layers are N*C*R multiply-adds each); the matrix engine as tile-padded products (the mean as
// a row of ones times the [OH*OW, C] result, each FC as [N, C] x [C, R]), the multiply once per element.
double Conv2dSeWork(const std::vector<Shape>& inputs, const Shape& output, const Attrs& attrs) {
  const double conv = Conv2dWork(inputs, output, attrs);
  const double n = static_cast<double>(output[0]), c = static_cast<double>(output[1]);
  const double r = static_cast<double>(inputs[3][0]);
  const double pixels = static_cast<double>(RoundUpToTile(output[2] * output[3]));
  const double stored = n * pixels * static_cast<double>(RoundUpToTile(output[1]));  // channels last
  if (IsDepthwise(inputs, attrs)) return conv + 2.0 * stored + 2.0 * 2.0 * n * c * r;
  const double rows = static_cast<double>(RoundUpToTile(output[0]));
  const double mean = 2.0 * kTileDim * n * pixels * static_cast<double>(RoundUpToTile(output[1]));
  const double fcs = 2.0 * 2.0 * rows * static_cast<double>(RoundUpToTile(output[1])) *
                     static_cast<double>(RoundUpToTile(inputs[3][0]));
  return conv + mean + fcs + stored;
}

// Useful FLOPs: the convolution's and the FC layers', which are matrix products whichever engine
// runs them here, so that the model's roofline is the same fused or not.
double Conv2dSeFlops(const std::vector<Shape>& inputs, const Shape& output, const Attrs& attrs) {
  return Conv2dFlops(inputs, output, attrs) +
         2.0 * 2.0 * static_cast<double>(output[0] * output[1] * inputs[3][0]);
}

// As the convolution, by output tiles; every core then sends its partial channel sums for the mean,
// as a reduction's cores do (ReduceSplit in reduction.cc): a combine tile per image and channel. The
// FC layers' work is dealt over the same cores (each computes some of fc1's and fc2's outputs, as the
// standalone 1x1 convolutions were split by output); their small exchanges are not costed separately.
WorkSplit Conv2dSeSplit(const std::vector<Shape>&, const Shape& output, const Attrs&) {
  const Shape gate = {output[0], output[1], 1, 1};
  return {ComputeTiles(output), ComputeTiles(gate), static_cast<double>(StoredElements(gate, Layout::kTile))};
}

}  // namespace

std::string GetConvParams(const Attrs& attrs, ConvParams* p) {
  if (std::string err = GetIntPair(attrs, "stride", 1, &p->stride); !err.empty()) return err;
  if (std::string err = GetIntPair(attrs, "padding", 0, &p->padding); !err.empty()) return err;
  if (std::string err = GetIntPair(attrs, "dilation", 1, &p->dilation); !err.empty()) return err;
  p->groups = attrs.Int("groups", 1);
  if (p->groups < 1) return "attribute 'groups' must be >= 1, got " + std::to_string(p->groups);
  return "";
}

std::vector<OpDef> ConvOps() {
  OpDef def;
  def.name = "conv2d";
  def.summary =
      "2-D convolution over NCHW input with stride, padding, dilation and groups; act(conv + bias + residual) "
      "with a fused epilogue, of the input times a per-channel scale with input_scale; a depthwise one (one input "
      "channel per group) runs on the vector engine";
  def.inputs = {"input", "weight", "bias", "residual", "input_scale"};
  def.num_optional_inputs = 3;
  def.attrs = {
      {"stride", AttrKind::kInts, "Window step [sh, sw], each in [1, 2^40]"},
      {"padding", AttrKind::kInts, "Zero padding [ph, pw] added on both sides, each in [0, 2^40]"},
      {"dilation", AttrKind::kInts, "Spacing between kernel taps [dh, dw], each in [1, 2^40]"},
      {"groups", AttrKind::kInt, "Channel groups; C and O must be divisible by it (C for depthwise)"},
      {"input_scale", AttrKind::kInt,
       "1: the last operand is a scale [N, C, 1, 1] the input is multiplied by per image and channel (a "
       "squeeze-excitation gate), after the bias and the residual if any; the bias is then required",
       true},
  };
  for (AttrDef& a : EpilogueAttrs()) def.attrs.push_back(a);
  def.unit = Unit::kMatrix;
  def.infer_shape = InferConv2d;
  def.work = Conv2dWork;
  def.flops = Conv2dFlops;
  def.unit_of = Conv2dUnit;
  std::vector<OpDef> ops;
  ops.push_back(def);

  // The same convolution with a squeeze-excitation gate: one launch for what were a reduce_mean, two
  // 1x1 conv2d and a mul (compiler/passes/fuse_squeeze_excite.cc). Every core keeps its result tiles
  // in SRAM until the gate, which needs the whole result's mean, is known.
  OpDef se;
  se.name = "conv2d_squeeze_excite";
  se.summary =
      "conv2d (bias and fused activation, no residual) whose result y is then multiplied by its squeeze-excitation "
      "gate, per image and channel: gate = se_gate_activation(fc2(se_activation(fc1(mean of y over H, W)))), "
      "fc1 and fc2 being 1x1 convolutions with bias; with a depthwise convolution, all on the vector engine";
  se.inputs = {"input", "weight", "bias", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"};
  for (const AttrDef& a : def.attrs)
    if (a.name != "input_scale") se.attrs.push_back(a);
  se.attrs.push_back({"se_activation", AttrKind::kInt,
                      "Activation after fc1, as `activation` (clamp excepted); absent: none", true});
  se.attrs.push_back(
      {"se_gate_activation", AttrKind::kInt,
       "Activation after fc2 that makes the gate, as `activation` (clamp excepted); absent: none", true});
  se.unit = Unit::kMatrix;
  se.infer_shape = InferConv2dSe;
  se.work = Conv2dSeWork;
  se.flops = Conv2dSeFlops;
  se.unit_of = Conv2dUnit;  // conv2d's hooks read only the input and weight: they take these operands as they are
  se.split = Conv2dSeSplit;
  ops.push_back(std::move(se));
  return ops;
}

}  // namespace kiln::ops

// Unary math functions, numpy-broadcasting binary ops (each defined by one lambda in a table), and
// the ternary select `where`. Comparisons and logical ops produce 1.0 for true and 0.0 for false:
// the device computes in fp32, and a bool tensor is one holding only 0 and 1.
#include <cmath>

#include "ops/op_families.h"
#include "ops/shape_util.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

std::string InferSame(const std::vector<Shape>& inputs, const Attrs&, Shape* out) {
  *out = inputs[0];
  return "";
}

std::string InferBroadcast(const std::vector<Shape>& inputs, const Attrs&, Shape* out) {
  return BroadcastShapes(inputs[0], inputs[1], out);
}

// One element operation per stored (tile-padded) output element.
double OutputElementWork(const std::vector<Shape>&, const Shape& output, const Attrs&) {
  return static_cast<double>(StoredElements(output, Layout::kTile));
}

// F is a captureless lambda passed as a template argument so it inlines into the loop.
template <auto F>
void UnaryKernel(const std::vector<ConstView>& inputs, const Attrs&, MutView out) {
  const float* x = inputs[0].data;
  const int64_t n = NumElements(out.shape);
  for (int64_t i = 0; i < n; ++i) out.data[i] = F(x[i]);
}

template <auto F>
void BinaryKernel(const std::vector<ConstView>& inputs, const Attrs&, MutView out) {
  const ConstView& a = inputs[0];
  const ConstView& b = inputs[1];
  float* o = out.data;
  const int64_t n = NumElements(out.shape);
  // Fast path for identical shapes: no index arithmetic at all.
  if (a.shape == out.shape && b.shape == out.shape) {
    for (int64_t i = 0; i < n; ++i) o[i] = F(a.data[i], b.data[i]);
    return;
  }
  // Everything else (scalars, bias-like leading/trailing broadcast, general) goes through merged
  // strided runs; the innermost run is specialized on whether each operand is contiguous or fixed.
  const std::array<std::vector<int64_t>, 3> strides = {
      ContiguousStrides(out.shape), BroadcastStrides(a.shape, out.shape),
      BroadcastStrides(b.shape, out.shape)};
  ForEachRun(out.shape, strides, [&](int64_t count, const std::array<int64_t, 3>& off,
                                     const std::array<int64_t, 3>& st) {
    float* __restrict dst = o + off[0];
    const float* pa = a.data + off[1];
    const float* pb = b.data + off[2];
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < count; ++i) dst[i] = F(pa[i], pb[i]);
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
      const float vb = *pb;
      for (int64_t i = 0; i < count; ++i) dst[i] = F(pa[i], vb);
    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
      const float va = *pa;
      for (int64_t i = 0; i < count; ++i) dst[i] = F(va, pb[i]);
    } else {
      for (int64_t i = 0; i < count; ++i) dst[i * st[0]] = F(pa[i * st[1]], pb[i * st[2]]);
    }
  });
}

struct ElementwiseSpec {
  std::string_view name;
  std::string_view summary;
  KernelFn kernel;
};

// NaN-propagating max/min, as torch.maximum/minimum.
inline float NanMax(float a, float b) { return (a > b || std::isnan(a)) ? a : b; }
inline float NanMin(float a, float b) { return (a < b || std::isnan(a)) ? a : b; }

// ATen's div_floor_floating: exact where floor(a / b) would round the quotient first.
inline float FloorDivide(float a, float b) {
  if (b == 0.0f) return a / b;
  const float mod = std::fmod(a, b);
  float div = (a - mod) / b;
  if (mod != 0.0f && (b < 0.0f) != (mod < 0.0f)) div -= 1.0f;
  if (div == 0.0f) return std::copysign(0.0f, a / b);
  float floordiv = std::floor(div);
  if (div - floordiv > 0.5f) floordiv += 1.0f;
  return floordiv;
}

const ElementwiseSpec kUnary[] = {
    {"relu", "max(x, 0) (NaN propagates)", &UnaryKernel<[](float x) { return x < 0.0f ? 0.0f : x; }>},
    {"neg", "-x", &UnaryKernel<[](float x) { return -x; }>},
    {"exp", "e^x", &UnaryKernel<[](float x) { return std::exp(x); }>},
    {"log", "Natural logarithm", &UnaryKernel<[](float x) { return std::log(x); }>},
    {"sqrt", "Square root", &UnaryKernel<[](float x) { return std::sqrt(x); }>},
    {"rsqrt", "1 / sqrt(x)", &UnaryKernel<[](float x) { return 1.0f / std::sqrt(x); }>},
    {"sigmoid", "1 / (1 + e^-x)", &UnaryKernel<[](float x) { return 1.0f / (1.0f + std::exp(-x)); }>},
    {"tanh", "Hyperbolic tangent", &UnaryKernel<[](float x) { return std::tanh(x); }>},
    {"gelu", "Exact GELU: x/2 * (1 + erf(x / sqrt(2)))",
     &UnaryKernel<[](float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }>},
    {"abs", "Absolute value", &UnaryKernel<[](float x) { return std::fabs(x); }>},
    {"reciprocal", "1 / x", &UnaryKernel<[](float x) { return 1.0f / x; }>},
    {"silu", "x * sigmoid(x)", &UnaryKernel<[](float x) { return x / (1.0f + std::exp(-x)); }>},
    {"sin", "Sine (radians)", &UnaryKernel<[](float x) { return std::sin(x); }>},
    {"cos", "Cosine (radians)", &UnaryKernel<[](float x) { return std::cos(x); }>},
    {"tan", "Tangent (radians)", &UnaryKernel<[](float x) { return std::tan(x); }>},
    {"asin", "Arcsine", &UnaryKernel<[](float x) { return std::asin(x); }>},
    {"acos", "Arccosine", &UnaryKernel<[](float x) { return std::acos(x); }>},
    {"atan", "Arctangent", &UnaryKernel<[](float x) { return std::atan(x); }>},
    {"sinh", "Hyperbolic sine", &UnaryKernel<[](float x) { return std::sinh(x); }>},
    {"cosh", "Hyperbolic cosine", &UnaryKernel<[](float x) { return std::cosh(x); }>},
    {"asinh", "Inverse hyperbolic sine", &UnaryKernel<[](float x) { return std::asinh(x); }>},
    {"acosh", "Inverse hyperbolic cosine", &UnaryKernel<[](float x) { return std::acosh(x); }>},
    {"atanh", "Inverse hyperbolic tangent", &UnaryKernel<[](float x) { return std::atanh(x); }>},
    {"erf", "Error function", &UnaryKernel<[](float x) { return std::erf(x); }>},
    {"expm1", "e^x - 1, accurate near 0", &UnaryKernel<[](float x) { return std::expm1(x); }>},
    {"log1p", "log(1 + x), accurate near 0", &UnaryKernel<[](float x) { return std::log1p(x); }>},
    {"log2", "Base-2 logarithm", &UnaryKernel<[](float x) { return std::log2(x); }>},
    {"log10", "Base-10 logarithm", &UnaryKernel<[](float x) { return std::log10(x); }>},
    {"floor", "Largest integer <= x", &UnaryKernel<[](float x) { return std::floor(x); }>},
    {"ceil", "Smallest integer >= x", &UnaryKernel<[](float x) { return std::ceil(x); }>},
    // nearbyint rounds half to even in the default rounding mode, as torch.round does.
    {"round", "Nearest integer, halves to even", &UnaryKernel<[](float x) { return std::nearbyint(x); }>},
    {"trunc", "Integer part (rounds toward zero)", &UnaryKernel<[](float x) { return std::trunc(x); }>},
    {"sign", "1 for x > 0, -1 for x < 0, x itself for 0 and NaN",
     &UnaryKernel<[](float x) { return (x > 0.0f) ? 1.0f : (x < 0.0f) ? -1.0f : x; }>},
    // NaN is non-zero, so true, as in torch.logical_not.
    {"logical_not", "1 where x == 0, else 0", &UnaryKernel<[](float x) { return x == 0.0f ? 1.0f : 0.0f; }>},
};

const ElementwiseSpec kBinary[] = {
    {"add", "a + b, numpy broadcasting", &BinaryKernel<[](float a, float b) { return a + b; }>},
    {"sub", "a - b, numpy broadcasting", &BinaryKernel<[](float a, float b) { return a - b; }>},
    {"mul", "a * b, numpy broadcasting", &BinaryKernel<[](float a, float b) { return a * b; }>},
    {"div", "a / b, numpy broadcasting", &BinaryKernel<[](float a, float b) { return a / b; }>},
    {"maximum", "Elementwise max (NaN propagates), numpy broadcasting",
     &BinaryKernel<[](float a, float b) { return NanMax(a, b); }>},
    {"minimum", "Elementwise min (NaN propagates), numpy broadcasting",
     &BinaryKernel<[](float a, float b) { return NanMin(a, b); }>},
    {"pow", "a ^ b, numpy broadcasting",
     &BinaryKernel<[](float a, float b) { return std::pow(a, b); }>},
    {"atan2", "Angle of the point (b, a): atan2(a, b), numpy broadcasting",
     &BinaryKernel<[](float a, float b) { return std::atan2(a, b); }>},
    {"fmod", "C fmod: a - trunc(a / b) * b (sign of a), numpy broadcasting",
     &BinaryKernel<[](float a, float b) { return std::fmod(a, b); }>},
    {"floor_divide", "floor(a / b) as torch.div(rounding_mode='floor') computes it, numpy broadcasting",
     &BinaryKernel<[](float a, float b) { return FloorDivide(a, b); }>},
    // Python's %, as torch.remainder: the result takes the sign of b.
    {"remainder", "a - floor(a / b) * b (sign of b), numpy broadcasting",
     &BinaryKernel<[](float a, float b) {
       const float m = std::fmod(a, b);
       return (m != 0.0f && ((b < 0.0f) != (m < 0.0f))) ? m + b : m;
     }>},
    // IEEE comparisons: any comparison with NaN is false. ATen's ne/gt/ge lower to these.
    {"eq", "1 where a == b, else 0; numpy broadcasting",
     &BinaryKernel<[](float a, float b) { return a == b ? 1.0f : 0.0f; }>},
    {"lt", "1 where a < b, else 0; numpy broadcasting",
     &BinaryKernel<[](float a, float b) { return a < b ? 1.0f : 0.0f; }>},
    {"le", "1 where a <= b, else 0; numpy broadcasting",
     &BinaryKernel<[](float a, float b) { return a <= b ? 1.0f : 0.0f; }>},
    // Any non-zero value (NaN included) is true.
    {"logical_and", "1 where a != 0 and b != 0, else 0; numpy broadcasting",
     &BinaryKernel<[](float a, float b) { return a != 0.0f && b != 0.0f ? 1.0f : 0.0f; }>},
    {"logical_or", "1 where a != 0 or b != 0, else 0; numpy broadcasting",
     &BinaryKernel<[](float a, float b) { return a != 0.0f || b != 0.0f ? 1.0f : 0.0f; }>},
};

// ---- where ----

std::string InferWhere(const std::vector<Shape>& inputs, const Attrs&, Shape* out) {
  Shape ab;
  if (std::string err = BroadcastShapes(inputs[1], inputs[2], &ab); !err.empty()) return err;
  return BroadcastShapes(inputs[0], ab, out);
}

void WhereKernel(const std::vector<ConstView>& inputs, const Attrs&, MutView out) {
  const std::array<std::vector<int64_t>, 4> strides = {
      ContiguousStrides(out.shape), BroadcastStrides(inputs[0].shape, out.shape),
      BroadcastStrides(inputs[1].shape, out.shape), BroadcastStrides(inputs[2].shape, out.shape)};
  ForEachRun(out.shape, strides, [&](int64_t count, const std::array<int64_t, 4>& off,
                                     const std::array<int64_t, 4>& st) {
    float* dst = out.data + off[0];
    const float* c = inputs[0].data + off[1];
    const float* a = inputs[1].data + off[2];
    const float* b = inputs[2].data + off[3];
    for (int64_t i = 0; i < count; ++i)
      dst[i * st[0]] = c[i * st[1]] != 0.0f ? a[i * st[2]] : b[i * st[3]];
  });
}

// min(max(x, min), max) with either bound optional, as torch.clamp (NaN propagates; min > max
// gives max everywhere).
void ClampKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const bool has_min = attrs.Has("min"), has_max = attrs.Has("max");
  const float lo = static_cast<float>(attrs.Float("min")), hi = static_cast<float>(attrs.Float("max"));
  const float* x = inputs[0].data;
  const int64_t n = NumElements(out.shape);
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i];
    if (has_min && v < lo) v = lo;
    if (has_max && v > hi) v = hi;
    out.data[i] = v;
  }
}

}  // namespace

std::vector<OpDef> ElementwiseOps() {
  std::vector<OpDef> ops;
  for (const ElementwiseSpec& s : kUnary) {
    OpDef def;
    def.name = s.name;
    def.summary = s.summary;
    def.inputs = {"x"};
    def.unit = Unit::kVector;
    def.infer_shape = InferSame;
    def.work = OutputElementWork;
    def.kernel = s.kernel;
    ops.push_back(std::move(def));
  }
  {
    OpDef def;
    def.name = "clamp";
    def.summary = "min(max(x, min), max); either bound may be absent (NaN propagates)";
    def.inputs = {"x"};
    def.attrs = {{"min", AttrKind::kFloat, "Lower bound", true}, {"max", AttrKind::kFloat, "Upper bound", true}};
    def.unit = Unit::kVector;
    def.infer_shape = InferSame;
    def.work = OutputElementWork;
    def.kernel = ClampKernel;
    ops.push_back(std::move(def));
  }
  for (const ElementwiseSpec& s : kBinary) {
    OpDef def;
    def.name = s.name;
    def.summary = s.summary;
    def.inputs = {"a", "b"};
    def.unit = Unit::kVector;
    def.infer_shape = InferBroadcast;
    def.work = OutputElementWork;
    def.kernel = s.kernel;
    ops.push_back(std::move(def));
  }
  {
    OpDef def;
    def.name = "where";
    def.summary = "a where cond != 0, else b; numpy broadcasting of all three";
    def.inputs = {"cond", "a", "b"};
    def.unit = Unit::kVector;
    def.infer_shape = InferWhere;
    def.work = OutputElementWork;
    def.kernel = WhereKernel;
    ops.push_back(std::move(def));
  }
  return ops;
}

}  // namespace kiln::ops

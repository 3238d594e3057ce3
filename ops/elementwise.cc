// Unary math functions, numpy-broadcasting binary ops (their kernels: elementwise_kernels.cc), and
// the ternary select `where`. Comparisons and logical ops produce 1.0 for true and 0.0 for false:
// the device computes in fp32, and a bool tensor is one holding only 0 and 1.
#include "ops/elementwise_defs.h"
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

struct ElementwiseSpec {
  std::string_view name;
  std::string_view summary;
};

constexpr ElementwiseSpec kUnary[] = {
    {"relu", "max(x, 0) (NaN propagates)"},
    {"neg", "-x"},
    {"exp", "e^x"},
    {"log", "Natural logarithm"},
    {"sqrt", "Square root"},
    {"rsqrt", "1 / sqrt(x)"},
    {"sigmoid", "1 / (1 + e^-x)"},
    {"tanh", "Hyperbolic tangent"},
    {"gelu", "Exact GELU: x/2 * (1 + erf(x / sqrt(2)))"},
    {"gelu_tanh", "GELU's tanh approximation: x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))"},
    {"abs", "Absolute value"},
    {"reciprocal", "1 / x"},
    {"silu", "x * sigmoid(x)"},
    {"hardsigmoid", "clamp(x + 3, 0, 6) / 6"},
    {"hardswish", "x * clamp(x + 3, 0, 6) / 6"},
    {"sin", "Sine (radians)"},
    {"cos", "Cosine (radians)"},
    {"tan", "Tangent (radians)"},
    {"asin", "Arcsine"},
    {"acos", "Arccosine"},
    {"atan", "Arctangent"},
    {"sinh", "Hyperbolic sine"},
    {"cosh", "Hyperbolic cosine"},
    {"asinh", "Inverse hyperbolic sine"},
    {"acosh", "Inverse hyperbolic cosine"},
    {"atanh", "Inverse hyperbolic tangent"},
    {"erf", "Error function"},
    {"expm1", "e^x - 1, accurate near 0"},
    {"log1p", "log(1 + x), accurate near 0"},
    {"log2", "Base-2 logarithm"},
    {"log10", "Base-10 logarithm"},
    {"floor", "Largest integer <= x"},
    {"ceil", "Smallest integer >= x"},
    {"round", "Nearest integer, halves to even"},
    {"trunc", "Integer part (rounds toward zero)"},
    {"sign", "1 for x > 0, -1 for x < 0, x itself for 0 and NaN"},
    {"logical_not", "1 where x == 0, else 0"},
};

constexpr ElementwiseSpec kBinary[] = {
    {"add", "a + b, numpy broadcasting"},
    {"sub", "a - b, numpy broadcasting"},
    {"mul", "a * b, numpy broadcasting"},
    {"div", "a / b, numpy broadcasting"},
    {"maximum", "Elementwise max (NaN propagates), numpy broadcasting"},
    {"minimum", "Elementwise min (NaN propagates), numpy broadcasting"},
    {"pow", "a ^ b, numpy broadcasting"},
    {"atan2", "Angle of the point (b, a): atan2(a, b), numpy broadcasting"},
    {"fmod", "C fmod: a - trunc(a / b) * b (sign of a), numpy broadcasting"},
    {"floor_divide", "floor(a / b) as torch.div(rounding_mode='floor') computes it, numpy broadcasting"},
    {"remainder", "a - floor(a / b) * b (sign of b), numpy broadcasting"},
    {"eq", "1 where a == b, else 0; numpy broadcasting"},
    {"lt", "1 where a < b, else 0; numpy broadcasting"},
    {"le", "1 where a <= b, else 0; numpy broadcasting"},
    {"logical_and", "1 where a != 0 and b != 0, else 0; numpy broadcasting"},
    {"logical_or", "1 where a != 0 or b != 0, else 0; numpy broadcasting"},
};

// ---- where ----

std::string InferWhere(const std::vector<Shape>& inputs, const Attrs&, Shape* out) {
  Shape ab;
  if (std::string err = BroadcastShapes(inputs[1], inputs[2], &ab); !err.empty()) return err;
  return BroadcastShapes(inputs[0], ab, out);
}

}  // namespace

OpDef UnaryOpDef(std::string_view name, std::string_view summary) {
  OpDef def;
  def.name = name;
  def.summary = summary;
  def.inputs = {"x"};
  def.unit = Unit::kVector;
  def.infer_shape = InferSame;
  def.work = OutputElementWork;
  return def;
}

OpDef BinaryOpDef(std::string_view name, std::string_view summary) {
  OpDef def;
  def.name = name;
  def.summary = summary;
  def.inputs = {"a", "b"};
  def.unit = Unit::kVector;
  def.infer_shape = InferBroadcast;
  def.work = OutputElementWork;
  return def;
}

std::vector<OpDef> ElementwiseOps() {
  std::vector<OpDef> ops;
  for (const ElementwiseSpec& s : kUnary) ops.push_back(UnaryOpDef(s.name, s.summary));
  {
    OpDef def;
    def.name = "clamp";
    def.summary = "min(max(x, min), max); either bound may be absent (NaN propagates)";
    def.inputs = {"x"};
    def.attrs = {{"min", AttrKind::kFloat, "Lower bound", true}, {"max", AttrKind::kFloat, "Upper bound", true}};
    def.unit = Unit::kVector;
    def.infer_shape = InferSame;
    def.work = OutputElementWork;
    ops.push_back(std::move(def));
  }
  for (const ElementwiseSpec& s : kBinary) ops.push_back(BinaryOpDef(s.name, s.summary));
  {
    OpDef def;
    def.name = "where";
    def.summary = "a where cond != 0, else b; numpy broadcasting of all three";
    def.inputs = {"cond", "a", "b"};
    def.unit = Unit::kVector;
    def.infer_shape = InferWhere;
    def.work = OutputElementWork;
    ops.push_back(std::move(def));
  }
  return ops;
}

}  // namespace kiln::ops

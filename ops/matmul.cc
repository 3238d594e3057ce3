// Batched matrix multiply with broadcast batch dims and an optional broadcast bias.
#include "ops/epilogue.h"
#include "ops/op_families.h"
#include "ops/shape_util.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

std::string InferMatmul(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const Shape& a = inputs[0];
  const Shape& b = inputs[1];
  if (a.size() < 2 || b.size() < 2)
    return "matmul operands must have rank >= 2: a is " + ShapeToString(a) + ", b is " +
           ShapeToString(b);
  const int64_t m = a[a.size() - 2], k = a.back(), n = b.back();
  if (b[b.size() - 2] != k)
    return "matmul inner dimensions differ: a is " + ShapeToString(a) + ", b is " + ShapeToString(b);
  Shape batch;
  if (!BroadcastShapes(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2), &batch).empty())
    return "matmul batch dimensions do not broadcast: a is " + ShapeToString(a) + ", b is " +
           ShapeToString(b);
  Shape result = batch;
  result.push_back(m);
  result.push_back(n);
  if (inputs.size() > 2) {
    Shape with_bias;
    if (!BroadcastShapes(result, inputs[2], &with_bias).empty() || with_bias != result)
      return "bias shape " + ShapeToString(inputs[2]) + " does not broadcast to output shape " +
             ShapeToString(result);
  }
  if (inputs.size() > 3 && inputs[3] != result)
    return "residual must have the output's shape " + ShapeToString(result) + ", got " + ShapeToString(inputs[3]);
  if (std::string err = CheckEpilogue(attrs); !err.empty()) return err;
  *out = std::move(result);
  return "";
}

// 2 * batch * M * K * N FLOPs on tile-padded M, K, N (the matrix unit works in whole tiles).
double MatmulWork(const std::vector<Shape>& inputs, const Shape& output, const Attrs&) {
  const Shape& a = inputs[0];
  const double batch = static_cast<double>(DimProduct(output, 0, output.size() - 2));
  const double m = RoundUpToTile(a[a.size() - 2]);
  const double k = RoundUpToTile(a.back());
  const double n = RoundUpToTile(output.back());
  return 2.0 * batch * m * k * n;
}

double MatmulFlops(const std::vector<Shape>& inputs, const Shape& output, const Attrs&) {
  return 2.0 * static_cast<double>(NumElements(output)) * static_cast<double>(inputs[0].back());
}

}  // namespace

std::vector<OpDef> MatmulOps() {
  OpDef def;
  def.name = "matmul";
  def.summary = "Batched matrix product a @ b (+ bias), batch dims broadcast; act(a @ b + bias + residual) with a "
                "fused epilogue";
  def.inputs = {"a", "b", "bias", "residual"};
  def.num_optional_inputs = 2;
  def.attrs = EpilogueAttrs();
  def.unit = Unit::kMatrix;
  def.infer_shape = InferMatmul;
  def.work = MatmulWork;
  def.flops = MatmulFlops;
  std::vector<OpDef> ops;
  ops.push_back(std::move(def));
  return ops;
}

}  // namespace kiln::ops

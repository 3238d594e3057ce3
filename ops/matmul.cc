// Batched matrix multiply with broadcast batch dims and an optional broadcast bias.
#include "ops/op_families.h"
#include "ops/shape_util.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

std::string InferMatmul(const std::vector<Shape>& inputs, const Attrs&, Shape* out) {
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

void MatmulKernel(const std::vector<ConstView>& inputs, const Attrs&, MutView out) {
  const ConstView& a = inputs[0];
  const ConstView& b = inputs[1];
  const size_t rank = out.shape.size();
  const int64_t m = out.shape[rank - 2], n = out.shape[rank - 1], k = a.shape.back();
  const bool has_bias = inputs.size() > 2;
  if (NumElements(out.shape) == 0) return;  // the batch alone may be huge when m or n is 0
  if (has_bias) BroadcastCopy(inputs[2].data, inputs[2].shape, out.data, out.shape);

  const Shape out_batch(out.shape.begin(), out.shape.end() - 2);
  const Shape a_batch(a.shape.begin(), a.shape.end() - 2);
  const Shape b_batch(b.shape.begin(), b.shape.end() - 2);
  const int64_t batch = NumElements(out_batch);
  // Shared b (e.g. a linear layer on [B, S, K]): fold a's batch into M for one large GEMM.
  if (NumElements(b_batch) == 1 && NumElements(a_batch) == batch) {
    Sgemm(batch * m, n, k, a.data, k, b.data, n, out.data, n, has_bias);
    return;
  }
  const std::vector<int64_t> a_strides = BroadcastStrides(a_batch, out_batch);
  const std::vector<int64_t> b_strides = BroadcastStrides(b_batch, out_batch);
  for (int64_t i = 0; i < batch; ++i) {
    // Unravel the output batch index into a's and b's (broadcast) matrix indices.
    int64_t rem = i, ai = 0, bi = 0;
    for (size_t d = out_batch.size(); d-- > 0;) {
      const int64_t idx = rem % out_batch[d];
      rem /= out_batch[d];
      ai += idx * a_strides[d];
      bi += idx * b_strides[d];
    }
    Sgemm(m, n, k, a.data + ai * m * k, k, b.data + bi * k * n, n, out.data + i * m * n, n, has_bias);
  }
}

}  // namespace

std::vector<OpDef> MatmulOps() {
  OpDef def;
  def.name = "matmul";
  def.summary = "Batched matrix product a @ b (+ bias), batch dims broadcast";
  def.inputs = {"a", "b", "bias"};
  def.num_optional_inputs = 1;
  def.unit = Unit::kMatrix;
  def.infer_shape = InferMatmul;
  def.work = MatmulWork;
  def.flops = MatmulFlops;
  def.kernel = MatmulKernel;
  std::vector<OpDef> ops;
  ops.push_back(std::move(def));
  return ops;
}

}  // namespace kiln::ops

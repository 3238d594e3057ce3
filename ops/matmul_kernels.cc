// The matmul kernel: batched SGEMM with broadcast batch dims and bias (ops/matmul.cc describes it).
#include "ops/epilogue_kernel.h"
#include "ops/kernel_families.h"
#include "ops/kernel_util.h"

namespace kiln::ops {
namespace {

void MatmulKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const int64_t count = NumElements(out.shape);
  const ConstView& a = inputs[0];
  const ConstView& b = inputs[1];
  const size_t rank = out.shape.size();
  const int64_t m = out.shape[rank - 2], n = out.shape[rank - 1], k = a.shape.back();
  const bool has_bias = inputs.size() > 2;
  if (count == 0) return;  // the batch alone may be huge when m or n is 0
  if (has_bias) BroadcastCopy(inputs[2].data, inputs[2].shape, out.data, out.shape);

  const Shape out_batch(out.shape.begin(), out.shape.end() - 2);
  const Shape a_batch(a.shape.begin(), a.shape.end() - 2);
  const Shape b_batch(b.shape.begin(), b.shape.end() - 2);
  const int64_t batch = NumElements(out_batch);
  // Shared b (e.g. a linear layer on [B, S, K]): fold a's batch into M for one large GEMM.
  if (NumElements(b_batch) == 1 && NumElements(a_batch) == batch) {
    Sgemm(batch * m, n, k, a.data, k, b.data, n, out.data, n, has_bias);
    ApplyEpilogue(attrs, inputs.size() > 3 ? inputs[3].data : nullptr, out.data, count);
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
  ApplyEpilogue(attrs, inputs.size() > 3 ? inputs[3].data : nullptr, out.data, count);
}

}  // namespace

std::vector<KernelDef> MatmulKernels() {
  return {
      {"matmul", MatmulKernel},
  };
}

}  // namespace kiln::ops

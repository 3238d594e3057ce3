// The take, gather, argsort and scatter kernels (ops/indexing.cc describes the ops and how bad
// indices behave).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/kernel_families.h"
#include "ops/kernel_util.h"
#include "ops/op_params.h"

namespace kiln::ops {
namespace {

// The element position `v` names along a dim of `size`, or -1 when it names none.
int64_t IndexAt(float v, int64_t size) {
  if (!(v >= -static_cast<float>(size) && v < static_cast<float>(size))) return -1;  // NaN too
  if (v != std::floor(v)) return -1;
  const int64_t i = static_cast<int64_t>(v);
  return i < 0 ? i + size : i;
}

void TakeKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const Shape& x = inputs[0].shape;
  if (NumElements(out.shape) == 0) return;
  int64_t dim = 0;
  NormalizeDim(attrs.Int("dim"), x.size(), &dim);
  const int64_t outer = DimProduct(x, 0, dim);
  const int64_t size = x[dim];
  const int64_t inner = DimProduct(x, dim + 1, x.size());
  const int64_t count = NumElements(inputs[1].shape);
  const float* index = inputs[1].data;
  float* dst = out.data;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < count; ++j, dst += inner) {
      const int64_t i = IndexAt(index[j], size);
      if (i < 0) {
        std::fill(dst, dst + inner, std::numeric_limits<float>::quiet_NaN());
        continue;
      }
      const float* src = inputs[0].data + (o * size + i) * inner;
      std::copy(src, src + inner, dst);
    }
}

void GatherKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const int64_t n = NumElements(out.shape);
  if (n == 0) return;
  const Shape x = inputs[0].shape.empty() ? Shape{1} : inputs[0].shape;
  const Shape index = out.shape.empty() ? Shape{1} : out.shape;
  int64_t dim = 0;
  NormalizeDim(attrs.Int("dim"), x.size(), &dim);
  const std::vector<int64_t> x_strides = ContiguousStrides(x);
  std::vector<int64_t> pos(index.size(), 0);
  for (int64_t e = 0; e < n; ++e) {
    const int64_t i = IndexAt(inputs[1].data[e], x[dim]);
    if (i < 0) {
      out.data[e] = std::numeric_limits<float>::quiet_NaN();
    } else {
      int64_t offset = 0;
      for (size_t d = 0; d < x.size(); ++d)
        offset += (static_cast<int64_t>(d) == dim ? i : pos[d]) * x_strides[d];
      out.data[e] = inputs[0].data[offset];
    }
    for (size_t d = index.size(); d-- > 0;) {  // row-major odometer over the index
      if (++pos[d] < index[d]) break;
      pos[d] = 0;
    }
  }
}

// The stable sort order of each line along dim, NaN sorting as the largest value (as torch.sort).
void ArgsortKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const Shape& x = inputs[0].shape;
  if (NumElements(x) == 0) return;
  int64_t dim = 0;
  NormalizeDim(attrs.Int("dim"), std::max<size_t>(x.size(), 1), &dim);
  const bool descending = attrs.Int("descending") == 1;
  const int64_t outer = x.empty() ? 1 : DimProduct(x, 0, dim);
  const int64_t n = x.empty() ? 1 : x[dim];
  const int64_t inner = x.empty() ? 1 : DimProduct(x, dim + 1, x.size());
  std::vector<int64_t> order(n);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < inner; ++k) {
      const float* line = inputs[0].data + o * n * inner + k;
      for (int64_t i = 0; i < n; ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        const float va = line[a * inner], vb = line[b * inner];
        if (descending) return (std::isnan(va) && !std::isnan(vb)) || va > vb;
        return (!std::isnan(va) && std::isnan(vb)) || va < vb;
      });
      for (int64_t i = 0; i < n; ++i) out.data[o * n * inner + i * inner + k] = static_cast<float>(order[i]);
    }
}

// out = x, then every index position p writes src[p] into out at p with p[dim] = index[p], combined
// by `reduce` (mean divides by the count of values written, plus one with include_self). Writes to
// the same element in replace mode keep the last, in row-major order of the index.
void ScatterKernel(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out) {
  const int64_t n_out = NumElements(out.shape);
  if (n_out > 0) std::copy(inputs[0].data, inputs[0].data + n_out, out.data);
  const int64_t n = NumElements(inputs[1].shape);
  if (n == 0 || n_out == 0) return;
  const Shape x = out.shape.empty() ? Shape{1} : out.shape;
  const Shape index = inputs[1].shape.empty() ? Shape{1} : inputs[1].shape;
  const Shape src = inputs[2].shape.empty() ? Shape{1} : inputs[2].shape;
  int64_t dim = 0;
  NormalizeDim(attrs.Int("dim"), x.size(), &dim);
  const int64_t reduce = attrs.Int("reduce");
  const bool include_self = attrs.Int("include_self", 1) == 1;
  const std::vector<int64_t> x_strides = ContiguousStrides(x), src_strides = ContiguousStrides(src);
  // Elements some index writes start from the reduction's identity unless self is included.
  std::vector<int32_t> count(reduce == kReplace ? 0 : n_out, 0);
  std::vector<int64_t> pos(index.size(), 0);
  auto for_each = [&](auto&& body) {
    std::fill(pos.begin(), pos.end(), 0);
    for (int64_t e = 0; e < n; ++e) {
      const int64_t i = IndexAt(inputs[1].data[e], x[dim]);
      if (i >= 0) {
        int64_t xo = 0, so = 0;
        for (size_t d = 0; d < x.size(); ++d) {
          xo += (static_cast<int64_t>(d) == dim ? i : pos[d]) * x_strides[d];
          so += pos[d] * src_strides[d];
        }
        body(xo, inputs[2].data[so]);
      }
      for (size_t d = index.size(); d-- > 0;) {
        if (++pos[d] < index[d]) break;
        pos[d] = 0;
      }
    }
  };
  if (reduce == kReplace) {
    for_each([&](int64_t xo, float v) { out.data[xo] = v; });
    return;
  }
  const float inf = std::numeric_limits<float>::infinity();
  const float identity = reduce == kProd ? 1.0f : reduce == kAmax ? -inf : reduce == kAmin ? inf : 0.0f;
  if (!include_self) for_each([&](int64_t xo, float) { out.data[xo] = identity; });
  for_each([&](int64_t xo, float v) {
    float& o = out.data[xo];
    ++count[xo];
    if (reduce == kSum || reduce == kMean) o += v;
    else if (reduce == kProd) o *= v;
    else if (reduce == kAmax) o = (v > o || std::isnan(v)) ? v : o;
    else o = (v < o || std::isnan(v)) ? v : o;
  });
  if (reduce == kMean)
    for (int64_t k = 0; k < n_out; ++k)
      if (count[k] > 0) out.data[k] /= static_cast<float>(count[k] + (include_self ? 1 : 0));
}

}  // namespace

std::vector<KernelDef> IndexingKernels() {
  return {
      {"argsort", ArgsortKernel},
      {"gather", GatherKernel},
      {"scatter", ScatterKernel},
      {"take", TakeKernel},
  };
}

}  // namespace kiln::ops

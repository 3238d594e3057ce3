#include "ops/shape_util.h"

#include <algorithm>
#include <cstring>

namespace kiln::ops {

std::string BroadcastShapes(const Shape& a, const Shape& b, Shape* out) {
  const size_t rank = std::max(a.size(), b.size());
  Shape result(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return "operand shapes " + ShapeToString(a) + " and " + ShapeToString(b) + " do not broadcast";
    result[i] = da == 1 ? db : da;
  }
  *out = std::move(result);
  return "";
}

std::string NormalizeDim(int64_t dim, int64_t rank, int64_t* out) {
  if (dim < -rank || dim >= rank)
    return "dim " + std::to_string(dim) + " is out of range for rank " + std::to_string(rank);
  *out = dim < 0 ? dim + rank : dim;
  return "";
}

std::vector<int64_t> ContiguousStrides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

std::vector<int64_t> BroadcastStrides(const Shape& shape, const Shape& target) {
  const std::vector<int64_t> own = ContiguousStrides(shape);
  std::vector<int64_t> strides(target.size(), 0);
  const size_t lead = target.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) strides[lead + i] = shape[i] == 1 ? 0 : own[i];
  return strides;
}

int64_t DimProduct(const Shape& shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end; ++i) n *= shape[i];
  return n;
}

int64_t DilatedWindow(int64_t kernel, int64_t dilation) {
  int64_t reach;
  if (__builtin_mul_overflow(dilation, kernel - 1, &reach) || reach == INT64_MAX) return INT64_MAX;
  return reach + 1;
}

int64_t WindowOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                         bool ceil_mode) {
  const int64_t window = DilatedWindow(kernel, dilation);
  const int64_t padded = in + 2 * pad;  // at most 3 * kMaxElements
  if (window > padded) return 0;
  const int64_t span = padded - window;  // how far the window can move
  int64_t out = (ceil_mode ? CeilDiv(span, stride) : span / stride) + 1;
  // (out - 1) * stride < span + stride: no overflow within the bounds above.
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

std::string GetIntPair(const Attrs& attrs, std::string_view name, int64_t min_value,
                       std::array<int64_t, 2>* out) {
  const std::vector<int64_t>& v = attrs.Ints(name);
  auto in_range = [&](int64_t x) { return x >= min_value && x <= kMaxElements; };
  if (v.size() != 2 || !in_range(v[0]) || !in_range(v[1]))
    return "attribute '" + std::string(name) + "' must hold 2 ints in [" + std::to_string(min_value) +
           ", 2^40], got " + ShapeToString(v);
  *out = {v[0], v[1]};
  return "";
}

std::string GetFlag(const Attrs& attrs, std::string_view name, bool* out) {
  const int64_t v = attrs.Int(name, 0);
  if (v != 0 && v != 1)
    return "attribute '" + std::string(name) + "' must be 0 or 1, got " + std::to_string(v);
  *out = v == 1;
  return "";
}

}  // namespace kiln::ops

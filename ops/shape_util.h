// Helpers shared by the op families: shape arithmetic, strides, attribute checks (the kernels'
// own helpers are in kernel_util.h).
// Shape arithmetic here is unchecked: it takes shapes InferOutputShape accepted (CheckShape), whose
// products fit int64 many times over.
#ifndef KILN_OPS_SHAPE_UTIL_H_
#define KILN_OPS_SHAPE_UTIL_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ops/attrs.h"
#include "ops/dtype.h"

namespace kiln::ops {

// Numpy broadcasting of two shapes (dims align right; equal or 1). "" on success, else e.g.
// "operand shapes [2, 3] and [4, 3] do not broadcast".
std::string BroadcastShapes(const Shape& a, const Shape& b, Shape* out);

// Maps `dim` in [-rank, rank) to [0, rank); "" on success, else "dim 5 is out of range for rank 2".
std::string NormalizeDim(int64_t dim, int64_t rank, int64_t* out);

// Row-major element strides of a contiguous tensor.
std::vector<int64_t> ContiguousStrides(const Shape& shape);

// Strides that read a contiguous tensor of `shape` as if broadcast to `target` (which it must
// broadcast to): dims align right, size-1 and missing dims get stride 0. Result has target's rank.
std::vector<int64_t> BroadcastStrides(const Shape& shape, const Shape& target);

// Product of shape[begin, end).
int64_t DimProduct(const Shape& shape, size_t begin, size_t end);

// Extent of a window of `kernel` taps spaced `dilation` apart, dilation * (kernel - 1) + 1;
// INT64_MAX, wider than any input, when that overflows. kernel and dilation must be >= 1.
int64_t DilatedWindow(int64_t kernel, int64_t dilation);

// Output extent of a convolution or pooling window along one dim (PyTorch's formula), 0 when the
// window is wider than the padded input. With ceil_mode the last window must still start inside
// the input or the left padding. Requires in and pad in [0, kMaxElements], stride in
// [1, kMaxElements] (as GetIntPair and CheckShape guarantee) and kernel, dilation >= 1 (any size).
int64_t WindowOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                         bool ceil_mode);

// ceil(a / b) for b > 0 and any sign of a.
inline int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? a / b + (a % b != 0) : -((-a) / b); }

// Reads attribute `name` as exactly two ints in [min_value, kMaxElements] (the upper bound keeps
// window arithmetic within int64); "" on success, else e.g. "attribute 'stride' must hold 2 ints
// in [1, 2^40], got [1, 0]".
std::string GetIntPair(const Attrs& attrs, std::string_view name, int64_t min_value,
                       std::array<int64_t, 2>* out);
// Reads an int attribute that must be 0 or 1; "" on success.
std::string GetFlag(const Attrs& attrs, std::string_view name, bool* out);

}  // namespace kiln::ops

#endif  // KILN_OPS_SHAPE_UTIL_H_

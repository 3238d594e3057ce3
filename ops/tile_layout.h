// The chip's native 32x32 tile layout.
//
// A device tensor of shape [b..., H, W] is stored as prod(b...) matrices, each padded up to whole
// 32x32 tiles; tiles follow each other row of tiles by row of tiles, and each tile holds its 1024
// elements row-major. Rank-1 tensors are one row (H = 1), rank-0 tensors one element. Padding is
// stored as zeros, so a tensor's footprint (and the work done on it) is always a whole number of tiles.
#ifndef KILN_OPS_TILE_LAYOUT_H_
#define KILN_OPS_TILE_LAYOUT_H_

#include <cstdint>

#include "ops/dtype.h"

namespace kiln::ops {

inline constexpr int64_t kTileDim = 32;
inline constexpr int64_t kTileElems = kTileDim * kTileDim;

enum class Layout : uint8_t { kRowMajor = 0, kTile = 1 };

inline int64_t RoundUpToTile(int64_t n) { return (n + kTileDim - 1) / kTileDim * kTileDim; }

// The logical matrix view of a shape: number of matrices, rows, columns.
struct MatrixView {
  int64_t batch;
  int64_t rows;
  int64_t cols;
};
MatrixView AsMatrices(const Shape& shape);

// Elements a tensor occupies in a layout (tile layout counts the padding). INT64_MAX, more than
// any memory holds, for a shape that CheckShape rejects.
int64_t StoredElements(const Shape& shape, Layout layout);
inline int64_t StoredBytes(const Shape& shape, DType dtype, Layout layout) {
  const int64_t n = StoredElements(shape, layout);
  return n == INT64_MAX ? INT64_MAX : n * DTypeSize(dtype);
}

// Whether a tensor of shape `from`, stored in `layout`, already holds the bytes of its reshape to
// `to` (same element count) in the same layout, so the reshape can alias it instead of copying.
// Row-major: always. Tile: when the last dim is unchanged and the rows regroup into matrices in
// whole tiles (both row counts multiples of 32), or the matrices are the same ([1, 128, 768] and
// [128, 768]); an empty tensor stores nothing.
bool SameStoredBytes(const Shape& from, const Shape& to, Layout layout);

// Converts between row-major fp32 and tiled fp32 (`tiled` has StoredElements(shape, kTile) elements).
// Time is linear in the stored elements; an empty tensor costs nothing, whatever its other dims.
void Tilize(const float* row_major, const Shape& shape, float* tiled);
void Untilize(const float* tiled, const Shape& shape, float* row_major);

}  // namespace kiln::ops

#endif  // KILN_OPS_TILE_LAYOUT_H_

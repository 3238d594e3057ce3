#include "ops/tile_layout.h"

#include <algorithm>

namespace kiln::ops {

MatrixView AsMatrices(const Shape& shape) {
  if (shape.empty()) return {1, 1, 1};
  if (shape.size() == 1) return {1, 1, shape[0]};
  return {NumElements(Shape(shape.begin(), shape.end() - 2)), shape[shape.size() - 2], shape.back()};
}

int64_t StoredElements(const Shape& shape, Layout layout) {
  // A shape CheckShape rejects fits in no memory: saturate rather than overflow.
  if (!CheckShape(shape).empty()) return INT64_MAX;
  if (layout == Layout::kRowMajor || NumElements(shape) == 0) return NumElements(shape);
  const MatrixView m = AsMatrices(shape);
  return m.batch * RoundUpToTile(m.rows) * RoundUpToTile(m.cols);  // at most 1024 * 2^40
}

bool SameStoredBytes(const Shape& from, const Shape& to, Layout layout) {
  if (!CheckShape(from).empty() || !CheckShape(to).empty() || NumElements(from) != NumElements(to)) return false;
  if (layout == Layout::kRowMajor || NumElements(from) == 0) return true;
  const MatrixView a = AsMatrices(from), b = AsMatrices(to);
  if (a.cols != b.cols) return false;
  return (a.batch == b.batch && a.rows == b.rows) || (a.rows % kTileDim == 0 && b.rows % kTileDim == 0);
}

namespace {
// Index of element (r, c) of matrix b inside the tiled buffer.
inline int64_t TiledIndex(int64_t b, int64_t r, int64_t c, int64_t padded_rows, int64_t padded_cols) {
  const int64_t tiles_per_row = padded_cols / kTileDim;
  const int64_t tile = (r / kTileDim) * tiles_per_row + c / kTileDim;
  return b * padded_rows * padded_cols + tile * kTileElems + (r % kTileDim) * kTileDim + c % kTileDim;
}
}  // namespace

// Both conversions return at once for an empty tensor: its batch count alone may be huge
// ([2^40, 0, 1] is 2^40 matrices of 0 rows), and there is nothing to convert.
void Tilize(const float* row_major, const Shape& shape, float* tiled) {
  if (NumElements(shape) == 0) return;
  const MatrixView m = AsMatrices(shape);
  const int64_t pr = RoundUpToTile(m.rows), pc = RoundUpToTile(m.cols);
  std::fill(tiled, tiled + m.batch * pr * pc, 0.0f);
  for (int64_t b = 0; b < m.batch; ++b)
    for (int64_t r = 0; r < m.rows; ++r) {
      const float* src = row_major + (b * m.rows + r) * m.cols;
      for (int64_t c0 = 0; c0 < m.cols; c0 += kTileDim) {
        // One contiguous run of up to 32 elements per (row, tile column).
        const int64_t n = std::min(kTileDim, m.cols - c0);
        std::copy(src + c0, src + c0 + n, tiled + TiledIndex(b, r, c0, pr, pc));
      }
    }
}

void Untilize(const float* tiled, const Shape& shape, float* row_major) {
  if (NumElements(shape) == 0) return;
  const MatrixView m = AsMatrices(shape);
  const int64_t pr = RoundUpToTile(m.rows), pc = RoundUpToTile(m.cols);
  for (int64_t b = 0; b < m.batch; ++b)
    for (int64_t r = 0; r < m.rows; ++r) {
      float* dst = row_major + (b * m.rows + r) * m.cols;
      for (int64_t c0 = 0; c0 < m.cols; c0 += kTileDim) {
        const int64_t n = std::min(kTileDim, m.cols - c0);
        const float* src = tiled + TiledIndex(b, r, c0, pr, pc);
        std::copy(src, src + n, dst + c0);
      }
    }
}

}  // namespace kiln::ops

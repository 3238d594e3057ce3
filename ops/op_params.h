// Attribute readers shared by an op's shape rule (ops/<family>.cc, in //ops) and its kernel
// (ops/<family>_kernels.cc, in //ops:kernels), so both read an op's attributes the same way.
// Each returns "" on success, else the message InferOutputShape reports.
#ifndef KILN_OPS_OP_PARAMS_H_
#define KILN_OPS_OP_PARAMS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ops/attrs.h"
#include "ops/dtype.h"

namespace kiln::ops {

// conv.cc
struct ConvParams {
  std::array<int64_t, 2> stride, padding, dilation;
  int64_t groups;
};
std::string GetConvParams(const Attrs& attrs, ConvParams* p);

// pool.cc
struct PoolParams {
  std::array<int64_t, 2> kernel, stride, padding, dilation = {1, 1};
  bool ceil_mode = false;
};
std::string GetPoolParams(const Attrs& attrs, bool has_dilation, PoolParams* p);

// reduction.cc: marks the reduced dims ("dims") of a rank-`rank` input.
std::string ReducedDims(const Attrs& attrs, size_t rank, std::vector<bool>* reduced);
// reduction.cc: the reduced dim of an arg-reduction (-1: all elements, flattened).
std::string ArgDim(const Shape& x, const Attrs& attrs, int64_t* dim);

// data_movement.cc: normalizes permute's `dims` into a permutation of [0, rank).
std::string PermutationDims(const Attrs& attrs, size_t rank, std::vector<int64_t>* perm);
// data_movement.cc: slice's range along its dim, Python slice semantics.
struct SliceRange {
  int64_t dim, start, step, size;
};
std::string GetSlice(const Shape& x, const Attrs& attrs, SliceRange* r);
// data_movement.cc: pad's per-side counts and mode, validated against x.
enum PadMode : int64_t { kConstant = 0, kReflect = 1, kReplicate = 2 };
std::string GetPad(const Shape& x, const Attrs& attrs, std::vector<int64_t>* pads, int64_t* mode);

// indexing.cc: scatter's `reduce` attribute.
enum ScatterReduce : int64_t { kReplace = 0, kSum = 1, kProd = 2, kMean = 3, kAmax = 4, kAmin = 5 };

}  // namespace kiln::ops

#endif  // KILN_OPS_OP_PARAMS_H_

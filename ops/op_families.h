// Each op family lives in its own file and returns its OpDefs; op_def.cc gathers them into the registry.
#ifndef KILN_OPS_OP_FAMILIES_H_
#define KILN_OPS_OP_FAMILIES_H_

#include <vector>

#include "ops/op_def.h"

namespace kiln::ops {

std::vector<OpDef> ElementwiseOps();    // elementwise.cc: unary and broadcasting binary ops
std::vector<OpDef> MatmulOps();         // matmul.cc
std::vector<OpDef> ConvOps();           // conv.cc
std::vector<OpDef> PoolOps();           // pool.cc
std::vector<OpDef> ReductionOps();      // reduction.cc: reductions over dims, scans (cumsum, cumprod, ...)
std::vector<OpDef> NormalizationOps();  // normalization.cc: softmax, layer_norm, batch_norm
std::vector<OpDef> DataMovementOps();   // data_movement.cc: reshape, permute, expand, slice, concat
std::vector<OpDef> IndexingOps();       // indexing.cc: take, gather
std::vector<OpDef> SpecialMathOps();    // special_math.cc: gamma, Bessel, orthogonal polynomials, ...
std::vector<OpDef> IntegerOps();        // integer.cc: bitwise, shifts, gcd, lcm
std::vector<OpDef> ConvertOps();        // convert.cc: to_int, round_to_f16, round_to_bf16
std::vector<OpDef> LinalgOps();         // linalg.cc: det, slogdet, inv, solve, Cholesky

}  // namespace kiln::ops

#endif  // KILN_OPS_OP_FAMILIES_H_

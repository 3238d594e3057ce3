// Applies a matrix op's epilogue (ops/epilogue.h) to n results in place: out = act(out + residual).
// The kernel has already added the bias; residual may be null.
#ifndef KILN_OPS_EPILOGUE_KERNEL_H_
#define KILN_OPS_EPILOGUE_KERNEL_H_

#include <cstdint>

#include "ops/attrs.h"

namespace kiln::ops {

void ApplyEpilogue(const Attrs& attrs, const float* residual, float* out, int64_t n);

}  // namespace kiln::ops

#endif  // KILN_OPS_EPILOGUE_KERNEL_H_

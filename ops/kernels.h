// The op library's reference kernels, one per OpDef, registered by op name beside the op's
// description in its family file (ops/<family>_kernels.cc). Kept out of //ops so that the runtime
// core, which only verifies programs against the descriptions, links no kernel; the simulator,
// constant folding and the tests link //ops:kernels.
#ifndef KILN_OPS_KERNELS_H_
#define KILN_OPS_KERNELS_H_

#include <string_view>
#include <vector>

#include "ops/attrs.h"
#include "ops/dtype.h"
#include "ops/op_def.h"

namespace kiln::ops {

// Row-major fp32 views the kernels compute on. The simulator converts device storage (tile layout,
// bf16/i32) to and from these around each kernel.
struct ConstView {
  const float* data;
  Shape shape;
};
struct MutView {
  float* data;
  Shape shape;
};

// Runs only on operand shapes and attributes InferOutputShape accepted, with `out` of the shape it
// inferred (see op_def.h).
using KernelFn = void (*)(const std::vector<ConstView>& inputs, const Attrs& attrs, MutView out);

struct KernelDef {
  std::string_view op;  // the OpDef's name
  KernelFn fn;
};

// Every registered kernel, in family order (ops_test checks they pair one-to-one with AllOps()).
const std::vector<KernelDef>& AllKernels();
// The kernel registered for `op`; nullptr when there is none.
KernelFn FindKernel(const OpDef& op);

}  // namespace kiln::ops

#endif  // KILN_OPS_KERNELS_H_

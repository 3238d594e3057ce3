#include "ops/kernels.h"

#include "ops/kernel_families.h"

namespace kiln::ops {

const std::vector<KernelDef>& AllKernels() {
  static const std::vector<KernelDef> registry = [] {
    std::vector<KernelDef> all;
    for (auto family : {ElementwiseKernels, MatmulKernels, ConvKernels, PoolKernels, ReductionKernels,
                        NormalizationKernels, DataMovementKernels, IndexingKernels, SpecialMathKernels,
                        IntegerKernels, ConvertKernels, LinalgKernels})
      for (const KernelDef& k : family()) all.push_back(k);
    return all;
  }();
  return registry;
}

// A linear scan: a few dozen name comparisons are nothing next to a kernel, and need no sorting code.
KernelFn FindKernel(const OpDef& op) {
  for (const KernelDef& k : AllKernels())
    if (k.op == op.name) return k.fn;
  return nullptr;
}

}  // namespace kiln::ops

#include "ops/kernels.h"

#include <algorithm>

#include "ops/kernel_families.h"

namespace kiln::ops {

const std::vector<KernelDef>& AllKernels() {
  static const std::vector<KernelDef> registry = [] {
    std::vector<KernelDef> all;
    for (auto family : {ElementwiseKernels, MatmulKernels, ConvKernels, PoolKernels, ReductionKernels,
                        NormalizationKernels, DataMovementKernels, IndexingKernels})
      for (const KernelDef& k : family()) all.push_back(k);
    // Stable, so that a name registered twice stays visible to the registry test as two entries.
    std::stable_sort(all.begin(), all.end(), [](const KernelDef& a, const KernelDef& b) { return a.op < b.op; });
    return all;
  }();
  return registry;
}

KernelFn FindKernel(const OpDef& op) {
  const auto& kernels = AllKernels();
  auto it = std::lower_bound(kernels.begin(), kernels.end(), op.name,
                             [](const KernelDef& k, std::string_view n) { return k.op < n; });
  return (it != kernels.end() && it->op == op.name) ? it->fn : nullptr;
}

}  // namespace kiln::ops

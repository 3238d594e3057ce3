// Each op family registers its kernels in ops/<family>_kernels.cc, beside the descriptions in
// ops/<family>.cc (op_families.h); kernels.cc gathers them into the kernel registry.
#ifndef KILN_OPS_KERNEL_FAMILIES_H_
#define KILN_OPS_KERNEL_FAMILIES_H_

#include <vector>

#include "ops/kernels.h"

namespace kiln::ops {

std::vector<KernelDef> ElementwiseKernels();
std::vector<KernelDef> MatmulKernels();
std::vector<KernelDef> ConvKernels();
std::vector<KernelDef> PoolKernels();
std::vector<KernelDef> ReductionKernels();
std::vector<KernelDef> NormalizationKernels();
std::vector<KernelDef> DataMovementKernels();
std::vector<KernelDef> IndexingKernels();
std::vector<KernelDef> SpecialMathKernels();
std::vector<KernelDef> IntegerKernels();
std::vector<KernelDef> ConvertKernels();
std::vector<KernelDef> LinalgKernels();

}  // namespace kiln::ops

#endif  // KILN_OPS_KERNEL_FAMILIES_H_

// Descriptions of ops that apply a scalar function per element, shared by the families made of
// them (elementwise.cc defines these; special_math.cc uses them too).
#ifndef KILN_OPS_ELEMENTWISE_DEFS_H_
#define KILN_OPS_ELEMENTWISE_DEFS_H_

#include <string_view>

#include "ops/op_def.h"

namespace kiln::ops {

// x -> y of x's shape, one vector-unit operation per stored output element.
OpDef UnaryOpDef(std::string_view name, std::string_view summary);
// (a, b) -> y of their numpy-broadcast shape, one vector-unit operation per stored output element.
OpDef BinaryOpDef(std::string_view name, std::string_view summary);

}  // namespace kiln::ops

#endif  // KILN_OPS_ELEMENTWISE_DEFS_H_

// Value conversions a dtype implies (their kernels: convert_kernels.cc). The device computes in
// fp32 whatever ATen's dtype; where ATen's result is a narrower type, these give the value that
// type would hold, still as fp32: an integer (to_int) or a float16 / bfloat16 value.
#include "ops/op_families.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

std::string InferSame(const std::vector<Shape>& inputs, const Attrs&, Shape* out) {
  *out = inputs[0];
  return "";
}

double OutputElementWork(const std::vector<Shape>&, const Shape& output, const Attrs&) {
  return static_cast<double>(StoredElements(output, Layout::kTile));
}

struct ConvertSpec {
  std::string_view name;
  std::string_view summary;
};

constexpr ConvertSpec kOps[] = {
    {"to_int", "The integer an ATen integer result holds: x rounded toward zero, after a value within 2 fp32 "
               "ulps of an integer is taken as that integer (fp32 division inexactness)"},
    {"round_to_f16", "x rounded to the nearest float16 (ties to even, overflow to inf), as x.to(torch.float16)"},
    {"round_to_bf16", "x rounded to the nearest bfloat16 (ties to even), as x.to(torch.bfloat16)"},
};

}  // namespace

std::vector<OpDef> ConvertOps() {
  std::vector<OpDef> ops;
  for (const ConvertSpec& s : kOps) {
    OpDef def;
    def.name = s.name;
    def.summary = s.summary;
    def.inputs = {"x"};
    def.unit = Unit::kVector;
    def.infer_shape = InferSame;
    def.work = OutputElementWork;
    ops.push_back(std::move(def));
  }
  return ops;
}

}  // namespace kiln::ops

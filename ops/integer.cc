// Integer ops: bitwise logic, shifts, gcd and lcm on integer values (their kernels:
// integer_kernels.cc). The device holds integers as fp32 values (ops/dtype.h); these ops convert each
// element to a 64-bit integer, operate on its bits, and convert back, so they are exact while
// operands and results stay within fp32's integer range (magnitude <= 2^24).
#include "ops/elementwise_defs.h"
#include "ops/op_families.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

// A conversion in, one integer operation, a conversion out per stored output element.
double IntegerElementWork(const std::vector<Shape>&, const Shape& output, const Attrs&) {
  return 3.0 * static_cast<double>(StoredElements(output, Layout::kTile));
}

struct IntegerSpec {
  std::string_view name;
  std::string_view summary;
};

constexpr IntegerSpec kBinary[] = {
    {"bitwise_and", "Bitwise and of two's-complement integers, numpy broadcasting"},
    {"bitwise_or", "Bitwise or of two's-complement integers, numpy broadcasting"},
    {"bitwise_xor", "Bitwise exclusive or of two's-complement integers, numpy broadcasting"},
    {"shift_left", "a << b (b >= 64 or < 0 gives 0, as ATen's int64), numpy broadcasting"},
    {"shift_right", "a >> b, arithmetic (b >= 64 or < 0 gives the sign, as ATen's int64), numpy broadcasting"},
    {"gcd", "Greatest common divisor of abs(a) and abs(b) (gcd(0, 0) = 0), numpy broadcasting"},
    {"lcm", "Least common multiple abs(a / gcd(a, b) * b) (0 if either is 0), numpy broadcasting"},
};

}  // namespace

std::vector<OpDef> IntegerOps() {
  // Shaped like the elementwise ops, with the conversions in the work.
  std::vector<OpDef> ops = {UnaryOpDef("bitwise_not", "~x on two's-complement integers (-x - 1)")};
  for (const IntegerSpec& s : kBinary) ops.push_back(BinaryOpDef(s.name, s.summary));
  for (OpDef& def : ops) def.work = IntegerElementWork;
  return ops;
}

}  // namespace kiln::ops

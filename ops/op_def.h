// The accelerator's op library: every device op is described exactly once, here, by an OpDef.
//
// The compiler uses `infer_shape` to type the lowered graph; the simulator charges `work` through
// its cost model; the runtime checks programs against `inputs`/`attrs`/`infer_shape`; tools/op_docs
// turns the same table into docs/OPS.md. Each op's kernel is registered beside its OpDef, by name, in
// //ops:kernels (ops/kernels.h), so that the runtime core links the descriptions but no kernel.
#ifndef KILN_OPS_OP_DEF_H_
#define KILN_OPS_OP_DEF_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ops/attrs.h"
#include "ops/dtype.h"

namespace kiln::ops {

// Which engine of the chip executes the op (the cost model has a throughput per unit).
enum class Unit : uint8_t { kMatrix = 0, kVector = 1, kDataMovement = 2 };
const char* UnitName(Unit u);

struct AttrDef {
  std::string_view name;
  AttrKind kind;
  std::string_view doc;
  bool optional = false;  // when false, every program must set it
};

// Returns "" and sets *out on success, else a message naming what is wrong (no op name needed).
// Called through InferOutputShape, which has checked the operand shapes; work and kernel only run
// on shapes InferOutputShape accepted, so loops over them are bounded by tensor sizes.
using InferShapeFn = std::string (*)(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out);
// Arithmetic work of one call, counted on tile-padded shapes: the chip works in whole 32x32 tiles.
// Matrix ops count FLOPs (multiply-add = 2), vector ops count element operations, data movement 0.
using WorkFn = double (*)(const std::vector<Shape>& inputs, const Shape& output, const Attrs& attrs);
// The engine one call runs on, when that depends on the call; `work` then counts in that engine's terms.
using UnitFn = Unit (*)(const std::vector<Shape>& inputs, const Shape& output, const Attrs& attrs);

// How the op library shares one call among the cores (the simulator's core grid): `work` is dealt to
// the cores in `tiles` whole tiles, so the call takes as long as its busiest core. When the tiles are
// parts of fewer results (a reduction split over its input), the cores' partial results are then
// merged into `combine_tiles` tiles: each takes one partial from every core that holds some of its
// input tiles, at `combine_work` (all combine tiles together) per partial.
struct WorkSplit {
  int64_t tiles = 0;
  int64_t combine_tiles = 0;
  double combine_work = 0;
};
using SplitFn = WorkSplit (*)(const std::vector<Shape>& inputs, const Shape& output, const Attrs& attrs);
// Of each operand, the share (in [0, 1]) of its stored bytes one call reads from DRAM.
using ReadShareFn = std::vector<double> (*)(const std::vector<Shape>& inputs, const Shape& output,
                                            const Attrs& attrs);

struct OpDef {
  std::string_view name;
  std::string_view summary;
  std::vector<std::string_view> inputs;  // operand names, in order
  int num_optional_inputs = 0;           // trailing operands that may be absent (e.g. bias)
  bool variadic = false;                 // one or more operands, all named inputs[0] (concat)
  std::vector<AttrDef> attrs;
  Unit unit = Unit::kVector;
  InferShapeFn infer_shape = nullptr;
  WorkFn work = nullptr;
  // Useful FLOPs of one call on the true (unpadded) shapes, for the roofline figure of merit. Only
  // matrix ops set it; the roofline counts matrix-unit FLOPs against the matrix peak.
  WorkFn flops = nullptr;
  // Set when the engine depends on the call (a depthwise conv2d runs on the vector engine); null: `unit`.
  UnitFn unit_of = nullptr;
  // How one call is shared among the cores; null: by its output tiles (each core computes whole
  // output tiles). A full reduction has one output tile, so it splits its input instead.
  SplitFn split = nullptr;
  // What share of each operand one call reads from DRAM; null: all of every operand. A gather reads
  // only the rows its index selects.
  ReadShareFn read_share = nullptr;

  int min_inputs() const { return variadic ? 1 : static_cast<int>(inputs.size()) - num_optional_inputs; }
  int max_inputs() const { return variadic ? 1 << 20 : static_cast<int>(inputs.size()); }
};

// The engine, the split over the cores and the DRAM read shares of one call, with the defaults above
// filled in (one read share per operand). Call only on shapes InferOutputShape accepted.
Unit UnitOf(const OpDef& def, const std::vector<Shape>& inputs, const Shape& output, const Attrs& attrs);
WorkSplit SplitOf(const OpDef& def, const std::vector<Shape>& inputs, const Shape& output, const Attrs& attrs);
std::vector<double> ReadSharesOf(const OpDef& def, const std::vector<Shape>& inputs, const Shape& output,
                                 const Attrs& attrs);
// Whole 32x32 tiles of a tensor over its last two dims, whatever its layout in DRAM (the compute engines
// work on tiles; a row-major tensor is tilized on its way in).
int64_t ComputeTiles(const Shape& shape);

// The registry: all ops, sorted by name; nullptr when unknown.
const std::vector<const OpDef*>& AllOps();
const OpDef* FindOp(std::string_view name);

// Checks operand count and attributes against the definition; "" when valid.
std::string CheckAttrs(const OpDef& def, const Attrs& attrs);
// Checks arity, attributes and operand shapes (CheckShape: no negative dims, at most kMaxElements),
// then infers the output shape and checks it the same way; "" when valid. The compiler, runtime
// verifier and simulator all call this before any work function or kernel.
std::string InferOutputShape(const OpDef& def, const std::vector<Shape>& inputs, const Attrs& attrs,
                             Shape* out);

}  // namespace kiln::ops

#endif  // KILN_OPS_OP_DEF_H_

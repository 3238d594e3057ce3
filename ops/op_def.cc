#include "ops/op_def.h"

#include <algorithm>

#include "ops/op_families.h"
#include "ops/tile_layout.h"

namespace kiln::ops {

const char* UnitName(Unit u) {
  switch (u) {
    case Unit::kMatrix: return "matrix";
    case Unit::kVector: return "vector";
    case Unit::kDataMovement: return "data-movement";
  }
  return "?";
}

int64_t ComputeTiles(const Shape& shape) { return StoredElements(shape, Layout::kTile) / kTileElems; }

Unit UnitOf(const OpDef& def, const std::vector<Shape>& inputs, const Shape& output, const Attrs& attrs) {
  return def.unit_of ? def.unit_of(inputs, output, attrs) : def.unit;
}

WorkSplit SplitOf(const OpDef& def, const std::vector<Shape>& inputs, const Shape& output, const Attrs& attrs) {
  if (def.split) return def.split(inputs, output, attrs);
  return {ComputeTiles(output), 0, 0.0};
}

std::vector<double> ReadSharesOf(const OpDef& def, const std::vector<Shape>& inputs, const Shape& output,
                                 const Attrs& attrs) {
  std::vector<double> shares = def.read_share ? def.read_share(inputs, output, attrs) : std::vector<double>{};
  shares.resize(inputs.size(), 1.0);
  for (double& s : shares) s = std::clamp(s, 0.0, 1.0);
  return shares;
}

namespace {
std::vector<const OpDef*> BuildRegistry() {
  // Owned for the life of the process; the registry is immutable once built.
  static std::vector<OpDef> storage = [] {
    std::vector<OpDef> all;
    for (auto family : {ElementwiseOps, MatmulOps, ConvOps, PoolOps, ReductionOps, NormalizationOps,
                        DataMovementOps, IndexingOps, SpecialMathOps, IntegerOps, ConvertOps,
                        LinalgOps}) {
      std::vector<OpDef> ops = family();
      for (OpDef& op : ops) all.push_back(std::move(op));
    }
    std::sort(all.begin(), all.end(), [](const OpDef& a, const OpDef& b) { return a.name < b.name; });
    return all;
  }();
  std::vector<const OpDef*> out;
  for (const OpDef& op : storage) out.push_back(&op);
  return out;
}
}  // namespace

const std::vector<const OpDef*>& AllOps() {
  static const std::vector<const OpDef*> registry = BuildRegistry();
  return registry;
}

const OpDef* FindOp(std::string_view name) {
  const auto& ops = AllOps();
  auto it = std::lower_bound(ops.begin(), ops.end(), name,
                             [](const OpDef* op, std::string_view n) { return op->name < n; });
  return (it != ops.end() && (*it)->name == name) ? *it : nullptr;
}

std::string CheckAttrs(const OpDef& def, const Attrs& attrs) {
  for (const AttrDef& a : def.attrs) {
    const AttrValue* v = attrs.Find(a.name);
    if (!v) {
      if (a.optional) continue;
      return "missing attribute '" + std::string(a.name) + "'";
    }
    if (v->kind != a.kind)
      return "attribute '" + std::string(a.name) + "' must be " + AttrKindName(a.kind) + ", got " +
             AttrKindName(v->kind);
    if (v->kind == AttrKind::kInt && v->ints.size() != 1)
      return "attribute '" + std::string(a.name) + "' must hold exactly one int";
  }
  for (const auto& [name, v] : attrs.values()) {
    // An init-capture: clang 14 cannot capture a structured binding directly.
    const bool known = std::any_of(def.attrs.begin(), def.attrs.end(),
                                   [&name = name](const AttrDef& a) { return a.name == name; });
    if (!known) return "unknown attribute '" + name + "'";
  }
  return "";
}

std::string InferOutputShape(const OpDef& def, const std::vector<Shape>& inputs, const Attrs& attrs,
                             Shape* out) {
  const int n = static_cast<int>(inputs.size());
  if (n < def.min_inputs() || n > def.max_inputs())
    return "takes " + std::to_string(def.min_inputs()) +
           (def.variadic ? " or more"
            : def.min_inputs() == def.max_inputs() ? ""
                                                   : " to " + std::to_string(def.max_inputs())) +
           " operands, got " + std::to_string(n);
  if (std::string err = CheckAttrs(def, attrs); !err.empty()) return err;
  // Every shape an op sees or makes is within kMaxElements, so the shape rules, work functions
  // and kernels need no overflow checks of their own.
  for (int i = 0; i < n; ++i)
    if (std::string err = CheckShape(inputs[i]); !err.empty()) return "operand " + std::to_string(i) + " " + err;
  if (std::string err = def.infer_shape(inputs, attrs, out); !err.empty()) return err;
  if (std::string err = CheckShape(*out); !err.empty()) return "output " + err;
  return "";
}

}  // namespace kiln::ops

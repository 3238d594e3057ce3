#include "ops/attrs.h"

namespace kiln::ops {

const char* AttrKindName(AttrKind k) {
  switch (k) {
    case AttrKind::kInt: return "int";
    case AttrKind::kInts: return "int[]";
    case AttrKind::kFloat: return "float";
  }
  return "?";
}

Attrs& Attrs::SetInt(std::string_view name, int64_t v) {
  return Set(name, AttrValue{AttrKind::kInt, {v}, 0.0});
}
Attrs& Attrs::SetInts(std::string_view name, std::vector<int64_t> v) {
  return Set(name, AttrValue{AttrKind::kInts, std::move(v), 0.0});
}
Attrs& Attrs::SetFloat(std::string_view name, double v) {
  return Set(name, AttrValue{AttrKind::kFloat, {}, v});
}
Attrs& Attrs::Set(std::string_view name, AttrValue v) {
  values_[std::string(name)] = std::move(v);
  return *this;
}

const AttrValue* Attrs::Find(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

int64_t Attrs::Int(std::string_view name, int64_t fallback) const {
  const AttrValue* v = Find(name);
  return (v && v->kind == AttrKind::kInt && v->ints.size() == 1) ? v->ints[0] : fallback;
}

const std::vector<int64_t>& Attrs::Ints(std::string_view name) const {
  static const std::vector<int64_t> kEmpty;
  const AttrValue* v = Find(name);
  return (v && v->kind == AttrKind::kInts) ? v->ints : kEmpty;
}

double Attrs::Float(std::string_view name, double fallback) const {
  const AttrValue* v = Find(name);
  return (v && v->kind == AttrKind::kFloat) ? v->f : fallback;
}

}  // namespace kiln::ops

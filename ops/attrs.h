// Op attributes: a small name -> value map. The op library declares which names and kinds each op
// takes (AttrDef); the compiler fills an Attrs, the .kiln file stores it, the runtime checks it.
#ifndef KILN_OPS_ATTRS_H_
#define KILN_OPS_ATTRS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::ops {

enum class AttrKind : uint8_t { kInt = 0, kInts = 1, kFloat = 2 };
const char* AttrKindName(AttrKind k);

struct AttrValue {
  AttrKind kind = AttrKind::kInt;
  std::vector<int64_t> ints;  // one element for kInt
  double f = 0.0;
};

class Attrs {
 public:
  Attrs& SetInt(std::string_view name, int64_t v);
  Attrs& SetInts(std::string_view name, std::vector<int64_t> v);
  Attrs& SetFloat(std::string_view name, double v);
  Attrs& Set(std::string_view name, AttrValue v);

  bool Has(std::string_view name) const { return values_.count(std::string(name)) > 0; }
  const AttrValue* Find(std::string_view name) const;
  // Accessors for attributes the op definition guarantees (checked by ValidateAttrs); a missing
  // or mistyped one returns the given fallback so kernels never read garbage.
  int64_t Int(std::string_view name, int64_t fallback = 0) const;
  const std::vector<int64_t>& Ints(std::string_view name) const;
  double Float(std::string_view name, double fallback = 0.0) const;

  const std::map<std::string, AttrValue, std::less<>>& values() const { return values_; }

 private:
  std::map<std::string, AttrValue, std::less<>> values_;
};

}  // namespace kiln::ops

#endif  // KILN_OPS_ATTRS_H_

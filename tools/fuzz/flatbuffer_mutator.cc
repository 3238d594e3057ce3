#include "tools/fuzz/flatbuffer_mutator.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "flatbuffers/flatbuffers.h"
#include "flatbuffers/reflection_generated.h"

namespace kiln::fuzz {
namespace {

using reflection::BaseType;

struct Slot {
  enum Kind { kInt, kFloat, kDouble, kString, kVectorLength } kind;
  uint8_t* p;   // the value; a string's first byte; a vector's length prefix
  size_t size;  // bytes of an int; a string's length
};

// Bounds the walk: programs hold many tensors, and one slot is all a mutation needs.
constexpr size_t kMaxSlots = 100'000;
constexpr int kMaxDepth = 16;

size_t ScalarSize(BaseType t) {
  switch (t) {
    case reflection::UType: case reflection::Bool: case reflection::Byte: case reflection::UByte: return 1;
    case reflection::Short: case reflection::UShort: return 2;
    case reflection::Int: case reflection::UInt: case reflection::Float: return 4;
    case reflection::Long: case reflection::ULong: case reflection::Double: return 8;
    default: return 0;
  }
}

uint32_t ReadU32(const uint8_t* p) { return flatbuffers::ReadScalar<uint32_t>(p); }
uint8_t* Follow(uint8_t* p) { return p + ReadU32(p); }  // an offset field to what it points at

class Walker {
 public:
  explicit Walker(const reflection::Schema* schema) : schema_(schema) {}
  std::vector<Slot> slots;

  void Table(const reflection::Object* obj, uint8_t* table, int depth) {
    if (depth > kMaxDepth) return;
    auto* t = reinterpret_cast<flatbuffers::Table*>(table);
    for (const reflection::Field* field : *obj->fields()) {
      uint8_t* addr = t->GetAddressOf(field->offset());
      if (addr == nullptr || slots.size() >= kMaxSlots) continue;  // absent: no bytes to change
      const reflection::Type* type = field->type();
      switch (type->base_type()) {
        case reflection::String: String(Follow(addr)); break;
        case reflection::Obj: {
          const reflection::Object* sub = schema_->objects()->Get(type->index());
          if (sub->is_struct()) Struct(sub, addr, depth + 1);  // stored inline (a placement, a data ref)
          else Table(sub, Follow(addr), depth + 1);
          break;
        }
        case reflection::Vector: Vector(obj, field, t, Follow(addr), depth); break;
        case reflection::Union: Union(obj, field, t, Follow(addr), depth); break;
        default: Scalar(type->base_type(), addr);
      }
    }
  }

 private:
  void Scalar(BaseType t, uint8_t* p) {
    if (t == reflection::Float) slots.push_back({Slot::kFloat, p, 4});
    else if (t == reflection::Double) slots.push_back({Slot::kDouble, p, 8});
    else if (size_t n = ScalarSize(t)) slots.push_back({Slot::kInt, p, n});
  }
  void String(uint8_t* s) { slots.push_back({Slot::kString, s + 4, ReadU32(s)}); }
  // A struct's fields sit inline at fixed offsets (nested structs likewise).
  void Struct(const reflection::Object* obj, uint8_t* at, int depth) {
    if (depth > kMaxDepth) return;
    for (const reflection::Field* field : *obj->fields()) {
      const reflection::Type* type = field->type();
      if (type->base_type() == reflection::Obj)
        Struct(schema_->objects()->Get(type->index()), at + field->offset(), depth + 1);
      else
        Scalar(type->base_type(), at + field->offset());
    }
  }

  void Vector(const reflection::Object* obj, const reflection::Field* field, flatbuffers::Table* t,
              uint8_t* v, int depth) {
    const reflection::Type* type = field->type();
    const uint32_t n = ReadU32(v);
    if (n > 0) slots.push_back({Slot::kVectorLength, v, n});
    const BaseType e = type->element();
    if (e == reflection::Obj && schema_->objects()->Get(type->index())->is_struct()) {
      const reflection::Object* st = schema_->objects()->Get(type->index());
      for (uint32_t i = 0; i < n && slots.size() < kMaxSlots; ++i)
        Struct(st, v + 4 + static_cast<size_t>(st->bytesize()) * i, depth + 1);
      return;
    }
    for (uint32_t i = 0; i < n && slots.size() < kMaxSlots; ++i) {
      if (e == reflection::String) String(Follow(v + 4 + 4 * i));
      else if (e == reflection::Obj)
        Table(schema_->objects()->Get(type->index()), Follow(v + 4 + 4 * i), depth + 1);
      else if (e == reflection::Union)
        UnionElement(obj, field, t, i, Follow(v + 4 + 4 * i), depth);
      else if (size_t size = ScalarSize(e)) Scalar(e, v + 4 + size * i);
    }
  }

  // A union's table; its type is the companion field "<name>_type" (a vector of types for a vector
  // of unions).
  const reflection::Field* TypeField(const reflection::Object* obj, const reflection::Field* field) {
    return obj->fields()->LookupByKey((field->name()->str() + "_type").c_str());
  }
  void Union(const reflection::Object* obj, const reflection::Field* field, flatbuffers::Table* t,
             uint8_t* value, int depth) {
    const reflection::Field* type_field = TypeField(obj, field);
    if (type_field == nullptr) return;
    UnionTable(field, t->GetField<uint8_t>(type_field->offset(), 0), value, depth);
  }
  void UnionElement(const reflection::Object* obj, const reflection::Field* field, flatbuffers::Table* t,
                    uint32_t i, uint8_t* value, int depth) {
    const reflection::Field* type_field = TypeField(obj, field);
    uint8_t* types = type_field ? t->GetAddressOf(type_field->offset()) : nullptr;
    if (types == nullptr) return;
    types = Follow(types);
    if (i < ReadU32(types)) UnionTable(field, types[4 + i], value, depth);
  }
  void UnionTable(const reflection::Field* field, uint8_t kind, uint8_t* value, int depth) {
    const reflection::EnumVal* ev = schema_->enums()->Get(field->type()->index())->values()->LookupByKey(kind);
    // NONE (or a type byte this schema does not define) has no table.
    if (ev == nullptr || ev->union_type() == nullptr || ev->union_type()->base_type() != reflection::Obj) return;
    Table(schema_->objects()->Get(ev->union_type()->index()), value, depth + 1);
  }

  const reflection::Schema* schema_;
};

template <typename T>
void Store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

void MutateInt(const Slot& s, const std::vector<Slot>& slots, std::minstd_rand& rng) {
  uint64_t old = 0;
  std::memcpy(&old, s.p, s.size);  // little-endian, as FlatBuffers stores
  const int bits = static_cast<int>(s.size * 8);
  const uint64_t sign = uint64_t{1} << (bits - 1);
  // Edge values: zero, one, all ones (-1), the signed extremes, powers of two where sizes and
  // products overflow, a neighbour of the old value, random bits, or another field's value.
  static constexpr int kShifts[] = {8, 16, 31, 32, 40, 62};
  uint64_t v = 0;
  switch (rng() % 10) {
    case 0: v = 0; break;
    case 1: v = 1; break;
    case 2: v = ~uint64_t{0}; break;
    case 3: v = sign - 1; break;
    case 4: v = sign; break;
    case 5: v = uint64_t{1} << (kShifts[rng() % 6] % bits); break;
    case 6: v = old + static_cast<uint64_t>(static_cast<int64_t>(rng() % 33) - 16); break;
    case 7: v = (uint64_t{rng()} << 32) ^ rng(); break;
    default: {
      const Slot& other = slots[rng() % slots.size()];
      if (other.kind == Slot::kInt) std::memcpy(&v, other.p, other.size);
      else v = old ^ (uint64_t{1} << (rng() % bits));
    }
  }
  std::memcpy(s.p, &v, s.size);
}

template <typename T>
void MutateReal(const Slot& s, std::minstd_rand& rng) {
  const T values[] = {0, -1, 1, 0.5, 1e30, -1e30, 1e-30, std::numeric_limits<T>::max(),
                      std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity(),
                      std::numeric_limits<T>::quiet_NaN()};
  Store<T>(s.p, values[rng() % (sizeof(values) / sizeof(T))]);
}

}  // namespace

bool MutateFlatBuffer(const uint8_t* bfbs, uint8_t* data, std::minstd_rand& rng, MutateBytesFn mutate_bytes) {
  const reflection::Schema* schema = reflection::GetSchema(bfbs);
  Walker walker(schema);
  walker.Table(schema->root_table(), Follow(data), 0);
  if (walker.slots.empty()) return false;
  const Slot& s = walker.slots[rng() % walker.slots.size()];
  switch (s.kind) {
    case Slot::kInt: MutateInt(s, walker.slots, rng); break;
    case Slot::kFloat: MutateReal<float>(s, rng); break;
    case Slot::kDouble: MutateReal<double>(s, rng); break;
    case Slot::kString: {
      // In place and no longer: a shorter string gets its new length and terminator.
      const size_t n = mutate_bytes(s.p, s.size, s.size);
      if (n < s.size) {
        Store<uint32_t>(s.p - 4, static_cast<uint32_t>(n));
        s.p[n] = 0;
      }
      break;
    }
    case Slot::kVectorLength:  // shorter: the elements past the new end become unused bytes
      Store<uint32_t>(s.p, static_cast<uint32_t>(rng() % s.size));
      break;
  }
  return true;
}

}  // namespace kiln::fuzz

// The .kiln enums are the op library's enums on the wire: the generated values must equal the C++
// ones, so the writer and the loader convert by value. A change to either side fails to compile here.
#ifndef KILN_SCHEMA_KILN_ENUMS_H_
#define KILN_SCHEMA_KILN_ENUMS_H_

#include "ops/attrs.h"
#include "ops/dtype.h"
#include "ops/tile_layout.h"
#include "schema/kiln_generated.h"
#include "target/memory.h"

namespace kiln::fb {

static_assert(int(DType::F32) == int(ops::DType::kF32));
static_assert(int(DType::BF16) == int(ops::DType::kBF16));
static_assert(int(DType::I32) == int(ops::DType::kI32));
static_assert(int(DType::I64) == int(ops::DType::kI64));
static_assert(int(DType::BOOL) == int(ops::DType::kBool));
static_assert(int(DType::F16) == int(ops::DType::kF16));
static_assert(int(DType::F64) == int(ops::DType::kF64));
static_assert(int(DType::I8) == int(ops::DType::kI8));
static_assert(int(DType::U8) == int(ops::DType::kU8));
static_assert(int(DType::I16) == int(ops::DType::kI16));
static_assert(int(DType::C64) == int(ops::DType::kC64));
static_assert(int(DType::MAX) == int(ops::DType::kC64), "a DType was added on one side only");
static_assert(int(Layout::ROW_MAJOR) == int(ops::Layout::kRowMajor));
static_assert(int(Layout::TILE) == int(ops::Layout::kTile));
static_assert(int(Layout::MAX) == int(ops::Layout::kTile), "a Layout was added on one side only");
static_assert(int(AttrKind::INT) == int(ops::AttrKind::kInt));
static_assert(int(AttrKind::INTS) == int(ops::AttrKind::kInts));
static_assert(int(AttrKind::FLOAT) == int(ops::AttrKind::kFloat));
static_assert(int(AttrKind::MAX) == int(ops::AttrKind::kFloat), "an AttrKind was added on one side only");
static_assert(int(RegionKind::DEVICE_DRAM) == int(target::RegionKind::kDeviceDram));
static_assert(int(RegionKind::DEVICE_SRAM) == int(target::RegionKind::kDeviceSram));
static_assert(int(RegionKind::HOST_SCRATCH) == int(target::RegionKind::kHostScratch));
static_assert(int(RegionKind::DEVICE_STATE) == int(target::RegionKind::kDeviceState));
static_assert(int(RegionKind::MAX) == int(target::RegionKind::kDeviceState), "a RegionKind was added on one side only");

// True when `value` is one of the generated enum's values (dense from MIN to MAX; DType below).
template <typename E>
constexpr bool InRange(E value) {
  return static_cast<int>(value) >= static_cast<int>(E::MIN) && static_cast<int>(value) <= static_cast<int>(E::MAX);
}

// DType has unassigned codes between its values: one in range is a DType only if it has a name.
inline bool InRange(DType value) { return *EnumNameDType(value) != '\0'; }

}  // namespace kiln::fb

#endif  // KILN_SCHEMA_KILN_ENUMS_H_

#ifndef KILN_SCHEMA_FORMAT_VERSION_H_
#define KILN_SCHEMA_FORMAT_VERSION_H_

namespace kiln {
// Bumped on any incompatible change to kiln.fbs or file_layout.h; the runtime rejects other versions.
// 2: memory regions, an operators table, constants in segments after the FlatBuffer.
inline constexpr unsigned kFormatVersion = 2;
}  // namespace kiln

#endif  // KILN_SCHEMA_FORMAT_VERSION_H_

#ifndef KILN_SCHEMA_FORMAT_VERSION_H_
#define KILN_SCHEMA_FORMAT_VERSION_H_

namespace kiln {
// Bumped on any incompatible change to kiln.fbs; the runtime rejects other versions.
inline constexpr unsigned kFormatVersion = 1;
}  // namespace kiln

#endif  // KILN_SCHEMA_FORMAT_VERSION_H_

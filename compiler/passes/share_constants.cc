#include "compiler/passes/share_constants.h"

#include <cstring>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kiln::compiler {

std::string SharingStats::ToString() const {
  return absl::StrCat(shared, " constants (", shared_bytes, " B) in the owner's regions, ", private_, " (",
                      private_bytes, " B) private");
}

absl::Status ShareConstants(ScheduledProgram& program, const OwnerConstants& owner, SharingStats* stats) {
  std::unordered_map<std::string, std::pair<int, int>> by_name;  // -> (owner region, constant)
  for (int r = 0; r < static_cast<int>(owner.regions.size()); ++r)
    for (int c = 0; c < static_cast<int>(owner.regions[r].constants.size()); ++c)
      by_name.emplace(owner.regions[r].constants[c].name, std::pair{r, c});
  std::vector<int> mirror(owner.regions.size(), -1);  // our region laid out like owner.regions[i]
  SharingStats s;
  std::vector<uint8_t> bytes;
  for (ProgramTensor& t : program.tensors) {
    if (!t.is_constant || t.in_caller_buffer()) continue;
    const MemoryRegion& region = program.regions[t.region];
    // Weights streamed from host memory (HOST_SCRATCH) are the executor's own, never shared.
    if (region.shares >= 0 || (region.kind != target::RegionKind::kDeviceDram &&
                               region.kind != target::RegionKind::kDeviceSram))
      continue;
    const auto it = by_name.find(t.name);
    bool same = false;
    if (it != by_name.end()) {
      const OwnerRegion& o = owner.regions[it->second.first];
      const OwnerConstant& c = o.constants[it->second.second];
      if (o.kind == region.kind && c.dtype == t.dtype && c.shape == t.shape && c.layout == t.layout &&
          c.size_bytes == t.size_bytes()) {
        t.StoredData(&bytes);
        same = std::memcmp(bytes.data(), c.data, bytes.size()) == 0;
      }
      if (same) {
        if (c.offset > o.size_bytes || c.size_bytes > o.size_bytes - c.offset)
          return absl::InvalidArgumentError(absl::StrCat("share-constants: the owner's constant '", c.name, "' at ",
                                                         c.offset, " lies outside its region '", o.name, "' of ",
                                                         o.size_bytes, " bytes"));
        int& m = mirror[it->second.first];
        if (m < 0) {
          program.regions.push_back({absl::StrCat(o.name, " (shared)"), o.kind, o.size_bytes, o.index});
          m = static_cast<int>(program.regions.size()) - 1;
        }
        t.region = m;
        t.offset = c.offset;
      }
    }
    (same ? s.shared : s.private_) += 1;
    (same ? s.shared_bytes : s.private_bytes) += t.size_bytes();
  }
  if (stats) *stats = s;
  return absl::OkStatus();
}

}  // namespace kiln::compiler

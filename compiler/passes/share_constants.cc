#include "compiler/passes/share_constants.h"

#include <cstring>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kiln::compiler {

std::string SharingStats::ToString() const {
  return absl::StrCat(shared, " constants (", shared_bytes, " B) in the owner's regions, ", private_, " (",
                      private_bytes, " B) private");
}

OwnerConstants ConstantsOfPlannedProgram(const ScheduledProgram& owner, std::vector<std::vector<uint8_t>>* stored) {
  OwnerConstants out;
  std::vector<int> slot(owner.regions.size(), -1);
  for (size_t r = 0; r < owner.regions.size(); ++r) {
    const MemoryRegion& region = owner.regions[r];
    if (region.kind != target::RegionKind::kDeviceDram && region.kind != target::RegionKind::kDeviceSram) continue;
    slot[r] = static_cast<int>(out.regions.size());
    out.regions.push_back({static_cast<int>(r), region.name, region.kind, region.size_bytes, {}});
  }
  for (const ProgramTensor& t : owner.tensors)
    if (!t.in_caller_buffer() && slot[t.region] >= 0 && !t.is_constant) slot[t.region] = -1;  // not constants only
  size_t n = 0;
  for (const ProgramTensor& t : owner.tensors) n += t.is_constant ? 1 : 0;
  stored->clear();
  stored->reserve(n);  // the constants point into it
  for (const ProgramTensor& t : owner.tensors) {
    if (!t.is_constant || slot[t.region] < 0) continue;
    t.StoredData(&stored->emplace_back());
    out.regions[slot[t.region]].constants.push_back(
        {t.name, t.shape, t.dtype, t.layout, t.offset, stored->back().data(), t.size_bytes()});
  }
  std::erase_if(out.regions, [&](const OwnerRegion& r) { return r.constants.empty() || slot[r.index] < 0; });
  return out;
}

absl::Status ShareConstants(ScheduledProgram& program, const OwnerConstants& owner, SharingStats* stats) {
  // Names need not be unique (lowering names scalars by value): each name maps to every owner constant
  // that has it, and each owner constant is claimed by one tensor at most (a region's tensors do not overlap).
  std::unordered_map<std::string, std::vector<std::pair<int, int>>> by_name;  // -> (owner region, constant)
  for (int r = 0; r < static_cast<int>(owner.regions.size()); ++r)
    for (int c = 0; c < static_cast<int>(owner.regions[r].constants.size()); ++c)
      by_name[owner.regions[r].constants[c].name].push_back({r, c});
  std::set<std::pair<int, int>> claimed;
  const std::vector<std::pair<int, int>> kNone;
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
    std::optional<std::pair<int, int>> match;
    bytes.clear();
    for (const std::pair<int, int>& candidate : it == by_name.end() ? kNone : it->second) {
      const OwnerRegion& o = owner.regions[candidate.first];
      const OwnerConstant& c = o.constants[candidate.second];
      // The owner's copy serves wherever it is: a weight this program would keep in DRAM reads the
      // owner's SRAM copy, and one it put in its own SRAM frees that room.
      if (claimed.contains(candidate) || c.dtype != t.dtype || c.shape != t.shape ||
          c.layout != t.layout || c.size_bytes != t.size_bytes())
        continue;
      if (bytes.empty()) t.StoredData(&bytes);
      if (std::memcmp(bytes.data(), c.data, bytes.size()) != 0) continue;
      if (c.offset > o.size_bytes || c.size_bytes > o.size_bytes - c.offset)
        return absl::InvalidArgumentError(absl::StrCat("share-constants: the owner's constant '", c.name, "' at ",
                                                       c.offset, " lies outside its region '", o.name, "' of ",
                                                       o.size_bytes, " bytes"));
      match = candidate;
      break;
    }
    if (match) {
      const OwnerRegion& o = owner.regions[match->first];
      int& m = mirror[match->first];
      if (m < 0) {
        program.regions.push_back({absl::StrCat(o.name, " (shared)"), o.kind, o.size_bytes, o.index});
        m = static_cast<int>(program.regions.size()) - 1;
      }
      t.region = m;
      t.offset = o.constants[match->second].offset;
      claimed.insert(*match);
    }
    (match ? s.shared : s.private_) += 1;
    (match ? s.shared_bytes : s.private_bytes) += t.size_bytes();
  }
  if (stats) *stats = s;
  return absl::OkStatus();
}

}  // namespace kiln::compiler

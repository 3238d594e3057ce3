#include "compiler/passes/memory_planning.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace kiln::compiler {
namespace {

struct Interval {
  int tensor;
  int first;  // instruction that writes it
  int last;   // last instruction that reads it
  uint64_t size;
};

}  // namespace

absl::Status PlanMemory(ScheduledProgram& program, uint64_t device_dram_bytes, MemoryStats* stats) {
  const int num_regions = static_cast<int>(program.regions.size());
  for (const ProgramTensor& t : program.tensors)
    if (!t.in_caller_buffer() && (t.region < 0 || t.region >= num_regions))
      return absl::InternalError(absl::StrCat("memory planning: tensor '", t.name, "' is in region ", t.region,
                                              ", but the program has ", num_regions, " regions"));
  std::vector<uint64_t> region_bytes(num_regions, 0);
  uint64_t constant_bytes = 0, state_bytes = 0;
  // Device memory that holds its contents for the whole run: DRAM, and the state the executor keeps.
  auto on_device = [&](int r) {
    return program.regions[r].kind == target::RegionKind::kDeviceDram ||
           program.regions[r].kind == target::RegionKind::kDeviceState;
  };
  // A region laid out like an owner program's keeps the owner's size and offsets (share-constants).
  for (int r = 0; r < num_regions; ++r)
    if (program.regions[r].shares >= 0) {
      region_bytes[r] = program.regions[r].size_bytes;
      if (on_device(r)) constant_bytes += region_bytes[r];
    }
  // Constants and state: packed in first-use order (the writer lays the constants segment out the
  // same way); both are alive for the whole run.
  for (ProgramTensor& t : program.tensors) {
    if (!t.has_initial_data() || program.regions[t.region].shares >= 0) continue;
    t.offset = region_bytes[t.region];
    region_bytes[t.region] = AlignToDevice(region_bytes[t.region] + t.size_bytes());
    if (on_device(t.region)) constant_bytes += AlignToDevice(t.size_bytes());
    if (t.is_state) state_bytes += AlignToDevice(t.size_bytes());
  }

  // Activation lifetimes over the schedule; reading an alias reads its target's bytes.
  const int n = static_cast<int>(program.tensors.size());
  const std::vector<Lifetime> life = Lifetimes(program.tensors, program.instructions);
  std::vector<Interval> intervals;
  uint64_t total = 0;
  for (int t = 0; t < n; ++t) {
    if (!program.tensors[t].is_activation() || life[t].first < 0) continue;
    intervals.push_back({t, life[t].first, life[t].last, AlignToDevice(program.tensors[t].size_bytes())});
    total += intervals.back().size;
  }
  // Largest first; ties by definition order so the plan is deterministic.
  std::sort(intervals.begin(), intervals.end(), [](const Interval& a, const Interval& b) {
    return a.size != b.size ? a.size > b.size : a.first < b.first;
  });
  std::vector<const Interval*> placed;
  for (const Interval& iv : intervals) {
    const int region = program.tensors[iv.tensor].region;
    // Address ranges of already placed tensors in the same region that are alive at the same time.
    std::vector<std::pair<uint64_t, uint64_t>> busy;
    for (const Interval* p : placed)
      if (program.tensors[p->tensor].region == region && p->first <= iv.last && iv.first <= p->last) {
        const uint64_t off = program.tensors[p->tensor].offset;
        busy.push_back({off, off + p->size});
      }
    std::sort(busy.begin(), busy.end());
    uint64_t offset = region_bytes[region];  // after any constants the region holds
    for (const auto& [begin, end] : busy) {
      if (offset + iv.size <= begin) break;
      offset = std::max(offset, end);
    }
    program.tensors[iv.tensor].offset = offset;
    placed.push_back(&iv);
  }
  for (const Interval* iv : placed) {
    const ProgramTensor& t = program.tensors[iv->tensor];
    region_bytes[t.region] = std::max(region_bytes[t.region], t.offset + iv->size);
  }
  for (ProgramTensor& t : program.tensors)
    if (t.is_alias()) t.offset = program.tensors[t.alias_of].offset;

  uint64_t dram = 0, host = 0;
  for (int r = 0; r < num_regions; ++r) {
    program.regions[r].size_bytes = region_bytes[r];
    if (on_device(r)) dram += region_bytes[r];
    if (program.regions[r].kind == target::RegionKind::kHostScratch) host += region_bytes[r];
  }
  const uint64_t activation_bytes = dram - std::min(dram, constant_bytes);
  if (stats) *stats = {activation_bytes, constant_bytes, total, host};
  if (dram > device_dram_bytes)
    return absl::ResourceExhaustedError(absl::StrCat(
        "device memory too small: the program needs ", dram, " bytes of device DRAM (activations ",
        activation_bytes, " + constants ", constant_bytes - state_bytes,
        state_bytes > 0 ? absl::StrCat(" + state ", state_bytes) : "", "), the device has ", device_dram_bytes,
        " (the evict pass runs before planning and fits what eviction can)"));
  return absl::OkStatus();
}

}  // namespace kiln::compiler

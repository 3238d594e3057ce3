#include "compiler/passes/memory_planning.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace kiln::compiler {
namespace {

uint64_t AlignUp(uint64_t n) { return (n + kDeviceAlignment - 1) / kDeviceAlignment * kDeviceAlignment; }

struct Interval {
  int tensor;
  int first;  // instruction that writes it
  int last;   // last instruction that reads it
  uint64_t size;
};

}  // namespace

absl::Status PlanMemory(ScheduledProgram& program, uint64_t device_dram_bytes, MemoryStats* stats) {
  // Constants: packed in first-use order.
  uint64_t constant_bytes = 0;
  for (ProgramTensor& t : program.tensors) {
    if (t.space != MemSpace::kDeviceConstant) continue;
    t.offset = constant_bytes;
    constant_bytes = AlignUp(constant_bytes + t.size_bytes());
  }

  // Activation lifetimes over the schedule.
  const int n = static_cast<int>(program.tensors.size());
  std::vector<int> first(n, -1), last(n, -1);
  for (int i = 0; i < static_cast<int>(program.instructions.size()); ++i) {
    const ProgramInstruction& inst = program.instructions[i];
    for (int t : inst.inputs) last[t] = i;
    if (first[inst.output] < 0) first[inst.output] = i;
    last[inst.output] = std::max(last[inst.output], i);
  }
  std::vector<Interval> intervals;
  uint64_t total = 0;
  for (int t = 0; t < n; ++t) {
    if (program.tensors[t].space != MemSpace::kDeviceArena || first[t] < 0) continue;
    intervals.push_back({t, first[t], last[t], AlignUp(program.tensors[t].size_bytes())});
    total += intervals.back().size;
  }
  // Largest first; ties by definition order so the plan is deterministic.
  std::sort(intervals.begin(), intervals.end(), [](const Interval& a, const Interval& b) {
    return a.size != b.size ? a.size > b.size : a.first < b.first;
  });
  std::vector<const Interval*> placed;
  uint64_t arena = 0;
  for (const Interval& iv : intervals) {
    // Address ranges of already placed tensors that are alive at the same time.
    std::vector<std::pair<uint64_t, uint64_t>> busy;
    for (const Interval* p : placed)
      if (p->first <= iv.last && iv.first <= p->last) {
        const uint64_t off = program.tensors[p->tensor].offset;
        busy.push_back({off, off + p->size});
      }
    std::sort(busy.begin(), busy.end());
    uint64_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (offset + iv.size <= begin) break;
      offset = std::max(offset, end);
    }
    program.tensors[iv.tensor].offset = offset;
    arena = std::max(arena, offset + iv.size);
    placed.push_back(&iv);
  }

  program.arena_bytes = arena;
  program.constant_bytes = constant_bytes;
  if (stats) *stats = {arena, constant_bytes, total};
  if (arena + constant_bytes > device_dram_bytes)
    return absl::ResourceExhaustedError(absl::StrCat(
        "device memory too small: the program needs ", arena + constant_bytes, " bytes of device DRAM (arena ",
        arena, " + constants ", constant_bytes, "), the device has ", device_dram_bytes,
        "; eviction to host memory is not implemented yet"));
  return absl::OkStatus();
}

}  // namespace kiln::compiler

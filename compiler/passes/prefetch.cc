#include "compiler/passes/prefetch.h"

#include <algorithm>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "compiler/passes/layout_selection.h"
#include "compiler/passes/memory_planning.h"
#include "compiler/program/op_time.h"

namespace kiln::compiler {
namespace {

using Kind = ProgramInstruction::Kind;
constexpr int kMaxRounds = 8;
// Weights streamed beyond eviction's to make room for prefetching, at most (each one a try).
constexpr int kMaxExtraWeights = 8;

bool InHostScratch(const ScheduledProgram& p, int t) {
  const ProgramTensor& x = p.tensors[t];
  return !x.in_caller_buffer() && p.regions[x.region].kind == target::RegionKind::kHostScratch;
}

bool IsDeviceActivation(const ScheduledProgram& p, int t) {
  const ProgramTensor& x = p.tensors[t];
  return x.is_activation() && p.regions[x.region].kind == target::RegionKind::kDeviceDram;
}

// An upload eviction inserted: a copy from host scratch memory into a fresh device activation.
bool IsUpload(const ScheduledProgram& p, const ProgramInstruction& inst) {
  return inst.kind == Kind::kHostToDevice && InHostScratch(p, inst.inputs[0]) && IsDeviceActivation(p, inst.output);
}

// What the link carries for a transfer: the host side's bytes.
uint64_t LinkBytes(const ScheduledProgram& p, const ProgramInstruction& inst) {
  return p.tensors[inst.kind == Kind::kHostToDevice ? inst.inputs[0] : inst.output].size_bytes();
}

// The program's instructions with what this pass needs to know about each position.
class Timeline {
 public:
  Timeline(const ScheduledProgram& p, const target::ChipConfig& chip) : p_(p) {
    micros_.reserve(p.instructions.size());
    for (const ProgramInstruction& inst : p.instructions)
      micros_.push_back(inst.kind == Kind::kOp ? EstimateOp(p, inst, chip).Micros(chip)
                                               : HostLinkMicros(chip, LinkBytes(p, inst)));
  }

  // Moves the instruction at `from` to position `to` (< from); those between shift down by one.
  void Move(std::vector<ProgramInstruction>& order, int from, int to) {
    std::rotate(order.begin() + to, order.begin() + from, order.begin() + from + 1);
    std::rotate(micros_.begin() + to, micros_.begin() + from, micros_.begin() + from + 1);
  }

  // Recomputes, for `order`: the device activation bytes alive at each instruction (its operands, its
  // result, and everything written before and read after it; aligned as the planner packs them), and
  // an estimate of when the compute engines and the host link are free before each instruction: ops
  // run one after another at their lower-bound times once their operands are there, transfers one
  // after another on the link, an upload not before the op ahead of it is done (it may write the bytes
  // that op reads).
  void Update(const std::vector<ProgramInstruction>& order) {
    const int n = static_cast<int>(order.size());
    const size_t num_tensors = p_.tensors.size();
    const std::vector<Lifetime> life = Lifetimes(p_.tensors, order);
    std::vector<int64_t> delta(n + 1, 0);
    for (size_t t = 0; t < num_tensors; ++t) {
      if (life[t].first < 0 || !IsDeviceActivation(p_, static_cast<int>(t))) continue;
      const int64_t bytes = static_cast<int64_t>(AlignToDevice(p_.tensors[t].size_bytes()));
      delta[life[t].first] += bytes;
      delta[life[t].last + 1] -= bytes;
    }
    live_.assign(n, 0);
    compute_free_.assign(n + 1, 0);
    link_free_.assign(n + 1, 0);
    std::vector<double> ready(num_tensors, 0);  // when each tensor's value is there
    int64_t running = 0;
    for (int i = 0; i < n; ++i) {
      const ProgramInstruction& inst = order[i];
      running += delta[i];
      live_[i] = static_cast<uint64_t>(running);
      double start = inst.kind == Kind::kOp ? compute_free_[i] : link_free_[i];
      for (int t : inst.inputs) start = std::max(start, ready[t]);
      if (IsUpload(p_, inst)) start = std::max(start, compute_free_[i]);
      const double end = start + micros_[i];
      ready[inst.output] = end;
      compute_free_[i + 1] = inst.kind == Kind::kOp ? end : compute_free_[i];
      link_free_[i + 1] = inst.kind == Kind::kOp ? link_free_[i] : end;
    }
  }

  uint64_t live(int i) const { return live_[i]; }
  double compute_free(int i) const { return compute_free_[i]; }
  double link_free(int i) const { return link_free_[i]; }
  double micros(int i) const { return micros_[i]; }
  double end() const { return std::max(compute_free_.back(), link_free_.back()); }

 private:
  const ScheduledProgram& p_;
  std::vector<double> micros_;        // by position: an op's lower-bound time, a transfer's link time
  std::vector<uint64_t> live_;        // by position
  std::vector<double> compute_free_;  // by position: when the ops before it are estimated done
  std::vector<double> link_free_;     // by position: when the transfers before it are estimated done
};

// Places every upload of `p` for an activation budget of `budget` bytes; returns how many moved.
int PlaceUploads(ScheduledProgram& p, uint64_t budget, const target::ChipConfig& chip) {
  std::vector<ProgramInstruction>& order = p.instructions;
  const int n = static_cast<int>(order.size());
  Timeline timeline(p, chip);
  timeline.Update(order);
  int moved = 0;
  int after_transfer = 0;  // the first position after the last host-link transfer placed so far
  for (int i = 0; i < n; ++i) {
    if (order[i].kind == Kind::kOp) continue;
    int to = i;
    if (IsUpload(p, order[i])) {
      // Its reader: the first op after it that reads what it writes (eviction puts it just before).
      int reader = i + 1;
      while (reader < n && std::find(order[reader].inputs.begin(), order[reader].inputs.end(), order[i].output) ==
                               order[reader].inputs.end())
        ++reader;
      const double deadline = timeline.compute_free(reader);
      const double link_micros = timeline.micros(i), link_free = timeline.link_free(i);
      const uint64_t bytes = AlignToDevice(p.tensors[order[i].output].size_bytes());
      for (int k = i - 1; k >= after_transfer; --k) {
        if (std::max(timeline.compute_free(k + 1), link_free) + link_micros <= deadline) break;  // hidden from k + 1
        if (timeline.live(k) + bytes > budget) break;
        to = k;
        if (timeline.compute_free(k) <= link_free) break;  // the link is busy until then anyway
      }
    }
    if (to < i) {
      timeline.Move(order, i, to);
      timeline.Update(order);
      ++moved;
    }
    after_transfer = to + 1;
    // Positions up to i now hold instructions already seen (the moved upload and the ops it passed).
  }
  return moved;
}

// Whether the planner fits `p` in the chip's DRAM.
absl::StatusOr<bool> Fits(ScheduledProgram& p, const target::ChipConfig& chip) {
  MemoryStats plan;
  KILN_RETURN_IF_ERROR(PlanMemory(p, std::numeric_limits<uint64_t>::max(), &plan));
  return plan.arena_bytes + plan.constant_bytes <= static_cast<uint64_t>(chip.dram_bytes);
}

// Places the uploads of `p`, which fits, for the activation budget the device leaves beside its
// constants; when the planner packs the longer lifetimes less tightly than the budget assumed, again
// with a budget smaller by the excess. Returns how many moved; none when no placement fits.
absl::StatusOr<int> PlaceWithinDevice(ScheduledProgram& p, const target::ChipConfig& chip) {
  MemoryStats plan;
  KILN_RETURN_IF_ERROR(PlanMemory(p, std::numeric_limits<uint64_t>::max(), &plan));
  const uint64_t capacity = static_cast<uint64_t>(chip.dram_bytes);
  const std::vector<ProgramInstruction> unplaced = p.instructions;
  uint64_t budget = capacity - plan.constant_bytes;
  for (int round = 0; round < kMaxRounds; ++round) {
    const int moved = PlaceUploads(p, budget, chip);
    KILN_RETURN_IF_ERROR(PlanMemory(p, std::numeric_limits<uint64_t>::max(), &plan));
    const uint64_t need = plan.arena_bytes + plan.constant_bytes;
    if (need <= capacity) return moved;
    p.instructions = unplaced;
    if (need - capacity >= budget) break;
    budget -= need - capacity;
  }
  p.instructions = unplaced;
  return 0;
}

// When the program would end on the timeline Timeline estimates.
double EstimatedMicros(const ScheduledProgram& p, const target::ChipConfig& chip) {
  Timeline timeline(p, chip);
  timeline.Update(p.instructions);
  return timeline.end();
}

// Streams the largest weight still on the device from host memory, as eviction does when the weights
// do not fit: one upload before its first reader, which every reader then reads. Its device copy is
// alive only from there to its last reader, so the budget holds wherever it held (it had the weight in
// it throughout) and has the weight's bytes more everywhere else: room to prefetch into. False when no
// weight is left on the device.
bool StreamLargestWeight(ScheduledProgram& p, EvictionStats* stats) {
  const size_t before = p.tensors.size();
  std::vector<int> regions;
  for (const ProgramTensor& t : p.tensors) regions.push_back(t.region);
  if (MoveConstantsToHost(p, 1) == 0) return false;
  int w = -1;
  for (size_t t = 0; t < before; ++t)
    if (p.tensors[t].region != regions[t]) w = static_cast<int>(t);
  if (w < 0) return false;
  const ProgramTensor& host = p.tensors[w];
  ProgramTensor copy{host.name + ".upload", host.shape, host.dtype, DeviceLayout(host.shape), kActivationRegion, 0,
                     false, {}};
  p.tensors.push_back(std::move(copy));
  const int d = static_cast<int>(p.tensors.size()) - 1;
  auto first = p.instructions.end();
  for (auto it = p.instructions.begin(); it != p.instructions.end(); ++it)
    for (int& t : it->inputs)
      if (t == w) {
        t = d;
        if (first == p.instructions.end()) first = it;
      }
  if (first == p.instructions.end()) {  // read by nothing: it just leaves the device
    p.tensors.pop_back();
    return true;
  }
  const std::string name = p.tensors[w].name;
  p.instructions.insert(first, {Kind::kHostToDevice, nullptr, {w}, d, {}, "upload " + name});
  stats->weights_streamed = true;
  stats->reloads += 1;
  stats->reload_bytes += p.tensors[w].size_bytes();
  return true;
}

// What one placement changes in a program: its instructions, the tensors it added (uploads), where its
// own tensors live (weights streamed move to host memory) and its regions.
struct Snapshot {
  std::vector<ProgramInstruction> instructions;
  std::vector<ProgramTensor> added;
  std::vector<std::pair<int, ops::Layout>> placement;  // by tensor of the original program
  std::vector<MemoryRegion> regions;

  static Snapshot Take(const ScheduledProgram& p, size_t num_tensors) {
    Snapshot s{p.instructions, {p.tensors.begin() + static_cast<std::ptrdiff_t>(num_tensors), p.tensors.end()}, {},
               p.regions};
    for (size_t t = 0; t < num_tensors; ++t) s.placement.push_back({p.tensors[t].region, p.tensors[t].layout});
    return s;
  }
  void Restore(ScheduledProgram& p, size_t num_tensors) const {
    p.instructions = instructions;
    p.tensors.resize(num_tensors);
    p.tensors.insert(p.tensors.end(), added.begin(), added.end());
    for (size_t t = 0; t < num_tensors; ++t) std::tie(p.tensors[t].region, p.tensors[t].layout) = placement[t];
    p.regions = regions;
  }
};

}  // namespace

absl::Status PrefetchUploads(ScheduledProgram& program, const target::ChipConfig& chip, EvictionStats* stats) {
  if (std::none_of(program.instructions.begin(), program.instructions.end(),
                   [&](const ProgramInstruction& inst) { return IsUpload(program, inst); }))
    return absl::OkStatus();
  KILN_ASSIGN_OR_RETURN(bool fits, Fits(program, chip));
  if (!fits) return absl::OkStatus();  // plan-memory will say why
  EvictionStats local = stats ? *stats : EvictionStats{};
  const size_t num_tensors = program.tensors.size();
  // `unplaced`: eviction's program with the weights streamed so far, before placement.
  Snapshot unplaced = Snapshot::Take(program, num_tensors);
  KILN_ASSIGN_OR_RETURN(local.prefetched, PlaceWithinDevice(program, chip));
  double best = EstimatedMicros(program, chip);
  Snapshot chosen = Snapshot::Take(program, num_tensors);
  EvictionStats chosen_stats = local;
  for (int extra = 0; extra < kMaxExtraWeights; ++extra) {
    unplaced.Restore(program, num_tensors);
    if (!StreamLargestWeight(program, &local)) break;
    KILN_ASSIGN_OR_RETURN(fits, Fits(program, chip));
    if (!fits) break;
    unplaced = Snapshot::Take(program, num_tensors);
    KILN_ASSIGN_OR_RETURN(local.prefetched, PlaceWithinDevice(program, chip));
    const double estimate = EstimatedMicros(program, chip);
    if (estimate < best) {
      best = estimate;
      chosen = Snapshot::Take(program, num_tensors);
      chosen_stats = local;
    }
  }
  chosen.Restore(program, num_tensors);
  if (stats) *stats = chosen_stats;
  return absl::OkStatus();
}

}  // namespace kiln::compiler

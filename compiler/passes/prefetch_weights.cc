#include "compiler/passes/prefetch_weights.h"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/macros.h"
#include "compiler/passes/eviction.h"
#include "compiler/passes/memory_planning.h"
#include "compiler/passes/sram_residency.h"
#include "compiler/program/op_time.h"
#include "ops/op_def.h"

namespace kiln::compiler {
namespace {

using Kind = ProgramInstruction::Kind;
enum Engine { kMatrixEngine, kVectorEngine, kDmaEngine, kLinkEngine, kEngines };
constexpr int kMaxRounds = 8;
// Room tried: 0, 1/2, 1, ... kReserveHalves / 2 times the largest weight to stage.
constexpr int kReserveHalves = 6;
// How far back from its reader a copy is tried, in instructions (bounds the search on large programs).
constexpr int kMaxDistance = 160;
constexpr double kEpsilonUs = 1e-6;

bool IsCopy(const ProgramInstruction& inst) { return inst.kind == Kind::kOp && inst.op->name == "copy"; }

// One instruction on the timeline.
struct Step {
  int engine = kLinkEngine;
  double launch_us = 0;
  double busy_us = 0;  // on its engine
  double dram_us = 0;  // its DRAM traffic at full bandwidth
  std::vector<int> inputs;
  int output = -1;
  bool after_previous = false;  // a copy: not before the instruction ahead of it ends
};

Step StepOf(const ScheduledProgram& p, const ProgramInstruction& inst, const target::ChipConfig& chip) {
  Step s;
  for (int t : inst.inputs) s.inputs.push_back(p.tensors[t].is_alias() ? p.tensors[t].alias_of : t);
  s.output = inst.output;
  if (inst.kind != Kind::kOp) {  // the host link carries the host side's bytes
    s.busy_us = HostLinkMicros(chip, p.tensors[inst.kind == Kind::kHostToDevice ? inst.inputs[0] : inst.output].size_bytes());
    return s;
  }
  std::vector<ops::Shape> shapes;
  for (int t : inst.inputs) shapes.push_back(p.tensors[t].shape);
  switch (ops::UnitOf(*inst.op, shapes, p.tensors[inst.output].shape, inst.attrs)) {
    case ops::Unit::kMatrix: s.engine = kMatrixEngine; break;
    case ops::Unit::kVector: s.engine = kVectorEngine; break;
    case ops::Unit::kDataMovement: s.engine = kDmaEngine; break;
  }
  const OpTime time = EstimateOp(p, inst, chip);
  s.launch_us = time.launch_us;
  s.busy_us = time.compute_us;
  s.dram_us = DramMicros(time.dram_bytes, chip);
  s.after_previous = IsCopy(inst);
  return s;
}

// The timeline of `steps` with `extra` (when set) run just before position `insert_at`, and
// `replacement` (when set) run instead of the step at `replace`; returns its end. `ready` is scratch,
// one entry per tensor.
double Simulate(const std::vector<Step>& steps, size_t num_tensors, std::vector<double>& ready,
                const Step* extra = nullptr, int insert_at = -1, const Step* replacement = nullptr,
                int replace = -1) {
  double engine_free[kEngines] = {};
  double dram_free = 0, previous_end = 0, end_all = 0;
  ready.assign(num_tensors, 0.0);
  auto run = [&](const Step& s) {
    double start = engine_free[s.engine];
    for (int t : s.inputs) start = std::max(start, ready[t]);
    if (s.after_previous) start = std::max(start, previous_end);
    const double work_start = start + s.launch_us;
    double end = work_start + s.busy_us;
    if (s.dram_us > 0) {
      dram_free = std::max(work_start, dram_free) + s.dram_us;
      end = std::max(end, dram_free);
    }
    engine_free[s.engine] = end;
    ready[s.output] = end;
    previous_end = end;
    end_all = std::max(end_all, end);
  };
  for (int i = 0; i < static_cast<int>(steps.size()); ++i) {
    if (i == insert_at) run(*extra);
    run(i == replace ? *replacement : steps[i]);
  }
  return end_all;
}

bool IsDramWeight(const ScheduledProgram& p, int t) {
  const ProgramTensor& x = p.tensors[t];
  return x.is_constant && !x.is_alias() && !x.in_caller_buffer() &&
         p.regions[x.region].kind == target::RegionKind::kDeviceDram;
}

// The weights in device DRAM that `inst` could read from a staging copy: each once, each one it reads
// whole (a copy of a gather's table would move more than the gather reads), not for a data-movement op
// (it would only be a second copy).
std::vector<int> StageableWeights(const ScheduledProgram& p, const ProgramInstruction& inst) {
  std::vector<int> weights;
  if (inst.kind != Kind::kOp) return weights;
  std::vector<ops::Shape> shapes;
  for (int t : inst.inputs) shapes.push_back(p.tensors[t].shape);
  const ops::Shape& out = p.tensors[inst.output].shape;
  if (ops::UnitOf(*inst.op, shapes, out, inst.attrs) == ops::Unit::kDataMovement) return weights;
  const std::vector<double> shares = ops::ReadSharesOf(*inst.op, shapes, out, inst.attrs);
  for (size_t i = 0; i < inst.inputs.size(); ++i) {
    const int t = inst.inputs[i];
    if (shares[i] >= 1.0 && IsDramWeight(p, t) && std::find(weights.begin(), weights.end(), t) == weights.end())
      weights.push_back(t);
  }
  return weights;
}

int FindRegion(const ScheduledProgram& p, const char* name) {
  for (int r = 0; r < static_cast<int>(p.regions.size()); ++r)
    if (p.regions[r].name == name && p.regions[r].kind == target::RegionKind::kDeviceSram) return r;
  return -1;
}

// The bytes of `region` alive at each instruction (aligned as the planner packs them).
std::vector<uint64_t> LiveBytes(const ScheduledProgram& p, int region) {
  const int n = static_cast<int>(p.instructions.size());
  const std::vector<Lifetime> life = Lifetimes(p.tensors, p.instructions);
  std::vector<int64_t> delta(n + 1, 0);
  for (size_t t = 0; t < p.tensors.size(); ++t) {
    const ProgramTensor& x = p.tensors[t];
    if (x.region != region || x.is_alias() || life[t].first < 0) continue;
    delta[life[t].first] += static_cast<int64_t>(AlignToDevice(x.size_bytes()));
    delta[life[t].last + 1] -= static_cast<int64_t>(AlignToDevice(x.size_bytes()));
  }
  std::vector<uint64_t> live(n);
  int64_t running = 0;
  for (int i = 0; i < n; ++i) live[i] = static_cast<uint64_t>(running += delta[i]);
  return live;
}

// Places staging copies in `p` on the timeline, with the arena's live bytes within `budget`.
class Stager {
 public:
  Stager(ScheduledProgram& p, int arena, uint64_t budget, const target::ChipConfig& chip)
      : p_(p), arena_(arena), budget_(budget), chip_(chip) {
    for (const ProgramInstruction& inst : p.instructions) steps_.push_back(StepOf(p, inst, chip));
    live_ = LiveBytes(p, arena);
    end_ = Simulate(steps_, p.tensors.size(), ready_);
  }

  // Stages, in readers' order, each DRAM weight where the timeline gains by it (see the header);
  // returns the DRAM bytes the copies move per run.
  uint64_t StageAll(int* staged) {
    uint64_t moved = 0;
    for (int i = 0; i < static_cast<int>(p_.instructions.size()); ++i) {
      for (const int w : StageableWeights(p_, p_.instructions[i])) {
        const uint64_t bytes = p_.tensors[w].size_bytes();
        if (AlignToDevice(bytes) > budget_) continue;
        // Read from a staging copy: the reader's step with the weight in SRAM, and the copy's.
        const int s = static_cast<int>(p_.tensors.size());
        const std::string name = p_.tensors[w].name;
        const int copies = ++copies_of_[w];  // a weight read by several ops is staged for each
        p_.tensors.push_back({name + ".staged" + (copies > 1 ? std::to_string(copies) : ""), p_.tensors[w].shape, p_.tensors[w].dtype, p_.tensors[w].layout, arena_,
                              0, false, {}});
        for (int& t : p_.instructions[i].inputs)
          if (t == w) t = s;
        const Step staged_reader = StepOf(p_, p_.instructions[i], chip_);
        const ProgramInstruction copy{Kind::kOp, ops::FindOp("copy"), {w}, s, {}, "stage " + name};
        const int at = BestPosition(copy, i, staged_reader);
        if (at < 0) {  // no gain: the reader keeps reading DRAM
          for (int& t : p_.instructions[i].inputs)
            if (t == s) t = w;
          p_.tensors.pop_back();
          --copies_of_[w];
          continue;
        }
        steps_[i] = staged_reader;
        Insert(copy, at);
        ++i;  // the reader moved down by one
        moved += bytes;
        ++*staged;
      }
    }
    return moved;
  }

 private:
  // The position (at most `reader`, within kMaxDistance of it) where `copy`, with `reader` run as
  // `staged_reader`, brings the estimated end forward most, where the arena has room for its buffer
  // from there to `reader`; -1 when none brings it forward. The latest such position on a tie.
  int BestPosition(const ProgramInstruction& copy, int reader, const Step& staged_reader) {
    const Step copy_step = StepOf(p_, copy, chip_);
    const uint64_t size = AlignToDevice(p_.tensors[copy.output].size_bytes());
    int best = -1;
    double best_end = end_ - kEpsilonUs;
    uint64_t peak = 0;
    for (int k = reader; k >= std::max(0, reader - kMaxDistance); --k) {
      peak = std::max(peak, live_[k]);
      if (peak + size > budget_) break;
      const double e = Simulate(steps_, p_.tensors.size(), ready_, &copy_step, k, &staged_reader, reader);
      if (e < best_end) {
        best_end = e;
        best = k;
      }
    }
    if (best >= 0) end_ = best_end;
    return best;
  }

  void Insert(const ProgramInstruction& copy, int at) {
    steps_.insert(steps_.begin() + at, StepOf(p_, copy, chip_));
    p_.instructions.insert(p_.instructions.begin() + at, copy);
    live_ = LiveBytes(p_, arena_);
  }

  ScheduledProgram& p_;
  const int arena_;
  const uint64_t budget_;
  const target::ChipConfig& chip_;
  std::vector<Step> steps_;
  std::vector<uint64_t> live_;
  std::vector<double> ready_;
  double end_ = 0;
  std::map<int, int> copies_of_;  // by weight
};

// What a variant changes in a program: its instructions, the tensors it adds, its tensors' regions and
// its regions (prefetch.cc's Snapshot without layouts; the constants' data is never copied).
struct Snapshot {
  std::vector<ProgramInstruction> instructions;
  std::vector<ProgramTensor> added;
  std::vector<int> regions_of;
  std::vector<MemoryRegion> regions;

  static Snapshot Take(const ScheduledProgram& p, size_t num_tensors) {
    Snapshot s{p.instructions, {p.tensors.begin() + static_cast<std::ptrdiff_t>(num_tensors), p.tensors.end()}, {},
               p.regions};
    for (size_t t = 0; t < num_tensors; ++t) s.regions_of.push_back(p.tensors[t].region);
    return s;
  }
  void Restore(ScheduledProgram& p, size_t num_tensors) const {
    p.instructions = instructions;
    p.tensors.resize(num_tensors);
    p.tensors.insert(p.tensors.end(), added.begin(), added.end());
    for (size_t t = 0; t < num_tensors; ++t) p.tensors[t].region = regions_of[t];
    p.regions = regions;
  }
};

// The resident weights in `constants`, least op time saved per SRAM byte first (the first to give up
// their place): a weight's readers would take longer by what its bytes add to their DRAM time.
std::vector<int> DemotionOrder(const ScheduledProgram& p, int constants, const target::ChipConfig& chip) {
  std::vector<double> saved(p.tensors.size(), 0.0);
  for (const ProgramInstruction& inst : p.instructions) {
    if (inst.kind != Kind::kOp) continue;
    const OpTime time = EstimateOp(p, inst, chip);
    for (int t : inst.inputs) {
      if (p.tensors[t].region != constants) continue;
      OpTime in_dram = time;
      in_dram.dram_bytes += static_cast<double>(p.tensors[t].size_bytes());
      saved[t] += in_dram.Micros(chip) - time.Micros(chip);
    }
  }
  std::vector<int> order;
  for (int t = 0; t < static_cast<int>(p.tensors.size()); ++t)
    if (p.tensors[t].region == constants && p.tensors[t].is_constant && saved[t] > 0) order.push_back(t);
  auto key = [&](int t) {
    const double size = static_cast<double>(p.tensors[t].size_bytes());
    return std::make_tuple(saved[t] / size, -size, t);
  };
  std::sort(order.begin(), order.end(), [&](int a, int b) { return key(a) < key(b); });
  return order;
}

}  // namespace

std::string WeightPrefetchStats::ToString() const {
  return absl::StrCat(staged, " weight reads staged into SRAM ahead of their op (", staged_bytes, " bytes per run), ",
                      demoted, " resident weights (", demoted_bytes, " bytes) moved to DRAM for room; SRAM arena ",
                      arena_bytes, " bytes; estimated ", static_cast<int64_t>(estimated_us_before), " -> ",
                      static_cast<int64_t>(estimated_us), " us");
}

double EstimatedEndMicros(const ScheduledProgram& p, const target::ChipConfig& chip) {
  std::vector<Step> steps;
  for (const ProgramInstruction& inst : p.instructions) steps.push_back(StepOf(p, inst, chip));
  std::vector<double> ready;
  return Simulate(steps, p.tensors.size(), ready);
}

absl::Status PrefetchWeights(ScheduledProgram& p, const target::ChipConfig& chip, WeightPrefetchStats* stats) {
  WeightPrefetchStats st;
  st.estimated_us_before = st.estimated_us = EstimatedEndMicros(p, chip);
  const int64_t budget_per_core = SramBudgetPerCore(p, chip);
  const uint64_t cores = static_cast<uint64_t>(chip.cores);
  uint64_t largest = 0;  // the largest weight to stage that could fit at all
  for (const ProgramInstruction& inst : p.instructions)
    for (const int t : StageableWeights(p, inst))
      if (AlignToDevice(p.tensors[t].size_bytes()) <= static_cast<uint64_t>(budget_per_core) * cores)
        largest = std::max(largest, AlignToDevice(p.tensors[t].size_bytes()));
  if (largest == 0) {
    if (stats) *stats = st;
    return absl::OkStatus();
  }
  const size_t num_tensors = p.tensors.size();
  int arena = FindRegion(p, kSramArenaRegion);
  const bool created_arena = arena < 0;
  if (created_arena) {
    arena = static_cast<int>(p.regions.size());
    p.regions.push_back({kSramArenaRegion, target::RegionKind::kDeviceSram, 0});
  }
  const int constants = FindRegion(p, kSramConstantRegion);
  // Moving a weight to device DRAM needs room there and must not differ from a twin sharing the device.
  const bool may_demote =
      constants >= 0 && kConstantRegion < static_cast<int>(p.regions.size()) &&
      p.regions[kConstantRegion].kind == target::RegionKind::kDeviceDram &&
      std::none_of(p.regions.begin(), p.regions.end(), [](const MemoryRegion& r) {
        return r.kind == target::RegionKind::kHostScratch || r.kind == target::RegionKind::kDeviceState || r.shares >= 0;
      });
  const std::vector<int> demotion = may_demote ? DemotionOrder(p, constants, chip) : std::vector<int>{};
  const Snapshot base = Snapshot::Take(p, num_tensors);

  std::optional<Snapshot> chosen;
  WeightPrefetchStats chosen_stats = st;
  for (int halves = 0; halves <= kReserveHalves; ++halves) {
    base.Restore(p, num_tensors);
    WeightPrefetchStats v = st;
    const uint64_t want = largest * static_cast<uint64_t>(halves) / 2;
    uint64_t freed = 0;
    for (size_t k = 0; k < demotion.size() && freed < want; ++k) {
      p.tensors[demotion[k]].region = kConstantRegion;
      freed += AlignToDevice(p.tensors[demotion[k]].size_bytes());
      v.demoted++;
      v.demoted_bytes += p.tensors[demotion[k]].size_bytes();
    }
    if (freed < want) break;  // no more to free: larger reserves are the same variant
    MemoryStats plan;
    KILN_RETURN_IF_ERROR(PlanMemory(p, std::numeric_limits<uint64_t>::max(), &plan));
    if (plan.arena_bytes + plan.constant_bytes > static_cast<uint64_t>(chip.dram_bytes)) break;
    const int64_t constants_per_core = constants < 0 ? 0 : chip.SramBytesPerCore(p.regions[constants].size_bytes);
    if (constants_per_core >= budget_per_core) continue;
    const Snapshot demoted = Snapshot::Take(p, num_tensors);
    uint64_t budget = static_cast<uint64_t>(budget_per_core - constants_per_core) * cores;
    bool fits = false;
    for (int round = 0; round < kMaxRounds && !fits; ++round) {
      demoted.Restore(p, num_tensors);
      v.staged = 0;
      Stager stager(p, arena, budget, chip);
      v.staged_bytes = stager.StageAll(&v.staged);
      KILN_RETURN_IF_ERROR(PlanMemory(p, std::numeric_limits<uint64_t>::max()));
      const int64_t need = chip.SramBytesPerCore(p.regions[arena].size_bytes) + constants_per_core;
      fits = need <= budget_per_core;
      // The planned arena exceeds its live bytes by fragmentation: tighten by the excess and stage again.
      if (!fits) budget -= std::min(budget, static_cast<uint64_t>(need - budget_per_core) * cores);
    }
    if (!fits || v.staged == 0) continue;
    v.arena_bytes = p.regions[arena].size_bytes;
    v.estimated_us = EstimatedEndMicros(p, chip);
    if (v.estimated_us < chosen_stats.estimated_us - kEpsilonUs) {
      chosen = Snapshot::Take(p, num_tensors);
      chosen_stats = v;
    }
  }
  (chosen ? *chosen : base).Restore(p, num_tensors);
  if (!chosen && created_arena) p.regions.pop_back();  // it holds nothing
  if (stats) *stats = chosen_stats;
  return absl::OkStatus();
}

}  // namespace kiln::compiler

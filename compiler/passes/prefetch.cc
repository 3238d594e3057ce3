#include "compiler/passes/prefetch.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "compiler/passes/memory_planning.h"

namespace kiln::compiler {
namespace {

using Kind = ProgramInstruction::Kind;
constexpr int kMaxRounds = 8;

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
      micros_.push_back(inst.kind == Kind::kOp ? OpMicrosLowerBound(p, inst, chip)
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
    std::vector<int> first(num_tensors, -1), last(num_tensors, -1);
    for (int i = 0; i < n; ++i) {
      for (int t : order[i].inputs) last[t] = i;
      if (first[order[i].output] < 0) first[order[i].output] = i;
      last[order[i].output] = std::max(last[order[i].output], i);
    }
    std::vector<int64_t> delta(n + 1, 0);
    for (size_t t = 0; t < num_tensors; ++t) {
      if (first[t] < 0 || !IsDeviceActivation(p_, static_cast<int>(t))) continue;
      const int64_t bytes = static_cast<int64_t>(AlignToDevice(p_.tensors[t].size_bytes()));
      delta[first[t]] += bytes;
      delta[last[t] + 1] -= bytes;
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

}  // namespace

double OpMicrosLowerBound(const ScheduledProgram& program, const ProgramInstruction& inst,
                          const target::ChipConfig& chip) {
  std::vector<ops::Shape> shapes;
  uint64_t dram_bytes = program.tensors[inst.output].size_bytes();
  bool all_bf16 = true;
  for (int t : inst.inputs) {
    shapes.push_back(program.tensors[t].shape);
    dram_bytes += program.tensors[t].size_bytes();
    all_bf16 &= program.tensors[t].dtype == ops::DType::kBF16;
  }
  const double work = inst.op->work(shapes, program.tensors[inst.output].shape, inst.attrs);
  // Every core busy at its full rate: no tiling or scheduling makes the op faster.
  double compute = 0;
  switch (inst.op->unit) {
    case ops::Unit::kMatrix:
      compute = work / (chip.MatrixFlopsPerCycle(all_bf16 ? ops::DType::kBF16 : ops::DType::kF32) *
                        chip.cycles_per_us());
      break;
    case ops::Unit::kVector:
      compute = work / (static_cast<double>(chip.vector_elements_per_cycle_per_core * chip.cores) *
                        chip.cycles_per_us());
      break;
    case ops::Unit::kDataMovement:
      break;
  }
  const double dram = static_cast<double>(dram_bytes) / (chip.dram_bandwidth_gb_per_s * 1e3);
  return chip.op_launch_us + std::max(compute, dram);
}

absl::Status PrefetchUploads(ScheduledProgram& program, const target::ChipConfig& chip, EvictionStats* stats) {
  if (std::none_of(program.instructions.begin(), program.instructions.end(),
                   [&](const ProgramInstruction& inst) { return IsUpload(program, inst); }))
    return absl::OkStatus();
  MemoryStats plan;
  KILN_RETURN_IF_ERROR(PlanMemory(program, std::numeric_limits<uint64_t>::max(), &plan));
  const uint64_t capacity = static_cast<uint64_t>(chip.dram_bytes);
  if (plan.arena_bytes + plan.constant_bytes > capacity) return absl::OkStatus();  // plan-memory will say why
  const std::vector<ProgramInstruction> evicted = program.instructions;
  uint64_t budget = capacity - plan.constant_bytes;
  for (int round = 0; round < kMaxRounds; ++round) {
    const int moved = PlaceUploads(program, budget, chip);
    KILN_RETURN_IF_ERROR(PlanMemory(program, std::numeric_limits<uint64_t>::max(), &plan));
    const uint64_t need = plan.arena_bytes + plan.constant_bytes;
    if (need <= capacity) {
      if (stats) stats->prefetched = moved;
      return absl::OkStatus();
    }
    // The planner packed the longer lifetimes less tightly than the budget assumed: try again with less.
    program.instructions = evicted;
    if (need - capacity >= budget) break;
    budget -= need - capacity;
  }
  program.instructions = evicted;
  if (stats) stats->prefetched = 0;
  return absl::OkStatus();
}

}  // namespace kiln::compiler

#include "compiler/passes/eviction.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "compiler/passes/layout_selection.h"
#include "compiler/passes/memory_planning.h"

namespace kiln::compiler {
namespace {

using Kind = ProgramInstruction::Kind;
constexpr int kNone = -1;
constexpr int kMaxRounds = 24;
constexpr char kSpillRegion[] = "spill";
constexpr char kHostConstantRegion[] = "constants (host)";

class Evictor {
 public:
  Evictor(ScheduledProgram& p, uint64_t budget, const target::ChipConfig& chip, EvictionStats* stats)
      : p_(p), budget_(budget), chip_(chip), stats_(stats) {}

  // After Run fails: how many bytes the instruction that could not fit was over the budget.
  uint64_t shortfall() const { return shortfall_; }

  absl::Status Run() {
    const int n = static_cast<int>(p_.tensors.size());
    uses_.assign(n, {});
    for (int i = 0; i < static_cast<int>(p_.instructions.size()); ++i)
      for (int t : p_.instructions[i].inputs) uses_[t].push_back(i);
    next_use_.assign(n, 0);
    current_.resize(n);
    for (int t = 0; t < n; ++t) current_[t] = t;
    original_.resize(n);
    for (int t = 0; t < n; ++t) original_[t] = t;
    host_copy_.assign(n, kNone);
    for (int t = 0; t < n; ++t)
      if (IsHostConstant(t)) host_copy_[t] = t;  // its value is on the host from the start
    resident_.assign(n, false);

    std::vector<ProgramInstruction> order;
    order.reserve(p_.instructions.size());
    std::vector<ProgramInstruction> insts = std::move(p_.instructions);
    for (int i = 0; i < static_cast<int>(insts.size()); ++i) {
      ProgramInstruction inst = std::move(insts[i]);
      // A reload from an earlier round: its result's value is already on the host.
      if (inst.kind == Kind::kHostToDevice && IsScratch(inst.inputs[0])) host_copy_[inst.output] = inst.inputs[0];

      // What this instruction needs on the device: its operands (reloaded where evicted) and its result.
      std::vector<int> reload;  // original ids of evicted operands
      uint64_t incoming = 0;
      for (int t : inst.inputs) {
        if (!Managed(t) || resident_[current_[t]]) continue;
        if (std::find(reload.begin(), reload.end(), t) != reload.end()) continue;
        reload.push_back(t);
        incoming += Bytes(t);
      }
      if (IsDeviceActivation(inst.output)) incoming += Bytes(inst.output);
      const uint64_t own = incoming + ResidentOperandBytes(inst);
      if (own > budget_) {
        shortfall_ = own - budget_;
        return absl::ResourceExhaustedError(absl::StrCat(
            "device memory too small: ", Describe(inst), " needs ", own,
            " bytes of device memory for its operands and result at once, but only ", budget_,
            " bytes of device DRAM are left for it (", chip_.dram_bytes, " minus the weights kept on the device); ",
            "eviction cannot help an op whose own tensors do not fit"));
      }
      // Evict until they fit beside what stays.
      while (resident_bytes_ + incoming > budget_) {
        const int victim = PickVictim(inst, i);
        if (victim == kNone)
          return absl::InternalError(absl::StrCat("eviction: no tensor to evict before ", Describe(inst)));
        Spill(victim, order);
      }
      for (int t : reload) Reload(t, order);
      for (int& t : inst.inputs)
        if (Managed(t)) t = current_[t];
      if (IsDeviceActivation(inst.output)) MakeResident(inst.output);
      order.push_back(std::move(inst));
      // Free what no later instruction reads.
      const ProgramInstruction& done = order.back();
      for (int t : done.inputs) Release(original_[t], i);
      if (IsDeviceActivation(done.output)) Release(done.output, i);
    }
    p_.instructions = std::move(order);
    return absl::OkStatus();
  }

 private:
  bool IsScratch(int t) const {
    const ProgramTensor& x = p_.tensors[t];
    return !x.in_caller_buffer() && p_.regions[x.region].kind == target::RegionKind::kHostScratch;
  }
  bool IsDeviceActivation(int t) const {
    const ProgramTensor& x = p_.tensors[t];
    return x.is_activation() && p_.regions[x.region].kind == target::RegionKind::kDeviceDram;
  }
  // A weight streamed from host memory (see MoveConstantsToHost): ops read a device copy of it.
  bool IsHostConstant(int t) const { return p_.tensors[t].is_constant && IsScratch(t); }
  // A value ops read from the device, which this pass keeps resident or brings back.
  bool Managed(int t) const { return IsDeviceActivation(t) || IsHostConstant(t); }
  uint64_t Bytes(int t) const { return AlignToDevice(p_.tensors[t].size_bytes()); }

  std::string Describe(const ProgramInstruction& inst) const {
    const std::string what = inst.kind == Kind::kOp              ? std::string(inst.op->name)
                             : inst.kind == Kind::kHostToDevice ? "copy_to_device"
                                                                : "copy_to_host";
    return absl::StrCat("op ", what, " (node '", inst.source, "')");
  }

  uint64_t ResidentOperandBytes(const ProgramInstruction& inst) const {
    uint64_t b = 0;
    std::vector<int> seen;
    for (int t : inst.inputs) {
      if (!Managed(t) || !resident_[current_[t]]) continue;
      if (std::find(seen.begin(), seen.end(), current_[t]) != seen.end()) continue;
      seen.push_back(current_[t]);
      b += Bytes(current_[t]);
    }
    return b;
  }

  // The next instruction (original numbering) after `i` that reads original tensor `t`, or kNone.
  int NextUse(int t, int i) {
    size_t& k = next_use_[t];
    while (k < uses_[t].size() && uses_[t][k] <= i) ++k;
    return k < uses_[t].size() ? uses_[t][k] : kNone;
  }

  int PickVictim(const ProgramInstruction& inst, int i) {
    int best = kNone;
    double best_score = -1;
    for (int r : resident_list_) {
      bool touched = r == inst.output;
      for (int t : inst.inputs) touched |= Managed(t) && current_[t] == r;
      if (touched) continue;
      const int next = NextUse(original_[r], i);
      if (next == kNone) continue;  // released after its last use; never a victim
      const uint64_t bytes = Bytes(r);
      const double link = HostLinkMicros(chip_, bytes);
      const double cost = link + (host_copy_[r] == kNone ? link : 0.0);
      const double score = static_cast<double>(next - i) * static_cast<double>(bytes) / cost;
      if (score > best_score || (score == best_score && best != kNone && bytes > Bytes(best))) {
        best = r;
        best_score = score;
      }
    }
    return best;
  }

  int ScratchRegion() {
    if (scratch_region_ == kNone) {
      for (int r = 0; r < static_cast<int>(p_.regions.size()); ++r)
        if (p_.regions[r].kind == target::RegionKind::kHostScratch) scratch_region_ = r;
      if (scratch_region_ == kNone) {
        p_.regions.push_back({kSpillRegion, target::RegionKind::kHostScratch, 0});
        scratch_region_ = static_cast<int>(p_.regions.size()) - 1;
      }
    }
    return scratch_region_;
  }

  int AddTensor(ProgramTensor t, int original) {
    p_.tensors.push_back(std::move(t));
    const int id = static_cast<int>(p_.tensors.size()) - 1;
    original_.push_back(original);
    host_copy_.push_back(kNone);
    resident_.push_back(false);
    return id;
  }

  void Spill(int r, std::vector<ProgramInstruction>& order) {
    if (host_copy_[r] == kNone) {
      const ProgramTensor& src = p_.tensors[r];
      ProgramTensor host{src.name + ".spill", src.shape, src.dtype, ops::Layout::kRowMajor, ScratchRegion(), 0,
                         false, {}};
      const int h = AddTensor(std::move(host), kNone);
      host_copy_[r] = h;
      order.push_back({Kind::kDeviceToHost, nullptr, {r}, h, {}, "spill " + p_.tensors[r].name});
      ++stats_->spills;
      stats_->spill_bytes += p_.tensors[h].size_bytes();
    }
    Evict(r);
  }

  void Reload(int t, std::vector<ProgramInstruction>& order) {
    const int from = current_[t];
    const ProgramTensor& src = p_.tensors[t];
    // A streamed weight's device copy takes the layout the weight had on the device; an activation's
    // reload, the activation's own.
    const bool weight = IsHostConstant(t);
    ProgramTensor copy{absl::StrCat(src.name, weight ? ".upload" : ".reload", ++reload_count_), src.shape,
                       src.dtype, weight ? DeviceLayout(src.shape) : src.layout, weight ? kActivationRegion : src.region,
                       0, false, {}};
    const int d = AddTensor(std::move(copy), t);
    host_copy_[d] = host_copy_[from];
    order.push_back({Kind::kHostToDevice, nullptr, {host_copy_[from]}, d, {}, (weight ? "upload " : "reload ") + src.name});
    ++stats_->reloads;
    stats_->reload_bytes += p_.tensors[host_copy_[from]].size_bytes();
    current_[t] = d;
    MakeResident(d);
  }

  void MakeResident(int r) {
    if (resident_[r]) return;
    resident_[r] = true;
    resident_list_.push_back(r);
    resident_bytes_ += Bytes(r);
  }
  void Evict(int r) {
    if (!resident_[r]) return;
    resident_[r] = false;
    resident_list_.erase(std::find(resident_list_.begin(), resident_list_.end(), r));
    resident_bytes_ -= Bytes(r);
  }
  // After instruction `i`: drops the device copy of original tensor `t` when nothing later reads it.
  void Release(int t, int i) {
    if (t == kNone || !Managed(t)) return;
    if (NextUse(t, i) == kNone) Evict(current_[t]);
  }

  ScheduledProgram& p_;
  const uint64_t budget_;
  const target::ChipConfig& chip_;
  EvictionStats* stats_;
  std::vector<std::vector<int>> uses_;  // by original tensor: instructions that read it, in order
  std::vector<size_t> next_use_;        // by original tensor: cursor into uses_
  std::vector<int> current_;            // by original tensor: its device copy now (itself, or a reload)
  std::vector<int> original_;           // by tensor: the value it holds (kNone for host copies)
  std::vector<int> host_copy_;          // by device tensor: a host-scratch tensor with its value
  std::vector<bool> resident_;
  std::vector<int> resident_list_;
  uint64_t resident_bytes_ = 0;
  int scratch_region_ = kNone;
  int reload_count_ = 0;
  uint64_t shortfall_ = 0;
};

}  // namespace

std::string EvictionStats::ToString() const {
  if (spills == 0 && reloads == 0 && !weights_streamed) return "";
  return absl::StrCat(weights_streamed ? "weights streamed from host memory; " : "", spills,
                      " tensors spilled to host memory (", spill_bytes, " bytes), ", reloads,
                      " uploads of spilled tensors and weights (", reload_bytes, " bytes, ", prefetched,
                      " prefetched), ", rounds, " plans tried");
}

double HostLinkMicros(const target::ChipConfig& chip, uint64_t bytes) {
  return chip.host_link_latency_us + static_cast<double>(bytes) / (chip.host_link_gb_per_s * 1e3);
}

absl::Status EvictToHost(ScheduledProgram& program, uint64_t activation_budget, const target::ChipConfig& chip,
                         EvictionStats* stats, uint64_t* shortfall) {
  // All or nothing: a budget that cannot work leaves the program as it was.
  const std::vector<ProgramInstruction> instructions = program.instructions;
  const size_t tensors = program.tensors.size(), regions = program.regions.size();
  EvictionStats trial = stats ? *stats : EvictionStats{};
  Evictor evictor(program, activation_budget, chip, &trial);
  absl::Status s = evictor.Run();
  if (shortfall) *shortfall = evictor.shortfall();
  if (!s.ok()) {
    program.instructions = instructions;
    program.tensors.resize(tensors);
    program.regions.resize(regions);
    return s;
  }
  if (stats) *stats = trial;
  return absl::OkStatus();
}

uint64_t MoveConstantsToHost(ScheduledProgram& program, uint64_t bytes) {
  int host = kNone;
  for (int r = 0; r < static_cast<int>(program.regions.size()); ++r)
    if (program.regions[r].name == kHostConstantRegion) host = r;
  std::vector<int> on_device;
  for (int t = 0; t < static_cast<int>(program.tensors.size()); ++t) {
    const ProgramTensor& x = program.tensors[t];
    if (x.is_constant && !x.in_caller_buffer() && program.regions[x.region].kind == target::RegionKind::kDeviceDram)
      on_device.push_back(t);
  }
  // Largest first: the fewest uploads for the bytes freed (each pays the link's fixed latency).
  std::stable_sort(on_device.begin(), on_device.end(), [&](int a, int b) {
    return program.tensors[a].size_bytes() > program.tensors[b].size_bytes();
  });
  uint64_t freed = 0;
  for (int t : on_device) {
    if (freed >= bytes) break;
    if (host == kNone) {
      program.regions.push_back({kHostConstantRegion, target::RegionKind::kHostScratch, 0});
      host = static_cast<int>(program.regions.size()) - 1;
    }
    ProgramTensor& x = program.tensors[t];
    freed += AlignToDevice(x.size_bytes());
    x.region = host;
    x.layout = ops::Layout::kRowMajor;  // as the DMA reads host memory; the device copy is laid out anew
  }
  return freed;
}

absl::Status FitDeviceMemory(ScheduledProgram& program, const target::ChipConfig& chip, EvictionStats* stats) {
  EvictionStats local;
  EvictionStats& s = stats ? *stats : local;
  const uint64_t capacity = static_cast<uint64_t>(chip.dram_bytes);
  // Without reuse, everything fits: no plan needed (the default chip, every model so far).
  uint64_t upper_bound = 0;
  for (const ProgramTensor& t : program.tensors)
    if (!t.in_caller_buffer() && program.regions[t.region].kind == target::RegionKind::kDeviceDram)
      upper_bound += AlignToDevice(t.size_bytes()) + kDeviceAlignment;
  if (upper_bound <= capacity) return absl::OkStatus();

  MemoryStats plan;
  KILN_RETURN_IF_ERROR(PlanMemory(program, std::numeric_limits<uint64_t>::max(), &plan));
  s.rounds = 1;
  if (plan.arena_bytes + plan.constant_bytes <= capacity) return absl::OkStatus();

  // Each round starts again from the schedule as it came, with more weights on the host or a tighter
  // budget than the last: eviction decides against a budget, the planner's packing may need more.
  const std::vector<ProgramInstruction> schedule = program.instructions;
  const size_t num_tensors = program.tensors.size();
  uint64_t streamed = 0, slack = 0;
  while (s.rounds < kMaxRounds) {
    ++s.rounds;
    program.instructions = schedule;
    program.tensors.resize(num_tensors);
    for (size_t r = 0; r < program.regions.size(); ++r)
      if (program.regions[r].name == kSpillRegion) program.regions.resize(r);
    KILN_RETURN_IF_ERROR(PlanMemory(program, std::numeric_limits<uint64_t>::max(), &plan));
    const uint64_t device_constants = plan.constant_bytes;
    const uint64_t budget = capacity > device_constants + slack ? capacity - device_constants - slack : 0;
    const EvictionStats before = s;
    // With no room at all beside the weights, what the whole plan is over the device.
    const uint64_t planned = plan.arena_bytes + device_constants + slack;
    uint64_t shortfall = planned - std::min(capacity, planned);
    absl::Status evicted = budget > 0 ? EvictToHost(program, budget, chip, &s, &shortfall)
                                      : absl::ResourceExhaustedError("no device memory left beside the weights");
    if (!evicted.ok()) {
      if (!absl::IsResourceExhausted(evicted)) return evicted;
      // One op's own tensors do not fit beside the weights kept on the device: stream the bytes it
      // lacks (largest weights first), and more if the next try shows it needs more.
      const uint64_t more = std::max(shortfall, kDeviceAlignment);
      const uint64_t freed = MoveConstantsToHost(program, more);
      if (freed == 0) return evicted;  // every weight is on the host already: the op's own error stands
      streamed += freed;
      s.weights_streamed = true;
      continue;
    }
    KILN_RETURN_IF_ERROR(PlanMemory(program, std::numeric_limits<uint64_t>::max(), &plan));
    const uint64_t need = plan.arena_bytes + plan.constant_bytes;
    if (need <= capacity) return absl::OkStatus();
    s = before;  // this round's spills are undone with the next round's fresh start
    slack += need - capacity;
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "device memory too small: after ", kMaxRounds, " rounds of eviction the plan still needs more than the ",
      capacity, " bytes of device DRAM"));
}

}  // namespace kiln::compiler

#include "compiler/passes/sram_residency.h"

#include <algorithm>
#include <limits>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/macros.h"
#include "compiler/passes/memory_planning.h"
#include "compiler/program/op_time.h"
#include "ops/op_def.h"

namespace kiln::compiler {
namespace {

struct Candidate {
  int tensor;
  int first;  // instruction that writes it (activations)
  int last;   // last instruction that reads it
  int reads;  // operand slots that read it per run
  uint64_t size;
};

// Per weight, the time its readers would save if it moved from DRAM to SRAM, by the chip's rates with
// the activations already placed (compiler/program/op_time.h): an op takes about max(compute, DRAM
// bytes / DRAM bandwidth), so a weight of an op that is compute-bound anyway saves nothing, and one of a
// DRAM-bound op (a 7x7 convolution's 2 MB of weights, a linear layer at batch 1) saves its bytes' time
// until the op becomes compute-bound. An estimate for ranking, made with every weight in DRAM.
std::vector<double> WeightTimeSaved(const ScheduledProgram& p, const target::ChipConfig& chip,
                                    const std::vector<Candidate>& weights) {
  std::vector<int> index(p.tensors.size(), -1);
  for (size_t k = 0; k < weights.size(); ++k) index[weights[k].tensor] = static_cast<int>(k);
  std::vector<double> saved(weights.size(), 0.0);
  for (const ProgramInstruction& inst : p.instructions) {
    if (inst.kind != ProgramInstruction::Kind::kOp) continue;
    const OpTime time = EstimateOp(p, inst, chip);
    for (int t : inst.inputs)
      if (index[t] >= 0)
        saved[index[t]] += time.Micros(chip) - time.MicrosWithout(static_cast<double>(p.tensors[t].size_bytes()), chip);
  }
  return saved;
}

}  // namespace

int64_t SramBudgetPerCore(const ScheduledProgram& p, const target::ChipConfig& chip) {
  // A program with state shares its device with a twin (a prefill program beside its decode step,
  // runtime::Executor::CreateSharing); each plans against half the SRAM so both load.
  const bool has_state = std::any_of(p.regions.begin(), p.regions.end(), [](const MemoryRegion& r) {
    return r.kind == target::RegionKind::kDeviceState;
  });
  return has_state ? chip.sram_usable_bytes_per_core() / 2 : chip.sram_usable_bytes_per_core();
}

std::string SramResidencyStats::ToString() const {
  return absl::StrCat(activations, " activations in a ", arena_bytes, "-byte arena (", activation_bytes,
                      " without reuse; ", activations_spilled, " left in DRAM), ", weights, " weights (",
                      weight_bytes, " bytes; ", weights_in_dram, " with ", weight_bytes_in_dram,
                      " bytes left in DRAM): ", bytes_per_core, " of ", usable_bytes_per_core, " bytes per core");
}

absl::Status PlaceInSram(ScheduledProgram& p, const target::ChipConfig& chip, SramResidencyStats* stats) {
  const int n = static_cast<int>(p.tensors.size());
  for (const ProgramTensor& t : p.tensors)
    if (!t.in_caller_buffer() && (t.region < 0 || t.region >= static_cast<int>(p.regions.size())))
      return absl::InternalError(absl::StrCat("sram-residency: tensor '", t.name, "' is in region ", t.region,
                                              ", but the program has ", p.regions.size(), " regions"));
  SramResidencyStats st;
  st.usable_bytes_per_core = SramBudgetPerCore(p, chip);
  st.usable_bytes = static_cast<uint64_t>(st.usable_bytes_per_core * chip.cores);

  const std::vector<Lifetime> life = Lifetimes(p.tensors, p.instructions);
  std::vector<int> reads(n, 0);
  for (const ProgramInstruction& inst : p.instructions)
    for (int t : inst.inputs) reads[t]++;
  std::vector<Candidate> activations, weights;
  for (int t = 0; t < n; ++t) {
    const ProgramTensor& x = p.tensors[t];
    if (x.in_caller_buffer() || p.regions[x.region].kind != target::RegionKind::kDeviceDram) continue;
    const Candidate c{t, life[t].first, life[t].last, reads[t], AlignToDevice(x.size_bytes())};
    if (x.is_activation() && life[t].first >= 0) activations.push_back(c);
    if (x.is_constant && reads[t] > 0) weights.push_back(c);
  }
  // DRAM bytes saved per SRAM byte first, then the shorter lifetime, the smaller tensor, the id.
  std::sort(activations.begin(), activations.end(), [](const Candidate& a, const Candidate& b) {
    return std::make_tuple(-a.reads, a.last - a.first, a.size, a.tensor) <
           std::make_tuple(-b.reads, b.last - b.first, b.size, b.tensor);
  });

  // 1. Activations, within what the arena alone may take of every core.
  const int arena = static_cast<int>(p.regions.size());
  p.regions.push_back({kSramArenaRegion, target::RegionKind::kDeviceSram, 0});
  std::vector<int> home(n);
  for (int t = 0; t < n; ++t) home[t] = p.tensors[t].region;
  const uint64_t arena_limit = st.usable_bytes;
  uint64_t budget = arena_limit;
  std::vector<uint64_t> live(p.instructions.size());
  while (true) {
    std::fill(live.begin(), live.end(), 0);
    st.activations = 0;
    st.activation_bytes = 0;
    for (const Candidate& c : activations) {
      const uint64_t peak = *std::max_element(live.begin() + c.first, live.begin() + c.last + 1);
      const bool fits = peak + c.size <= budget;
      p.tensors[c.tensor].region = fits ? arena : home[c.tensor];
      if (!fits) continue;
      for (int i = c.first; i <= c.last; ++i) live[i] += c.size;
      st.activations++;
      st.activation_bytes += c.size;
    }
    if (st.activations == 0) break;
    // The plan's arena can exceed the live bytes by fragmentation: tighten by the excess and choose again.
    KILN_RETURN_IF_ERROR(PlanMemory(p, std::numeric_limits<uint64_t>::max()));
    const uint64_t planned = p.regions[arena].size_bytes;
    if (planned <= arena_limit) break;
    budget -= std::min(budget, planned - arena_limit);
  }
  st.activations_spilled = static_cast<int>(activations.size()) - st.activations;
  st.arena_bytes = st.activations == 0 ? 0 : p.regions[arena].size_bytes;
  if (st.activations == 0) p.regions.pop_back();

  // 2. Weights, in what the arena leaves of every core: most op time saved per byte first.
  const std::vector<double> saved = WeightTimeSaved(p, chip, weights);
  std::vector<int> order(weights.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = static_cast<int>(k);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    const Candidate &x = weights[a], &y = weights[b];
    return std::make_tuple(-saved[a] / static_cast<double>(x.size), -x.reads, -static_cast<int64_t>(x.size), x.tensor) <
           std::make_tuple(-saved[b] / static_cast<double>(y.size), -y.reads, -static_cast<int64_t>(y.size), y.tensor);
  });
  const uint64_t weight_limit = static_cast<uint64_t>(st.usable_bytes_per_core - chip.SramBytesPerCore(st.arena_bytes)) *
                                static_cast<uint64_t>(chip.cores);
  int constants = -1;
  for (int k : order) {
    const Candidate& c = weights[k];
    if (st.weight_bytes + c.size > weight_limit) {
      st.weights_in_dram++;
      st.weight_bytes_in_dram += c.size;
      continue;
    }
    if (constants < 0) {
      constants = static_cast<int>(p.regions.size());
      p.regions.push_back({kSramConstantRegion, target::RegionKind::kDeviceSram, 0});
    }
    p.tensors[c.tensor].region = constants;
    st.weights++;
    st.weight_bytes += c.size;
  }
  st.bytes_per_core = chip.SramBytesPerCore(st.arena_bytes) + chip.SramBytesPerCore(st.weight_bytes);
  if (stats) *stats = st;
  return absl::OkStatus();
}

}  // namespace kiln::compiler

#include "compiler/program/op_time.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace kiln::compiler {

double DramMicros(double bytes, const target::ChipConfig& chip) {
  return bytes / (chip.dram_bandwidth_gb_per_s * 1e3);
}

double OpTime::Micros(const target::ChipConfig& chip) const { return MicrosWithout(0, chip); }

double OpTime::MicrosWithout(double bytes, const target::ChipConfig& chip) const {
  return launch_us + std::max(compute_us, DramMicros(std::max(dram_bytes - bytes, 0.0), chip));
}

bool InDeviceDram(const ScheduledProgram& p, int t) {
  const ProgramTensor& x = p.tensors[p.tensors[t].is_alias() ? p.tensors[t].alias_of : t];
  if (x.in_caller_buffer()) return false;
  const target::RegionKind kind = p.regions[x.region].kind;
  return kind != target::RegionKind::kDeviceSram && kind != target::RegionKind::kHostScratch;
}

OpTime EstimateOp(const ScheduledProgram& p, const ProgramInstruction& inst, const target::ChipConfig& chip) {
  std::vector<ops::Shape> shapes;
  bool all_bf16 = true;
  for (int t : inst.inputs) {
    shapes.push_back(p.tensors[t].shape);
    all_bf16 = all_bf16 && p.tensors[t].dtype == ops::DType::kBF16;
  }
  const ops::Shape& out = p.tensors[inst.output].shape;
  OpTime time;
  time.launch_us = chip.op_launch_us;
  const std::vector<double> shares = ops::ReadSharesOf(*inst.op, shapes, out, inst.attrs);
  for (size_t i = 0; i < inst.inputs.size(); ++i)
    if (InDeviceDram(p, inst.inputs[i]))
      time.dram_bytes += std::ceil(static_cast<double>(p.tensors[inst.inputs[i]].size_bytes()) * shares[i]);
  if (InDeviceDram(p, inst.output)) time.dram_bytes += static_cast<double>(p.tensors[inst.output].size_bytes());
  const double work = inst.op->work ? inst.op->work(shapes, out, inst.attrs) : 0.0;
  // The busiest core's share: the work is dealt in whole tiles over at most every core.
  const int64_t tiles = std::max<int64_t>(ops::SplitOf(*inst.op, shapes, out, inst.attrs).tiles, 1);
  const int64_t used = std::min(tiles, chip.cores);
  const double busiest = static_cast<double>((tiles + used - 1) / used) / static_cast<double>(tiles);
  double per_core_rate = 0;  // work per cycle on one core
  switch (ops::UnitOf(*inst.op, shapes, out, inst.attrs)) {
    case ops::Unit::kMatrix:
      per_core_rate = chip.MatrixFlopsPerCyclePerCore(all_bf16 ? ops::DType::kBF16 : ops::DType::kF32);
      break;
    case ops::Unit::kVector:
      per_core_rate = static_cast<double>(chip.vector_elements_per_cycle_per_core);
      break;
    case ops::Unit::kDataMovement:
      break;  // bound by its DRAM traffic alone
  }
  if (per_core_rate > 0)
    time.compute_us = work * busiest / (per_core_rate * chip.cycles_per_us());
  return time;
}

}  // namespace kiln::compiler

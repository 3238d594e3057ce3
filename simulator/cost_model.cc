#include "simulator/cost_model.h"

#include <algorithm>

namespace kiln::sim {

OpCost CostModel::Op(ops::Unit unit, double work, int64_t dram_bytes_read,
                     int64_t dram_bytes_written) const {
  const double hz = config_.clock_ghz * 1e9;
  OpCost c;
  switch (unit) {
    case ops::Unit::kMatrix:
      c.compute_cycles = work / (config_.matrix_tflop_per_s * 1e12 / hz);
      break;
    case ops::Unit::kVector:
      c.compute_cycles =
          work / static_cast<double>(config_.vector_elements_per_cycle_per_core * config_.cores);
      break;
    case ops::Unit::kDataMovement:
      c.compute_cycles = 0;  // bound by DRAM traffic alone
      break;
  }
  const double bytes_per_cycle = config_.dram_bandwidth_gb_per_s * 1e9 / hz;
  c.memory_cycles = static_cast<double>(dram_bytes_read + dram_bytes_written) / bytes_per_cycle;
  c.launch_cycles = config_.op_launch_us * 1e-6 * hz;
  c.total_cycles = std::max(c.compute_cycles, c.memory_cycles) + c.launch_cycles;
  return c;
}

double CostModel::RooflineCycles(double flops, int64_t dram_bytes, int64_t host_link_bytes,
                                 int64_t transfers) const {
  const double hz = config_.clock_ghz * 1e9;
  const double compute = flops / (config_.matrix_tflop_per_s * 1e12 / hz);
  const double memory = static_cast<double>(dram_bytes) / (config_.dram_bandwidth_gb_per_s * 1e9 / hz);
  const double link = static_cast<double>(transfers) * config_.host_link_latency_us * 1e-6 * hz +
                      static_cast<double>(host_link_bytes) / (config_.host_link_gb_per_s * 1e9 / hz);
  return std::max(compute, memory) + link;
}

double CostModel::Transfer(int64_t bytes) const {
  const double hz = config_.clock_ghz * 1e9;
  return config_.host_link_latency_us * 1e-6 * hz +
         static_cast<double>(bytes) / (config_.host_link_gb_per_s * 1e9 / hz);
}

}  // namespace kiln::sim

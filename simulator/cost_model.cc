#include "simulator/cost_model.h"

#include <algorithm>

#include "ops/tile_layout.h"

namespace kiln::sim {

namespace {

// The busiest core's share of work dealt in `tiles` whole tiles over at most `cores` cores.
double BusiestShare(int64_t tiles, int64_t cores) {
  if (tiles <= 0) return 0.0;
  const int64_t used = std::min(cores, tiles);
  return static_cast<double>((tiles + used - 1) / used) / static_cast<double>(tiles);
}

}  // namespace

OpCost CostModel::Op(ops::Unit unit, ops::DType dtype, double work, const ops::WorkSplit& split,
                     int64_t dram_bytes_read, int64_t dram_bytes_written) const {
  const double hz = config_.clock_ghz * 1e9;
  OpCost c;
  c.tiles = std::max<int64_t>(split.tiles, 0);
  c.cores_used = std::min(config_.cores, c.tiles);
  double busiest = work * BusiestShare(c.tiles, config_.cores);
  if (split.combine_tiles > 0 && c.tiles > 0) {
    // Each combine tile's input tiles are a contiguous run of `per_output`; the busiest core holds
    // `share` tiles, so a run spans at most ceil(per_output / share) + 1 cores, each sending a partial.
    const int64_t per_output = (c.tiles + split.combine_tiles - 1) / split.combine_tiles;
    const int64_t share = (c.tiles + c.cores_used - 1) / c.cores_used;
    const int64_t partials = std::min(per_output, (per_output + share - 1) / share + 1);
    busiest += static_cast<double>(partials) * split.combine_work * BusiestShare(split.combine_tiles, config_.cores);
  }
  switch (unit) {
    case ops::Unit::kMatrix:
      c.compute_cycles = busiest / config_.MatrixFlopsPerCyclePerCore(dtype);
      break;
    case ops::Unit::kVector:
      c.compute_cycles = busiest / static_cast<double>(config_.vector_elements_per_cycle_per_core);
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

double CostModel::RooflineCycles(double matrix_flops, int64_t weight_bytes, int64_t io_bytes,
                                 int64_t io_tensors) const {
  const double hz = config_.clock_ghz * 1e9;
  const double best_rate = std::max(config_.MatrixFlopsPerCycle(ops::DType::kBF16),
                                    config_.MatrixFlopsPerCycle(ops::DType::kF32));
  const double compute = matrix_flops / best_rate;
  // Weights that fit the cores' SRAM can stay there across runs; the rest stream from DRAM each run.
  const int64_t streamed = std::max<int64_t>(weight_bytes - config_.sram_bytes(), 0);
  const double memory = static_cast<double>(streamed) / (config_.dram_bandwidth_gb_per_s * 1e9 / hz);
  const double link = static_cast<double>(io_tensors) * config_.host_link_latency_us * 1e-6 * hz +
                      static_cast<double>(io_bytes) / (config_.host_link_gb_per_s * 1e9 / hz);
  // The engines overlap, so only the largest of the three is a bound every schedule obeys.
  return std::max({compute, memory, link});
}

double CostModel::Transfer(int64_t bytes) const {
  const double hz = config_.clock_ghz * 1e9;
  return config_.host_link_latency_us * 1e-6 * hz +
         static_cast<double>(bytes) / (config_.host_link_gb_per_s * 1e9 / hz);
}

}  // namespace kiln::sim

#include "simulator/cost_model.h"

#include <algorithm>

#include "ops/tile_layout.h"

namespace kiln::sim {

int64_t OutputTiles(const ops::Shape& shape) { return ops::StoredElements(shape, ops::Layout::kTile) / ops::kTileElems; }

OpCost CostModel::Op(ops::Unit unit, ops::DType dtype, double work, int64_t output_tiles, int64_t dram_bytes_read,
                     int64_t dram_bytes_written) const {
  const double hz = config_.clock_ghz * 1e9;
  OpCost c;
  c.tiles = std::max<int64_t>(output_tiles, 0);
  c.cores_used = std::min(config_.cores, c.tiles);
  // The busiest core's share of the work: ceil(tiles / cores) of the tiles.
  const double busiest_share =
      c.tiles == 0 ? 0.0
                   : static_cast<double>((c.tiles + c.cores_used - 1) / c.cores_used) / static_cast<double>(c.tiles);
  switch (unit) {
    case ops::Unit::kMatrix:
      c.compute_cycles = work * busiest_share / config_.MatrixFlopsPerCyclePerCore(dtype);
      break;
    case ops::Unit::kVector:
      c.compute_cycles = work * busiest_share / static_cast<double>(config_.vector_elements_per_cycle_per_core);
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

// The chip's cost model: how many cycles an op or a transfer takes (principles in README.md).
#ifndef KILN_SIMULATOR_COST_MODEL_H_
#define KILN_SIMULATOR_COST_MODEL_H_

#include <cstdint>

#include "ops/dtype.h"
#include "ops/op_def.h"
#include "ops/tile_layout.h"
#include "target/chip_config.h"

namespace kiln::sim {

struct OpCost {
  int64_t tiles = 0;          // the tiles the cores share (ops::WorkSplit)
  int64_t cores_used = 0;     // min(cores, tiles)
  double compute_cycles = 0;  // the busiest core's share of the work (and of the combine) / one core's rate
  double memory_cycles = 0;   // DRAM bytes / DRAM bandwidth (the whole chip's)
  double launch_cycles = 0;
  double total_cycles = 0;    // launch + max(compute, memory), when DRAM is not busy with another op
};

class CostModel {
 public:
  explicit CostModel(const target::ChipConfig& config) : config_(config) {}

  // `work` from the op's WorkFn, split evenly over `split.tiles`; whole tiles go to cores (as the
  // chip's op library assigns them), so the op takes as long as its busiest core, and a split with
  // combine tiles then merges the cores' partial results (ops::WorkSplit). `dtype` picks the matrix
  // engine's rate. Bytes are the stored (tile-padded) bytes read and written in DRAM.
  OpCost Op(ops::Unit unit, ops::DType dtype, double work, const ops::WorkSplit& split, int64_t dram_bytes_read,
            int64_t dram_bytes_written) const;
  // One DMA over the host link: fixed latency plus bytes / link bandwidth.
  double Transfer(int64_t bytes) const;

  // A lower bound on any run of a program on this chip, whatever its schedule (definition in
  // README.md): the largest of the matrix FLOPs at the chip's best matrix rate, the weight bytes that
  // cannot stay in on-chip SRAM over DRAM bandwidth, and the host-link time of the inputs and outputs.
  double RooflineCycles(double matrix_flops, int64_t weight_bytes, int64_t io_bytes, int64_t io_tensors) const;

  double CyclesToMicros(double cycles) const { return cycles / (config_.clock_ghz * 1e3); }

 private:
  target::ChipConfig config_;  // a copy, so a copied Device never points at another's config
};

}  // namespace kiln::sim

#endif  // KILN_SIMULATOR_COST_MODEL_H_

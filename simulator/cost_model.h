// The chip's cost model: how many cycles an op or a transfer takes (principles in README.md).
#ifndef KILN_SIMULATOR_COST_MODEL_H_
#define KILN_SIMULATOR_COST_MODEL_H_

#include <cstdint>

#include "ops/op_def.h"
#include "target/chip_config.h"

namespace kiln::sim {

struct OpCost {
  double compute_cycles = 0;  // work / unit throughput
  double memory_cycles = 0;   // DRAM bytes / DRAM bandwidth
  double launch_cycles = 0;
  double total_cycles = 0;    // max(compute, memory) + launch
};

class CostModel {
 public:
  explicit CostModel(const target::ChipConfig& config) : config_(config) {}

  // `work` from the op's WorkFn; bytes are the stored (tile-padded) sizes read and written in DRAM.
  OpCost Op(ops::Unit unit, double work, int64_t dram_bytes_read, int64_t dram_bytes_written) const;
  // One DMA over the host link: fixed latency plus bytes / link bandwidth.
  double Transfer(int64_t bytes) const;

  // The chip's roofline for a whole program: max(matrix FLOPs / peak, DRAM bytes that must move /
  // bandwidth) plus the host-link time no schedule avoids. Simulated time / this bound is the
  // compiler's figure of merit (1.0 is perfect).
  double RooflineCycles(double flops, int64_t dram_bytes, int64_t host_link_bytes, int64_t transfers) const;

  double CyclesToMicros(double cycles) const { return cycles / (config_.clock_ghz * 1e3); }

 private:
  target::ChipConfig config_;  // a copy, so a copied Device never points at another's config
};

}  // namespace kiln::sim

#endif  // KILN_SIMULATOR_COST_MODEL_H_

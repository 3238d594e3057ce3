// The simulated chip's parameters. The defaults live in one file, configs/wormhole_n150.json (taken
// from a shipping card, see README.md); tests and benchmarks load or edit their own.
#ifndef KILN_SIMULATOR_CHIP_CONFIG_H_
#define KILN_SIMULATOR_CHIP_CONFIG_H_

#include <cstdint>
#include <string>

#include "simulator/status.h"

namespace kiln::sim {

struct ChipConfig {
  std::string name;
  double clock_ghz = 0;
  int64_t cores = 0;
  int64_t sram_bytes_per_core = 0;
  int64_t dram_bytes = 0;
  double dram_bandwidth_gb_per_s = 0;
  double matrix_tflop_per_s = 0;
  int64_t vector_elements_per_cycle_per_core = 0;
  double host_link_gb_per_s = 0;
  double host_link_latency_us = 0;
  double op_launch_us = 0;

  int64_t sram_bytes() const { return sram_bytes_per_core * cores; }
};

// Parses a JSON chip description; every field is required and must be positive.
Status ParseChipConfig(const std::string& json_text, ChipConfig* out);
Status LoadChipConfig(const std::string& path, ChipConfig* out);
// The built-in default (configs/wormhole_n150.json, embedded at build time).
const ChipConfig& DefaultChipConfig();

}  // namespace kiln::sim

#endif  // KILN_SIMULATOR_CHIP_CONFIG_H_

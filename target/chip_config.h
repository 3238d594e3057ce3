// The target description: the facts about the chip that the compiler plans against, the simulator
// models and the runtime checks programs against. It lives apart from the simulator (as tt-mlir reads
// the chip from its target, not from a device library), so the compiler never links a simulator.
// The defaults live in one file, configs/wormhole_n150.json (a shipping card, see target/README.md);
// tests and benchmarks load or edit their own.
#ifndef KILN_TARGET_CHIP_CONFIG_H_
#define KILN_TARGET_CHIP_CONFIG_H_

#include <cstdint>
#include <string>

#include "base/status.h"
#include "ops/dtype.h"

namespace kiln::target {

struct ChipConfig {
  std::string name;
  double clock_ghz = 0;
  int64_t cores = 0;
  int64_t sram_bytes_per_core = 0;
  // SRAM per core the compiler may not place tensors in: firmware, kernel binaries and the op
  // library's streaming (circular) buffers (target/README.md). Less than sram_bytes_per_core.
  int64_t sram_reserved_bytes_per_core = 0;
  int64_t dram_bytes = 0;
  double dram_bandwidth_gb_per_s = 0;  // as measured (a ceiling the simulator never beats)
  // The matrix engine: FLOPs per cycle per core in one fidelity phase, the phases a dtype's full
  // mantissa takes, and the best rate measured on the whole chip for bf16 (which caps every dtype,
  // scaled by its phases).
  int64_t matrix_flop_per_cycle_per_core = 0;
  int64_t matrix_fidelity_phases_bf16 = 0;
  int64_t matrix_fidelity_phases_f32 = 0;
  double matrix_best_bf16_tflop_per_s = 0;
  int64_t vector_elements_per_cycle_per_core = 0;
  double host_link_gb_per_s = 0;
  double host_link_latency_us = 0;
  double op_launch_us = 0;
  int64_t tile = 0;  // native tile edge in elements; must be the op library's (ops/tile_layout.h)

  int64_t sram_bytes() const { return sram_bytes_per_core * cores; }
  // What SRAM regions may hold on each core, and on the whole chip.
  int64_t sram_usable_bytes_per_core() const { return sram_bytes_per_core - sram_reserved_bytes_per_core; }
  int64_t sram_usable_bytes() const { return sram_usable_bytes_per_core() * cores; }
  // A DEVICE_SRAM region is interleaved over all cores (as tt-metal's L1-interleaved buffers), so
  // `region_bytes` of it take this much of each core's SRAM.
  int64_t SramBytesPerCore(uint64_t region_bytes) const {
    return static_cast<int64_t>((region_bytes + static_cast<uint64_t>(cores) - 1) / static_cast<uint64_t>(cores));
  }
  double cycles_per_us() const { return clock_ghz * 1e3; }
  // The matrix engine's modelled rate for operands of `dtype` (bf16 at its measured best; f32 and
  // the integer types, which the device computes in fp32, at bf16's rate times the phase ratio), in
  // FLOPs per cycle on the whole chip and on one core.
  double MatrixFlopsPerCycle(ops::DType dtype) const;
  double MatrixFlopsPerCyclePerCore(ops::DType dtype) const { return MatrixFlopsPerCycle(dtype) / cores; }
  // The peak the spec sheet would give for bf16: cores x FLOPs per cycle / phases, in TFLOP/s.
  double MatrixPeakBf16TflopPerS() const;
};

// Parses a JSON chip description; every field is required, positive and within sane bounds (so no
// later integer conversion can overflow).
Status ParseChipConfig(const std::string& json_text, ChipConfig* out);
Status LoadChipConfig(const std::string& path, ChipConfig* out);
// The built-in default (configs/wormhole_n150.json, embedded at build time and checked by
// chip_config_test; a malformed embedded file aborts at first use, as the build defect it is).
const ChipConfig& DefaultChipConfig();

// A byte count as tools take it: a number with an optional binary unit, "24MiB", "1.5GiB", "512KiB",
// "4096" or "4096B". Fails, naming the text, on anything else, on zero, and beyond 2^50 bytes.
Status ParseByteSize(const std::string& text, int64_t* bytes);

}  // namespace kiln::target

#endif  // KILN_TARGET_CHIP_CONFIG_H_

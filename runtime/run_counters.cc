#include "runtime/run_counters.h"

namespace kiln::runtime {

std::vector<NamedCounter> CountersByName(const RunStats& stats, const Device& device) {
  const DeviceCounters& c = stats.counters;
  auto count = [](const char* name, int64_t v) { return NamedCounter{name, static_cast<double>(v), true}; };
  auto real = [](const char* name, double v) { return NamedCounter{name, v, false}; };
  return {real("latency_us", stats.latency_us),
          real("compute_us", device.CyclesToMicros(c.compute_cycles)),
          real("transfer_us", device.CyclesToMicros(c.transfer_cycles)),
          count("ops_executed", c.ops_executed),
          count("transfers", c.transfers),
          count("host_to_device_bytes", c.host_to_device_bytes),
          count("device_to_host_bytes", c.device_to_host_bytes),
          count("dram_read_bytes", c.dram_read_bytes),
          count("dram_write_bytes", c.dram_write_bytes),
          count("sram_read_bytes", c.sram_read_bytes),
          count("sram_write_bytes", c.sram_write_bytes),
          real("matrix_flops_padded", c.flops),
          count("device_bytes_in_use", stats.device_bytes_in_use),
          count("spill_bytes", stats.spill_bytes),
          count("reload_bytes", stats.reload_bytes),
          real("eviction_us", stats.eviction_us)};
}

}  // namespace kiln::runtime

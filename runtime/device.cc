#include "runtime/device.h"

namespace kiln::runtime {

const char* EngineName(Engine engine) {
  switch (engine) {
    case Engine::kHostLink: return "host link";
    case Engine::kDramDma: return "DRAM DMA";
    case Engine::kMatrix: return "matrix";
    case Engine::kVector: return "vector";
  }
  return "?";
}

DeviceCounters DeviceCounters::Since(const DeviceCounters& b) const {
  DeviceCounters d = *this;
  d.cycles -= b.cycles;
  d.compute_cycles -= b.compute_cycles;
  d.transfer_cycles -= b.transfer_cycles;
  d.ops_executed -= b.ops_executed;
  d.transfers -= b.transfers;
  d.host_to_device_bytes -= b.host_to_device_bytes;
  d.device_to_host_bytes -= b.device_to_host_bytes;
  d.dram_read_bytes -= b.dram_read_bytes;
  d.dram_write_bytes -= b.dram_write_bytes;
  d.sram_read_bytes -= b.sram_read_bytes;
  d.sram_write_bytes -= b.sram_write_bytes;
  d.flops -= b.flops;
  for (auto* m : {&d.op_cycles, &d.op_core_cycles})
    for (auto& [name, cycles] : *m) {
      const auto& before = m == &d.op_cycles ? b.op_cycles : b.op_core_cycles;
      auto it = before.find(name);
      if (it != before.end()) cycles -= it->second;
    }
  return d;
}

}  // namespace kiln::runtime

#include "runtime/device.h"

namespace kiln::runtime {

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
  d.flops -= b.flops;
  for (auto& [name, cycles] : d.op_cycles) {
    auto it = b.op_cycles.find(name);
    if (it != b.op_cycles.end()) cycles -= it->second;
  }
  return d;
}

}  // namespace kiln::runtime

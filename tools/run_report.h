// A run's facts as JSON (`run --stats-json FILE`), for tools such as the model report
// (torch_frontend/model_report.py): totals, the chip, and one record per instruction with its
// simulated start and duration, and the activation bytes live while it runs; and the run as a trace.
#ifndef KILN_TOOLS_RUN_REPORT_H_
#define KILN_TOOLS_RUN_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "runtime/executor.h"
#include "runtime/run_counters.h"
#include "runtime/program.h"

namespace kiln::tools {

// Bytes of the activation (non-constant, device-resident) tensors live during each instruction: a
// tensor is live from the instruction that writes it to the last one that reads it, as the memory
// planner sees it. One entry per instruction.
std::vector<int64_t> LiveActivationBytes(const runtime::Program& program);

struct RunFacts {
  std::string chip;
  double load_us = 0;
  int64_t load_host_to_device_bytes = 0;
  int64_t peak_device_bytes = 0;
  double host_wall_us = 0;  // the Run call on this machine (the functional simulator's own time)
};

Status WriteRunJson(const std::string& path, const runtime::Program& program, const runtime::RunStats& stats,
                    const runtime::Device& device, const RunFacts& facts);

// The run as a Chrome trace (the JSON trace event format; Perfetto and chrome://tracing open it): one
// track per engine (host link, DRAM DMA, matrix, vector), one complete event per instruction, in
// simulated microseconds, with its op, node, bytes and cores in args.
Status WriteTraceJson(const std::string& path, const runtime::Program& program, const runtime::RunStats& stats);

// What an instruction is, for people: "host->device", "device->host" or the op's name.
std::string InstructionLabel(const runtime::Instruction& inst);

}  // namespace kiln::tools

#endif  // KILN_TOOLS_RUN_REPORT_H_

// What an op of a scheduled program costs at least on a chip, from the chip description alone: the
// one estimate the passes that weigh op time (sram-residency, prefetch, prefetch-weights) share. It
// follows the simulator's cost model (simulator/cost_model.h) where that is exact and stays below it
// elsewhere: the op runs on the engine ops::UnitOf names, its work is dealt to the cores in the whole
// tiles ops::SplitOf gives and it takes as long as the busiest core at full rate (a reduction's combine
// step only adds), and it reads each operand's ops::ReadSharesOf.
#ifndef KILN_COMPILER_PROGRAM_OP_TIME_H_
#define KILN_COMPILER_PROGRAM_OP_TIME_H_

#include <functional>

#include "compiler/program/scheduled_program.h"
#include "target/chip_config.h"

namespace kiln::compiler {

struct OpTime {
  double launch_us = 0;
  double compute_us = 0;  // on its engine
  double dram_bytes = 0;  // operands' read shares and the result, of those in DRAM

  // launch + max(compute, DRAM bytes / DRAM bandwidth): the engine and the DRAM work at once.
  double Micros(const target::ChipConfig& chip) const;
  // The same with `bytes` fewer DRAM bytes (e.g. an operand moved to SRAM).
  double MicrosWithout(double bytes, const target::ChipConfig& chip) const;
};

// Whether tensor `t` of `p` is read and written through device DRAM (not SRAM, not host memory, not a
// caller buffer; an alias as its target).
bool InDeviceDram(const ScheduledProgram& p, int t);

// The estimate for `inst` (an op of `p`) as `p` places its tensors now.
OpTime EstimateOp(const ScheduledProgram& p, const ProgramInstruction& inst, const target::ChipConfig& chip);

// Time to move `bytes` through DRAM at the chip's measured bandwidth, in microseconds.
double DramMicros(double bytes, const target::ChipConfig& chip);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PROGRAM_OP_TIME_H_

// Naive placement: the baseline a compiler is measured against (the benchmark table in
// docs/BENCHMARKS.md), not a way to run models. Every value lives on the host; each op uploads its
// operands (weights included) to the device, computes, and downloads its result, so nothing stays on
// the device between ops. Used with no folding, fusion or reordering (CompileOptions::naive).
#ifndef KILN_COMPILER_PASSES_NAIVE_PLACEMENT_H_
#define KILN_COMPILER_PASSES_NAIVE_PLACEMENT_H_

#include "absl/status/statusor.h"
#include "compiler/lowering/device_graph.h"
#include "compiler/program/scheduled_program.h"

namespace kiln::compiler {

absl::StatusOr<ScheduledProgram> PlaceGraphNaively(DeviceGraph graph, ops::DType device_dtype);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PASSES_NAIVE_PLACEMENT_H_

// The structural verifier the pipeline runs between passes (CompileOptions::verify_each): checks the
// invariants every pass may assume, so a pass that breaks one is caught right after it runs rather
// than as a wrong result or a crash passes later. Errors name the node or instruction (with its
// printed line, printer.h) and the tensor at fault.
#ifndef KILN_COMPILER_PIPELINE_VERIFIER_H_
#define KILN_COMPILER_PIPELINE_VERIFIER_H_

#include "absl/status/status.h"
#include "compiler/lowering/device_graph.h"
#include "compiler/program/scheduled_program.h"

namespace kiln::compiler {

// Every value id in range; user inputs are input values; constants hold one value per element;
// each node's op exists and accepts its operands and attributes (ops::InferOutputShape) with the
// result's recorded shape; operands are defined before use; each result is produced once; every
// output is defined.
absl::Status VerifyDeviceGraph(const DeviceGraph& graph);

// Every tensor id in range; inputs and outputs are host tensors; ops read and write device tensors
// and are valid for their operand shapes; transfers copy host -> device arena or device -> host
// between tensors of one shape; every operand is written before it is read and each tensor is
// written once; every output is written.
absl::Status VerifyProgram(const ScheduledProgram& program);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PIPELINE_VERIFIER_H_

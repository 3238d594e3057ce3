// The text form of the compiler's two IRs, one line per op, for dumps (compile --dump-after), golden
// tests and error messages. Stable and diff-friendly: values are named (never by pointer), attributes
// sorted by name, weights summarized by shape, dtype and bytes (their values are never printed).
//
// Device graph:
//   device graph: 1 input, 1 output, 2 nodes, 2 constants (8320 B)
//     input  %x : f32[32, 64]
//     const  %fc.weight : f32[32, 64] 8192 B
//     %permute = permute(%fc.weight) {dims=[1, 0]} : f32[64, 32]  (from permute)
//     output relu = %relu
// Scheduled program (after memory planning; before it, places have no offsets):
//     0: %x.device = copy_to_device(%x) : f32[32, 64] tile 8192 B arena@0  (from x)
//
// A value whose name is not unique is printed with its occurrence, e.g. %relu#1 for the second.
#ifndef KILN_COMPILER_PROGRAM_PRINTER_H_
#define KILN_COMPILER_PROGRAM_PRINTER_H_

#include <string>

#include "compiler/lowering/device_graph.h"
#include "compiler/program/scheduled_program.h"

namespace kiln::compiler {

std::string PrintDeviceGraph(const DeviceGraph& graph);
// One node's line (without indentation), as PrintDeviceGraph prints it.
std::string PrintDeviceNode(const DeviceGraph& graph, int node);
// A value's printed name ("%x", "%relu#1").
std::string DeviceValueName(const DeviceGraph& graph, int value);

// `memory_planned`: print each device tensor's offset (set by memory planning).
std::string PrintProgram(const ScheduledProgram& program, bool memory_planned);
// One instruction's line, as PrintProgram prints it after its index.
std::string PrintInstruction(const ScheduledProgram& program, int instruction, bool memory_planned);
std::string ProgramTensorName(const ScheduledProgram& program, int tensor);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PROGRAM_PRINTER_H_

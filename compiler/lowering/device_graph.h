// The lowered graph: device ops of the op library (ops/) over typed values, before placement.
// Constants hold their values (row-major fp32) so passes such as constant folding can compute them.
#ifndef KILN_COMPILER_LOWERING_DEVICE_GRAPH_H_
#define KILN_COMPILER_LOWERING_DEVICE_GRAPH_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ops/attrs.h"
#include "ops/dtype.h"
#include "ops/op_def.h"

namespace kiln::compiler {

struct DeviceValue {
  // kState: a module buffer the program updates (a KV cache): it holds `constant` when the program
  // is loaded and, after each run, the value DeviceGraph::state_updates gives it.
  enum class Kind { kInput, kConstant, kIntermediate, kState };
  std::string name;
  ops::Shape shape;
  // The dtype the caller sees where the value crosses to the host (inputs and outputs: f32, i64,
  // i32 or bool); placement derives the device storage from it. Other values are f32.
  ops::DType dtype = ops::DType::kF32;
  Kind kind = Kind::kIntermediate;
  std::vector<float> constant;  // kConstant; kState: the initial value
};

struct DeviceNode {
  const ops::OpDef* op = nullptr;
  std::vector<int> inputs;  // value ids
  int output = -1;
  ops::Attrs attrs;
  std::string source;  // the ATen node this came from
};

struct DeviceGraph {
  std::vector<DeviceValue> values;
  std::vector<DeviceNode> nodes;  // topological order
  std::vector<std::pair<std::string, int>> inputs;   // user inputs: name, value id
  std::vector<std::pair<std::string, int>> outputs;  // user outputs: name, value id
  // (state value, the value it holds when a run ends): the buffer mutations of the exported module.
  std::vector<std::pair<int, int>> state_updates;

  int AddInput(const std::string& name, ops::Shape shape, ops::DType dtype = ops::DType::kF32);
  int AddConstant(const std::string& name, ops::Shape shape, std::vector<float> values);
  // A constant of whole numbers the program indexes or counts with (a take's index map, positions):
  // stored as i32 on the device whatever the device dtype, since bf16 holds integers exactly only to 256.
  int AddIndexConstant(const std::string& name, ops::Shape shape, std::vector<float> values);
  int AddState(const std::string& name, ops::Shape shape, ops::DType dtype, std::vector<float> initial);
  // How often each value is read: once per operand slot of a node that takes it, plus once per read
  // outside the nodes (a graph output, the value a state update copies in), so a pass that rewrites
  // a value's only reader (fusion, folding) sees that the caller or the state needs it too.
  std::vector<int> ReadCounts() const;
  // Drops the nodes marked in `removed` (one flag per node), keeping the others in order.
  void EraseNodes(const std::vector<bool>& removed);
  // Appends `op` over `inputs`, inferring the result's shape with the op library; the error names
  // the op and `source`.
  absl::StatusOr<int> AddNode(const std::string& op, std::vector<int> inputs, ops::Attrs attrs,
                              const std::string& source, const std::string& result_name);
};

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_LOWERING_DEVICE_GRAPH_H_

// The compiler driver: pt2 -> ATen graph -> lowered graph -> scheduled program -> .kiln bytes.
#ifndef KILN_COMPILER_COMPILER_H_
#define KILN_COMPILER_COMPILER_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "compiler/aten/aten_graph.h"
#include "ops/dtype.h"
#include "target/chip_config.h"

namespace kiln::compiler {

struct CompileOptions {
  target::ChipConfig chip = target::DefaultChipConfig();  // capacity the memory plan must fit
  bool fold_constants = true;
  ops::DType device_dtype = ops::DType::kF32;  // storage of weights and activations on the device
};

struct CompileSummary {
  int aten_nodes = 0;
  int device_ops = 0;
  int folded_nodes = 0;
  int transfers = 0;
  std::map<std::string, int> ops_by_name;
  uint64_t arena_bytes = 0;
  uint64_t constant_bytes = 0;
  uint64_t peak_device_bytes = 0;
  uint64_t activation_bytes_without_reuse = 0;

  std::string ToString() const;
};

struct CompileResult {
  std::string kiln;  // the .kiln file's bytes
  CompileSummary summary;
};

absl::StatusOr<CompileResult> Compile(const AtenGraph& graph, const CompileOptions& options = {});
absl::StatusOr<CompileResult> CompilePt2File(const std::string& path, const CompileOptions& options = {});

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_COMPILER_H_

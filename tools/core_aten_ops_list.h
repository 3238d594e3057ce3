// Reads the list tools/core_aten_ops.py writes: a "# torch <version>" line, then one ATen overload
// per line ("aten.add.Tensor").
#ifndef KILN_TOOLS_CORE_ATEN_OPS_LIST_H_
#define KILN_TOOLS_CORE_ATEN_OPS_LIST_H_

#include <string>
#include <vector>

namespace kiln::tools {

struct CoreAtenOps {
  std::string torch_version;
  std::vector<std::string> overloads;
};

// Returns "" and fills *out, or a message naming the file and what is wrong with it.
std::string ReadCoreAtenOps(const std::string& path, CoreAtenOps* out);

}  // namespace kiln::tools

#endif  // KILN_TOOLS_CORE_ATEN_OPS_LIST_H_

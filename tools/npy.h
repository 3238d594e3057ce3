// Minimal .npy reading and writing (little-endian float32, C order): how the command-line tools
// exchange tensors with torch_frontend and NumPy.
#ifndef KILN_TOOLS_NPY_H_
#define KILN_TOOLS_NPY_H_

#include <string>
#include <vector>

#include "runtime/executor.h"
#include "base/status.h"

namespace kiln::tools {

Status ReadNpy(const std::string& path, runtime::HostTensor* out);
Status WriteNpy(const std::string& path, const runtime::HostTensor& tensor);

}  // namespace kiln::tools

#endif  // KILN_TOOLS_NPY_H_

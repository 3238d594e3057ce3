// Minimal .npy reading and writing (C order; float32 '<f4', float16 '<f2', bfloat16 '<V2' as
// ml_dtypes saves it, float64 '<f8', int64 '<i8', int32 '<i4', bool '|b1', complex64 '<c8' as a c64
// tensor of shape + [2], ops/dtype.h): how the command-line tools exchange tensors with
// torch_frontend and NumPy.
#ifndef KILN_TOOLS_NPY_H_
#define KILN_TOOLS_NPY_H_

#include <string>
#include <string_view>
#include <vector>

#include "runtime/executor.h"
#include "base/status.h"

namespace kiln::tools {

// Reads a regular file (not a directory, device or FIFO), at most its size on disk.
Status ReadNpy(const std::string& path, runtime::HostTensor* out);
// Parses the bytes of a .npy file; errors start with `display_name` and give file byte offsets.
// The header is at most kMaxNpyHeaderBytes (NumPy's own limit when reading) and its element count
// must match the data exactly.
Status ParseNpy(std::string_view bytes, const std::string& display_name, runtime::HostTensor* out);
Status WriteNpy(const std::string& path, const runtime::HostTensor& tensor);

inline constexpr size_t kMaxNpyHeaderBytes = 10000;

}  // namespace kiln::tools

#endif  // KILN_TOOLS_NPY_H_

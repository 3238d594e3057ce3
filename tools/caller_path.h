// `bazel run` starts tools in their runfiles tree; a relative path on the command line means the
// caller's directory, which Bazel passes as BUILD_WORKING_DIRECTORY.
#ifndef KILN_TOOLS_CALLER_PATH_H_
#define KILN_TOOLS_CALLER_PATH_H_

#include <cstdlib>
#include <string>

namespace kiln::tools {

inline std::string FromCallerDir(const std::string& path) {
  const char* dir = std::getenv("BUILD_WORKING_DIRECTORY");
  return (dir && !path.empty() && path[0] != '/') ? std::string(dir) + "/" + path : path;
}

}  // namespace kiln::tools

#endif  // KILN_TOOLS_CALLER_PATH_H_

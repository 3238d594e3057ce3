#include "tools/core_aten_ops_list.h"

#include <fstream>

namespace kiln::tools {

std::string ReadCoreAtenOps(const std::string& path, CoreAtenOps* out) {
  std::ifstream in(path);
  if (!in) return "cannot open " + path;
  std::string line;
  constexpr char kHeader[] = "# torch ";
  if (!std::getline(in, line) || line.rfind(kHeader, 0) != 0)
    return path + ": first line must be '# torch <version>'";
  out->torch_version = line.substr(sizeof(kHeader) - 1);
  out->overloads.clear();
  for (int n = 2; std::getline(in, line); ++n) {
    if (line.rfind("aten.", 0) != 0 || line.find(' ') != std::string::npos)
      return path + ":" + std::to_string(n) + ": expected an overload such as aten.add.Tensor, got '" +
             line.substr(0, 80) + "'";
    out->overloads.push_back(line);
  }
  if (out->overloads.empty()) return path + ": lists no overloads";
  return "";
}

}  // namespace kiln::tools

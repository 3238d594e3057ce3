// Building device graphs by hand in the compiler's tests (passes, transformer passes).
#ifndef KILN_COMPILER_GRAPH_TEST_UTIL_H_
#define KILN_COMPILER_GRAPH_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "compiler/lowering/device_graph.h"
#include "gtest/gtest.h"
#include "ops/attrs.h"

namespace kiln::compiler {

// Adds `op` over `inputs`; its value and source are named `name`, or op + node index. -1 (and a test
// failure) when the graph refuses it.
inline int Node(DeviceGraph& g, const std::string& op, std::vector<int> inputs, ops::Attrs attrs = {},
                const std::string& name = "") {
  const std::string n = name.empty() ? op + std::to_string(g.nodes.size()) : name;
  absl::StatusOr<int> id = g.AddNode(op, std::move(inputs), std::move(attrs), n, n);
  EXPECT_TRUE(id.ok()) << id.status();
  return id.ok() ? *id : -1;
}

// {shape} for reshape, {dims} for permute.
inline ops::Attrs ShapeAttrs(std::vector<int64_t> shape) {
  ops::Attrs a;
  a.SetInts("shape", std::move(shape));
  return a;
}
inline ops::Attrs DimsAttrs(std::vector<int64_t> dims) {
  ops::Attrs a;
  a.SetInts("dims", std::move(dims));
  return a;
}

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_GRAPH_TEST_UTIL_H_

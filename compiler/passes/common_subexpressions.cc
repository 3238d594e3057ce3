#include "compiler/passes/common_subexpressions.h"

#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiln::compiler {
namespace {

template <typename T>
void AppendBytes(std::string& key, const T& v) {
  key.append(reinterpret_cast<const char*>(&v), sizeof(v));
}

// Everything that decides a node's result, as bytes: op, operands, attributes (floats by their
// bits, so -0.0 and 0.0 differ and a NaN equals itself) and the result's dtype.
std::string NodeKey(const DeviceNode& node, const DeviceValue& result) {
  std::string key(node.op->name);
  key.push_back('\0');
  AppendBytes(key, result.dtype);
  AppendBytes(key, node.inputs.size());
  for (int v : node.inputs) AppendBytes(key, v);
  for (const auto& [name, a] : node.attrs.values()) {
    key.append(name);
    key.push_back('\0');
    AppendBytes(key, a.kind);
    AppendBytes(key, a.ints.size());
    for (int64_t i : a.ints) AppendBytes(key, i);
    AppendBytes(key, a.f);
  }
  return key;
}

bool SameConstant(const DeviceValue& a, const DeviceValue& b) {
  return a.dtype == b.dtype && a.shape == b.shape && a.constant.size() == b.constant.size() &&
         std::memcmp(a.constant.data(), b.constant.data(), a.constant.size() * sizeof(float)) == 0;
}

}  // namespace

absl::Status EliminateCommonSubexpressions(DeviceGraph& graph, CseStats* stats) {
  const int num_values = static_cast<int>(graph.values.size());
  std::vector<int> canonical(num_values);
  for (int v = 0; v < num_values; ++v) canonical[v] = v;

  // Constants, bucketed by a hash of their bytes and compared in full within a bucket.
  std::unordered_map<size_t, std::vector<int>> buckets;
  for (int v = 0; v < num_values; ++v) {
    const DeviceValue& c = graph.values[v];
    if (c.kind != DeviceValue::Kind::kConstant) continue;
    const std::string_view bytes(reinterpret_cast<const char*>(c.constant.data()), c.constant.size() * sizeof(float));
    std::vector<int>& bucket = buckets[std::hash<std::string_view>{}(bytes)];
    for (int earlier : bucket)
      if (SameConstant(graph.values[earlier], c)) {
        canonical[v] = earlier;
        if (stats) stats->constants++;
        break;
      }
    if (canonical[v] == v) bucket.push_back(v);
  }

  // Values the caller or the state reads outside the nodes keep their own node.
  std::vector<bool> pinned(num_values, false);
  for (const auto& [name, v] : graph.outputs) pinned[v] = true;
  for (const auto& [state, v] : graph.state_updates) pinned[state] = pinned[v] = true;

  std::unordered_map<std::string, int> computed;  // node key -> the value that holds it
  std::vector<DeviceNode> kept;
  kept.reserve(graph.nodes.size());
  for (DeviceNode& node : graph.nodes) {
    for (int& v : node.inputs) v = canonical[v];
    auto [it, inserted] = computed.emplace(NodeKey(node, graph.values[node.output]), node.output);
    if (!inserted && !pinned[node.output]) {
      canonical[node.output] = it->second;
      if (stats) stats->nodes++;
      continue;
    }
    kept.push_back(std::move(node));
  }
  graph.nodes = std::move(kept);
  return absl::OkStatus();
}

}  // namespace kiln::compiler

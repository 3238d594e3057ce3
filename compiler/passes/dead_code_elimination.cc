#include "compiler/passes/dead_code_elimination.h"

#include <vector>

namespace kiln::compiler {

absl::Status EliminateDeadCode(DeviceGraph& graph) {
  std::vector<bool> live(graph.values.size(), false);
  for (const auto& [name, v] : graph.outputs) live[v] = true;
  for (const auto& [name, v] : graph.inputs) live[v] = true;  // inputs stay part of the signature
  for (const auto& [state, value] : graph.state_updates) live[state] = live[value] = true;
  std::vector<bool> keep(graph.nodes.size(), false);
  for (size_t i = graph.nodes.size(); i-- > 0;) {
    const DeviceNode& node = graph.nodes[i];
    if (!live[node.output]) continue;
    keep[i] = true;
    for (int v : node.inputs) live[v] = true;
  }
  std::vector<DeviceNode> nodes;
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    if (keep[i]) nodes.push_back(std::move(graph.nodes[i]));
  graph.nodes = std::move(nodes);
  // Free the data of dead constants; ids stay stable so other passes' indices remain valid.
  for (size_t v = 0; v < graph.values.size(); ++v)
    if (!live[v] && graph.values[v].kind == DeviceValue::Kind::kConstant) {
      graph.values[v].constant.clear();
      graph.values[v].constant.shrink_to_fit();
    }
  return absl::OkStatus();
}

std::vector<int> LiveReadCounts(const DeviceGraph& graph, std::vector<bool>* dead) {
  std::vector<int> reads = graph.ReadCounts();
  dead->assign(graph.nodes.size(), false);
  for (size_t i = graph.nodes.size(); i-- > 0;) {  // readers come after their operands' producers
    if (reads[graph.nodes[i].output] > 0) continue;
    (*dead)[i] = true;
    for (int v : graph.nodes[i].inputs) --reads[v];
  }
  return reads;
}

LiveUses FindLiveUses(const DeviceGraph& graph) {
  LiveUses u;
  u.readers = LiveReadCounts(graph, &u.dead);
  u.producer.assign(graph.values.size(), -1);
  u.reader.assign(graph.values.size(), -1);
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    u.producer[graph.nodes[n].output] = static_cast<int>(n);
    if (!u.dead[n])  // a dead node's reads do not count
      for (int v : graph.nodes[n].inputs) u.reader[v] = static_cast<int>(n);
  }
  return u;
}

}  // namespace kiln::compiler

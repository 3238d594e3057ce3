#include "compiler/passes/op_ordering.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kiln::compiler {
namespace {

// Per value: its bytes when it is an activation (0 for constants), which node produces it, how many
// nodes read it, and whether the caller reads it (an output, downloaded right after its producer).
struct Uses {
  std::vector<uint64_t> bytes;
  std::vector<int> producer;
  std::vector<int> readers;
  std::vector<std::vector<int>> operands;  // per node: its distinct operand values
};

Uses CountUses(const DeviceGraph& g) {
  Uses u;
  const size_t nv = g.values.size();
  u.bytes.assign(nv, 0);
  u.producer.assign(nv, -1);
  u.readers.assign(nv, 0);
  for (size_t v = 0; v < nv; ++v)
    if (g.values[v].kind != DeviceValue::Kind::kConstant)
      u.bytes[v] = 4 * static_cast<uint64_t>(ops::NumElements(g.values[v].shape));
  u.operands.resize(g.nodes.size());
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    u.producer[g.nodes[n].output] = static_cast<int>(n);
    std::vector<int>& ops = u.operands[n];
    ops = g.nodes[n].inputs;
    std::sort(ops.begin(), ops.end());
    ops.erase(std::unique(ops.begin(), ops.end()), ops.end());
    for (int v : ops) ++u.readers[v];
  }
  return u;
}

// Walks nodes in some order, tracking live bytes: a value becomes live when its producer runs (an
// input: when its first reader runs) and dies after its last reader (a value no node reads, an output,
// right after its producer).
class LiveTracker {
 public:
  explicit LiveTracker(const Uses& u) : u_(u), remaining_(u.readers), live_(u.bytes.size(), false) {}

  // Bytes node n would allocate and free.
  uint64_t Allocates(const DeviceGraph& g, int n) const {
    uint64_t a = u_.bytes[g.nodes[n].output];
    for (int v : u_.operands[n])
      if (!live_[v] && u_.producer[v] < 0) a += u_.bytes[v];  // an input uploaded for this node
    return a;
  }
  uint64_t Frees(const DeviceGraph& g, int n) const {
    uint64_t f = remaining_[g.nodes[n].output] == 0 ? u_.bytes[g.nodes[n].output] : 0;
    for (int v : u_.operands[n])
      if (remaining_[v] == 1) f += u_.bytes[v];
    return f;
  }
  // Runs node n; returns the live bytes while it runs (operands and result).
  uint64_t Run(const DeviceGraph& g, int n) {
    for (int v : u_.operands[n]) Make(v);
    Make(g.nodes[n].output);
    const uint64_t during = live_bytes_;
    for (int v : u_.operands[n])
      if (--remaining_[v] == 0) Kill(v);
    if (remaining_[g.nodes[n].output] == 0) Kill(g.nodes[n].output);
    return during;
  }

 private:
  void Make(int v) {
    if (!live_[v]) live_bytes_ += u_.bytes[v];
    live_[v] = true;
  }
  void Kill(int v) {
    if (live_[v]) live_bytes_ -= u_.bytes[v];
    live_[v] = false;
  }

  const Uses& u_;
  std::vector<int> remaining_;
  std::vector<bool> live_;
  uint64_t live_bytes_ = 0;
};

uint64_t Peak(const DeviceGraph& g, const Uses& u, const std::vector<int>& order) {
  LiveTracker live(u);
  uint64_t peak = 0;
  for (int n : order) peak = std::max(peak, live.Run(g, n));
  return peak;
}

std::vector<int> GreedyOrder(const DeviceGraph& g, const Uses& u) {
  const int num_nodes = static_cast<int>(g.nodes.size());
  std::vector<int> waiting(num_nodes, 0);  // operands whose producer has not run
  std::vector<std::vector<int>> dependents(num_nodes);
  for (int n = 0; n < num_nodes; ++n)
    for (int v : u.operands[n])
      if (u.producer[v] >= 0) {
        ++waiting[n];
        dependents[u.producer[v]].push_back(n);
      }
  std::vector<int> ready;
  for (int n = 0; n < num_nodes; ++n)
    if (waiting[n] == 0) ready.push_back(n);
  LiveTracker live(u);
  std::vector<int> order;
  order.reserve(num_nodes);
  while (!ready.empty()) {
    size_t best = 0;
    int64_t best_delta = 0;
    for (size_t i = 0; i < ready.size(); ++i) {
      const int n = ready[i];
      const int64_t delta = static_cast<int64_t>(live.Allocates(g, n)) - static_cast<int64_t>(live.Frees(g, n));
      if (i == 0 || delta < best_delta || (delta == best_delta && n < ready[best])) {
        best = i;
        best_delta = delta;
      }
    }
    const int n = ready[best];
    ready.erase(ready.begin() + static_cast<std::ptrdiff_t>(best));
    live.Run(g, n);
    order.push_back(n);
    for (int d : dependents[n])
      if (--waiting[d] == 0) ready.push_back(d);
  }
  return order;
}

}  // namespace

uint64_t PeakLiveBytes(const DeviceGraph& graph, const std::vector<int>& order) {
  return Peak(graph, CountUses(graph), order);
}

absl::Status OrderOpsForMemory(DeviceGraph& graph, OpOrderStats* stats) {
  const Uses u = CountUses(graph);
  std::vector<int> graph_order(graph.nodes.size());
  std::iota(graph_order.begin(), graph_order.end(), 0);
  const std::vector<int> greedy = GreedyOrder(graph, u);
  if (greedy.size() != graph.nodes.size())
    return absl::InternalError(absl::StrCat("order-ops: scheduled ", greedy.size(), " of ", graph.nodes.size(),
                                            " nodes; the graph has a cycle"));
  OpOrderStats s;
  s.graph_order_peak = Peak(graph, u, graph_order);
  s.chosen_peak = Peak(graph, u, greedy);
  if (s.chosen_peak < s.graph_order_peak) {
    std::vector<DeviceNode> nodes;
    nodes.reserve(graph.nodes.size());
    for (size_t i = 0; i < greedy.size(); ++i) {
      if (greedy[i] != static_cast<int>(i)) ++s.ops_moved;
      nodes.push_back(std::move(graph.nodes[greedy[i]]));
    }
    graph.nodes = std::move(nodes);
  } else {
    s.chosen_peak = s.graph_order_peak;
  }
  if (stats) *stats = s;
  return absl::OkStatus();
}

std::string OpOrderStats::ToString() const {
  return absl::StrCat(chosen_peak, " live activation bytes at peak (graph order: ", graph_order_peak, "), ",
                      ops_moved, " ops moved");
}

}  // namespace kiln::compiler

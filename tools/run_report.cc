#include "tools/run_report.h"

#include <fstream>

#include <nlohmann/json.hpp>

namespace kiln::tools {

std::vector<int64_t> LiveActivationBytes(const runtime::Program& program) {
  using runtime::Instruction;
  const auto& insts = program.instructions();
  const auto& tensors = program.tensors();
  std::vector<int64_t> first(tensors.size(), -1), last(tensors.size(), -1);
  for (size_t i = 0; i < insts.size(); ++i) {
    const int64_t at = static_cast<int64_t>(i);
    for (uint32_t t : insts[i].inputs) last[tensors[t].alias_of >= 0 ? tensors[t].alias_of : t] = at;  // an alias's bytes are its target's
    if (first[insts[i].output] < 0) first[insts[i].output] = at;
    last[insts[i].output] = std::max(last[insts[i].output], at);
  }
  // A difference array over instructions: +size where a tensor's life starts, -size after it ends.
  std::vector<int64_t> delta(insts.size() + 1, 0);
  for (size_t t = 0; t < tensors.size(); ++t) {
    if (tensors[t].has_initial_data() || tensors[t].in_caller_buffer() || first[t] < 0) continue;
    delta[first[t]] += static_cast<int64_t>(tensors[t].size_bytes);
    delta[last[t] + 1] -= static_cast<int64_t>(tensors[t].size_bytes);
  }
  std::vector<int64_t> live(insts.size());
  int64_t sum = 0;
  for (size_t i = 0; i < insts.size(); ++i) live[i] = (sum += delta[i]);
  return live;
}

std::string InstructionLabel(const runtime::Instruction& inst) {
  using Kind = runtime::Instruction::Kind;
  if (inst.kind == Kind::kHostToDevice) return "host->device";
  if (inst.kind == Kind::kDeviceToHost) return "device->host";
  return std::string(inst.op->name);
}

namespace {
Status WriteJson(const std::string& path, const nlohmann::json& j, int indent) {
  std::ofstream f(path);
  f << j.dump(indent) << "\n";
  f.close();
  if (!f) return Status::InvalidArgument("cannot write '" + path + "'");
  return Status::Ok();
}
}  // namespace

Status WriteRunJson(const std::string& path, const runtime::Program& program, const runtime::RunStats& stats,
                    const runtime::Device& device, const RunFacts& facts) {
  using Kind = runtime::Instruction::Kind;
  using nlohmann::json;
  const runtime::DeviceCounters& c = stats.counters;
  json j;
  j["chip"] = facts.chip;
  j["latency_us"] = stats.latency_us;
  j["roofline_us"] = stats.roofline_us;
  j["load_us"] = facts.load_us;
  j["load_host_to_device_bytes"] = facts.load_host_to_device_bytes;
  j["peak_device_bytes"] = facts.peak_device_bytes;
  j["host_wall_us"] = facts.host_wall_us;
  json counters = json::object();
  for (const runtime::NamedCounter& n : runtime::CountersByName(stats, device))
    counters[n.name] = n.integral ? json(static_cast<int64_t>(n.value)) : json(n.value);
  j["counters"] = counters;
  // Per op kind: the share of the chip's cores busy while it ran (time-weighted).
  json utilisation = json::object();
  for (const auto& [name, cycles] : c.op_cycles)
    if (cycles > 0) utilisation[name] = c.op_core_cycles.at(name) / cycles;
  j["utilisation_by_op"] = utilisation;
  j["workload"] = {{"matrix_flops", program.workload().matrix_flops},
                   {"weight_bytes", program.workload().weight_bytes},
                   {"io_bytes", program.workload().io_bytes}};
  json regions = json::array();
  for (const auto& r : program.regions())
    regions.push_back({{"name", r.name}, {"kind", runtime::RegionKindName(r.kind)}, {"bytes", r.size_bytes}});
  j["regions"] = regions;
  const std::vector<int64_t> live = LiveActivationBytes(program);
  json insts = json::array();
  const auto& program_insts = program.instructions();
  for (size_t i = 0; i < program_insts.size() && i < stats.instructions.size(); ++i) {
    const auto& inst = program_insts[i];
    const auto& out = program.tensors()[inst.output];
    const runtime::InstructionTiming& t = stats.instructions[i];
    insts.push_back({{"op", InstructionLabel(inst)},
                     {"unit", inst.kind == Kind::kOp ? ops::UnitName(inst.op->unit) : "host link"},
                     {"engine", runtime::EngineName(t.engine)},
                     {"source", inst.source},
                     {"shape", out.shape},
                     {"dtype", ops::DTypeName(out.dtype)},
                     {"bytes", out.size_bytes},
                     {"start_us", t.start_us},
                     {"us", t.us()},
                     {"cores", t.cores_used},
                     {"live_activation_bytes", live[i]}});
  }
  j["instructions"] = insts;
  return WriteJson(path, j, 1);
}

Status WriteTraceJson(const std::string& path, const runtime::Program& program, const runtime::RunStats& stats) {
  using nlohmann::json;
  constexpr int kPid = 1;
  json events = json::array();
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", kPid}, {"args", {{"name", "kiln simulated device"}}}});
  for (int e = 0; e < runtime::kNumEngines; ++e) {
    // tid = engine + 1 (some viewers treat tid 0 specially); the sort index keeps the engines in order.
    const char* name = runtime::EngineName(static_cast<runtime::Engine>(e));
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", kPid}, {"tid", e + 1}, {"args", {{"name", name}}}});
    events.push_back(
        {{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", kPid}, {"tid", e + 1}, {"args", {{"sort_index", e}}}});
  }
  const auto& insts = program.instructions();
  for (size_t i = 0; i < insts.size() && i < stats.instructions.size(); ++i) {
    const runtime::InstructionTiming& t = stats.instructions[i];
    const auto& out = program.tensors()[insts[i].output];
    json args = {{"instruction", i},
                 {"op", InstructionLabel(insts[i])},
                 {"node", insts[i].source},
                 {"bytes", t.bytes},
                 {"shape", ops::ShapeToString(out.shape)},
                 {"dtype", ops::DTypeName(out.dtype)}};
    if (insts[i].kind == runtime::Instruction::Kind::kOp) args["cores"] = t.cores_used;
    events.push_back({{"name", InstructionLabel(insts[i])},
                      {"cat", runtime::EngineName(t.engine)},
                      {"ph", "X"},
                      {"ts", t.start_us},
                      {"dur", t.us()},
                      {"pid", kPid},
                      {"tid", static_cast<int>(t.engine) + 1},
                      {"args", args}});
  }
  return WriteJson(path, {{"traceEvents", events}, {"displayTimeUnit", "ns"}}, -1);
}

}  // namespace kiln::tools

// bazel run //tools:run -- model.kiln --input x.npy [--input y.npy] [--output-dir DIR] [--chip chip.json]
//                         [--profile] [--stats-json FILE] [--max-program-bytes N] [--max-region-bytes N]
//                         [--max-work N]
// Loads a .kiln onto the simulated accelerator, runs it once and prints the outputs' shapes,
// the simulated latency and the device counters. Links only the runtime and the simulator.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/executor.h"
#include "runtime/program.h"
#include "simulator/device.h"
#include "tools/caller_path.h"
#include "tools/npy.h"
#include "tools/run_report.h"

namespace {
using kiln::tools::FromCallerDir;

int Usage(FILE* to = stderr, int code = 2) {
  const kiln::runtime::Limits defaults;
  std::fprintf(to,
               "usage: run MODEL.kiln --input X.npy... [--output-dir DIR] [--chip CHIP.json] [--profile]\n"
               "           [--stats-json FILE] [--trace FILE] [--device-memory SIZE] [--max-program-bytes N] [--max-region-bytes N]\n"
               "           [--max-work N]\n"
               "  --device-memory SIZE  the simulated device's DRAM (e.g. 24MiB) instead of the chip's\n"
               "  --profile          the instructions that take the most simulated time, and time per op\n"
               "  --stats-json FILE  counters and one record per instruction (start, time, live bytes) as JSON\n"
               "  --trace FILE       the run as a Chrome trace (open it in Perfetto): a track per engine\n"
               "limits (a program beyond them is refused at load with an out-of-memory error):\n"
               "  --max-program-bytes N  largest .kiln file, weights included (default %llu = 16 GiB)\n"
               "  --max-region-bytes N   largest memory region, e.g. the activation arena (default %llu = 8 GiB)\n"
               "  --max-work N           total work of one run: op work plus elements touched (default %g)\n",
               static_cast<unsigned long long>(defaults.max_program_bytes),
               static_cast<unsigned long long>(defaults.max_region_bytes), defaults.max_total_work);
  return code;
}

// A non-negative decimal number, or false.
bool ParseNumber(const char* text, double* out) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !(v >= 0) || v > 1.8e19) return false;
  *out = v;
  return true;
}

int Fail(const kiln::Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return 1;
}
// The instructions that take the most simulated time, and the total per kind of op.
void PrintProfile(const kiln::runtime::Program& program, const kiln::runtime::RunStats& stats, size_t top) {
  const auto& insts = program.instructions();
  auto label = [&](size_t i) { return kiln::tools::InstructionLabel(insts[i]); };
  const auto& timing = stats.instructions;
  std::vector<size_t> order(timing.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return timing[a].us() > timing[b].us(); });
  // Engines overlap, so shares are of the run's latency and may add up to more than 100%.
  std::printf("profile: top %zu of %zu instructions\n", std::min(top, order.size()), order.size());
  std::printf("  %5s  %-14s %-44s %-20s %10s %6s %5s\n", "#", "op", "from", "result shape", "us", "share", "cores");
  for (size_t k = 0; k < std::min(top, order.size()); ++k) {
    const size_t i = order[k];
    const auto& out = program.tensors()[insts[i].output];
    std::printf("  %5zu  %-14s %-44s %-20s %10.2f %5.1f%% %5lld\n", i, label(i).c_str(), insts[i].source.c_str(),
                kiln::ops::ShapeToString(out.shape).c_str(), timing[i].us(),
                100.0 * timing[i].us() / stats.latency_us, static_cast<long long>(timing[i].cores_used));
  }
  std::map<std::string, std::pair<int, double>> by_kind;
  for (size_t i = 0; i < order.size(); ++i) {
    auto& [count, us] = by_kind[label(i)];
    count += 1;
    us += timing[i].us();
  }
  std::printf("profile: by op (utilisation: the share of the chip's cores busy while the op runs)\n");
  for (const auto& [name, v] : by_kind) {
    const auto& c = stats.counters;
    const auto it = c.op_cycles.find(name);
    const double util = it != c.op_cycles.end() && it->second > 0 ? c.op_core_cycles.at(name) / it->second : 0.0;
    std::printf("  %-14s x%-4d %10.2f us %5.1f%%", name.c_str(), v.first, v.second, 100.0 * v.second / stats.latency_us);
    if (it != c.op_cycles.end()) std::printf("  utilisation %5.1f%%", 100.0 * util);
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string program_path, output_dir, chip_path, stats_json, trace, device_memory;
  std::vector<std::string> inputs;
  bool profile = false;
  kiln::runtime::LoadOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    double v = 0;
    if (a == "--help" || a == "-h") return Usage(stdout, 0);
    else if (a == "--input" && i + 1 < argc) inputs.push_back(FromCallerDir(argv[++i]));
    else if (a == "--max-program-bytes" && i + 1 < argc && ParseNumber(argv[++i], &v))
      options.limits.max_program_bytes = static_cast<uint64_t>(v);
    else if (a == "--max-region-bytes" && i + 1 < argc && ParseNumber(argv[++i], &v))
      options.limits.max_region_bytes = static_cast<uint64_t>(v);
    else if (a == "--max-work" && i + 1 < argc && ParseNumber(argv[++i], &v)) options.limits.max_total_work = v;
    else if (a == "--output-dir" && i + 1 < argc) output_dir = FromCallerDir(argv[++i]);
    else if (a == "--chip" && i + 1 < argc) chip_path = FromCallerDir(argv[++i]);
    else if (a == "--profile") profile = true;
    else if (a == "--stats-json" && i + 1 < argc) stats_json = FromCallerDir(argv[++i]);
    else if (a == "--trace" && i + 1 < argc) trace = FromCallerDir(argv[++i]);
    else if (a == "--device-memory" && i + 1 < argc) device_memory = argv[++i];
    else if (!a.empty() && a[0] != '-' && program_path.empty()) program_path = FromCallerDir(a);
    else return Usage();
  }
  if (program_path.empty()) return Usage();
  kiln::target::ChipConfig chip = kiln::target::DefaultChipConfig();
  if (!chip_path.empty()) {
    if (kiln::Status s = kiln::target::LoadChipConfig(chip_path, &chip); !s.ok()) return Fail(s);
  }
  if (!device_memory.empty()) {
    if (kiln::Status s = kiln::target::ParseByteSize(device_memory, &chip.dram_bytes); !s.ok())
      return Fail(s.WithPrefix("--device-memory: "));
  }
  std::unique_ptr<kiln::runtime::Program> program;
  if (kiln::Status s = kiln::runtime::Program::LoadFile(program_path, &program, options); !s.ok()) return Fail(s);
  std::vector<kiln::runtime::HostTensor> host_inputs(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    if (kiln::Status s = kiln::tools::ReadNpy(inputs[i], &host_inputs[i]); !s.ok()) return Fail(s);

  kiln::sim::Device device(chip);
  std::unique_ptr<kiln::runtime::Executor> exec;
  if (kiln::Status s = kiln::runtime::Executor::Create(*program, &device, &exec); !s.ok()) return Fail(s);
  std::vector<kiln::runtime::HostTensor> outputs;
  kiln::runtime::RunStats stats;
  const auto wall_start = std::chrono::steady_clock::now();
  if (kiln::Status s = exec->Run(host_inputs, &outputs, &stats); !s.ok()) return Fail(s);
  const double wall_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - wall_start).count();

  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string& name = program->outputs()[i].name;
    // An output named like an input is that input's value after the program ran (an in-place op
    // mutated it, or it is returned unchanged); the caller writes it back.
    const bool is_input = std::any_of(program->inputs().begin(), program->inputs().end(),
                                      [&](const kiln::runtime::IoInfo& in) { return in.name == name; });
    std::printf("output %zu '%s': %s%s\n", i, name.c_str(), kiln::ops::ShapeToString(outputs[i].shape).c_str(),
                is_input ? " (the input's new value)" : "");
    if (!output_dir.empty()) {
      const std::string path = output_dir + "/output" + std::to_string(i) + ".npy";
      if (kiln::Status s = kiln::tools::WriteNpy(path, outputs[i]); !s.ok()) return Fail(s);
      std::printf("  wrote %s\n", path.c_str());
    }
  }
  const kiln::sim::Counters& c = stats.counters;
  std::printf("chip: %s\n", chip.name.c_str());
  std::printf("load: %.1f us (constants %lld bytes over the host link)\n", exec->load_stats().latency_us,
              static_cast<long long>(exec->load_stats().counters.host_to_device_bytes));
  std::printf("simulated latency: %.1f us (compute %.1f us, transfers %.1f us; busy times, engines overlap)\n",
              stats.latency_us, device.CyclesToMicros(c.compute_cycles), device.CyclesToMicros(c.transfer_cycles));
  std::printf("roofline: %.1f us (%.3g matrix FLOPs, %lld weight bytes, %lld input/output bytes); "
              "latency / roofline = %.2f\n",
              stats.roofline_us, program->workload().matrix_flops,
              static_cast<long long>(program->workload().weight_bytes),
              static_cast<long long>(program->workload().io_bytes), stats.latency_us / stats.roofline_us);
  std::printf("ops: %lld, transfers: %lld, host->device %lld B, device->host %lld B, DRAM read %lld B, "
              "DRAM written %lld B, matrix work %.3g FLOPs (tile-padded), peak device DRAM %lld B\n",
              static_cast<long long>(c.ops_executed), static_cast<long long>(c.transfers),
              static_cast<long long>(c.host_to_device_bytes), static_cast<long long>(c.device_to_host_bytes),
              static_cast<long long>(c.dram_read_bytes), static_cast<long long>(c.dram_write_bytes), c.flops,
              static_cast<long long>(device.memory().peak()));
  std::printf("SRAM: read %lld B, written %lld B (no DRAM traffic); %lld of %lld bytes per core allocated\n",
              static_cast<long long>(c.sram_read_bytes), static_cast<long long>(c.sram_write_bytes),
              static_cast<long long>(device.sram_bytes_per_core_in_use()),
              static_cast<long long>(chip.sram_usable_bytes_per_core()));
  if (stats.spill_bytes > 0 || stats.reload_bytes > 0)
    std::printf("eviction: %lld B spilled to host memory, %lld B reloaded, %.1f us of those transfers\n",
                static_cast<long long>(stats.spill_bytes), static_cast<long long>(stats.reload_bytes),
                stats.eviction_us);
  if (profile) PrintProfile(*program, stats, 15);
  if (!stats_json.empty()) {
    const kiln::tools::RunFacts facts{chip.name, exec->load_stats().latency_us,
                                      exec->load_stats().counters.host_to_device_bytes, device.memory().peak(),
                                      wall_us};
    if (kiln::Status s = kiln::tools::WriteRunJson(stats_json, *program, stats, device, facts); !s.ok()) return Fail(s);
  }
  if (!trace.empty()) {
    if (kiln::Status s = kiln::tools::WriteTraceJson(trace, *program, stats); !s.ok()) return Fail(s);
    std::printf("wrote trace %s\n", trace.c_str());
  }
  return 0;
}

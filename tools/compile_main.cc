// bazel run //tools:compile -- model.pt2 -o model.kiln [--chip chip.json] [--device-memory 24MiB]
//                             [--device-dtype bf16] [--naive] [--quiet]
//     [--dump-after=NAME|all [--dump-dir=DIR]] [--stop-after=NAME] [--time-passes] [--verify-each]
//     [--share-from OWNER.kiln]
// bazel run //tools:compile -- --list-passes
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "compiler/compiler.h"
#include "compiler/pt2/pt2_reader.h"
#include "tools/caller_path.h"

namespace {
using kiln::compiler::CompileOptions;
using kiln::compiler::CompileState;
using kiln::compiler::Pass;
using kiln::tools::FromCallerDir;

int Usage() {
  std::fprintf(stderr,
               "usage: compile MODEL.pt2 -o OUT.kiln [--chip CHIP.json] [--device-memory SIZE] [--device-dtype f32|bf16]\n"
               "               [--naive] [--no-sram-residency] [--no-prefetch-weights] [--quiet]\n"
               "  --naive  the op-by-op baseline of docs/BENCHMARKS.md: no folding or fusion, every op\n"
               "           uploads its operands and downloads its result\n"
               "  --no-sram-residency  every device tensor in DRAM (no sram-residency pass), to compare\n"
               "  --no-prefetch-weights  each op reads its DRAM weights itself (no prefetch-weights pass)\n"
               "               [--dump-after=PASS|all [--dump-dir=DIR]] [--stop-after=PASS] [--time-passes]\n"
               "               [--verify-each] [--share-from OWNER.kiln]\n"
               "  --share-from  compile beside OWNER.kiln (a prefill beside its decode step): constants identical\n"
               "           to the owner's go at the owner's offsets, so a runtime loading both keeps one copy\n"
               "       compile --list-passes\n");
  return 2;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

// "--flag=value" or "--flag value"; advances `i` past what it consumed.
bool FlagValue(const std::string& flag, int argc, char** argv, int& i, std::string* value) {
  const std::string a = argv[i];
  if (a.rfind(flag + "=", 0) == 0) {
    *value = a.substr(flag.size() + 1);
    return true;
  }
  if (a == flag && i + 1 < argc) {
    *value = argv[++i];
    return true;
  }
  return false;
}

// One line per pass (name, summary), then its description wrapped and indented.
void ListPasses(const std::vector<Pass>& pipeline) {
  for (const Pass& p : pipeline) {
    std::printf("%-15s %s\n", p.name.c_str(), p.summary.c_str());
    std::string line;
    std::istringstream words(p.description);
    for (std::string word; words >> word;) {
      if (!line.empty() && line.size() + 1 + word.size() > 92) {
        std::printf("    %s\n", line.c_str());
        line.clear();
      }
      line += (line.empty() ? "" : " ") + word;
    }
    if (!line.empty()) std::printf("    %s\n", line.c_str());
  }
}

void PrintTimes(double read_seconds, const CompileState& state) {
  double total = read_seconds, verify = 0;
  for (const auto& t : state.timings) {
    total += t.seconds;
    verify += t.verify_seconds;
  }
  std::printf("%-16s %10s %10s\n", "pass", "wall ms", "verify ms");
  std::printf("%-16s %10.2f %10s\n", "(read .pt2)", read_seconds * 1e3, "");
  for (const auto& t : state.timings)
    std::printf("%-16s %10.2f %10.2f\n", t.pass.c_str(), t.seconds * 1e3, t.verify_seconds * 1e3);
  std::printf("%-16s %10.2f %10.2f\n", "total", total * 1e3, verify * 1e3);
}

}  // namespace

int main(int argc, char** argv) {
  std::string input, output, chip_path, device_dtype = "f32", dump_after, dump_dir, stop_after, device_memory,
      share_from;
  bool quiet = false, time_passes = false, list_passes = false, verify_each = false, naive = false,
       no_sram = false, no_prefetch_weights = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    std::string value;
    if ((a == "-o" || a == "--output") && i + 1 < argc) output = FromCallerDir(argv[++i]);
    else if (a == "--chip" && i + 1 < argc) chip_path = FromCallerDir(argv[++i]);
    else if (a == "--device-dtype" && i + 1 < argc) device_dtype = argv[++i];
    else if (FlagValue("--device-memory", argc, argv, i, &device_memory)) continue;
    else if (a == "--quiet") quiet = true;
    else if (a == "--naive") naive = true;
    else if (a == "--no-sram-residency") no_sram = true;
    else if (a == "--no-prefetch-weights") no_prefetch_weights = true;
    else if (a == "--time-passes") time_passes = true;
    else if (a == "--list-passes") list_passes = true;
    else if (a == "--verify-each") verify_each = true;
    else if (FlagValue("--dump-after", argc, argv, i, &dump_after)) continue;
    else if (FlagValue("--dump-dir", argc, argv, i, &value)) dump_dir = FromCallerDir(value);
    else if (FlagValue("--stop-after", argc, argv, i, &stop_after)) continue;
    else if (FlagValue("--share-from", argc, argv, i, &value)) share_from = FromCallerDir(value);
    else if (!a.empty() && a[0] != '-' && input.empty()) input = FromCallerDir(a);
    else return Usage();
  }

  CompileOptions options;
  if (verify_each) options.verify_each = true;
  options.naive = naive;
  options.sram_residency = !no_sram;
  options.prefetch_weights = !no_prefetch_weights;
  if (device_dtype == "bf16") options.device_dtype = kiln::ops::DType::kBF16;
  else if (device_dtype != "f32") return Usage();
  if (!chip_path.empty()) {
    kiln::Status s = kiln::target::LoadChipConfig(chip_path, &options.chip);
    if (!s.ok()) return Fail(s.message());
  }
  // A smaller device than the chip's DRAM: the compiler plans (and evicts) for this capacity.
  if (!device_memory.empty()) {
    kiln::Status s = kiln::target::ParseByteSize(device_memory, &options.chip.dram_bytes);
    if (!s.ok()) return Fail("--device-memory: " + s.message());
  }
  options.output_path = output;  // serialize streams the file; the weights are never held twice
  std::unique_ptr<kiln::runtime::Program> owner;  // read in place while compiling
  if (!share_from.empty()) {
    kiln::Status s = kiln::runtime::Program::LoadFile(share_from, &owner);
    if (!s.ok()) return Fail("--share-from: " + s.message());
    auto constants = kiln::compiler::OwnerConstantsOf(*owner);
    if (!constants.ok()) return Fail("--share-from " + share_from + ": " + std::string(constants.status().message()));
    options.share_from = *std::move(constants);
  }
  const std::vector<Pass> pipeline = kiln::compiler::BuildPipeline(options);
  if (list_passes) {
    ListPasses(pipeline);
    return 0;
  }
  // Pass names are checked before the (possibly long) compilation starts.
  if (!dump_after.empty() && dump_after != "all")
    if (auto p = kiln::compiler::FindPass(pipeline, dump_after); !p.ok())
      return Fail("--dump-after: " + std::string(p.status().message()) + " (or all)");
  if (!stop_after.empty()) {
    absl::StatusOr<const Pass*> stop = kiln::compiler::FindPass(pipeline, stop_after);
    if (!stop.ok()) return Fail("--stop-after: " + std::string(stop.status().message()));
    if (!dump_after.empty() && dump_after != "all" && *kiln::compiler::FindPass(pipeline, dump_after) > *stop)
      return Fail("--dump-after=" + dump_after + " comes after --stop-after=" + stop_after + "; nothing would be dumped");
  }
  if (!dump_dir.empty() && dump_after.empty()) return Fail("--dump-dir needs --dump-after");
  if (input.empty() || (output.empty() && stop_after.empty())) return Usage();

  auto read_start = std::chrono::steady_clock::now();
  absl::StatusOr<kiln::compiler::AtenGraph> aten = kiln::compiler::ReadPt2(input);
  if (!aten.ok()) return Fail(std::string(aten.status().message()));
  const double read_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - read_start).count();

  if (!dump_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dump_dir, ec);
    if (ec) return Fail("cannot create --dump-dir " + dump_dir + ": " + ec.message());
  }
  kiln::compiler::RunOptions run;
  run.stop_after = stop_after;
  int dumped = 0;
  if (!dump_after.empty()) {
    run.after_pass = [&](const Pass& pass, const CompileState& state) -> absl::Status {
      if (dump_after != "all" && pass.name != dump_after) return absl::OkStatus();
      const std::string text = kiln::compiler::PrintState(state);
      if (dump_dir.empty()) {
        std::printf("// ----- after %s -----\n%s\n", pass.name.c_str(), text.c_str());
        return absl::OkStatus();
      }
      char prefix[16];
      std::snprintf(prefix, sizeof prefix, "/%02d-", ++dumped);
      const std::string path = dump_dir + prefix + pass.name + ".txt";
      std::ofstream out(path);
      out << text;
      if (!out) return absl::UnavailableError("cannot write " + path);
      return absl::OkStatus();
    };
  }
  CompileState state;
  state.aten = &*aten;
  if (absl::Status s = kiln::compiler::RunPasses(pipeline, state, options, run); !s.ok())
    return Fail(input + ": " + std::string(s.message()));
  for (const std::string& w : state.warnings) std::fprintf(stderr, "%s: warning: %s\n", input.c_str(), w.c_str());

  if (time_passes) PrintTimes(read_seconds, state);
  if (!dump_dir.empty() && !quiet) std::printf("wrote %d dump(s) to %s\n", dumped, dump_dir.c_str());
  if (state.kiln_bytes == 0) {
    std::printf("stopped after '%s'; no .kiln written (the pipeline ends with '%s')\n", state.last_pass.c_str(),
                pipeline.back().name.c_str());
    return 0;
  }
  if (!quiet) {
    std::printf("compiled %s -> %s (%llu bytes) for chip %s\n%s", input.c_str(), output.c_str(),
                static_cast<unsigned long long>(state.kiln_bytes), options.chip.name.c_str(),
                state.Summary().ToString().c_str());
  }
  return 0;
}

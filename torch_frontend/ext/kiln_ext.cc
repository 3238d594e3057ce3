// kiln_ext: the compiler and the simulated device in the Python process, for torch.compile(backend="kiln")
// (torch_frontend/kiln_backend.py). compile() takes a .pt2 archive's bytes and returns a Graph: the
// compiled program loaded onto its own simulated device, with its constants uploaded once; Graph.run()
// runs it on torch tensors and returns torch tensors (outputs are not copied: they keep the runtime's
// buffers) with the run's simulated time and counters. A program with state (a module's mutated
// buffers, e.g. a static KV cache) keeps it on the device between run() calls; reset_state() restarts it.
// compile(..., share_from=graph) puts a program beside another on its device, sharing its state and
// the weights both hold (one device copy; runtime::Executor::CreateSharing).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include "compiler/compiler.h"
#include "compiler/lowering/lowering_context.h"
#include "compiler/pt2/pt2_reader.h"
#include "runtime/executor.h"
#include "runtime/run_counters.h"
#include "runtime/program.h"
#include "simulator/device.h"
#include "target/chip_config.h"

namespace nb = nanobind;

namespace kiln::ext {
namespace {

// Every Kiln failure (bad archive, unsupported op, device too small, wrong input) surfaces as this,
// with Kiln's message.
struct KilnError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void Check(const Status& s, const std::string& what) {
  if (!s.ok()) throw KilnError(what + ": " + s.message());
}

ops::DType ParseDeviceDType(const std::string& name) {
  if (name == "f32" || name == "float32") return ops::DType::kF32;
  if (name == "bf16" || name == "bfloat16") return ops::DType::kBF16;
  throw KilnError("device_dtype '" + name + "': expected f32 or bf16");
}

// DLPack dtype <-> Kiln host dtype (ops/dtype.h): the ones a program's inputs and outputs can have.
ops::DType FromDLPack(nb::dlpack::dtype t, const std::string& what) {
  using Code = nb::dlpack::dtype_code;
  const auto code = static_cast<Code>(t.code);
  if (t.lanes == 1) {
    if (code == Code::Float && t.bits == 32) return ops::DType::kF32;
    if (code == Code::Bfloat && t.bits == 16) return ops::DType::kBF16;
    if (code == Code::Int && t.bits == 32) return ops::DType::kI32;
    if (code == Code::Int && t.bits == 64) return ops::DType::kI64;
    if (code == Code::Int && t.bits == 16) return ops::DType::kI16;
    if (code == Code::Int && t.bits == 8) return ops::DType::kI8;
    if (code == Code::UInt && t.bits == 8) return ops::DType::kU8;
    if (code == Code::Bool && t.bits == 8) return ops::DType::kBool;
    if (code == Code::Complex && t.bits == 64) return ops::DType::kC64;
  }
  throw KilnError(what + ": dtype (DLPack code " + std::to_string(t.code) + ", " + std::to_string(t.bits) +
                  " bits) is not one Kiln takes (float32, bfloat16, int32, int64, int16, int8, uint8, bool, complex64)");
}

nb::dlpack::dtype ToDLPack(ops::DType t) {
  switch (t) {
    case ops::DType::kF32: return nb::dtype<float>();
    case ops::DType::kBF16: return {static_cast<uint8_t>(nb::dlpack::dtype_code::Bfloat), 16, 1};
    case ops::DType::kI32: return nb::dtype<int32_t>();
    case ops::DType::kI64: return nb::dtype<int64_t>();
    case ops::DType::kBool: return nb::dtype<bool>();
    case ops::DType::kI8: return nb::dtype<int8_t>();
    case ops::DType::kU8: return nb::dtype<uint8_t>();
    case ops::DType::kI16: return nb::dtype<int16_t>();
    case ops::DType::kC64: return {static_cast<uint8_t>(nb::dlpack::dtype_code::Complex), 64, 1};
    default: break;
  }
  throw KilnError("unknown dtype");
}

using InputArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;
using OutputArray = nb::ndarray<nb::pytorch, nb::device::cpu>;

// A compiled graph on its own simulated device, or on the device of the graph whose state and weights
// it shares (`owner`: a prefill program beside the decode step that owns the KV cache and the
// weights; it is kept alive as long as this graph). The device and executor live as long as the graph, so constants are
// uploaded once, at compile time, not per run.
class Graph {
 public:
  // The program is `kiln` (bytes), or the file at `kiln_path` when `kiln` is empty (mapped, not read:
  // a large model's weights then cost page cache, not the process's memory).
  Graph(std::string name, std::string kiln, const std::string& kiln_path, uint64_t kiln_bytes,
        compiler::CompileSummary summary, const target::ChipConfig& chip, nb::object owner)
      : name_(std::move(name)), kiln_(std::move(kiln)), kiln_bytes_(kiln_bytes), summary_(std::move(summary)),
        owner_(std::move(owner)) {
    // Program::Load reads kiln_ in place: it must not move, and a std::string's heap buffer does not.
    if (kiln_path.empty()) Check(runtime::Program::Load(kiln_.data(), kiln_.size(), name_, &program_), name_);
    else Check(runtime::Program::LoadFile(kiln_path, &program_), name_);
    if (owner_.is_none()) {
      device_ = std::make_shared<sim::Device>(chip);
      Check(runtime::Executor::Create(*program_, device_.get(), &executor_), name_);
    } else {
      const Graph& owner = nb::cast<const Graph&>(owner_);
      device_ = owner.device_;
      Check(runtime::Executor::CreateSharing(*program_, device_.get(), *owner.executor_, &executor_), name_);
    }
  }
  // The executor goes before the device it frees its regions on, and before the owner.
  ~Graph() { executor_.reset(); }

  nb::tuple Run(const std::vector<InputArray>& inputs) {
    // The inputs are read where they are (C-contiguous CPU tensors): no copy before the DMA.
    std::vector<runtime::HostTensorView> host(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const InputArray& a = inputs[i];
      runtime::HostTensorView& t = host[i];
      t.dtype = FromDLPack(a.dtype(), name_ + " input " + std::to_string(i));
      t.shape.resize(a.ndim());
      for (size_t d = 0; d < a.ndim(); ++d) t.shape[d] = static_cast<int64_t>(a.shape(d));
      if (t.dtype == ops::DType::kC64) t.shape.push_back(2);  // Kiln's complex64: the (real, imaginary) pair last
      t.data = a.data();
      t.size_bytes = a.nbytes();
    }
    auto outputs = std::make_unique<std::vector<runtime::HostTensor>>();
    runtime::RunStats stats;
    Status status;
    {
      nb::gil_scoped_release release;
      status = executor_->RunViews(host, outputs.get(), &stats);
    }
    Check(status, name_);
    // One capsule owns every output buffer; each tensor keeps it alive.
    std::vector<runtime::HostTensor>* raw = outputs.get();
    nb::capsule owner(outputs.release(),
                      [](void* p) noexcept { delete static_cast<std::vector<runtime::HostTensor>*>(p); });
    nb::list result;
    for (runtime::HostTensor& t : *raw) {
      std::vector<size_t> shape(t.shape.begin(), t.shape.end() - (t.dtype == ops::DType::kC64 ? 1 : 0));
      result.append(OutputArray(t.bytes.data(), shape.size(), shape.data(), owner, nullptr, ToDLPack(t.dtype))
                        .cast());
    }
    return nb::make_tuple(result, RunStatsDict(stats));
  }

  nb::dict Summary() const {
    nb::dict d;
    d["aten_nodes"] = summary_.aten_nodes;
    d["device_ops"] = summary_.device_ops;
    d["folded_nodes"] = summary_.folded_nodes;
    d["transfers"] = summary_.transfers;
    d["ops_by_name"] = summary_.ops_by_name;
    d["constant_bytes"] = summary_.constant_bytes;
    d["arena_bytes"] = summary_.arena_bytes;
    d["peak_device_bytes"] = summary_.peak_device_bytes;
    d["sharing"] = summary_.sharing;
    d["kiln_bytes"] = kiln_bytes_;
    d["text"] = summary_.ToString();
    return d;
  }

  nb::dict LoadStats() const { return RunStatsDict(executor_->load_stats()); }
  // The program's state (a KV cache: the buffers the module mutates) stays on the device from one
  // run to the next; this puts it back to its initial value (a new generation).
  void ResetState() { Check(executor_->ResetState(), name_); }
  size_t num_inputs() const { return program_->inputs().size(); }
  size_t num_outputs() const { return program_->outputs().size(); }
  const std::string& name() const { return name_; }
  const runtime::Program* program() const { return program_.get(); }

 private:
  nb::dict RunStatsDict(const runtime::RunStats& stats) const {
    nb::dict d;
    // device_bytes_in_use counts every program on this graph's device.
    for (const runtime::NamedCounter& n : runtime::CountersByName(stats, *device_))
      d[n.name] = n.integral ? nb::cast(static_cast<int64_t>(n.value)) : nb::cast(n.value);
    return d;
  }

  std::string name_;
  std::string kiln_;  // empty when the program is a mapped file
  uint64_t kiln_bytes_;
  compiler::CompileSummary summary_;
  nb::object owner_;  // None, or the Graph whose device, state and weights this one shares
  std::shared_ptr<sim::Device> device_;
  std::unique_ptr<runtime::Program> program_;
  std::unique_ptr<runtime::Executor> executor_;
};

// Writes the IR after every pass as DIR/NN-<pass>.txt (as `compile --dump-after=all --dump-dir`) and
// the program as DIR/program.kiln.
compiler::RunOptions DumpAfterEachPass(const std::string& dir, int* dumped) {
  compiler::RunOptions run;
  run.after_pass = [dir, dumped](const compiler::Pass& pass, const compiler::CompileState& state) -> absl::Status {
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "/%02d-", ++*dumped);
    const std::string path = dir + prefix + pass.name + ".txt";
    std::ofstream out(path);
    out << compiler::PrintState(state);
    if (!out) return absl::UnavailableError("cannot write " + path);
    return absl::OkStatus();
  };
  return run;
}

std::unique_ptr<Graph> CompileGraph(nb::object pt2, const std::string& name, const std::string& device_dtype,
                                    const std::string& chip_path, int64_t device_memory_bytes,
                                    const std::string& dump_dir, nb::object share_from, const std::string& kiln_path) {
  if (!nb::isinstance<nb::bytes>(pt2) && !nb::isinstance<nb::str>(pt2))
    throw KilnError("pt2 must be a .pt2 archive's bytes or its path (str)");
  if (!share_from.is_none() && !nb::isinstance<Graph>(share_from))
    throw KilnError("share_from must be a Graph (the program whose state and weights this one shares) or None");
  compiler::CompileOptions options;
  options.device_dtype = ParseDeviceDType(device_dtype);
  if (!chip_path.empty()) {
    if (Status s = target::LoadChipConfig(chip_path, &options.chip); !s.ok()) throw KilnError(s.message());
  }
  if (device_memory_bytes < 0)
    throw KilnError("device_memory_bytes " + std::to_string(device_memory_bytes) + " is negative");
  if (device_memory_bytes > 0) options.chip.dram_bytes = device_memory_bytes;
  if (!share_from.is_none()) {
    absl::StatusOr<std::shared_ptr<const compiler::OwnerConstants>> owner =
        compiler::OwnerConstantsOf(*nb::cast<const Graph&>(share_from).program());
    if (!owner.ok()) throw KilnError(name + ": " + std::string(owner.status().message()));
    options.share_from = *std::move(owner);
  }
  // A path is mapped by the reader; bytes are copied into the reader's buffer.
  const bool from_file = nb::isinstance<nb::str>(pt2);
  const std::string pt2_path = from_file ? nb::cast<std::string>(pt2) : "";
  std::string archive;
  if (!from_file) {
    nb::bytes b = nb::cast<nb::bytes>(pt2);
    archive.assign(b.c_str(), b.size());
  }
  options.output_path = kiln_path;  // serialize streams the file there (the weights are never held twice)
  compiler::CompileState state;
  absl::Status status;
  {
    nb::gil_scoped_release release;
    absl::StatusOr<compiler::AtenGraph> aten =
        from_file ? compiler::ReadPt2(pt2_path) : compiler::ReadPt2FromBuffer(std::move(archive), name);
    if (!aten.ok()) {
      status = aten.status();  // already names the archive
    } else {
      int dumped = 0;
      compiler::RunOptions run;
      if (!dump_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(dump_dir, ec);
        if (ec) throw KilnError("cannot create dump dir " + dump_dir + ": " + ec.message());
        run = DumpAfterEachPass(dump_dir, &dumped);
      }
      state.aten = &*aten;
      status = compiler::RunPasses(compiler::BuildPipeline(options), state, options, run);
      state.aten = nullptr;
      if (!status.ok()) status = absl::Status(status.code(), name + ": " + std::string(status.message()));
    }
  }
  if (!status.ok()) throw KilnError(std::string(status.message()));
  if (!dump_dir.empty() && kiln_path.empty()) {
    std::ofstream out(dump_dir + "/program.kiln", std::ios::binary);
    out.write(state.kiln.data(), static_cast<std::streamsize>(state.kiln.size()));
    if (!out) throw KilnError("cannot write " + dump_dir + "/program.kiln");
  }
  compiler::CompileSummary summary = state.Summary();
  return std::make_unique<Graph>(name, std::move(state.kiln), kiln_path, state.kiln_bytes, std::move(summary),
                                 options.chip, std::move(share_from));
}

// The chip description at `path` (target/chip_config.h), checked: its name and DRAM capacity.
std::pair<std::string, int64_t> LoadChip(const std::string& path) {
  target::ChipConfig chip;
  // The message names the file.
  if (Status s = target::LoadChipConfig(path, &chip); !s.ok()) throw KilnError(s.message());
  return {chip.name, chip.dram_bytes};
}

// overload -> (how: lowered/decomposed/resolved, what it becomes): what the device runs.
std::map<std::string, std::pair<std::string, std::string>> LoweringRules() {
  std::map<std::string, std::pair<std::string, std::string>> out;
  for (const auto& [target, entry] : compiler::LoweringRules())
    out[target] = {compiler::RuleKindName(entry.kind), entry.how};
  return out;
}

// overload -> why it cannot run on the device (yet).
std::map<std::string, std::string> UnsupportedOps() {
  std::map<std::string, std::string> out;
  for (const auto& [target, op] : compiler::UnsupportedAtenOps()) out[target] = compiler::UnsupportedMessage(op);
  return out;
}

}  // namespace
}  // namespace kiln::ext

NB_MODULE(kiln_ext, m) {
  using namespace kiln::ext;
  m.doc() = "Kiln's compiler and simulated device, in process (see torch_frontend/kiln_backend.py)";
  nb::exception<KilnError>(m, "KilnError");
  nb::class_<Graph>(m, "Graph")
      .def("run", &Graph::Run, nb::arg("inputs"),
           "Runs on CPU tensors (contiguous, in the program's input order); returns (outputs, stats).")
      .def("reset_state", &Graph::ResetState,
           "Puts the program's state (buffers the module mutates, e.g. a KV cache) back to its initial value.")
      .def_prop_ro("summary", &Graph::Summary)
      .def_prop_ro("load_stats", &Graph::LoadStats)
      .def_prop_ro("num_inputs", &Graph::num_inputs)
      .def_prop_ro("num_outputs", &Graph::num_outputs)
      .def_prop_ro("name", &Graph::name);
  m.def("compile", &CompileGraph, nb::arg("pt2"), nb::arg("name") = "graph", nb::arg("device_dtype") = "f32",
        nb::arg("chip") = "", nb::arg("device_memory_bytes") = 0, nb::arg("dump_dir") = "",
        nb::arg("share_from") = nb::none(), nb::arg("kiln_path") = "",
        "Compiles a .pt2 archive's bytes and loads the program onto a new simulated device, or, with\n"
        "share_from=graph, onto that graph's device, reading and writing its state and using its device\n"
        "copy of every weight both programs hold (e.g. a prefill program beside the decode step that owns\n"
        "the KV cache and the weights; both must mutate the same buffers). `pt2` is the archive's bytes or\n"
        "its path (mapped, not read); with kiln_path the program is written there and mapped from it.");
  m.def("load_chip", &LoadChip, nb::arg("path"), "Checks a chip description; returns (name, dram_bytes).");
  m.def("lowering_rules", &LoweringRules, "ATen overload -> (lowered|decomposed|resolved, device ops).");
  m.def("unsupported_ops", &UnsupportedOps, "ATen overload -> why the device cannot run it (yet).");
}

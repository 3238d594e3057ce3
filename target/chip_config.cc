#include "target/chip_config.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "nlohmann/json.hpp"
#include "ops/tile_layout.h"

namespace kiln::target {
namespace {

constexpr char kDefaultConfigJson[] =
#include "target/default_chip_config.inc"
    ;

// Upper bounds keep every derived integer (bytes, cycles) far from overflow: 1 PiB of DRAM, 1e6
// cores, rates below 1e9 of their unit.
constexpr double kMaxValue = 1e15;

template <typename T>
Status ReadPositive(const nlohmann::json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number())
    return Status::InvalidProgram(std::string("chip config: missing numeric field '") + key + "'");
  const double v = it->get<double>();
  if (!(v > 0)) return Status::InvalidProgram(std::string("chip config: '") + key + "' must be positive");
  if (!(v <= kMaxValue))
    return Status::InvalidProgram(std::string("chip config: '") + key + "' is " + std::to_string(v) +
                                  ", above the largest supported value 1e15");
  *out = static_cast<T>(v);
  return Status::Ok();
}

// The matrix engine multiplies 5-bit by 7-bit significands; one to four phases cover a wider one.
Status ReadPhases(const nlohmann::json& j, const char* key, int64_t* out) {
  KILN_RETURN_IF_ERROR(ReadPositive(j, key, out));
  if (*out > 4 || static_cast<double>(*out) != j.at(key).get<double>())
    return Status::InvalidProgram(std::string("chip config: '") + key + "' must be a whole number of phases, 1 to 4");
  return Status::Ok();
}

}  // namespace

double ChipConfig::MatrixPeakBf16TflopPerS() const {
  return static_cast<double>(cores * matrix_flop_per_cycle_per_core) / static_cast<double>(matrix_fidelity_phases_bf16) *
         clock_ghz * 1e-3;
}

double ChipConfig::MatrixFlopsPerCycle(ops::DType dtype) const {
  const double bf16 = matrix_best_bf16_tflop_per_s * 1e3 / clock_ghz;
  if (dtype == ops::DType::kBF16) return bf16;
  return bf16 * static_cast<double>(matrix_fidelity_phases_bf16) / static_cast<double>(matrix_fidelity_phases_f32);
}

Status ParseChipConfig(const std::string& json_text, ChipConfig* out) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidProgram("chip config: not a JSON object");
  ChipConfig c;
  auto name = j.find("name");
  c.name = name != j.end() && name->is_string() ? name->get<std::string>() : "unnamed";
  KILN_RETURN_IF_ERROR(ReadPositive(j, "clock_ghz", &c.clock_ghz));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "cores", &c.cores));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "sram_bytes_per_core", &c.sram_bytes_per_core));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "dram_bytes", &c.dram_bytes));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "dram_bandwidth_gb_per_s", &c.dram_bandwidth_gb_per_s));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "matrix_flop_per_cycle_per_core", &c.matrix_flop_per_cycle_per_core));
  KILN_RETURN_IF_ERROR(ReadPhases(j, "matrix_fidelity_phases_bf16", &c.matrix_fidelity_phases_bf16));
  KILN_RETURN_IF_ERROR(ReadPhases(j, "matrix_fidelity_phases_f32", &c.matrix_fidelity_phases_f32));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "matrix_best_bf16_tflop_per_s", &c.matrix_best_bf16_tflop_per_s));
  KILN_RETURN_IF_ERROR(
      ReadPositive(j, "vector_elements_per_cycle_per_core", &c.vector_elements_per_cycle_per_core));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "host_link_gb_per_s", &c.host_link_gb_per_s));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "host_link_latency_us", &c.host_link_latency_us));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "op_launch_us", &c.op_launch_us));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "tile", &c.tile));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "sram_reserved_bytes_per_core", &c.sram_reserved_bytes_per_core));
  if (c.sram_reserved_bytes_per_core >= c.sram_bytes_per_core)
    return Status::InvalidProgram("chip config: 'sram_reserved_bytes_per_core' is " +
                                  std::to_string(c.sram_reserved_bytes_per_core) + ", not below 'sram_bytes_per_core' " +
                                  std::to_string(c.sram_bytes_per_core) + ": no SRAM would be left for tensors");
  // A measured rate above the engine's own peak is a typo, not a faster chip.
  if (c.matrix_best_bf16_tflop_per_s > c.MatrixPeakBf16TflopPerS() * (1 + 1e-9))
    return Status::InvalidProgram(
        "chip config: 'matrix_best_bf16_tflop_per_s' is " + std::to_string(c.matrix_best_bf16_tflop_per_s) +
        ", above the peak " + std::to_string(c.MatrixPeakBf16TflopPerS()) + " TFLOP/s of " +
        std::to_string(c.cores) + " cores x " + std::to_string(c.matrix_flop_per_cycle_per_core) +
        " FLOPs per cycle / " + std::to_string(c.matrix_fidelity_phases_bf16) + " phases at " +
        std::to_string(c.clock_ghz) + " GHz");
  if (c.tile != ops::kTileDim)
    return Status::Unsupported("chip config: tile " + std::to_string(c.tile) + ", but the op library is built for " +
                               std::to_string(ops::kTileDim) + "x" + std::to_string(ops::kTileDim) + " tiles");
  *out = c;
  return Status::Ok();
}

Status LoadChipConfig(const std::string& path, ChipConfig* out) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("chip config: cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) return Status::InvalidArgument("chip config: cannot read " + path);
  return ParseChipConfig(ss.str(), out).WithPrefix(path + ": ");
}

const ChipConfig& DefaultChipConfig() {
  static const ChipConfig config = [] {
    ChipConfig c;
    Status s = ParseChipConfig(kDefaultConfigJson, &c);
    if (!s.ok()) {
      std::fprintf(stderr, "kiln: the embedded default chip config is invalid (a build defect): %s\n",
                   s.message().c_str());
      std::abort();
    }
    return c;
  }();
  return config;
}

Status ParseByteSize(const std::string& text, int64_t* bytes) {
  static constexpr struct {
    const char* suffix;
    double scale;
  } kUnits[] = {{"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"B", 1.0}};
  std::string number = text;
  double scale = 1;
  for (const auto& u : kUnits) {
    const std::string suffix = u.suffix;
    if (number.size() > suffix.size() && number.compare(number.size() - suffix.size(), suffix.size(), suffix) == 0) {
      number.resize(number.size() - suffix.size());
      scale = u.scale;
      break;
    }
  }
  char* end = nullptr;
  const double v = number.empty() ? 0 : std::strtod(number.c_str(), &end);
  const double b = v * scale;
  if (number.empty() || end != number.c_str() + number.size() || !(b >= 1) || b > 1125899906842624.0)
    return Status::InvalidArgument("'" + text + "' is not a byte size (e.g. 24MiB, 1.5GiB, 4096; at most 2^50)");
  *bytes = static_cast<int64_t>(b);
  return Status::Ok();
}

}  // namespace kiln::target

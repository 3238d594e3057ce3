#include "simulator/chip_config.h"

#include <fstream>
#include <sstream>

#include "nlohmann/json.hpp"

namespace kiln::sim {
namespace {

constexpr char kDefaultConfigJson[] =
#include "simulator/default_chip_config.inc"
    ;

template <typename T>
Status ReadPositive(const nlohmann::json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number())
    return Status::Error(std::string("chip config: missing numeric field '") + key + "'");
  const double v = it->get<double>();
  if (!(v > 0)) return Status::Error(std::string("chip config: '") + key + "' must be positive");
  *out = static_cast<T>(v);
  return Status::Ok();
}

}  // namespace

Status ParseChipConfig(const std::string& json_text, ChipConfig* out) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Error("chip config: not a JSON object");
  ChipConfig c;
  c.name = j.value("name", std::string("unnamed"));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "clock_ghz", &c.clock_ghz));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "cores", &c.cores));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "sram_bytes_per_core", &c.sram_bytes_per_core));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "dram_bytes", &c.dram_bytes));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "dram_bandwidth_gb_per_s", &c.dram_bandwidth_gb_per_s));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "matrix_tflop_per_s", &c.matrix_tflop_per_s));
  KILN_RETURN_IF_ERROR(
      ReadPositive(j, "vector_elements_per_cycle_per_core", &c.vector_elements_per_cycle_per_core));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "host_link_gb_per_s", &c.host_link_gb_per_s));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "host_link_latency_us", &c.host_link_latency_us));
  KILN_RETURN_IF_ERROR(ReadPositive(j, "op_launch_us", &c.op_launch_us));
  *out = c;
  return Status::Ok();
}

Status LoadChipConfig(const std::string& path, ChipConfig* out) {
  std::ifstream in(path);
  if (!in) return Status::Error("chip config: cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  Status s = ParseChipConfig(ss.str(), out);
  return s.ok() ? s : Status::Error(path + ": " + s.message());
}

const ChipConfig& DefaultChipConfig() {
  static const ChipConfig config = [] {
    ChipConfig c;
    Status s = ParseChipConfig(kDefaultConfigJson, &c);
    // The embedded file is part of the build; a bad one is a build defect caught by chip_config_test.
    if (!s.ok()) c.name = "invalid: " + s.message();
    return c;
  }();
  return config;
}

}  // namespace kiln::sim

#include "target/chip_config.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace kiln::target {
namespace {

TEST(ChipConfig, DefaultMatchesConfigFile) {
  const ChipConfig& c = DefaultChipConfig();
  EXPECT_EQ(c.name, "wormhole_n150");
  EXPECT_EQ(c.cores, 72);
  EXPECT_EQ(c.dram_bytes, int64_t{12} << 30);
  EXPECT_DOUBLE_EQ(c.dram_bandwidth_gb_per_s, 267.0);  // measured; the spec sheet says 288
  EXPECT_DOUBLE_EQ(c.matrix_best_bf16_tflop_per_s, 54.3);
  // The spec sheet's 74 TFLOP/s is the engine's bf16 peak at full fidelity on 72 cores.
  EXPECT_NEAR(c.MatrixPeakBf16TflopPerS(), 73.728, 1e-9);
  EXPECT_DOUBLE_EQ(c.MatrixFlopsPerCycle(ops::DType::kBF16), 54300.0);
  EXPECT_DOUBLE_EQ(c.MatrixFlopsPerCycle(ops::DType::kF32),
                   54300.0 * c.matrix_fidelity_phases_bf16 / c.matrix_fidelity_phases_f32);
  EXPECT_DOUBLE_EQ(c.MatrixFlopsPerCyclePerCore(ops::DType::kBF16), 54300.0 / 72);
  EXPECT_EQ(c.sram_bytes(), int64_t{72} * 1572864);
  // 256 KiB of each core is the op library's; SRAM regions are spread over all 72 cores.
  EXPECT_EQ(c.sram_usable_bytes_per_core(), 1572864 - 262144);
  EXPECT_EQ(c.SramBytesPerCore(72 * 1000), 1000);
  EXPECT_EQ(c.SramBytesPerCore(72 * 1000 + 1), 1001);
  EXPECT_EQ(c.tile, 32);
  // The embedded default is exactly the checked-in file.
  std::ifstream in("target/configs/wormhole_n150.json");
  std::stringstream ss;
  ss << in.rdbuf();
  ChipConfig from_file;
  ASSERT_TRUE(ParseChipConfig(ss.str(), &from_file).ok());
  EXPECT_EQ(from_file.dram_bytes, c.dram_bytes);
  EXPECT_EQ(from_file.host_link_latency_us, c.host_link_latency_us);
}

TEST(ChipConfig, RejectsMissingAndBadFields) {
  ChipConfig c;
  Status s = ParseChipConfig("{\"clock_ghz\": 1}", &c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidProgram);
  EXPECT_NE(s.message().find("'cores'"), std::string::npos) << s.message();
  s = ParseChipConfig("not json", &c);
  EXPECT_FALSE(s.ok());
  s = LoadChipConfig("/nonexistent/chip.json", &c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("cannot open"), std::string::npos);
}

TEST(ChipConfig, RejectsValuesThatWouldOverflow) {
  // 1e30 bytes of DRAM would be undefined behaviour in the conversion to int64.
  std::string json = R"({"clock_ghz": 1, "cores": 72, "sram_bytes_per_core": 1572864, "dram_bytes": 1e30,
    "sram_reserved_bytes_per_core": 262144,
    "dram_bandwidth_gb_per_s": 267, "matrix_flop_per_cycle_per_core": 4096, "matrix_fidelity_phases_bf16": 4,
    "matrix_fidelity_phases_f32": 4, "matrix_best_bf16_tflop_per_s": 54.3, "vector_elements_per_cycle_per_core": 64,
    "host_link_gb_per_s": 25, "host_link_latency_us": 5, "op_launch_us": 1, "tile": 32})";
  ChipConfig c;
  Status s = ParseChipConfig(json, &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'dram_bytes' is"), std::string::npos) << s.message();
  // A tile the op library is not built for.
  json.replace(json.find("1e30"), 4, "1e9");
  json.replace(json.find("\"tile\": 32"), 10, "\"tile\": 16");
  s = ParseChipConfig(json, &c);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.message();
}

TEST(ChipConfig, MatrixCeilingsAreChecked) {
  std::ifstream in("target/configs/wormhole_n150.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string good = ss.str();
  auto parse_with = [&](const std::string& from, const std::string& to) {
    std::string json = good;
    json.replace(json.find(from), from.size(), to);
    ChipConfig c;
    return ParseChipConfig(json, &c);
  };
  EXPECT_EQ(parse_with("\"matrix_best_bf16_tflop_per_s\": 54.3", "\"matrix_best_bf16_tflop_per_s\": 80").message(),
            "chip config: 'matrix_best_bf16_tflop_per_s' is 80.000000, above the peak 73.728000 TFLOP/s of 72 cores "
            "x 4096 FLOPs per cycle / 4 phases at 1.000000 GHz");
  EXPECT_EQ(parse_with("\"matrix_fidelity_phases_f32\": 4", "\"matrix_fidelity_phases_f32\": 2.5").message(),
            "chip config: 'matrix_fidelity_phases_f32' must be a whole number of phases, 1 to 4");
  EXPECT_EQ(parse_with("\"matrix_fidelity_phases_bf16\": 4", "\"matrix_fidelity_phases_bf16\": 5").message(),
            "chip config: 'matrix_fidelity_phases_bf16' must be a whole number of phases, 1 to 4");
  EXPECT_EQ(parse_with("\"sram_reserved_bytes_per_core\": 262144", "\"sram_reserved_bytes_per_core\": 1572864").message(),
            "chip config: 'sram_reserved_bytes_per_core' is 1572864, not below 'sram_bytes_per_core' 1572864: no SRAM "
            "would be left for tensors");
  EXPECT_EQ(parse_with("\"matrix_flop_per_cycle_per_core\": 4096,", "").message(),
            "chip config: missing numeric field 'matrix_flop_per_cycle_per_core'");
}

TEST(ByteSize, UnitsAndErrors) {
  int64_t b = 0;
  ASSERT_TRUE(ParseByteSize("24MiB", &b).ok());
  EXPECT_EQ(b, 24 << 20);
  ASSERT_TRUE(ParseByteSize("1.5GiB", &b).ok());
  EXPECT_EQ(b, int64_t{3} << 29);
  ASSERT_TRUE(ParseByteSize("4096", &b).ok());
  EXPECT_EQ(b, 4096);
  ASSERT_TRUE(ParseByteSize("512KiB", &b).ok());
  EXPECT_EQ(b, 512 << 10);
  for (const char* bad : {"", "MiB", "24 MiB", "24MB", "-1MiB", "0", "nan", "2000000GiB", "1e400"})
    EXPECT_EQ(ParseByteSize(bad, &b).message(),
              std::string("'") + bad + "' is not a byte size (e.g. 24MiB, 1.5GiB, 4096; at most 2^50)")
        << bad;
}

}  // namespace
}  // namespace kiln::target

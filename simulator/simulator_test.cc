#include <cmath>

#include <gtest/gtest.h>

#include "target/chip_config.h"
#include "simulator/cost_model.h"
#include "simulator/device.h"
#include "simulator/device_memory.h"

namespace kiln::sim {
namespace {

using target::ChipConfig;
using target::DefaultChipConfig;

TEST(DeviceMemory, BoundsAreChecked) {
  DeviceMemory mem(1000);
  uint64_t a = 0, b = 0;
  ASSERT_TRUE(mem.Allocate(100, "a", &a).ok());
  ASSERT_TRUE(mem.Allocate(200, "b", &b).ok());
  EXPECT_EQ(mem.in_use(), 300);
  uint8_t* p = nullptr;
  EXPECT_TRUE(mem.Access(a, 100, &p).ok());
  EXPECT_TRUE(mem.Access(a + 99, 1, &p).ok());
  Status s = mem.Access(a + 99, 2, &p);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("outside allocation 'a'"), std::string::npos) << s.message();
  EXPECT_FALSE(mem.Access(0, 1, &p).ok());
  EXPECT_FALSE(mem.Access(b + 200, 1, &p).ok());  // the gap after b
  ASSERT_TRUE(mem.Free(a).ok());
  EXPECT_FALSE(mem.Access(a, 1, &p).ok());  // use after free
  EXPECT_FALSE(mem.Free(a).ok());
  EXPECT_EQ(mem.peak(), 300);
}

TEST(DeviceMemory, TooSmallIsAClearError) {
  DeviceMemory mem(1000);
  uint64_t a = 0;
  Status s = mem.Allocate(1001, "activation arena", &a);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("device memory too small: activation arena needs 1001 bytes"),
            std::string::npos)
      << s.message();
}

TEST(CostModel, WholeTilesAndRoofline) {
  const ChipConfig& c = DefaultChipConfig();
  CostModel cost(c);
  // Compute-bound matmul: 2*1024^3 FLOPs at 74 TFLOP/s and 1 GHz.
  const double flops = 2.0 * 1024 * 1024 * 1024;
  OpCost mm = cost.Op(ops::Unit::kMatrix, flops, 0, 0);
  EXPECT_NEAR(mm.compute_cycles, flops / 74000.0, 1e-6);
  EXPECT_DOUBLE_EQ(mm.launch_cycles, 1000.0);
  // Memory-bound: 288 bytes per cycle.
  OpCost copy = cost.Op(ops::Unit::kDataMovement, 0, 288 * 1000, 288 * 1000);
  EXPECT_DOUBLE_EQ(copy.memory_cycles, 2000.0);
  EXPECT_DOUBLE_EQ(copy.total_cycles, 3000.0);
  // Host link: 5 us + bytes / 25 GB/s.
  EXPECT_DOUBLE_EQ(cost.Transfer(25000), 5000.0 + 1000.0);
  EXPECT_DOUBLE_EQ(cost.CyclesToMicros(1500.0), 1.5);
}

TEST(CostModel, RooflineIsTheSlowerOfComputeAndMemoryPlusTheHostLink) {
  CostModel cost(DefaultChipConfig());
  // Compute-bound: 74e9 FLOPs take 1e6 cycles; 288 bytes take 1 cycle; no host traffic.
  EXPECT_DOUBLE_EQ(cost.RooflineCycles(74e9, 288, 0, 0), 1e6);
  // Memory-bound: 288e6 bytes take 1e6 cycles.
  EXPECT_DOUBLE_EQ(cost.RooflineCycles(74.0, 288'000'000, 0, 0), 1e6);
  // Two transfers of 25000 bytes in all: 2 * 5000 cycles latency + 1000 cycles of link time.
  EXPECT_DOUBLE_EQ(cost.RooflineCycles(0, 0, 25000, 2), 11000.0);
}

TEST(Device, DmaRoundTripTilizesAndConverts) {
  Device dev(DefaultChipConfig());
  const ops::Shape shape = {3, 33, 40};
  std::vector<float> host(ops::NumElements(shape));
  for (size_t i = 0; i < host.size(); ++i) host[i] = std::sin(0.37f * i) * 100.0f;
  for (ops::DType dt : {ops::DType::kF32, ops::DType::kBF16}) {
    DeviceTensor t{0, shape, dt, ops::Layout::kTile};
    ASSERT_TRUE(dev.Allocate(t.stored_bytes(), "t", &t.addr).ok());
    EXPECT_EQ(t.stored_bytes(), 3 * 64 * 64 * ops::DTypeSize(dt));
    ASSERT_TRUE(dev.CopyToDevice({host.data(), shape, ops::DType::kF32}, t).ok());
    std::vector<float> back(host.size());
    ASSERT_TRUE(dev.CopyToHost(t, back.data(), ops::DType::kF32).ok());
    for (size_t i = 0; i < host.size(); ++i) {
      const float expect = dt == ops::DType::kF32 ? host[i] : ops::BF16ToFloat(ops::FloatToBF16(host[i]));
      ASSERT_EQ(back[i], expect) << i;
    }
  }
  EXPECT_EQ(dev.counters().transfers, 4);
  EXPECT_EQ(dev.counters().host_to_device_bytes, 2 * 3 * 33 * 40 * 4);
}

TEST(Device, LaunchComputesAndCounts) {
  Device dev(DefaultChipConfig());
  const ops::OpDef* relu = ops::FindOp("relu");
  ASSERT_NE(relu, nullptr);
  const ops::Shape shape = {33, 33};
  DeviceTensor in{0, shape}, out{0, shape};
  ASSERT_TRUE(dev.Allocate(in.stored_bytes(), "in", &in.addr).ok());
  ASSERT_TRUE(dev.Allocate(out.stored_bytes(), "out", &out.addr).ok());
  std::vector<float> x(33 * 33);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7) - 3.0f;
  ASSERT_TRUE(dev.CopyToDevice({x.data(), shape, ops::DType::kF32}, in).ok());
  dev.ResetCounters();
  ASSERT_TRUE(dev.Launch(*relu, {in}, {}, out).ok());
  std::vector<float> y(x.size());
  ASSERT_TRUE(dev.CopyToHost(out, y.data(), ops::DType::kF32).ok());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], std::max(0.0f, x[i]));
  const Counters& c = dev.counters();
  EXPECT_EQ(c.ops_executed, 1);
  EXPECT_EQ(c.dram_read_bytes, 64 * 64 * 4 + 64 * 64 * 4);  // op input + DMA readback, padded
  EXPECT_GT(c.op_cycles.at("relu"), 0.0);
}

TEST(Device, LaunchRejectsWrongOutputShapeAndBadAddress) {
  Device dev(DefaultChipConfig());
  const ops::OpDef* add = ops::FindOp("add");
  ASSERT_NE(add, nullptr);
  DeviceTensor a{0, {4, 4}}, b{0, {4, 4}}, out{0, {4, 5}};
  ASSERT_TRUE(dev.Allocate(a.stored_bytes(), "a", &a.addr).ok());
  ASSERT_TRUE(dev.Allocate(b.stored_bytes(), "b", &b.addr).ok());
  ASSERT_TRUE(dev.Allocate(out.stored_bytes(), "out", &out.addr).ok());
  Status s = dev.Launch(*add, {a, b}, {}, out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("produces [4, 4]"), std::string::npos) << s.message();
  DeviceTensor wild{a.addr + 8, {4, 4}};
  out.shape = {4, 4};
  s = dev.Launch(*add, {wild, b}, {}, out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("outside allocation"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace kiln::sim

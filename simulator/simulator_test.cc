#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>

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

// Pages of this process, from /proc/self/statm: field 0 is the virtual size, field 1 resident.
int64_t StatmPages(int field) {
  std::ifstream statm("/proc/self/statm");
  int64_t v[2] = {0, 0};
  statm >> v[0] >> v[1];
  return v[field];
}
int64_t ResidentBytes() { return StatmPages(1) * sysconf(_SC_PAGESIZE); }

constexpr int64_t kGiB = int64_t{1} << 30;

// A 1 KB program may ask for the whole 12 GiB DRAM. The simulator reserves it without touching it
// (before, it zero-filled every byte of host RAM, or aborted on std::bad_alloc); memory reads as
// zeros and only the pages a program uses become resident.
TEST(DeviceMemory, LargeAllocationsCostOnlyTheBytesTouched) {
  DeviceMemory mem(12 * kGiB);
  const int64_t before = ResidentBytes();
  uint64_t a = 0;
  ASSERT_TRUE(mem.Allocate(8 * kGiB, "activation arena", &a).ok());
  uint8_t* p = nullptr;
  ASSERT_TRUE(mem.Access(a + 5 * kGiB, 4096, &p).ok());
  EXPECT_EQ(p[0], 0);
  EXPECT_EQ(p[4095], 0);
  p[17] = 42;
  uint8_t* q = nullptr;
  ASSERT_TRUE(mem.Access(a + 5 * kGiB + 17, 1, &q).ok());
  EXPECT_EQ(*q, 42);
  ASSERT_TRUE(mem.Access(a + 8 * kGiB - 1, 1, &q).ok());
  EXPECT_EQ(*q, 0);
  EXPECT_LT(ResidentBytes() - before, 64 << 20);
  EXPECT_EQ(mem.in_use(), 8 * kGiB);
  ASSERT_TRUE(mem.Free(a).ok());
  EXPECT_EQ(mem.in_use(), 0);
  // Zero bytes is a valid allocation with no host memory behind it.
  ASSERT_TRUE(mem.Allocate(0, "empty", &a).ok());
  EXPECT_TRUE(mem.Access(a, 0, &p).ok());
  EXPECT_FALSE(mem.Access(a, 1, &p).ok());
}

// A device larger than the host's address space: the allocation fits the simulated DRAM but no host
// can map it. A clear OutOfMemory status, not std::bad_alloc or std::length_error.
TEST(DeviceMemory, AllocationBeyondTheHostAddressSpaceIsAClearError) {
  DeviceMemory mem(INT64_MAX);
  uint64_t a = 0;
  Status s = mem.Allocate(int64_t{1} << 62, "constants", &a);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOutOfMemory);
  EXPECT_EQ(s.message().rfind("host memory for the simulated device's 4611686018427387904-byte "
                              "allocation 'constants' could not be reserved: ", 0),
            0u)
      << s.message();
  EXPECT_EQ(mem.in_use(), 0);  // nothing was taken
  ASSERT_TRUE(mem.Allocate(4096, "small", &a).ok());
}

#if !defined(__SANITIZE_ADDRESS__)  // ASan reserves terabytes of shadow memory up front
// A host whose limit (RLIMIT_AS, set in a child process so it does not outlive the test) is below
// the request gets the same clear error.
[[noreturn]] void AllocateUnderHostLimit() {
  const rlim_t limit = StatmPages(0) * sysconf(_SC_PAGESIZE) + (256 << 20);
  const rlimit lim{limit, limit};
  if (setrlimit(RLIMIT_AS, &lim) != 0) std::_Exit(2);
  DeviceMemory mem(12 * kGiB);
  uint64_t a = 0;
  const Status s = mem.Allocate(2 * kGiB, "activation arena", &a);
  std::fprintf(stderr, "%s\n", s.message().c_str());
  std::_Exit(s.code() == StatusCode::kOutOfMemory ? 0 : 1);
}

TEST(DeviceMemory, AllocationTheHostRefusesIsAClearError) {
  EXPECT_EXIT(AllocateUnderHostLimit(), ::testing::ExitedWithCode(0),
              "host memory for the simulated device's 2147483648-byte allocation 'activation arena' "
              "could not be reserved: Cannot allocate memory");
}
#endif

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

// The fuzzed programs' defects, one simulator step each (the .kiln files themselves are format 1).
// timeout_zero_dim_tile: a [2^40, 0, 1] tile tensor went through DMA and an op in 2^40 iterations.
TEST(Device, EmptyTileTensorWithAHugeBatchTakesNoTime) {
  Device dev(DefaultChipConfig());
  const ops::Shape shape = {int64_t{1} << 40, 0, 1};
  DeviceTensor in{0, shape}, out{0, shape};
  EXPECT_EQ(in.stored_bytes(), 0);
  ASSERT_TRUE(dev.Allocate(in.stored_bytes(), "in", &in.addr).ok());
  ASSERT_TRUE(dev.Allocate(out.stored_bytes(), "out", &out.addr).ok());
  ASSERT_TRUE(dev.CopyToDevice({nullptr, shape, ops::DType::kF32}, in).ok());
  ASSERT_TRUE(dev.Launch(*ops::FindOp("relu"), {in}, {}, out).ok());
  ASSERT_TRUE(dev.CopyToHost(out, nullptr, ops::DType::kF32).ok());
}

// timeout_maxpool_window: kernel height 2^40 + 1 and padding 2^39 on a 1x1 image hung the kernel.
TEST(Device, UnboundedPoolingWindowIsRejectedBeforeTheKernel) {
  Device dev(DefaultChipConfig());
  DeviceTensor x{0, {1, 1, 1, 1}}, y{0, {1, 1, 1, 1}};
  ASSERT_TRUE(dev.Allocate(x.stored_bytes(), "x", &x.addr).ok());
  ASSERT_TRUE(dev.Allocate(y.stored_bytes(), "y", &y.addr).ok());
  ops::Attrs attrs;
  attrs.SetInts("kernel", {(int64_t{1} << 40) + 1, 1}).SetInts("stride", {1, 1});
  attrs.SetInts("padding", {int64_t{1} << 39, 0}).SetInts("dilation", {1, 1}).SetInt("ceil_mode", 0);
  const Status s = dev.Launch(*ops::FindOp("max_pool2d"), {x}, attrs, y);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "max_pool2d: attribute 'kernel' must hold 2 ints in [1, 2^40], got [1099511627777, 1]");
  EXPECT_EQ(dev.counters().ops_executed, 0);
}

}  // namespace
}  // namespace kiln::sim

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
#include "simulator/range_times.h"

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

// An op's work goes to the cores in whole output tiles; it takes as long as its busiest core.
TEST(CostModel, CoreGridSplitsWholeOutputTiles) {
  const ChipConfig& c = DefaultChipConfig();
  CostModel cost(c);
  const double per_core = c.MatrixFlopsPerCyclePerCore(ops::DType::kF32);
  const double work = 2.0 * 1024 * 1024 * 1024;
  // 720 tiles: 10 on every core, so the whole chip's measured rate.
  OpCost full = cost.Op(ops::Unit::kMatrix, ops::DType::kF32, work, {720}, 0, 0);
  EXPECT_EQ(full.cores_used, 72);
  EXPECT_NEAR(full.compute_cycles, work / c.MatrixFlopsPerCycle(ops::DType::kF32), 1e-6 * full.compute_cycles);
  // One tile: one core does it all, 72 times slower.
  OpCost one = cost.Op(ops::Unit::kMatrix, ops::DType::kF32, work, {1}, 0, 0);
  EXPECT_EQ(one.cores_used, 1);
  EXPECT_DOUBLE_EQ(one.compute_cycles, work / per_core);
  EXPECT_NEAR(one.compute_cycles, 72 * full.compute_cycles, 1e-6 * one.compute_cycles);
  // 73 tiles: one core gets two of them.
  OpCost odd = cost.Op(ops::Unit::kMatrix, ops::DType::kF32, work, {73}, 0, 0);
  EXPECT_EQ(odd.cores_used, 72);
  EXPECT_DOUBLE_EQ(odd.compute_cycles, work * 2 / 73 / per_core);
  // bf16 runs at its own fidelity's rate.
  OpCost bf16 = cost.Op(ops::Unit::kMatrix, ops::DType::kBF16, work, {720}, 0, 0);
  EXPECT_NEAR(full.compute_cycles / bf16.compute_cycles,
              static_cast<double>(c.matrix_fidelity_phases_f32) / c.matrix_fidelity_phases_bf16, 1e-12);
  // The vector unit splits the same way.
  OpCost vec = cost.Op(ops::Unit::kVector, ops::DType::kF32, 4096, {4}, 0, 0);
  EXPECT_EQ(vec.cores_used, 4);
  EXPECT_DOUBLE_EQ(vec.compute_cycles, 1024.0 / c.vector_elements_per_cycle_per_core);
  // An empty output uses no core and no time beyond the launch.
  OpCost empty = cost.Op(ops::Unit::kVector, ops::DType::kF32, 0, {0}, 0, 0);
  EXPECT_EQ(empty.cores_used, 0);
  EXPECT_DOUBLE_EQ(empty.total_cycles, empty.launch_cycles);
}

// A split over input tiles (a reduction) keeps every core busy, then merges the cores' partials.
TEST(CostModel, SplitOverInputTilesAddsTheCombine) {
  const ChipConfig& c = DefaultChipConfig();
  CostModel cost(c);
  const double rate = c.vector_elements_per_cycle_per_core;
  // 720 input tiles into 10 output tiles: 10 tiles per core; each output tile's 72 input tiles span
  // ceil(72 / 10) + 1 = 9 cores, so 9 partials of the 10 output tiles' 10240 elements, on 10 cores.
  const double work = 720.0 * 1024;
  OpCost r = cost.Op(ops::Unit::kVector, ops::DType::kF32, work, {720, 10, 10240.0}, 0, 0);
  EXPECT_EQ(r.cores_used, 72);
  EXPECT_DOUBLE_EQ(r.compute_cycles, (work / 72 + 9 * 1024.0) / rate);
  // One input tile per output tile: one partial each, no core waits on another.
  OpCost map = cost.Op(ops::Unit::kVector, ops::DType::kF32, work, {720, 720, work}, 0, 0);
  EXPECT_DOUBLE_EQ(map.compute_cycles, 2 * work / 72 / rate);
  // Never faster than the whole chip's rate on the work alone.
  EXPECT_GE(r.compute_cycles, work / (72 * rate));
}

TEST(CostModel, MemoryLaunchAndTransfer) {
  const ChipConfig& c = DefaultChipConfig();
  CostModel cost(c);
  const double bytes_per_cycle = c.dram_bandwidth_gb_per_s / c.clock_ghz;
  OpCost copy = cost.Op(ops::Unit::kDataMovement, ops::DType::kF32, 0, {8}, 267 * 1000, 267 * 1000);
  EXPECT_DOUBLE_EQ(copy.memory_cycles, 2 * 267 * 1000 / bytes_per_cycle);
  EXPECT_DOUBLE_EQ(copy.launch_cycles, c.op_launch_us * c.cycles_per_us());
  EXPECT_DOUBLE_EQ(copy.total_cycles, copy.memory_cycles + copy.launch_cycles);
  // Host link: latency + bytes / link bandwidth.
  EXPECT_DOUBLE_EQ(cost.Transfer(25000),
                   c.host_link_latency_us * c.cycles_per_us() + 25000 / (c.host_link_gb_per_s / c.clock_ghz));
  EXPECT_DOUBLE_EQ(cost.CyclesToMicros(1500.0), 1.5 / c.clock_ghz);
}

TEST(CostModel, RooflineIsTheLargestOfComputeStreamedWeightsAndTheHostLink) {
  const ChipConfig& c = DefaultChipConfig();
  CostModel cost(c);
  const double best = c.MatrixFlopsPerCycle(ops::DType::kBF16);
  // Compute-bound: FLOPs at the best matrix rate.
  EXPECT_DOUBLE_EQ(cost.RooflineCycles(best * 1e6, 0, 0, 0), 1e6);
  // Weights that fit the cores' SRAM stay there: no DRAM bound.
  EXPECT_DOUBLE_EQ(cost.RooflineCycles(0, c.sram_bytes(), 0, 0), 0.0);
  // Beyond it, the excess streams from DRAM every run.
  const double bytes_per_cycle = c.dram_bandwidth_gb_per_s / c.clock_ghz;
  EXPECT_DOUBLE_EQ(cost.RooflineCycles(0, c.sram_bytes() + 267'000'000, 0, 0), 267'000'000 / bytes_per_cycle);
  // Two transfers of 25000 bytes in all: their latencies and the link time.
  const double link = 2 * c.host_link_latency_us * c.cycles_per_us() + 25000 / (c.host_link_gb_per_s / c.clock_ghz);
  EXPECT_DOUBLE_EQ(cost.RooflineCycles(0, 0, 25000, 2), link);
  // The engines overlap, so the bound is the largest part, not their sum.
  EXPECT_DOUBLE_EQ(cost.RooflineCycles(best * 1e6, 0, 25000, 2), std::max(1e6, link));
}

TEST(RangeTimes, ReadersWaitForWritesAndWritersForEveryEarlierAccess) {
  RangeTimes t;
  EXPECT_EQ(t.WriteReady(100, 50), 0.0);
  t.RecordWrite(100, 50, 10.0);  // [100, 150) written by t=10
  t.RecordRead(140, 20, 30.0);   // [140, 160) read until t=30
  EXPECT_EQ(t.WriteReady(0, 100), 0.0);     // ends where the write starts
  EXPECT_EQ(t.WriteReady(149, 1), 10.0);    // one byte of overlap is enough
  EXPECT_EQ(t.WriteReady(150, 100), 0.0);
  EXPECT_EQ(t.AccessDone(100, 10), 10.0);   // WAW
  EXPECT_EQ(t.AccessDone(155, 1), 30.0);    // WAR on bytes only read
  EXPECT_EQ(t.AccessDone(0, 1000), 30.0);
  t.RecordWrite(120, 10, 5.0);  // an earlier end never moves a time back
  EXPECT_EQ(t.WriteReady(120, 10), 10.0);
  EXPECT_EQ(t.WriteReady(100, 0), 0.0);  // an empty range touches nothing
  t.Clear();
  EXPECT_EQ(t.AccessDone(0, 1000), 0.0);
  EXPECT_EQ(t.segments(), 1u);
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
  // 33x33 is 4 tiles: 4 of the 72 cores.
  EXPECT_DOUBLE_EQ(c.op_core_cycles.at("relu"), c.op_cycles.at("relu") * 4 / 72);
}

// Operands and results in SRAM cost no DRAM bytes: a matmul whose weight is SRAM-resident charges
// DRAM only for its activation operand and result, and one with everything in SRAM is compute-bound.
TEST(Device, SramOperandsCostNoDramBytes) {
  Device dev(DefaultChipConfig());
  const ops::OpDef* matmul = ops::FindOp("matmul");
  ASSERT_NE(matmul, nullptr);
  const ops::Shape shape = {256, 256};
  DeviceTensor x{0, shape}, w{0, shape}, y{0, shape}, xs{0, shape}, ys{0, shape};
  for (DeviceTensor* t : {&x, &y}) ASSERT_TRUE(dev.Allocate(t->stored_bytes(), "dram", &t->addr).ok());
  for (DeviceTensor* t : {&w, &xs, &ys}) ASSERT_TRUE(dev.AllocateSram(t->stored_bytes(), "sram", &t->addr).ok());
  const int64_t bytes = 256 * 256 * 4;
  EXPECT_EQ(dev.sram_bytes_per_core_in_use(), 3 * ((bytes + 71) / 72));
  EXPECT_EQ(dev.bytes_in_use(), 2 * bytes);  // SRAM is not DRAM
  std::vector<float> ones(256 * 256, 1.0f);
  ASSERT_TRUE(dev.CopyToDevice({ones.data(), shape, ops::DType::kF32}, x).ok());
  ASSERT_TRUE(dev.CopyToDevice({ones.data(), shape, ops::DType::kF32}, w).ok());
  ASSERT_TRUE(dev.CopyToDevice({ones.data(), shape, ops::DType::kF32}, xs).ok());
  EXPECT_EQ(dev.counters().dram_write_bytes, bytes);  // x's upload; w's and xs's land in SRAM
  EXPECT_EQ(dev.counters().sram_write_bytes, 2 * bytes);

  dev.ResetCounters();
  ASSERT_TRUE(dev.Launch(*matmul, {x, w}, {}, y).ok());  // weight in SRAM, activations in DRAM
  const Counters mixed = dev.counters();
  EXPECT_EQ(mixed.dram_read_bytes, bytes);
  EXPECT_EQ(mixed.dram_write_bytes, bytes);
  EXPECT_EQ(mixed.sram_read_bytes, bytes);
  EXPECT_EQ(dev.last_command().bytes, 2 * bytes);

  dev.ResetCounters();
  ASSERT_TRUE(dev.Launch(*matmul, {xs, w}, {}, ys).ok());  // all in SRAM
  const Counters resident = dev.counters();
  EXPECT_EQ(resident.dram_read_bytes + resident.dram_write_bytes, 0);
  EXPECT_EQ(resident.sram_read_bytes, 2 * bytes);
  EXPECT_EQ(resident.sram_write_bytes, bytes);
  EXPECT_EQ(dev.last_command().bytes, 0);
  const OpCost cost = dev.cost_model().Op(ops::Unit::kMatrix, ops::DType::kF32, 2.0 * 256 * 256 * 256, ops::WorkSplit{64}, 0, 0);
  EXPECT_DOUBLE_EQ(resident.cycles, cost.total_cycles);  // compute and launch only
  EXPECT_LT(resident.cycles, mixed.cycles);
  // Same values either way: 256 ones summed.
  std::vector<float> out(256 * 256);
  ASSERT_TRUE(dev.CopyToHost(ys, out.data(), ops::DType::kF32).ok());
  EXPECT_EQ(out[0], 256.0f);
  ASSERT_TRUE(dev.CopyToHost(y, out.data(), ops::DType::kF32).ok());
  EXPECT_EQ(out[12345], 256.0f);
  EXPECT_EQ(dev.counters().sram_read_bytes, resident.sram_read_bytes + bytes);  // ys's readback
}

TEST(Device, SramBeyondTheCoresCapacityIsAClearError) {
  ChipConfig chip = DefaultChipConfig();
  Device dev(chip);
  const int64_t usable = chip.sram_usable_bytes_per_core() * chip.cores;
  uint64_t a = 0, b = 0;
  ASSERT_TRUE(dev.AllocateSram(usable - 72, "region 'sram constants'", &a).ok());
  Status s = dev.AllocateSram(145, "region 'sram activations'", &b);
  EXPECT_EQ(s.code(), StatusCode::kOutOfMemory);
  EXPECT_EQ(s.message(),
            "SRAM too small: region 'sram activations' needs 3 bytes per core (145 bytes interleaved over 72 cores), 1 "
            "of 1310720 bytes per core are free (1572864 per core minus 262144 reserved for the op library's "
            "streaming buffers)");
  ASSERT_TRUE(dev.AllocateSram(72, "one byte per core", &b).ok());
  ASSERT_TRUE(dev.Free(a).ok());
  EXPECT_EQ(dev.sram_bytes_per_core_in_use(), 1);
  EXPECT_FALSE(dev.Free(a).ok());
  EXPECT_EQ(dev.bytes_in_use(), 0);
}

// The op's description decides the split, engine and bytes: a global mean keeps every core busy, a
// depthwise conv2d runs on the vector engine, and a take reads only the rows it selects.
TEST(Device, LaunchChargesWhatTheOpDescriptionSays) {
  Device dev(DefaultChipConfig());
  auto tensor = [&](const ops::Shape& shape) {
    DeviceTensor t{0, shape};
    EXPECT_TRUE(dev.Allocate(t.stored_bytes(), "t", &t.addr).ok());
    return t;
  };
  const DeviceTensor map = tensor({1, 32, 112, 112}), mean = tensor({1, 32, 1, 1});
  dev.ResetCounters();
  ASSERT_TRUE(dev.Launch(*ops::FindOp("reduce_mean"), {map},
                         ops::Attrs().SetInts("dims", {-1, -2}).SetInt("keepdim", 1), mean).ok());
  EXPECT_EQ(dev.last_command().cores_used, 72);  // 512 input tiles, not 32 output tiles

  const DeviceTensor w = tensor({32, 1, 3, 3}), dw = tensor({1, 32, 112, 112});
  ops::Attrs conv;
  conv.SetInts("stride", {1, 1}).SetInts("padding", {1, 1}).SetInts("dilation", {1, 1}).SetInt("groups", 32);
  ASSERT_TRUE(dev.Launch(*ops::FindOp("conv2d"), {map, w}, conv, dw).ok());
  EXPECT_EQ(dev.last_command().engine, runtime::Engine::kVector);
  EXPECT_EQ(dev.counters().flops, 0.0);  // no matrix work

  const DeviceTensor table = tensor({4096, 64}), index = tensor({1, 32}), rows = tensor({1, 32, 64});
  dev.ResetCounters();
  ASSERT_TRUE(dev.Launch(*ops::FindOp("take"), {table, index}, ops::Attrs().SetInt("dim", 0), rows).ok());
  // 32 of 4096 rows of the table, all of the index.
  EXPECT_EQ(dev.counters().dram_read_bytes, table.stored_bytes() * 32 / 4096 + index.stored_bytes());
}

// Engines overlap when the data allows: an upload runs beside an op that does not read it, a
// reader waits for its producer, and a writer waits for the earlier readers of the bytes it overwrites.
TEST(Device, EnginesOverlapWhereTheDataAllows) {
  Device dev(DefaultChipConfig());
  const ops::OpDef* relu = ops::FindOp("relu");
  const ops::Shape shape = {512, 512};
  DeviceTensor a{0, shape}, b{0, shape}, out{0, shape};
  for (DeviceTensor* t : {&a, &b, &out}) ASSERT_TRUE(dev.Allocate(t->stored_bytes(), "t", &t->addr).ok());
  std::vector<float> x(512 * 512, 1.0f);
  using runtime::CommandTiming;
  using runtime::Engine;
  ASSERT_TRUE(dev.CopyToDevice({x.data(), shape, ops::DType::kF32}, a).ok());
  const CommandTiming up_a = dev.last_command();
  EXPECT_EQ(up_a.engine, Engine::kHostLink);
  EXPECT_EQ(up_a.start_cycles, 0.0);
  // The op reads a: it starts when a has arrived.
  ASSERT_TRUE(dev.Launch(*relu, {a}, {}, out).ok());
  const CommandTiming op = dev.last_command();
  EXPECT_EQ(op.engine, Engine::kVector);
  EXPECT_DOUBLE_EQ(op.start_cycles, up_a.end_cycles);
  EXPECT_EQ(op.cores_used, 72);  // 256 tiles
  // Uploading b does not depend on the op: it follows a on the link, beside the op.
  ASSERT_TRUE(dev.CopyToDevice({x.data(), shape, ops::DType::kF32}, b).ok());
  const CommandTiming up_b = dev.last_command();
  EXPECT_DOUBLE_EQ(up_b.start_cycles, up_a.end_cycles);
  EXPECT_LT(up_b.start_cycles, op.end_cycles);
  // Overwriting a must wait for the op that reads it (WAR), even though the link is free earlier.
  ASSERT_TRUE(dev.CopyToDevice({x.data(), shape, ops::DType::kF32}, a).ok());
  const CommandTiming up_a2 = dev.last_command();
  EXPECT_DOUBLE_EQ(up_a2.start_cycles, std::max(up_b.end_cycles, op.end_cycles));
  // Reading the op's result back waits for the op, and the device's time is when the last command ends.
  std::vector<float> y(x.size());
  ASSERT_TRUE(dev.CopyToHost(out, y.data(), ops::DType::kF32).ok());
  const CommandTiming down = dev.last_command();
  EXPECT_GE(down.start_cycles, op.end_cycles);
  EXPECT_DOUBLE_EQ(dev.counters().cycles, std::max(down.end_cycles, up_a2.end_cycles));
  // Overlap: less than the busy times one after another.
  EXPECT_LT(dev.counters().cycles, dev.counters().compute_cycles + dev.counters().transfer_cycles);
  // After Synchronize nothing starts before everything issued so far has ended.
  dev.Synchronize();
  const double idle = dev.counters().cycles;
  ASSERT_TRUE(dev.Launch(*relu, {b}, {}, a).ok());
  EXPECT_DOUBLE_EQ(dev.last_command().start_cycles, idle);
}

// Two ops on different engines share the DRAM: together they never move bytes faster than its bandwidth.
TEST(Device, OverlappingOpsShareTheDramBandwidth) {
  const ChipConfig& c = DefaultChipConfig();
  Device dev(c);
  const ops::Shape shape = {1024, 1024};
  DeviceTensor a{0, shape}, b{0, shape}, o1{0, shape}, o2{0, shape};
  for (DeviceTensor* t : {&a, &b, &o1, &o2}) ASSERT_TRUE(dev.Allocate(t->stored_bytes(), "t", &t->addr).ok());
  ASSERT_TRUE(dev.Launch(*ops::FindOp("relu"), {a}, {}, o1).ok());  // vector engine, DRAM-bound
  const runtime::CommandTiming first = dev.last_command();
  ops::Attrs transpose;
  transpose.SetInts("dims", {1, 0});
  ASSERT_TRUE(dev.Launch(*ops::FindOp("permute"), {b}, transpose, o2).ok());  // DRAM DMA, independent
  const runtime::CommandTiming second = dev.last_command();
  EXPECT_EQ(second.engine, runtime::Engine::kDramDma);
  EXPECT_EQ(second.start_cycles, 0.0);  // its engine and data are free at once
  const double bytes = 4.0 * a.stored_bytes();
  EXPECT_GE(dev.counters().cycles, bytes / (c.dram_bandwidth_gb_per_s / c.clock_ghz));
  EXPECT_GT(second.end_cycles, first.end_cycles);
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

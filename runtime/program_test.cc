// Runtime tests: programs compiled in-process from hand-built device graphs (no Python, no .pt2
// files) are loaded, verified and run on the simulator; corrupted and deliberately broken programs
// are rejected with messages that say what is wrong, and never crash the loader or the executor.
#include <sys/stat.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/codegen/kiln_writer.h"
#include "compiler/lowering/device_graph.h"
#include "compiler/compiler.h"
#include "compiler/pipeline/pipeline.h"
#include "runtime/executor.h"
#include "runtime/program.h"
#include "runtime/program_validation.h"
#include "schema/file_layout.h"
#include "schema/format_version.h"
#include "schema/kiln_generated.h"
#include "target/chip_config.h"
#include "simulator/device.h"

namespace kiln::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using compiler::DeviceGraph;
using compiler::ScheduledProgram;

// ---- Building programs ------------------------------------------------------------------------

int Node(DeviceGraph& g, const std::string& op, std::vector<int> inputs, const std::string& name,
         ops::Attrs attrs = {}) {
  absl::StatusOr<int> id = g.AddNode(op, std::move(inputs), std::move(attrs), name, name);
  EXPECT_TRUE(id.ok()) << id.status();
  return id.ok() ? *id : -1;
}

// The compiler's own pipeline, up to a memory-planned program. Without epilogue fusion: the tests
// below corrupt tensors and ops by name ('addmm', 'relu'), which fusion would merge; without SRAM
// residency: they name the DRAM regions 0 'activations' and 1 'constants' (SRAM has its own tests).
ScheduledProgram Compile(DeviceGraph g) {
  compiler::CompileOptions options;
  options.fuse_epilogues = false;
  options.sram_residency = false;
  absl::StatusOr<compiler::CompileState> s = compiler::RunPipeline(std::move(g), options, "plan-memory");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s->program) : ScheduledProgram{};
}

std::string Write(const ScheduledProgram& p) {
  absl::StatusOr<std::string> bytes = compiler::WriteKiln(p);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::string();
}

// y = relu(x @ W^T + b), z = 2 * y, with x: [2, 4], W: [3, 4], b: [3].
const std::vector<float> kX = {1, 2, 3, 4, -1, 0.5f, 2, -3};
const std::vector<float> kW = {0.5f, -1, 2, 0, 1, 1, 1, 1, 0, 0, -1, 3};
const std::vector<float> kB = {0.25f, -1, 2};
// Row 0: (4.5 + .25, 10 - 1, 9 + 2); row 1: (3 + .25, -1.5 - 1, -11 + 2), then relu.
const std::vector<float> kY = {4.75f, 9, 11, 3.25f, 0, 0};

DeviceGraph SmallGraph() {
  DeviceGraph g;
  const int x = g.AddInput("x", {2, 4});
  const int w = g.AddConstant("fc.weight", {3, 4}, kW);
  const int b = g.AddConstant("fc.bias", {3}, kB);
  ops::Attrs t;
  t.SetInts("dims", {1, 0});
  const int wt = Node(g, "permute", {w}, "permute", t);  // folded at compile time
  const int h = Node(g, "matmul", {x, wt, b}, "addmm");
  const int y = Node(g, "relu", {h}, "relu");
  const int two = g.AddConstant("two", {}, {2.0f});
  const int z = Node(g, "mul", {y, two}, "mul");
  g.inputs = {{"x", x}};
  g.outputs = {{"y", y}, {"z", z}};
  return g;
}

ScheduledProgram SmallProgram() { return Compile(SmallGraph()); }

// The program gets its own copy, so callers may pass temporaries.
Status LoadBytes(const std::string& bytes, std::unique_ptr<Program>* out) {
  return Program::Load(std::make_unique<BufferDataLoader>(bytes), "test.kiln", {}, out);
}

std::string LoadError(const std::string& bytes) {
  std::unique_ptr<Program> p;
  Status s = LoadBytes(bytes, &p);
  EXPECT_FALSE(s.ok()) << "program unexpectedly loaded";
  return s.message();
}

std::string LoadError(const ScheduledProgram& p) { return LoadError(Write(p)); }

// Writes, loads and runs `p` once on the default simulated chip.
Status WriteLoadRun(const ScheduledProgram& p, const std::vector<HostTensor>& inputs, std::vector<HostTensor>* outputs) {
  std::unique_ptr<Program> program;
  KILN_RETURN_IF_ERROR(LoadBytes(Write(p), &program));
  sim::Device device(target::DefaultChipConfig());
  std::unique_ptr<Executor> exec;
  KILN_RETURN_IF_ERROR(Executor::Create(*program, &device, &exec));
  return exec->Run(inputs, outputs, nullptr);
}

int TensorNamed(const ScheduledProgram& p, const std::string& name) {
  for (size_t i = 0; i < p.tensors.size(); ++i)
    if (p.tensors[i].name == name) return static_cast<int>(i);
  ADD_FAILURE() << "no tensor " << name;
  return 0;
}

int OpInstruction(const ScheduledProgram& p, const std::string& op) {
  for (size_t i = 0; i < p.instructions.size(); ++i)
    if (p.instructions[i].kind == compiler::ProgramInstruction::Kind::kOp && p.instructions[i].op->name == op)
      return static_cast<int>(i);
  ADD_FAILURE() << "no op " << op;
  return 0;
}

// Field addresses inside a finished buffer, for patching (the generated tables inherit privately
// from flatbuffers::Table, which has the same address).
uint8_t* FieldAddress(const void* table, flatbuffers::voffset_t field) {
  return const_cast<uint8_t*>(reinterpret_cast<const flatbuffers::Table*>(table)->GetAddressOf(field));
}

// Byte positions inside the schema's structs (region: uint, then offset: ulong aligned to 8).
constexpr size_t kPlacementRegion = 0, kPlacementOffset = 8, kDataRefOffset = 8, kDataRefSize = 16;
static_assert(sizeof(fb::Placement) == 16 && sizeof(fb::DataRef) == 24);

// ---- Running ---------------------------------------------------------------------------------

TEST(Program, SmallProgramRunsAndMatchesHandComputation) {
  const std::string bytes = Write(SmallProgram());
  std::unique_ptr<Program> program;
  Status s = LoadBytes(bytes, &program);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(program->producer(), "kiln-compiler 0.1");
  ASSERT_EQ(program->inputs().size(), 1u);
  EXPECT_EQ(program->inputs()[0].name, "x");
  ASSERT_EQ(program->outputs().size(), 2u);
  EXPECT_EQ(program->outputs()[0].name, "y");
  EXPECT_EQ(program->outputs()[1].name, "z");

  sim::Device device(target::DefaultChipConfig());
  std::unique_ptr<Executor> exec;
  s = Executor::Create(*program, &device, &exec);
  ASSERT_TRUE(s.ok()) << s.message();
  // The three constants are laid out alike in the file and in their region: one copy at load.
  EXPECT_EQ(program->constant_uploads().size(), 1u);
  EXPECT_EQ(exec->load_stats().counters.transfers, 1);
  for (int run = 0; run < 2; ++run) {  // a second run reuses the arena and gives the same answer
    std::vector<HostTensor> outputs;
    RunStats stats;
    s = exec->Run({HostTensor::FromFloats({2, 4}, kX)}, &outputs, &stats);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(outputs.size(), 2u);
    EXPECT_EQ(outputs[0].shape, (ops::Shape{2, 3}));
    EXPECT_EQ(outputs[1].shape, (ops::Shape{2, 3}));
    for (int i = 0; i < 6; ++i) {
      EXPECT_FLOAT_EQ(outputs[0].f32()[i], kY[i]) << i;
      EXPECT_FLOAT_EQ(outputs[1].f32()[i], 2 * kY[i]) << i;
    }
    EXPECT_EQ(stats.counters.ops_executed, 3);  // matmul, relu, mul (permute was folded)
    EXPECT_EQ(stats.counters.transfers, 3);
    EXPECT_GT(stats.latency_us, 0);
  }
  exec.reset();
  EXPECT_EQ(device.memory().in_use(), 0);  // the executor frees what it allocated
}

// A caller's buffer read in place (HostTensorView, as the torch.compile backend passes tensors):
// the same results as an owned HostTensor; a view that is too short or has no buffer is named.
TEST(Program, InputViewsAreReadInPlace) {
  const std::string bytes = Write(SmallProgram());
  std::unique_ptr<Program> program;
  ASSERT_TRUE(LoadBytes(bytes, &program).ok());
  sim::Device device(target::DefaultChipConfig());
  std::unique_ptr<Executor> exec;
  ASSERT_TRUE(Executor::Create(*program, &device, &exec).ok());
  std::vector<float> x(kX);
  std::vector<HostTensor> outputs;
  Status s = exec->RunViews({HostTensorView{{2, 4}, ops::DType::kF32, x.data(), x.size() * sizeof(float)}}, &outputs,
                       nullptr);
  ASSERT_TRUE(s.ok()) << s.message();
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(outputs[0].f32()[i], kY[i]) << i;
  s = exec->RunViews({HostTensorView{{2, 4}, ops::DType::kF32, x.data(), 16}}, &outputs, nullptr);
  EXPECT_EQ(s.message(), "input 'x': buffer holds 16 bytes, shape needs 32");
  s = exec->RunViews({HostTensorView{{2, 4}, ops::DType::kF32, nullptr, 32}}, &outputs, nullptr);
  EXPECT_EQ(s.message(), "input 'x': no buffer for 32 bytes");
}

// A complex64 input and output cross as their (real, imaginary) parts, the same bytes: z -> conj(z).
TEST(Program, Complex64InputAndOutputRoundTrip) {
  DeviceGraph g;
  const int z = g.AddInput("z", {3, 2}, ops::DType::kC64);
  const int sign = g.AddConstant("conj_sign", {2}, {1.0f, -1.0f});
  const int conj = Node(g, "mul", {z, sign}, "conj");
  g.values[conj].dtype = ops::DType::kC64;
  g.inputs = {{"z", z}};
  g.outputs = {{"conj", conj}};
  const std::vector<float> parts = {1.5f, -2, 0, 3, -7, 0.25f};
  HostTensor in{{3, 2}, ops::DType::kC64, std::vector<uint8_t>(24)};
  std::memcpy(in.bytes.data(), parts.data(), 24);
  std::vector<HostTensor> outputs;
  Status s = WriteLoadRun(Compile(g), {in}, &outputs);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].dtype, ops::DType::kC64);
  EXPECT_EQ(outputs[0].shape, (ops::Shape{3, 2}));
  ASSERT_EQ(outputs[0].bytes.size(), 24u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(outputs[0].f32()[i], i % 2 ? -parts[i] : parts[i]) << i;
  // The caller's tensor must be c64 of the program's shape.
  s = WriteLoadRun(Compile(g), {HostTensor::FromFloats({3, 2}, parts)}, &outputs);
  EXPECT_EQ(s.message(), "input 'z': expected c64 [3, 2], got f32 [3, 2]");
  // A c64 tensor whose shape does not end in the pair of parts is a malformed program.
  DeviceGraph bad;
  const int v = bad.AddInput("v", {3}, ops::DType::kC64);
  bad.inputs = {{"v", v}};
  bad.outputs = {{"v", Node(bad, "neg", {v}, "neg")}};
  EXPECT_THAT(LoadError(Compile(bad)), HasSubstr("a c64 tensor's shape ends in 2 (real, imaginary), not [3]"));
}

TEST(Program, TiledProgramMatchesReference) {
  // Big enough that activations and weights use the 32x32 tile layout (and a bias stays row-major).
  constexpr int M = 33, K = 64, N = 64;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> x(M * K), w(N * K), b(N);
  for (float& v : x) v = dist(rng);
  for (float& v : w) v = dist(rng);
  for (float& v : b) v = dist(rng);
  DeviceGraph g;
  const int xi = g.AddInput("x", {M, K});
  const int wi = g.AddConstant("w", {N, K}, w);
  const int bi = g.AddConstant("b", {N}, b);
  ops::Attrs t;
  t.SetInts("dims", {1, 0});
  const int wt = Node(g, "permute", {wi}, "wt", t);
  const int h = Node(g, "matmul", {xi, wt, bi}, "h");
  const int y = Node(g, "tanh", {h}, "y");
  const int xt = Node(g, "permute", {xi}, "xt", t);  // runs on the device: x is an input
  g.inputs = {{"x", xi}};
  g.outputs = {{"y", y}, {"xt", xt}};
  ScheduledProgram sp = Compile(std::move(g));
  bool any_tile = false, any_row_major = false;
  for (const compiler::ProgramTensor& pt : sp.tensors) {
    if (pt.in_caller_buffer()) continue;
    any_tile |= pt.layout == ops::Layout::kTile;
    any_row_major |= pt.layout == ops::Layout::kRowMajor;
  }
  EXPECT_TRUE(any_tile);
  EXPECT_TRUE(any_row_major);

  std::vector<HostTensor> out;
  Status s = WriteLoadRun(sp, {HostTensor::FromFloats({M, K}, x)}, &out);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(out.size(), 2u);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double acc = b[j];
      for (int k = 0; k < K; ++k) acc += double{x[i * K + k]} * w[j * K + k];
      EXPECT_NEAR(out[0].f32()[i * N + j], std::tanh(acc), 1e-5) << i << "," << j;
    }
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < K; ++k) ASSERT_EQ(out[1].f32()[k * M + i], x[i * K + k]);
}

// ---- Corruption --------------------------------------------------------------------------------

TEST(Corruption, EveryTruncationIsRejected) {
  const std::string bytes = Write(SmallProgram());
  ASSERT_GT(bytes.size(), 100u);
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::unique_ptr<Program> p;
    Status s = Program::Load(bytes.data(), len, "truncated.kiln", &p);
    ASSERT_FALSE(s.ok()) << "truncation to " << len << " of " << bytes.size() << " bytes loaded";
    ASSERT_FALSE(s.message().empty()) << len;
    EXPECT_THAT(s.message(), StartsWith("truncated.kiln: ")) << len;
    EXPECT_EQ(p, nullptr);
  }
}

// Bytes of free text (names, producer, sources) and constant values: no check can catch a change
// there, so they are left out of the "structural" region whose corruption must be detected.
std::vector<bool> UncheckableBytes(const std::string& bytes) {
  std::vector<bool> skip(bytes.size(), false);
  const uint8_t* base = reinterpret_cast<const uint8_t*>(bytes.data());
  auto mark = [&](const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) skip[p - base + i] = true;
  };
  auto text = [&](const flatbuffers::String* s) {
    if (s) mark(reinterpret_cast<const uint8_t*>(s->data()), s->size() + 1);
  };
  const fb::Program* prog = fb::GetProgram(base);
  text(prog->producer());
  for (const fb::Tensor* t : *prog->tensors()) text(t->name());
  for (const fb::IoBinding* io : *prog->inputs()) text(io->name());
  for (const fb::IoBinding* io : *prog->outputs()) text(io->name());
  for (uint32_t i = 0; i < prog->instructions()->size(); ++i)
    if (prog->instructions_type()->Get(i) == fb::Instruction::DeviceOp)
      text(static_cast<const fb::DeviceOp*>(prog->instructions()->Get(i))->source());
  // After the FlatBuffer: padding and the constants segment (weight values).
  ExtendedHeader header;
  EXPECT_TRUE(header.Decode(base + kExtendedHeaderOffset));
  mark(base + header.program_size, bytes.size() - header.program_size);
  return skip;
}

TEST(Corruption, FlippedBytesAreRejectedOrRunSafely) {
  const std::string good = Write(SmallProgram());
  const std::vector<bool> uncheckable = UncheckableBytes(good);
  // A small device, so a corrupted plan cannot make the simulator allocate gigabytes.
  target::ChipConfig chip = target::DefaultChipConfig();
  chip.dram_bytes = int64_t{64} << 20;
  sim::Device device(chip);
  int structural = 0, structural_rejected = 0, loaded = 0, ran_ok = 0, header_rejected = 0;
  for (size_t pos = 0; pos < good.size(); ++pos) {
    for (uint8_t mask : {uint8_t{0xFF}, uint8_t{0x01}, uint8_t{0x80}}) {
      std::string bad = good;
      bad[pos] = static_cast<char>(bad[pos] ^ mask);
      std::unique_ptr<Program> program;
      Status s = LoadBytes(bad, &program);
      if (!uncheckable[pos]) {
        ++structural;
        structural_rejected += !s.ok();
      }
      if (!s.ok()) {
        ASSERT_FALSE(s.message().empty()) << "byte " << pos;
        header_rejected += pos < 8;
        continue;
      }
      ++loaded;
      std::unique_ptr<Executor> exec;
      if (!Executor::Create(*program, &device, &exec).ok()) continue;
      // Inputs shaped as the (possibly corrupted) program asks, so Run gets past its own checks.
      std::vector<HostTensor> inputs;
      for (const IoInfo& in : program->inputs()) {
        const TensorInfo& t = program->tensors()[in.tensor];
        HostTensor h{t.shape, t.dtype, {}};
        const int64_t n = ops::NumElements(t.shape) * ops::DTypeSize(t.dtype);
        if (n <= (int64_t{1} << 20)) h.bytes.assign(n, 0);
        for (size_t i = 0; i * 4 < h.bytes.size() && i < kX.size(); ++i) std::memcpy(&h.bytes[i * 4], &kX[i], 4);
        inputs.push_back(std::move(h));
      }
      std::vector<HostTensor> outputs;
      RunStats stats;
      ran_ok += exec->Run(inputs, &outputs, &stats).ok();
      exec.reset();
      ASSERT_EQ(device.memory().in_use(), 0) << "byte " << pos;
    }
  }
  // All 8 header bytes (root offset + identifier) x 3 masks.
  EXPECT_EQ(header_rejected, 24);
  EXPECT_GT(ran_ok, 0);  // e.g. a changed constant value still runs
  const double detected = static_cast<double>(structural_rejected) / structural;
  printf("flips: %d structural, %.1f%% of them rejected; %d loaded, %d ran ok\n", structural,
         100 * detected, loaded, ran_ok);
  // What gets through is mostly alignment padding, unused high bytes and a raised peak estimate.
  EXPECT_GT(detected, 0.75);
}

TEST(Corruption, BadIdentifierIsNamed) {
  std::string bytes = Write(SmallProgram());
  std::memcpy(&bytes[4], "NOPE", 4);
  const std::string msg = LoadError(bytes);
  EXPECT_THAT(msg, HasSubstr("identifier"));
  EXPECT_THAT(msg, HasSubstr("NOPE"));
  EXPECT_THAT(msg, StartsWith("test.kiln: "));
}

TEST(Corruption, WrongFormatVersionIsNamed) {
  std::string bytes = Write(SmallProgram());
  const fb::Program* prog = fb::GetProgram(bytes.data());
  uint8_t* field = FieldAddress(prog, fb::Program::VT_FORMAT_VERSION);
  ASSERT_NE(field, nullptr);
  const uint32_t next = kFormatVersion + 1;
  std::memcpy(field, &next, 4);
  const std::string msg = LoadError(bytes);
  EXPECT_THAT(msg, HasSubstr("format " + std::to_string(next) + " is not supported (this runtime reads format " +
                              std::to_string(kFormatVersion) + ")"));
}

TEST(Corruption, TooShortForAHeader) {
  EXPECT_THAT(LoadError(std::string("KILN")), HasSubstr("too short"));
  std::unique_ptr<Program> p;
  Status s = Program::Load(nullptr, 0, "empty.kiln", &p);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), StartsWith("empty.kiln: "));
}

TEST(Corruption, ExtendedHeaderAndSegmentsAreChecked) {
  const std::string good = Write(SmallProgram());
  ExtendedHeader h;
  ASSERT_TRUE(h.Decode(reinterpret_cast<const uint8_t*>(good.data()) + kExtendedHeaderOffset));
  ASSERT_GT(h.segment_data_size, 0u);
  EXPECT_EQ(h.segment_base_offset % kSegmentAlignment, 0u);
  EXPECT_EQ(h.segment_base_offset + h.segment_data_size, good.size());
  auto with = [&](const ExtendedHeader& header) {
    std::string bytes = good;
    header.Encode(reinterpret_cast<uint8_t*>(&bytes[kExtendedHeaderOffset]));
    return bytes;
  };
  std::string bad_magic = good;
  bad_magic[kExtendedHeaderOffset] = 'X';
  EXPECT_THAT(LoadError(bad_magic), HasSubstr("missing or corrupt extended header at offset 8"));
  ExtendedHeader moved = h;
  moved.segment_base_offset += kSegmentAlignment;
  EXPECT_THAT(LoadError(with(moved)), HasSubstr("header: segment base offset " + std::to_string(moved.segment_base_offset) +
                                                ", expected " + std::to_string(h.segment_base_offset)));
  ExtendedHeader shorter = h;
  shorter.segment_data_size -= 64;
  EXPECT_THAT(LoadError(with(shorter)), HasSubstr("does not end at the end of the file"));
  EXPECT_THAT(LoadError(good + std::string(64, '\0')), HasSubstr("does not end at the end of the file"));
}

TEST(Program, OperatorsAreStoredOnceAndRegionsNamed) {
  DeviceGraph g;
  const int x = g.AddInput("x", {2, 4});
  const int a = Node(g, "relu", {x}, "relu1");
  const int b = Node(g, "relu", {a}, "relu2");
  const int c = Node(g, "relu", {b}, "relu3");
  g.inputs = {{"x", x}};
  g.outputs = {{"y", c}};
  const std::string bytes = Write(Compile(std::move(g)));
  const fb::Program* prog = fb::GetProgram(bytes.data());
  ASSERT_EQ(prog->operators()->size(), 1u);
  EXPECT_EQ(prog->operators()->Get(0)->name()->str(), "relu");
  std::unique_ptr<Program> program;
  ASSERT_TRUE(LoadBytes(bytes, &program).ok());
  ASSERT_EQ(program->regions().size(), 2u);
  EXPECT_EQ(program->regions()[0].name, "activations");
  EXPECT_EQ(program->regions()[1].name, "constants");
  EXPECT_EQ(program->regions()[0].kind, RegionKind::kDeviceDram);
  for (const Instruction& inst : program->instructions()) {
    if (inst.kind == Instruction::Kind::kOp) {
      EXPECT_EQ(inst.op->name, "relu");
    }
  }
}

// ---- Semantic errors, written through WriteKiln (which does not validate) ------------------------

// x -> relu -> relu ... (n ops), results alternating between arena offsets 0 and 64, built directly
// (the compiler's planner is quadratic in the number of tensors).
ScheduledProgram ReluChain(int n) {
  ScheduledProgram p;
  p.regions = {{"activations", target::RegionKind::kDeviceDram, 0}};
  const ops::OpDef* relu = ops::FindOp("relu");
  auto add = [&](compiler::ProgramTensor t) {
    p.tensors.push_back(std::move(t));
    return static_cast<int>(p.tensors.size()) - 1;
  };
  const int x = add({"x", {1}, ops::DType::kF32, ops::Layout::kRowMajor, compiler::kCallerBuffer, 0, false, {}});
  int prev = add({"r-1", {1}, ops::DType::kF32, ops::Layout::kRowMajor, compiler::kActivationRegion, 0, false, {}});
  p.inputs = {{"x", x}};
  p.instructions.push_back({compiler::ProgramInstruction::Kind::kHostToDevice, nullptr, {x}, prev, {}, "x"});
  for (int i = 0; i < n; ++i) {
    const int r = add({"r" + std::to_string(i), {1}, ops::DType::kF32, ops::Layout::kRowMajor,
                       compiler::kActivationRegion, static_cast<uint64_t>((i + 1) % 2 * 64), false, {}});
    p.instructions.push_back({compiler::ProgramInstruction::Kind::kOp, relu, {prev}, r, {}, "relu" + std::to_string(i)});
    prev = r;
  }
  const int y = add({"y", {1}, ops::DType::kF32, ops::Layout::kRowMajor, compiler::kCallerBuffer, 0, false, {}});
  p.outputs = {{"y", y}};
  p.instructions.push_back({compiler::ProgramInstruction::Kind::kDeviceToHost, nullptr, {prev}, y, {}, "y"});
  p.regions[compiler::kActivationRegion].size_bytes = 128;
  return p;
}

TEST(Semantic, TensorBeyondTheArenaIsNamed) {
  ScheduledProgram p = SmallProgram();
  const int t = TensorNamed(p, "relu");
  p.tensors[t].offset = p.regions[compiler::kActivationRegion].size_bytes;
  const std::string msg = LoadError(p);
  EXPECT_THAT(msg, HasSubstr("'relu'"));
  EXPECT_THAT(msg, HasSubstr("lie outside region 0 'activations' of " + std::to_string(p.regions[compiler::kActivationRegion].size_bytes) + " bytes"));
}

TEST(Semantic, MisalignedOffsetIsNamed) {
  ScheduledProgram p = SmallProgram();
  p.tensors[TensorNamed(p, "relu")].offset += 4;
  p.regions[compiler::kActivationRegion].size_bytes += 64;
  const std::string msg = LoadError(p);
  EXPECT_THAT(msg, HasSubstr("'relu'"));
  EXPECT_THAT(msg, HasSubstr("64-byte aligned"));
}

TEST(Semantic, LiveTensorsSharingArenaBytesAreRejected) {
  ScheduledProgram p = SmallProgram();
  // relu reads addmm's result while writing its own: both are alive at that instruction.
  p.tensors[TensorNamed(p, "relu")].offset = p.tensors[TensorNamed(p, "addmm")].offset;
  const std::string msg = LoadError(p);
  EXPECT_THAT(msg, HasSubstr("of region 0 'activations' while both are alive"));
  EXPECT_THAT(msg, HasSubstr("'relu'"));
  EXPECT_THAT(msg, HasSubstr("'addmm'"));
}

// Tensors that reuse the same bytes one after another are fine; the check stays fast when thousands do.
TEST(Semantic, LongChainsReusingTheSameBytes) {
  constexpr int kOps = 100'000;
  ScheduledProgram p = ReluChain(kOps);
  std::unique_ptr<Program> program;
  Status s = LoadBytes(Write(p), &program);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(program->instructions().size(), kOps + 2u);
  // Move one result onto the bytes of the operand it reads: caught, both named.
  p.tensors[p.instructions[kOps / 2].output].offset = p.tensors[p.instructions[kOps / 2].inputs[0]].offset;
  const std::string msg = LoadError(p);
  // Instruction k (after the upload) is relu k - 1, reading r(k - 2) at offset 64 (k even).
  EXPECT_THAT(msg, HasSubstr("tensors 'r" + std::to_string(kOps / 2 - 2) + "' [64, 68) and 'r" +
                             std::to_string(kOps / 2 - 1) + "' [64, 68) share bytes [64, 68) of region 0 "
                             "'activations' while both are alive"));
}

TEST(Semantic, ConstantBeyondItsRegionIsNamed) {
  ScheduledProgram p = SmallProgram();
  const int t = TensorNamed(p, "fc.bias");
  ASSERT_TRUE(p.tensors[t].is_constant);
  // Keep the writer happy (it copies the data in) but lie about the plan: shrink the region.
  std::string bytes = Write(p);
  const fb::Program* prog = fb::GetProgram(bytes.data());
  const fb::Tensor* ft = prog->tensors()->Get(t);
  const uint64_t beyond = p.regions[compiler::kConstantRegion].size_bytes - 8;
  uint8_t* placement = FieldAddress(ft, fb::Tensor::VT_PLACEMENT);
  ASSERT_NE(placement, nullptr);
  std::memcpy(placement + kPlacementOffset, &beyond, 8);
  const std::string msg = LoadError(bytes);
  EXPECT_THAT(msg, HasSubstr("'fc.bias'"));
  EXPECT_THAT(msg, HasSubstr("region 1 'constants'"));
}

TEST(Semantic, UnknownOpIsNamed) {
  static ops::OpDef fake = [] {
    ops::OpDef d;
    d.name = "frobnicate";
    return d;
  }();
  ScheduledProgram p = SmallProgram();
  p.instructions[OpInstruction(p, "relu")].op = &fake;
  const std::string msg = LoadError(p);
  EXPECT_THAT(msg, HasSubstr("unknown op 'frobnicate'"));
  EXPECT_THAT(msg, HasSubstr("relu"));  // the source node
}

TEST(Semantic, OperandIndexOutOfRange) {
  ScheduledProgram p = SmallProgram();
  const int n = static_cast<int>(p.tensors.size());
  p.instructions[OpInstruction(p, "matmul")].inputs[1] = n + 3;
  const std::string msg = LoadError(p);
  EXPECT_THAT(msg, HasSubstr("tensor index " + std::to_string(n + 3) + " out of range"));
  EXPECT_THAT(msg, HasSubstr("matmul"));
}

TEST(Semantic, ResultIndexAndTransferIndexOutOfRange) {
  ScheduledProgram p = SmallProgram();
  p.instructions[OpInstruction(p, "mul")].output = 1000;
  EXPECT_THAT(LoadError(p), HasSubstr("tensor index 1000 out of range"));
  p = SmallProgram();
  for (auto& inst : p.instructions)
    if (inst.kind == compiler::ProgramInstruction::Kind::kHostToDevice) inst.inputs[0] = 999;
  EXPECT_THAT(LoadError(p), HasSubstr("tensor index 999 out of range"));
  p = SmallProgram();
  p.outputs[1].second = 77;
  EXPECT_THAT(LoadError(p), HasSubstr("output 1: tensor index 77 out of range"));
}

TEST(Semantic, ResultShapeDisagreesWithTheShapeRule) {
  ScheduledProgram p = SmallProgram();
  p.tensors[TensorNamed(p, "relu")].shape = {3, 2};
  const std::string msg = LoadError(p);
  EXPECT_THAT(msg, HasSubstr("'relu' has shape [3, 2] but the op produces [2, 3]"));
}

// ---- Aliases (reshapes that move no data) -------------------------------------------------------

// x [1, 32, 64] -> reshape [32, 64] -> matmul W [64, 32] -> reshape [1, 32, 32] -> relu -> reshape
// [32, 32] -> exp -> output, plus reshape [32, 8, 8] of x (moves data in tiles) -> output.
DeviceGraph ReshapeGraph() {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 32, 64});
  std::vector<float> w(64 * 32);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 13) / 13.0f - 0.4f;
  ops::Attrs flat, back, square, cube;
  flat.SetInts("shape", {32, 64});
  back.SetInts("shape", {1, 32, 32});
  square.SetInts("shape", {32, 32});
  cube.SetInts("shape", {32, 8, 8});
  const int v = Node(g, "reshape", {x}, "view", flat);
  const int mm = Node(g, "matmul", {v, g.AddConstant("w", {64, 32}, w)}, "mm");
  const int r = Node(g, "relu", {Node(g, "reshape", {mm}, "view_1", back)}, "relu");
  const int e = Node(g, "exp", {Node(g, "reshape", {r}, "view_2", square)}, "exp");
  g.inputs = {{"x", x}};
  g.outputs = {{"e", e}, {"cube", Node(g, "reshape", {x}, "view_3", cube)}};
  return g;
}

ScheduledProgram CompileReshapes(bool alias) {
  compiler::CompileOptions options;
  options.alias_reshapes = alias;
  options.fuse_epilogues = false;  // fold-matmul-reshapes would fold view and view_1 into the matmul
  absl::StatusOr<compiler::CompileState> s = compiler::RunPipeline(ReshapeGraph(), options, "plan-memory");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s->program) : ScheduledProgram{};
}

std::vector<float> Ramp(int64_t n) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i % 29) / 29.0f - 0.5f;
  return v;
}

TEST(Alias, ReshapesThatMoveNoBytesAreAliasesAndComputeTheSame) {
  const ScheduledProgram aliased = CompileReshapes(true), copied = CompileReshapes(false);
  int aliases = 0, reshapes = 0;
  for (const compiler::ProgramTensor& t : aliased.tensors) aliases += t.is_alias();
  for (const compiler::ProgramInstruction& i : aliased.instructions)
    reshapes += i.kind == compiler::ProgramInstruction::Kind::kOp && i.op->name == "reshape";
  EXPECT_EQ(aliases, 3);   // view, view_1, view_2
  EXPECT_EQ(reshapes, 1);  // view_3: [1, 32, 64] -> [32, 8, 8] regroups tiles
  std::unique_ptr<Program> program;
  ASSERT_TRUE(LoadBytes(Write(aliased), &program).ok());
  const TensorInfo& view_2 = program->tensors()[TensorNamed(aliased, "view_2")];
  const TensorInfo& relu = program->tensors()[TensorNamed(aliased, "relu")];
  EXPECT_EQ(view_2.alias_of, TensorNamed(aliased, "relu"));
  EXPECT_EQ(view_2.region, relu.region);
  EXPECT_EQ(view_2.offset, relu.offset);

  const std::vector<HostTensor> in = {HostTensor::FromFloats({1, 32, 64}, Ramp(32 * 64))};
  std::vector<HostTensor> a, c;
  ASSERT_TRUE(WriteLoadRun(aliased, in, &a).ok());
  ASSERT_TRUE(WriteLoadRun(copied, in, &c).ok());
  ASSERT_EQ(a.size(), 2u);
  for (size_t k = 0; k < 2; ++k) EXPECT_EQ(a[k].bytes, c[k].bytes) << "output " << k;
}

TEST(Alias, TargetOutOfRangeOrAnAliasOrElsewhereIsRejected) {
  ScheduledProgram p = CompileReshapes(true);
  const int view = TensorNamed(p, "view"), view_2 = TensorNamed(p, "view_2");
  p.tensors[view_2].alias_of = 999;
  EXPECT_THAT(LoadError(p), HasSubstr("tensor " + std::to_string(view_2) + " 'view_2': alias of tensor 999, out of range"));
  p.tensors[view_2].alias_of = view;
  EXPECT_THAT(LoadError(p), HasSubstr("'view_2': alias of tensor " + std::to_string(view) +
                                      " 'view', which is an alias itself"));
  p.tensors[view_2].alias_of = TensorNamed(p, "x");
  EXPECT_THAT(LoadError(p), HasSubstr("which is in the caller's buffers"));
}

TEST(Alias, AShapeThatWouldRegroupTilesIsRejectedNamingBoth) {
  ScheduledProgram p = CompileReshapes(true);
  const int view_2 = TensorNamed(p, "view_2");
  p.tensors[view_2].shape = {2, 16, 32};  // same bytes in row-major, not in tiles of 32 rows
  p.tensors[view_2].alias_of = TensorNamed(p, "relu");
  EXPECT_THAT(LoadError(p), HasSubstr("'view_2': f32[2, 16, 32] tile cannot alias tensor " +
                                      std::to_string(TensorNamed(p, "relu")) +
                                      " 'relu' f32[1, 32, 32] tile: its stored bytes are not the same"));
}

TEST(Alias, WritingAnAliasOrReadingItBeforeItsTargetIsRejected) {
  ScheduledProgram p = CompileReshapes(true);
  const int exp = OpInstruction(p, "exp");
  const int view_2 = TensorNamed(p, "view_2");
  ScheduledProgram writes = p;
  writes.instructions[exp].output = view_2;
  writes.instructions[exp].inputs = {TensorNamed(p, "mm")};  // [32, 32], as view_2
  EXPECT_THAT(LoadError(writes), HasSubstr("writes 'view_2', an alias of tensor " +
                                           std::to_string(TensorNamed(p, "relu")) + "; aliases are only read"));
  // exp reads view_2 (relu's bytes): moved before relu, it reads them before they are written.
  const int relu = OpInstruction(p, "relu");
  ScheduledProgram early = p;
  std::swap(early.instructions[relu], early.instructions[exp]);
  EXPECT_THAT(LoadError(early), HasSubstr("operand 'view_2' is read before it is written"));
}

// The alias's reads keep its target alive: moving a later tensor onto the target's bytes while the
// alias is still read is an overlap, found through the alias.
TEST(Alias, ItsReadsExtendItsTargetsLifetime) {
  ScheduledProgram p = CompileReshapes(true);
  const int relu = TensorNamed(p, "relu");
  const int e = TensorNamed(p, "exp");
  p.tensors[e].offset = p.tensors[relu].offset;  // exp writes over relu while reading view_2 = relu
  EXPECT_THAT(LoadError(p), HasSubstr("tensors 'relu'"));
  EXPECT_THAT(LoadError(p), HasSubstr("'exp'"));
}

TEST(Semantic, OperandReadBeforeItIsWritten) {
  ScheduledProgram p = SmallProgram();
  // The upload of x sits right before the matmul; swap them.
  const int mm = OpInstruction(p, "matmul");
  ASSERT_GT(mm, 0);
  ASSERT_EQ(p.instructions[mm - 1].kind, compiler::ProgramInstruction::Kind::kHostToDevice);
  std::swap(p.instructions[mm - 1], p.instructions[mm]);
  const std::string msg = LoadError(p);
  EXPECT_THAT(msg, HasSubstr("operand 'x.device' is read before it is written"));
}

TEST(Semantic, DownloadBeforeTheProducerRuns) {
  ScheduledProgram p = SmallProgram();
  ASSERT_EQ(p.instructions.back().kind, compiler::ProgramInstruction::Kind::kDeviceToHost);
  std::swap(p.instructions[p.instructions.size() - 2], p.instructions.back());
  EXPECT_THAT(LoadError(p), HasSubstr("before it is written"));
}

TEST(Semantic, OutputNeverWritten) {
  ScheduledProgram p = SmallProgram();
  ASSERT_EQ(p.instructions.back().kind, compiler::ProgramInstruction::Kind::kDeviceToHost);
  ASSERT_EQ(p.instructions.back().source, "z");
  p.instructions.pop_back();
  EXPECT_THAT(LoadError(p), HasSubstr("output 'z' is never written"));
}

TEST(Semantic, SizeBytesInconsistentWithShape) {
  ScheduledProgram p = SmallProgram();
  const int t = TensorNamed(p, "addmm");
  std::string bytes = Write(p);
  const fb::Tensor* ft = fb::GetProgram(bytes.data())->tensors()->Get(t);
  uint8_t* field = FieldAddress(ft, fb::Tensor::VT_SIZE_BYTES);
  ASSERT_NE(field, nullptr);
  const uint64_t wrong = p.tensors[t].size_bytes() - 4;
  std::memcpy(field, &wrong, 8);
  const std::string msg = LoadError(bytes);
  EXPECT_THAT(msg, HasSubstr("'addmm'"));
  EXPECT_THAT(msg, HasSubstr("size_bytes " + std::to_string(wrong)));
  EXPECT_THAT(msg, HasSubstr("needs " + std::to_string(p.tensors[t].size_bytes())));
}

TEST(Semantic, OtherStructuralMistakes) {
  {  // an op operand in host memory
    ScheduledProgram p = SmallProgram();
    p.instructions[OpInstruction(p, "matmul")].inputs[0] = p.inputs[0].second;
    EXPECT_THAT(LoadError(p), HasSubstr("operand 'x' is in host memory"));
  }
  {  // an op writing the constant region
    ScheduledProgram p = SmallProgram();
    const int relu = OpInstruction(p, "relu");
    const int h = p.instructions[relu].inputs[0];
    p.instructions[relu].output = TensorNamed(p, "two");
    p.tensors[TensorNamed(p, "two")].shape = p.tensors[h].shape;
    p.tensors[TensorNamed(p, "two")].constant.assign(6, 2.0f);
    p.regions[compiler::kConstantRegion].size_bytes += 64;  // room for the bigger constant
    EXPECT_THAT(LoadError(p), HasSubstr("result 'two' is a constant"));
  }
  {  // an unknown attribute
    ScheduledProgram p = SmallProgram();
    p.instructions[OpInstruction(p, "relu")].attrs.SetInt("bogus", 1);
    EXPECT_THAT(LoadError(p), HasSubstr("unknown attribute 'bogus'"));
  }
  {  // duplicate output names
    ScheduledProgram p = SmallProgram();
    p.outputs[1].first = "y";
    EXPECT_THAT(LoadError(p), HasSubstr("duplicate name 'y'"));
  }
  {  // an input bound to a device tensor
    ScheduledProgram p = SmallProgram();
    p.inputs[0].second = TensorNamed(p, "relu");
    EXPECT_THAT(LoadError(p), HasSubstr("must be bound to a host tensor"));
  }
  {  // a transfer whose direction does not match its tensors
    ScheduledProgram p = SmallProgram();
    for (auto& inst : p.instructions)
      if (inst.kind == compiler::ProgramInstruction::Kind::kHostToDevice)
        inst.kind = compiler::ProgramInstruction::Kind::kDeviceToHost;
    EXPECT_THAT(LoadError(p), HasSubstr("does not go between host and device"));
  }
  {  // a tensor in a region that does not exist
    ScheduledProgram p = SmallProgram();
    std::string bytes = Write(p);
    const fb::Tensor* ft = fb::GetProgram(bytes.data())->tensors()->Get(TensorNamed(p, "relu"));
    uint8_t* placement = FieldAddress(ft, fb::Tensor::VT_PLACEMENT);
    const uint32_t region = 7;
    std::memcpy(placement + kPlacementRegion, &region, 4);
    EXPECT_THAT(LoadError(bytes), HasSubstr("tensor " + std::to_string(TensorNamed(p, "relu")) +
                                            " 'relu': region index 7 out of range (2 regions)"));
  }
  {  // a constant's data beyond its segment, misaligned, or of the wrong size
    ScheduledProgram p = SmallProgram();
    const std::string good = Write(p);
    const fb::Tensor* ft = fb::GetProgram(good.data())->tensors()->Get(TensorNamed(p, "fc.bias"));
    const size_t data = FieldAddress(ft, fb::Tensor::VT_DATA) - reinterpret_cast<const uint8_t*>(good.data());
    auto patched = [&](size_t field, uint64_t value) {
      std::string bytes = good;
      std::memcpy(&bytes[data + field], &value, 8);
      return bytes;
    };
    EXPECT_THAT(LoadError(patched(kDataRefOffset, p.regions[compiler::kConstantRegion].size_bytes)),
                HasSubstr("'fc.bias': data [" + std::to_string(p.regions[compiler::kConstantRegion].size_bytes) + ", "));
    EXPECT_THAT(LoadError(patched(kDataRefOffset, 4)), HasSubstr("'fc.bias': data offset 4 in segment 0 is not 64-byte aligned"));
    EXPECT_THAT(LoadError(patched(kDataRefSize, 5)), HasSubstr("'fc.bias': data holds 5 bytes but the tensor stores"));
  }
}

// ---- Bad inputs found by fuzzing and by hand (../shared/bad-inputs), rebuilt in format 2 ------------

Status LoadWith(const std::string& bytes, const LoadOptions& options, std::unique_ptr<Program>* out) {
  return Program::Load(std::make_unique<BufferDataLoader>(bytes), "test.kiln", options, out);
}

TEST(BadInputs, FormatOneFileAsksForARecompile) {
  std::unique_ptr<Program> p;
  Status s = Program::LoadFile("runtime/testdata/format1_mlp.kiln", &p);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_EQ(s.message(), "runtime/testdata/format1_mlp.kiln: format 1 is no longer supported (this runtime reads "
                         "format 2); recompile the model");
}

TEST(BadInputs, PathsThatAreNotProgramFiles) {
  std::unique_ptr<Program> p;
  Status s = Program::LoadFile("runtime/testdata", &p);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "runtime/testdata: is a directory, not a .kiln file");
  s = Program::LoadFile("/dev/zero", &p);  // a device with no end: refused without reading it
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "/dev/zero: is not a regular file; a .kiln program must be one");
  const std::string fifo = std::string(std::getenv("TEST_TMPDIR")) + "/fifo.kiln";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  s = Program::LoadFile(fifo, &p);  // opening must not wait for a writer
  EXPECT_EQ(s.message(), fifo + ": is not a regular file; a .kiln program must be one");
  s = Program::LoadFile("runtime/testdata/no_such.kiln", &p);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), StartsWith("runtime/testdata/no_such.kiln: cannot open file"));
  EXPECT_EQ(p, nullptr);
}

// The bytes of a program with relu over one input, built with shape `built`, then every tensor's
// shape overwritten with `shape` (same rank) in the file itself: the compiler never sees the bad shape.
std::string ReluProgram(const ops::Shape& built, const ops::Shape& shape) {
  DeviceGraph g;
  const int x = g.AddInput("x", built);
  const int y = Node(g, "relu", {x}, "relu");
  g.inputs = {{"x", x}};
  g.outputs = {{"y", y}};
  std::string bytes = Write(Compile(std::move(g)));
  for (const fb::Tensor* t : *fb::GetProgram(bytes.data())->tensors()) {
    EXPECT_EQ(t->shape()->size(), shape.size());
    std::memcpy(const_cast<uint8_t*>(t->shape()->Data()), shape.data(), shape.size() * sizeof(int64_t));
  }
  return bytes;
}

TEST(BadInputs, EmptyTileTensorWithAHugeDimIsBounded) {
  // [2^40, 0, 1] holds no element, but a kernel looping over its 2^40 matrices would hang.
  EXPECT_THAT(LoadError(ReluProgram({4, 0, 1}, {int64_t{1} << 40, 0, 1})),
              HasSubstr("'x': bad dimension 1099511627776 in shape [1099511627776, 0, 1]"));
  // Each dim within bounds, but together (zeros counted as one) too many, before or after the zero.
  EXPECT_THAT(LoadError(ReluProgram({4, 0, 1}, {int64_t{1} << 30, 0, int64_t{1} << 30})),
              HasSubstr("'x': shape [1073741824, 0, 1073741824] spans more than 68719476736 elements "
                        "(zero dims counted as one)"));
}

TEST(BadInputs, ShapesWhoseElementCountWouldOverflow) {
  EXPECT_THAT(LoadError(ReluProgram({2, 2}, {int64_t{1} << 35, int64_t{1} << 35})),
              HasSubstr("shape [34359738368, 34359738368] spans more than 68719476736 elements"));
  EXPECT_THAT(LoadError(ReluProgram({2, 2}, {int64_t{1} << 62, 4})), HasSubstr("bad dimension 4611686018427387904"));
  EXPECT_THAT(LoadError(ReluProgram({2, 2}, {-3, 4})), HasSubstr("bad dimension -3"));
}

TEST(BadInputs, ZeroByteTensorsShareOffsetsWithLiveTensors) {
  // A valid program (torch's [0, 5] @ [5, 10] case): the planner may put an empty tensor anywhere.
  DeviceGraph g;
  const int x = g.AddInput("x", {2, 4});
  const int e = g.AddInput("e", {0, 3});
  const int y = Node(g, "relu", {x}, "relu_x");
  const int z = Node(g, "relu", {e}, "relu_e");
  g.inputs = {{"x", x}, {"e", e}};
  g.outputs = {{"y", y}, {"z", z}};
  ScheduledProgram p = Compile(std::move(g));
  for (compiler::ProgramTensor& t : p.tensors)
    if (t.size_bytes() == 0 && !t.in_caller_buffer())
      t.offset = p.tensors[TensorNamed(p, "relu_x")].offset;
  std::vector<HostTensor> outputs;
  Status s = WriteLoadRun(p, {HostTensor::FromFloats({2, 4}, kX), HostTensor::FromFloats({0, 3}, {})}, &outputs);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(outputs[1].shape, (ops::Shape{0, 3}));
  EXPECT_FLOAT_EQ(outputs[0].f32()[1], 2.0f);
}

TEST(Program, OutputsThatAreAnInputOrAConstant) {
  // A model may return an input unchanged, or a value constant folding computed whole.
  DeviceGraph g;
  const int x = g.AddInput("x", {2, 3});
  const int c = g.AddConstant("c", {2}, {1.5f, -2});
  const int two = g.AddConstant("two", {2}, {2, 2});
  const int folded = Node(g, "mul", {c, two}, "folded");
  const int y = Node(g, "relu", {x}, "y");
  g.inputs = {{"x", x}};
  g.outputs = {{"same", x}, {"folded", folded}, {"y", y}};
  const std::vector<float> xs = {1, -2, 3, -4, 5, -6};
  std::vector<HostTensor> outputs;
  Status s = WriteLoadRun(Compile(std::move(g)), {HostTensor::FromFloats({2, 3}, xs)}, &outputs);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_EQ(std::vector<float>(outputs[0].f32(), outputs[0].f32() + 6), xs);
  EXPECT_EQ(std::vector<float>(outputs[1].f32(), outputs[1].f32() + 2), (std::vector<float>{3, -4}));
  EXPECT_EQ(std::vector<float>(outputs[2].f32(), outputs[2].f32() + 6), (std::vector<float>{1, 0, 3, 0, 5, 0}));
}

// Host int64 and bool tensors: ids go in as int64 (held as i32 on the device), come back as int64,
// and a comparison comes back as bool, even in a bf16 program.
DeviceGraph IdsGraph() {
  DeviceGraph g;
  const int ids = g.AddInput("ids", {2, 3}, ops::DType::kI64);
  const int limit = g.AddConstant("limit", {}, {1000.0f});
  const int shifted = Node(g, "add", {ids, limit}, "shifted");
  const int big = Node(g, "lt", {limit, ids}, "big");
  g.values[shifted].dtype = ops::DType::kI64;
  g.values[big].dtype = ops::DType::kBool;
  g.inputs = {{"ids", ids}};
  g.outputs = {{"shifted", shifted}, {"big", big}};
  return g;
}

HostTensor Int64s(ops::Shape shape, const std::vector<int64_t>& values) {
  HostTensor t{std::move(shape), ops::DType::kI64, {}};
  t.bytes.resize(values.size() * 8);
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

TEST(Program, Int64InputsAndInt64AndBoolOutputs) {
  for (ops::DType device_dtype : {ops::DType::kF32, ops::DType::kBF16}) {
    compiler::CompileOptions options;
    options.device_dtype = device_dtype;
    absl::StatusOr<compiler::CompileState> state = compiler::RunPipeline(IdsGraph(), options, "plan-memory");
    ASSERT_TRUE(state.ok()) << state.status();
    const ScheduledProgram& p = *state->program;
    EXPECT_EQ(p.tensors[p.inputs[0].second].dtype, ops::DType::kI64);
    EXPECT_EQ(p.tensors[TensorNamed(p, "ids.device")].dtype, ops::DType::kI32);
    std::vector<HostTensor> outputs;
    // 16'777'216 = 2^24, the end of fp32's exact integers.
    const std::vector<int64_t> ids = {0, 7, 999, 1001, -5, 16'775'000};
    Status s = WriteLoadRun(p, {Int64s({2, 3}, ids)}, &outputs);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(outputs.size(), 2u);
    ASSERT_EQ(outputs[0].dtype, ops::DType::kI64);
    ASSERT_EQ(outputs[0].bytes.size(), 6u * 8);
    std::vector<int64_t> shifted(6);
    std::memcpy(shifted.data(), outputs[0].bytes.data(), 48);
    EXPECT_EQ(shifted, (std::vector<int64_t>{1000, 1007, 1999, 2001, 995, 16'776'000}));
    ASSERT_EQ(outputs[1].dtype, ops::DType::kBool);
    EXPECT_EQ(outputs[1].bytes, (std::vector<uint8_t>{0, 0, 0, 1, 0, 1}));
  }
}

// uint8 in, int8 and int16 out: held as i32 on the device; the store keeps the low bits, as
// ATen's arithmetic in those dtypes wraps (uint8 200 + 100 comes back as int8 44, 255 + 100 as 99).
TEST(Program, NarrowIntegerInputsAndOutputs) {
  DeviceGraph g;
  const int x = g.AddInput("x", {4}, ops::DType::kU8);
  const int hundred = g.AddConstant("hundred", {}, {100.0f});
  const int sum = Node(g, "add", {x, hundred}, "sum");
  const int product = Node(g, "mul", {x, x}, "product");
  g.values[sum].dtype = ops::DType::kI8;
  g.values[product].dtype = ops::DType::kI16;
  g.inputs = {{"x", x}};
  g.outputs = {{"sum", sum}, {"product", product}};
  absl::StatusOr<compiler::CompileState> state = compiler::RunPipeline(std::move(g), {}, "plan-memory");
  ASSERT_TRUE(state.ok()) << state.status();
  const ScheduledProgram& p = *state->program;
  EXPECT_EQ(p.tensors[p.inputs[0].second].dtype, ops::DType::kU8);
  HostTensor in{{4}, ops::DType::kU8, {0, 27, 200, 255}};
  std::vector<HostTensor> outputs;
  Status s = WriteLoadRun(p, {in}, &outputs);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(outputs.size(), 2u);
  ASSERT_EQ(outputs[0].dtype, ops::DType::kI8);
  std::vector<int8_t> sums(4);
  ASSERT_EQ(outputs[0].bytes.size(), 4u);
  std::memcpy(sums.data(), outputs[0].bytes.data(), 4);
  EXPECT_EQ(sums, (std::vector<int8_t>{100, 127, 44, 99}));
  ASSERT_EQ(outputs[1].dtype, ops::DType::kI16);
  ASSERT_EQ(outputs[1].bytes.size(), 8u);
  std::vector<int16_t> products(4);
  std::memcpy(products.data(), outputs[1].bytes.data(), 8);
  EXPECT_EQ(products, (std::vector<int16_t>{0, 729, -25536, -511}));
}

TEST(Executor, Int64InputBeyondInt32IsNamedWithItsElement) {
  std::vector<HostTensor> outputs;
  Status s = WriteLoadRun(Compile(IdsGraph()), {Int64s({2, 3}, {1, 2, 3, 4, int64_t{1} << 31, 6})}, &outputs);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "input 'ids': element 4 is 2147483648, outside int32; the device holds int64 inputs as int32");
  // The dtype is checked before the values: f32 where the program takes i64.
  s = WriteLoadRun(Compile(IdsGraph()), {HostTensor::FromFloats({2, 3}, {1, 2, 3, 4, 5, 6})}, &outputs);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("input 'ids': expected i64 [2, 3], got f32 [2, 3]"));
}

TEST(Semantic, HostOnlyDTypeOnADeviceTensorIsNamed) {
  ScheduledProgram p = Compile(IdsGraph());
  const int t = TensorNamed(p, "ids.device");
  p.tensors[t].dtype = ops::DType::kI64;
  EXPECT_THAT(LoadError(p), HasSubstr("'ids.device': dtype i64 exists only in the caller's buffers; device tensors "
                                      "are f32, bf16 or i32"));
}

TEST(Program, EmptyConstantAndNoOtherWeights) {
  DeviceGraph g;
  const int x = g.AddInput("x", {0, 3});
  const int e = g.AddConstant("e", {0, 3}, {});
  const int y = Node(g, "add", {x, e}, "add");
  g.inputs = {{"x", x}};
  g.outputs = {{"y", y}};
  ScheduledProgram p = Compile(std::move(g));
  ASSERT_EQ(p.regions[compiler::kConstantRegion].size_bytes, 0u);
  std::vector<HostTensor> outputs;
  Status s = WriteLoadRun(p, {HostTensor::FromFloats({0, 3}, {})}, &outputs);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(outputs[0].shape, (ops::Shape{0, 3}));
}

// The roofline counts of each weight what its ops read: a gather from a 4096-row table reads 8 rows,
// so the table adds 8 rows' bytes to the weight bytes that must stream, not 1 MiB (an LLM's embedding
// table would otherwise put its bound above what the program takes).
TEST(Program, WorkloadCountsTheRowsAGatherReads) {
  DeviceGraph g;
  const int ids = g.AddInput("ids", {1, 8}, ops::DType::kI32);
  const int table = g.AddConstant("table", {4096, 64}, std::vector<float>(4096 * 64, 0.5f));
  const int w = g.AddConstant("w", {64, 64}, std::vector<float>(64 * 64, 0.25f));
  const int rows = Node(g, "take", {table, ids}, "embedding", ops::Attrs().SetInt("dim", 0));
  const int y = Node(g, "matmul", {rows, w}, "mm");
  g.inputs = {{"ids", ids}};
  g.outputs = {{"y", y}};
  std::unique_ptr<Program> program;
  ASSERT_TRUE(LoadBytes(Write(Compile(std::move(g))), &program).ok());
  EXPECT_EQ(program->workload().weight_bytes, 8 * 64 * 4 + 64 * 64 * 4);
}

// A pooling program whose window is patched to `kernel` rows, padded by half of it.
ScheduledProgram PoolingProgram(int64_t kernel) {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 1, 1, 1});
  ops::Attrs a;
  a.SetInts("kernel", {1, 1});
  a.SetInts("stride", {1, 1});
  a.SetInts("padding", {0, 0});
  a.SetInts("dilation", {1, 1});
  a.SetInt("ceil_mode", 0);
  const int y = Node(g, "max_pool2d", {x}, "pool", a);
  g.inputs = {{"x", x}};
  g.outputs = {{"y", y}};
  ScheduledProgram p = Compile(std::move(g));
  ops::Attrs& attrs = p.instructions[OpInstruction(p, "max_pool2d")].attrs;
  attrs.SetInts("kernel", {kernel, 1});
  attrs.SetInts("padding", {kernel / 2, 0});
  return p;
}

TEST(BadInputs, PoolingWindowAboveTheOpLimitIsInvalid) {
  // The fuzzed file: a window of 2^40 + 1 rows padded by 2^39 on a 1x1 image, which used to hang.
  std::unique_ptr<Program> program;
  Status s = LoadWith(Write(PoolingProgram((int64_t{1} << 40) + 1)), {}, &program);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidProgram);
  EXPECT_THAT(s.message(), HasSubstr("attribute 'kernel' must hold 2 ints in [1, 2^40], got [1099511627777, 1]"));
}

TEST(BadInputs, HugePoolingWindowExceedsTheWorkLimit) {
  // The largest window the op allows still yields one output on a 1x1 image, but its work is above
  // the default limit.
  const ScheduledProgram p = PoolingProgram((int64_t{1} << 40) - 1);
  std::unique_ptr<Program> program;
  Status s = LoadWith(Write(p), {}, &program);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOutOfMemory);
  EXPECT_THAT(s.message(), HasSubstr("units of work, above the limit of 1e+12 (Limits::max_total_work)"));
  // The same program is within a raised limit; only the caller decides.
  LoadOptions generous;
  generous.limits.max_total_work = 1e16;
  EXPECT_TRUE(LoadWith(Write(p), generous, &program).ok());
}

TEST(BadInputs, TwelveGiBArenaIsRefusedAtLoad) {
  ScheduledProgram p = SmallProgram();
  p.regions[compiler::kActivationRegion].size_bytes = uint64_t{12} << 30;
  std::unique_ptr<Program> program;
  Status s = LoadWith(Write(p), {}, &program);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOutOfMemory);
  EXPECT_EQ(s.message(), "test.kiln: region 0 'activations' (DEVICE_DRAM) needs 12884901888 bytes, above the "
                         "limit of 8589934592 bytes per region (Limits::max_region_bytes)");
  // A caller who allows it gets to the device's own check, which allocates nothing.
  LoadOptions generous;
  generous.limits.max_region_bytes = uint64_t{16} << 30;
  ASSERT_TRUE(LoadWith(Write(p), generous, &program).ok());
  target::ChipConfig chip = target::DefaultChipConfig();
  chip.dram_bytes = int64_t{1} << 30;
  sim::Device device(chip);
  std::unique_ptr<Executor> exec;
  s = Executor::Create(*program, &device, &exec);
  EXPECT_EQ(s.code(), StatusCode::kOutOfMemory);
  EXPECT_THAT(s.message(), StartsWith("device memory too small: the program needs 1288490"));
  EXPECT_EQ(device.memory().in_use(), 0);
}

TEST(BadInputs, RegionSizesThatWrap) {
  ScheduledProgram p = SmallProgram();
  p.regions[compiler::kActivationRegion].size_bytes = ~uint64_t{0} - 63;  // + the constants region wraps past 2^64
  LoadOptions unlimited;
  unlimited.limits.max_region_bytes = ~uint64_t{0};
  std::unique_ptr<Program> program;
  Status s = LoadWith(Write(p), unlimited, &program);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("the device regions' sizes add up to more than 2^64 bytes"));
}

TEST(BadInputs, ProgramLargerThanTheCallerAllows) {
  const std::string bytes = Write(SmallProgram());
  LoadOptions small;
  small.limits.max_program_bytes = 100;
  std::unique_ptr<Program> program;
  Status s = LoadWith(bytes, small, &program);
  EXPECT_EQ(s.code(), StatusCode::kOutOfMemory);
  EXPECT_EQ(s.message(), "test.kiln: the program is " + std::to_string(bytes.size()) +
                             " bytes, above the limit of 100 bytes (Limits::max_program_bytes)");
}

TEST(BadInputs, ShapeVectorOffItsEightByteAlignmentIsReadSafely) {
  // FlatBuffers' verifier checks only 4-byte alignment of a vector's elements, so a valid file can hold
  // a [long] shape at 4 mod 8; reading it as int64_t* is undefined (UBSan flagged it). Build a tensor
  // with such a shape; under --config=asan any misaligned read fails this test.
  flatbuffers::FlatBufferBuilder b;
  const int64_t dims[] = {2, 3};
  b.StartVector(2, sizeof(int64_t));
  const uint8_t pad[4] = {};
  b.PushBytes(pad, 4);  // pushed first, so it ends up after the elements and shifts them by 4
  for (int i = 1; i >= 0; --i) b.PushBytes(reinterpret_cast<const uint8_t*>(&dims[i]), 8);
  const auto shape = flatbuffers::Offset<flatbuffers::Vector<int64_t>>(b.EndVector(2));
  const auto name = b.CreateString("t");
  b.Finish(fb::CreateTensor(b, name, shape, fb::DType::F32, fb::Layout::ROW_MAJOR, nullptr, 24));
  const fb::Tensor* t = flatbuffers::GetRoot<fb::Tensor>(b.GetBufferPointer());
  ASSERT_EQ(reinterpret_cast<uintptr_t>(t->shape()->Data()) % 8, 4u) << "the test did not misalign the shape";
  flatbuffers::Verifier verifier(b.GetBufferPointer(), b.GetSize());
  ASSERT_TRUE(verifier.VerifyBuffer<fb::Tensor>(nullptr));
  TensorInfo info;
  validation::Segment data{0, 0};
  Status s = validation::ValidateTensor(t, 0, {}, {}, &info, &data);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(info.shape, (ops::Shape{2, 3}));
}

TEST(Semantic, RegionKinds) {
  ScheduledProgram p = SmallProgram();
  const std::string good = Write(p);
  const fb::MemoryRegion* r = fb::GetProgram(good.data())->regions()->Get(0);
  ASSERT_NE(FieldAddress(r, fb::MemoryRegion::VT_KIND), nullptr);
  const size_t kind = FieldAddress(r, fb::MemoryRegion::VT_KIND) - reinterpret_cast<const uint8_t*>(good.data());
  std::string bytes = good;
  bytes[kind] = 7;
  EXPECT_THAT(LoadError(bytes), HasSubstr("region 0 'activations': unknown kind 7"));
}

// SRAM regions: the executor puts them in the cores' SRAM, where the ops read and write them with no
// DRAM traffic; constants there are uploaded once, at load.
TEST(Sram, RegionsRunWithoutDramTraffic) {
  compiler::CompileOptions options;
  absl::StatusOr<compiler::CompileState> compiled = compiler::RunPipeline(SmallGraph(), options, "plan-memory");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  const ScheduledProgram& p = *compiled->program;
  // Everything on the device fits: activations in the SRAM arena, weights in SRAM constants.
  for (const compiler::ProgramTensor& t : p.tensors) {
    if (!t.in_caller_buffer()) EXPECT_EQ(p.regions[t.region].kind, target::RegionKind::kDeviceSram) << t.name;
  }
  std::unique_ptr<Program> program;
  ASSERT_TRUE(LoadBytes(Write(p), &program).ok());
  sim::Device device(target::DefaultChipConfig());
  std::unique_ptr<Executor> exec;
  ASSERT_TRUE(Executor::Create(*program, &device, &exec).ok());
  EXPECT_EQ(exec->load_stats().counters.dram_write_bytes, 0);
  EXPECT_GT(exec->load_stats().counters.sram_write_bytes, 0);  // the weights, once
  EXPECT_EQ(device.bytes_in_use(), 0);                          // no DRAM at all
  for (int run = 0; run < 2; ++run) {
    std::vector<HostTensor> outputs;
    RunStats stats;
    ASSERT_TRUE(exec->Run({HostTensor::FromFloats({2, 4}, kX)}, &outputs, &stats).ok());
    EXPECT_EQ(std::vector<float>(outputs[0].f32(), outputs[0].f32() + 6), kY);
    EXPECT_EQ(stats.counters.dram_read_bytes, 0);
    EXPECT_EQ(stats.counters.dram_write_bytes, 0);
    EXPECT_GT(stats.counters.sram_read_bytes, 0);
    EXPECT_EQ(stats.counters.host_to_device_bytes, 2 * 4 * 4);  // the input only: weights stayed resident
  }
}

// A program whose SRAM regions overfill the cores' SRAM fails at load, naming the region, its bytes
// per core and the capacity.
TEST(Sram, OverfilledSramIsAnErrorAtLoad) {
  ScheduledProgram p = SmallProgram();
  p.regions[compiler::kActivationRegion].kind = target::RegionKind::kDeviceSram;  // 128 bytes
  p.regions[compiler::kActivationRegion].name = "sram arena";
  std::unique_ptr<Program> program;
  ASSERT_TRUE(LoadBytes(Write(p), &program).ok());
  ASSERT_EQ(program->regions()[0].size_bytes, 128u);
  target::ChipConfig chip = target::DefaultChipConfig();
  chip.cores = 2;
  chip.sram_bytes_per_core = 100;
  chip.sram_reserved_bytes_per_core = 40;
  sim::Device device(chip);
  std::unique_ptr<Executor> exec;
  Status s = Executor::Create(*program, &device, &exec);
  EXPECT_EQ(s.code(), StatusCode::kOutOfMemory);
  EXPECT_EQ(s.message(),
            "SRAM too small: region 'sram arena' needs 64 bytes per core (128 bytes interleaved over 2 cores), 60 of 60 "
            "bytes per core are free (100 per core minus 40 reserved for the op library's streaming buffers)");
  EXPECT_EQ(device.bytes_in_use(), 0);  // nothing stays allocated
  EXPECT_EQ(device.sram_bytes_per_core_in_use(), 0);
  // With 4 more bytes per core it fits and runs.
  chip.sram_bytes_per_core = 104;
  sim::Device bigger(chip);
  std::unique_ptr<Executor> fits;  // after its device, so it is destroyed first
  ASSERT_TRUE(Executor::Create(*program, &bigger, &fits).ok());
  EXPECT_EQ(bigger.sram_bytes_per_core_in_use(), 64);
  std::vector<HostTensor> outputs;
  ASSERT_TRUE(fits->Run({HostTensor::FromFloats({2, 4}, kX)}, &outputs, nullptr).ok());
  EXPECT_EQ(std::vector<float>(outputs[0].f32(), outputs[0].f32() + 6), kY);
}

// ---- State: a module's mutated buffers, kept on the device between runs -------------------------

// s starts at kState0; each run adds x to it and returns 2 * (s + x); the new s is kept.
const std::vector<float> kState0 = {1, 2, 3, 4, 5, 6, 7, 8};

DeviceGraph StateGraph() {
  DeviceGraph g;
  const int x = g.AddInput("x", {2, 4});
  const int s = g.AddState("cache", {2, 4}, ops::DType::kF32, kState0);
  const int sum = Node(g, "add", {s, x}, "add");
  const int two = g.AddConstant("two", {}, {2.0f});
  const int y = Node(g, "mul", {sum, two}, "mul");
  g.inputs = {{"x", x}};
  g.outputs = {{"y", y}};
  g.state_updates = {{s, sum}};
  return g;
}

std::vector<float> Floats(const HostTensor& t) { return std::vector<float>(t.f32(), t.f32() + t.bytes.size() / 4); }

TEST(State, PersistsAcrossRunsPerExecutorUntilReset) {
  const ScheduledProgram p = Compile(StateGraph());
  const int cache = TensorNamed(p, "cache");
  ASSERT_EQ(p.tensors[cache].region, compiler::kStateRegion);
  EXPECT_EQ(p.regions[compiler::kStateRegion].kind, target::RegionKind::kDeviceState);
  std::unique_ptr<Program> program;
  ASSERT_TRUE(LoadBytes(Write(p), &program).ok());
  EXPECT_TRUE(program->tensors()[cache].state);
  EXPECT_FALSE(program->tensors()[cache].constant);
  sim::Device device(target::DefaultChipConfig());
  std::unique_ptr<Executor> exec;
  ASSERT_TRUE(Executor::Create(*program, &device, &exec).ok());
  const std::vector<HostTensor> ones = {HostTensor::FromFloats({2, 4}, std::vector<float>(8, 1.0f))};
  auto expect_after = [&](Executor& e, float added) {
    std::vector<HostTensor> out;
    ASSERT_TRUE(e.Run(ones, &out, nullptr).ok());
    std::vector<float> want;
    for (float v : kState0) want.push_back(2 * (v + added));
    EXPECT_EQ(Floats(out[0]), want) << "after adding " << added;
  };
  expect_after(*exec, 1);
  expect_after(*exec, 2);
  expect_after(*exec, 3);
  // Another executor of the same program has its own state, from the initial value.
  std::unique_ptr<Executor> other;
  ASSERT_TRUE(Executor::Create(*program, &device, &other).ok());
  expect_after(*other, 1);
  expect_after(*exec, 4);
  ASSERT_TRUE(exec->ResetState().ok());
  expect_after(*exec, 1);
}

// A second program over the same state (as a prefill program shares the KV cache with the decode
// step): s := s - x, returning s - x.
DeviceGraph SubtractingStateGraph(ops::Shape shape = {2, 4}) {
  DeviceGraph g;
  const int x = g.AddInput("x", shape);
  const int s = g.AddState("cache", shape, ops::DType::kF32, std::vector<float>(ops::NumElements(shape), 0.0f));
  const int diff = Node(g, "sub", {s, x}, "sub");
  g.inputs = {{"x", x}};
  g.outputs = {{"y", diff}};
  g.state_updates = {{s, diff}};
  return g;
}

// Twin programs with state (a prefill and its decode step) load side by side on one device: each
// plans against half the cores' SRAM (with all of it, one program's arena and weights would take
// more than half).
TEST(State, TwinProgramsWithStateBothFitTheCoresSram) {
  auto twin = [] {
    DeviceGraph g;
    const int x = g.AddInput("x", {256, 256});
    const int s = g.AddState("cache", {256, 256}, ops::DType::kF32, std::vector<float>(256 * 256, 1.0f));
    const int sum = Node(g, "add", {s, x}, "add");
    int y = sum;
    for (int i = 0; i < 3; ++i)
      y = Node(g, "add", {y, g.AddConstant("w" + std::to_string(i), {256, 256}, std::vector<float>(256 * 256, 1.0f))},
               "add_w" + std::to_string(i));
    g.inputs = {{"x", x}};
    g.outputs = {{"y", y}};
    g.state_updates = {{s, sum}};
    return g;
  };
  target::ChipConfig chip = target::DefaultChipConfig();
  chip.cores = 2;
  chip.sram_reserved_bytes_per_core = chip.sram_bytes_per_core - 600 * 1024;
  compiler::CompileOptions options;
  options.chip = chip;
  absl::StatusOr<compiler::CompileState> a = compiler::RunPipeline(twin(), options, "plan-memory");
  absl::StatusOr<compiler::CompileState> b = compiler::RunPipeline(twin(), options, "plan-memory");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->sram->usable_bytes_per_core, 300 * 1024);
  EXPECT_GT(a->sram->activations, 0);
  EXPECT_LE(a->sram->bytes_per_core, 300 * 1024);
  std::unique_ptr<Program> first, second;
  ASSERT_TRUE(LoadBytes(Write(*a->program), &first).ok());
  ASSERT_TRUE(LoadBytes(Write(*b->program), &second).ok());
  sim::Device device(chip);
  std::unique_ptr<Executor> owner, sharer;
  ASSERT_TRUE(Executor::Create(*first, &device, &owner).ok());
  Status s = Executor::CreateSharing(*second, &device, *owner, &sharer);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_LE(device.sram_bytes_per_core_in_use(), chip.sram_usable_bytes_per_core());
  const std::vector<HostTensor> ones = {HostTensor::FromFloats({256, 256}, std::vector<float>(256 * 256, 1.0f))};
  std::vector<HostTensor> out;
  ASSERT_TRUE(owner->Run(ones, &out, nullptr).ok());   // cache = 2, y = 5
  ASSERT_TRUE(sharer->Run(ones, &out, nullptr).ok());  // cache = 3, y = 6
  EXPECT_EQ(out[0].f32()[0], 6.0f);
}

TEST(State, TwoProgramsShareOneStateOnOneDevice) {
  std::unique_ptr<Program> adding, subtracting, other_shape;
  ASSERT_TRUE(LoadBytes(Write(Compile(StateGraph())), &adding).ok());
  ASSERT_TRUE(LoadBytes(Write(Compile(SubtractingStateGraph())), &subtracting).ok());
  ASSERT_TRUE(LoadBytes(Write(Compile(SubtractingStateGraph({4, 2}))), &other_shape).ok());
  sim::Device device(target::DefaultChipConfig());
  std::unique_ptr<Executor> owner, sharer;
  ASSERT_TRUE(Executor::Create(*adding, &device, &owner).ok());
  const int64_t in_use = device.bytes_in_use();
  Status s = Executor::CreateSharing(*subtracting, &device, *owner, &sharer);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_LT(device.bytes_in_use() - in_use, 2 * 4096 + 64) << "the state region is not allocated twice";
  const std::vector<HostTensor> ones = {HostTensor::FromFloats({2, 4}, std::vector<float>(8, 1.0f))};
  std::vector<HostTensor> out;
  ASSERT_TRUE(owner->Run(ones, &out, nullptr).ok());   // s = s0 + 1
  ASSERT_TRUE(owner->Run(ones, &out, nullptr).ok());   // s = s0 + 2
  ASSERT_TRUE(sharer->Run(ones, &out, nullptr).ok());  // s = s0 + 1, returned
  std::vector<float> want;
  for (float v : kState0) want.push_back(v + 1);
  EXPECT_EQ(Floats(out[0]), want);
  ASSERT_TRUE(owner->Run(ones, &out, nullptr).ok());  // 2 * (s0 + 2): the owner sees the sharer's write
  want.clear();
  for (float v : kState0) want.push_back(2 * (v + 2));
  EXPECT_EQ(Floats(out[0]), want);
  sharer.reset();  // frees its own regions only; the owner's state is intact
  ASSERT_TRUE(owner->Run(ones, &out, nullptr).ok());
  want.clear();
  for (float v : kState0) want.push_back(2 * (v + 3));
  EXPECT_EQ(Floats(out[0]), want);

  std::unique_ptr<Executor> bad;
  EXPECT_EQ(Executor::CreateSharing(*other_shape, &device, *owner, &bad).message(),
            "cannot share state: state tensor 0 is 'cache' f32 [4, 2] row-major at offset 0 here but 'cache' f32 [2, 4] "
            "row-major at offset 0 in the owner's program");
  std::unique_ptr<Program> stateless;
  ASSERT_TRUE(LoadBytes(Write(SmallProgram()), &stateless).ok());
  EXPECT_EQ(Executor::CreateSharing(*stateless, &device, *owner, &bad).message(),
            "nothing to share with the owner: this program has no DEVICE_STATE region and no region laid out like one "
            "of the owner's (compile it with share_from the owner's program)");
  sim::Device elsewhere(target::DefaultChipConfig());
  EXPECT_EQ(Executor::CreateSharing(*subtracting, &elsewhere, *owner, &bad).message(),
            "cannot share the owner's regions: the owner runs on another device");
}

// ---- Sharing weights: a program compiled beside an owner uses the owner's device copy ------------

// y = (x @ w + b) * scale over `rows` rows of 64 (1: a decode step; 4: a prefill), w: [64, 64]; scale
// per column, since fold-matmul-scales would fold a one-element scale into w.
std::vector<float> Ramp(int64_t n, float step) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = step * static_cast<float>(i % 97) - 1.0f;
  return v;
}

DeviceGraph WeightGraph(int64_t rows, float w_step = 0.01f, float scale = 2.0f) {
  DeviceGraph g;
  const int x = g.AddInput("x", {rows, 64});
  const int w = g.AddConstant("w", {64, 64}, Ramp(64 * 64, w_step));
  const int b = g.AddConstant("b", {64}, Ramp(64, 0.5f));
  const int h = Node(g, "matmul", {x, w, b}, "mm");
  const int k = g.AddConstant("scale", {64}, std::vector<float>(64, scale));
  const int y = Node(g, "mul", {h, k}, "mul");
  g.inputs = {{"x", x}};
  g.outputs = {{"y", y}};
  return g;
}

ScheduledProgram CompileBeside(DeviceGraph g, const Program& owner) {
  compiler::CompileOptions options;
  options.sram_residency = false;  // device DRAM, as Compile(): the counts below are DRAM bytes
  absl::StatusOr<std::shared_ptr<const compiler::OwnerConstants>> constants = compiler::OwnerConstantsOf(owner);
  EXPECT_TRUE(constants.ok()) << constants.status();
  if (constants.ok()) options.share_from = *constants;
  absl::StatusOr<compiler::CompileState> s = compiler::RunPipeline(std::move(g), options, "plan-memory");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s->program) : ScheduledProgram{};
}

TEST(Sharing, APrefillUsesTheStepsWeightsOnTheDevice) {
  std::unique_ptr<Program> step, prefill;
  ASSERT_TRUE(LoadBytes(Write(Compile(WeightGraph(1))), &step).ok());
  // The prefill's scale differs from the step's: it stays private; w and b are the step's.
  const ScheduledProgram p = CompileBeside(WeightGraph(4, 0.01f, 3.0f), *step);
  ASSERT_TRUE(LoadBytes(Write(p), &prefill).ok());
  int shared = -1;
  for (size_t r = 0; r < prefill->regions().size(); ++r)
    if (prefill->regions()[r].shares >= 0) shared = static_cast<int>(r);
  ASSERT_GE(shared, 0);
  const RegionInfo& owners = step->regions()[prefill->regions()[shared].shares];
  EXPECT_EQ(prefill->regions()[shared].size_bytes, owners.size_bytes);
  uint64_t private_constants = 0, all_constants = 0;
  for (const TensorInfo& t : prefill->tensors()) {
    if (!t.constant) continue;
    all_constants += t.size_bytes;
    if (t.name == "scale") EXPECT_NE(t.region, shared);
    else EXPECT_EQ(t.region, shared) << t.name;
    if (t.region != shared) private_constants += t.size_bytes;
  }

  sim::Device device(target::DefaultChipConfig());
  std::unique_ptr<Executor> owner, sharer;
  ASSERT_TRUE(Executor::Create(*step, &device, &owner).ok());
  const int64_t in_use = device.bytes_in_use();
  Status s = Executor::CreateSharing(*prefill, &device, *owner, &sharer);
  ASSERT_TRUE(s.ok()) << s.message();
  // The sharer allocates and uploads only what is its own: not the owner's region.
  uint64_t own_bytes = 0;
  for (size_t r = 0; r < prefill->regions().size(); ++r)
    if (static_cast<int>(r) != shared) own_bytes += prefill->regions()[r].size_bytes;
  EXPECT_EQ(device.bytes_in_use() - in_use, static_cast<int64_t>(own_bytes));
  EXPECT_EQ(sharer->load_stats().counters.host_to_device_bytes, static_cast<int64_t>(private_constants));
  EXPECT_GE(owner->load_stats().counters.host_to_device_bytes, 64 * 64 * 4);

  // Its results are those of the same program loaded alone.
  const std::vector<HostTensor> x = {HostTensor::FromFloats({4, 64}, Ramp(4 * 64, 0.03f))};
  std::vector<HostTensor> shared_out, alone_out;
  ASSERT_TRUE(sharer->Run(x, &shared_out, nullptr).ok());
  sim::Device other(target::DefaultChipConfig());
  std::unique_ptr<Executor> alone;
  ASSERT_TRUE(Executor::Create(*prefill, &other, &alone).ok());
  ASSERT_TRUE(alone->Run(x, &alone_out, nullptr).ok());
  EXPECT_EQ(Floats(shared_out[0]), Floats(alone_out[0]));
  EXPECT_EQ(alone->load_stats().counters.host_to_device_bytes, static_cast<int64_t>(all_constants));
  std::vector<HostTensor> step_out;
  ASSERT_TRUE(owner->Run({HostTensor::FromFloats({1, 64}, Ramp(64, 0.03f))}, &step_out, nullptr).ok());
  sharer.reset();  // frees its own regions only: the owner's weights stay
  std::vector<HostTensor> again;
  ASSERT_TRUE(owner->Run({HostTensor::FromFloats({1, 64}, Ramp(64, 0.03f))}, &again, nullptr).ok());
  EXPECT_EQ(Floats(again[0]), Floats(step_out[0]));
}

TEST(Sharing, RefusesAnOwnerWithOtherWeightsOrLayoutOrDevice) {
  std::unique_ptr<Program> step, prefill, other_bytes, other_layout;
  ASSERT_TRUE(LoadBytes(Write(Compile(WeightGraph(1))), &step).ok());
  ASSERT_TRUE(LoadBytes(Write(CompileBeside(WeightGraph(4), *step)), &prefill).ok());
  // The same names and shapes, other values of w: same layout, other bytes.
  ASSERT_TRUE(LoadBytes(Write(Compile(WeightGraph(1, 0.02f))), &other_bytes).ok());
  // b before w: the same tensors at other offsets.
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 64});
  const int b = g.AddConstant("b", {64}, Ramp(64, 0.5f));
  const int w = g.AddConstant("w", {64, 64}, Ramp(64 * 64, 0.01f));
  const int bias = Node(g, "add", {x, b}, "add");
  const int h = Node(g, "matmul", {bias, w}, "mm");
  const int k = g.AddConstant("scale", {64}, std::vector<float>(64, 2.0f));
  const int y = Node(g, "mul", {h, k}, "mul");
  g.inputs = {{"x", x}};
  g.outputs = {{"y", y}};
  ASSERT_TRUE(LoadBytes(Write(Compile(std::move(g))), &other_layout).ok());

  sim::Device device(target::DefaultChipConfig()), elsewhere(target::DefaultChipConfig());
  std::unique_ptr<Executor> a, b_owner, c, bad;
  ASSERT_TRUE(Executor::Create(*other_bytes, &device, &a).ok());
  const int64_t in_use = device.bytes_in_use();
  EXPECT_THAT(Executor::CreateSharing(*prefill, &device, *a, &bad).message(),
              testing::MatchesRegex("cannot share region [0-9]+ 'constants \\(shared\\)' \\(DEVICE_DRAM, [0-9]+ bytes\\) "
                                    "with the owner: the bytes of 'w' differ from the owner's \\(first at byte [0-9]+ "
                                    "of 16384\\)"));
  EXPECT_EQ(device.bytes_in_use(), in_use) << "a refused sharer allocates nothing";
  ASSERT_TRUE(Executor::Create(*other_layout, &device, &c).ok());
  EXPECT_THAT(Executor::CreateSharing(*prefill, &device, *c, &bad).message(),
              HasSubstr("with the owner: 'w' f32 [64, 64] tile at offset 0 here but 'b' f32 [64] "));
  ASSERT_TRUE(Executor::Create(*step, &elsewhere, &b_owner).ok());
  EXPECT_EQ(Executor::CreateSharing(*prefill, &device, *b_owner, &bad).message(),
            "cannot share the owner's regions: the owner runs on another device");
  // Loaded alone, the sharer runs from its own copy.
  ASSERT_TRUE(Executor::Create(*prefill, &device, &bad).ok());
}

TEST(Sharing, LoadErrorsNameTheRegionAndTensor) {
  ScheduledProgram p = SmallProgram();
  p.regions[compiler::kActivationRegion].shares = 1;
  EXPECT_THAT(LoadError(p), HasSubstr(": region 0 'activations' shares an owner program's constants, but this "
                                      "tensor is not a constant"));
  p = SmallProgram();
  p.regions[compiler::kConstantRegion].shares = -2;
  EXPECT_THAT(LoadError(p), HasSubstr("region 1 'constants': shares region -2 (-1 or an index)"));
  p = Compile(StateGraph());
  p.regions[compiler::kStateRegion].shares = 0;
  EXPECT_THAT(LoadError(p), HasSubstr("region 2 'state': a DEVICE_STATE region cannot share an owner's constants "
                                      "(only device DRAM or SRAM regions hold them)"));
}

TEST(State, LoadErrorsNameTheStateTensor) {
  const ScheduledProgram good = Compile(StateGraph());
  const int cache = TensorNamed(good, "cache");
  {
    ScheduledProgram p = good;  // in the state region, but written without initial data
    p.tensors[cache].is_state = false;
    EXPECT_THAT(LoadError(p), HasSubstr("tensor " + std::to_string(cache) + " 'cache': a state tensor (in region 2 "
                                        "'state') has no initial data; the executor would start from undefined bytes"));
  }
  {
    // The writer refuses a state tensor outside its region; move it in the file instead.
    std::string bytes = Write(good);
    uint8_t* placement = FieldAddress(fb::GetProgram(bytes.data())->tensors()->Get(cache), fb::Tensor::VT_PLACEMENT);
    ASSERT_NE(placement, nullptr);
    const uint64_t beyond = 64;
    std::memcpy(placement + kPlacementOffset, &beyond, 8);
    EXPECT_THAT(LoadError(bytes), HasSubstr("tensor " + std::to_string(cache) + " 'cache': bytes [64, " +
                                            std::to_string(64 + good.tensors[cache].size_bytes()) +
                                            ") lie outside region 2 'state' of " +
                                            std::to_string(good.regions[compiler::kStateRegion].size_bytes) + " bytes"));
  }
  {
    ScheduledProgram p = good;  // the update reads the state it writes
    for (compiler::ProgramInstruction& inst : p.instructions)
      if (inst.output == cache) inst.inputs = {cache};
    EXPECT_THAT(LoadError(p), HasSubstr("reads its own result 'cache'; ops do not work in place"));
  }
  {
    ScheduledProgram p = good;  // a transfer may not overwrite state
    for (compiler::ProgramInstruction& inst : p.instructions)
      if (inst.kind == compiler::ProgramInstruction::Kind::kHostToDevice) inst.output = cache;
    EXPECT_THAT(LoadError(p), HasSubstr("to 'cache' does not go between host and device as its direction says"));
  }
}

TEST(Semantic, OperatorIndexOutOfRange) {
  ScheduledProgram p = SmallProgram();
  const std::string good = Write(p);
  const fb::Program* prog = fb::GetProgram(good.data());
  const int relu = OpInstruction(p, "relu");
  const auto* op = static_cast<const fb::DeviceOp*>(prog->instructions()->Get(relu));
  uint8_t* field = FieldAddress(op, fb::DeviceOp::VT_OP);
  ASSERT_NE(field, nullptr);
  std::string bytes = good;
  const uint32_t index = 9;
  std::memcpy(&bytes[field - reinterpret_cast<const uint8_t*>(good.data())], &index, 4);
  EXPECT_THAT(LoadError(bytes), HasSubstr("instruction " + std::to_string(relu) +
                                          " (from relu): operator index 9 out of range (3 operators)"));
}

TEST(BadInputs, SegmentTableOffItsEightByteAlignmentIsReadSafely) {
  // Found by a random-mutation run under UBSan: like shapes, a [DataSegment] vector is verified only
  // to 4-byte alignment. An otherwise empty program whose one segment entry sits at 4 mod 8 must load
  // (and, under --config=asan, without a misaligned read).
  flatbuffers::FlatBufferBuilder b;
  b.ForceDefaults(true);
  const fb::DataSegment segment(0, 64);
  b.StartVector(1, sizeof(fb::DataSegment));
  const uint8_t pad[4] = {};
  b.PushBytes(pad, 4);
  b.PushBytes(reinterpret_cast<const uint8_t*>(&segment), sizeof(segment));
  const auto segments = flatbuffers::Offset<flatbuffers::Vector<const fb::DataSegment*>>(b.EndVector(1));
  const auto root = fb::CreateProgram(
      b, kFormatVersion, b.CreateString("test"), b.CreateVector<flatbuffers::Offset<fb::MemoryRegion>>({}),
      b.CreateVector<flatbuffers::Offset<fb::Operator>>({}), b.CreateVector<flatbuffers::Offset<fb::Tensor>>({}),
      b.CreateVector<flatbuffers::Offset<fb::IoBinding>>({}), b.CreateVector<flatbuffers::Offset<fb::IoBinding>>({}),
      b.CreateVector<fb::Instruction>({}), b.CreateVector<flatbuffers::Offset<void>>({}), segments);
  fb::FinishProgramBuffer(b, root);
  // The file: the header inserted after the identifier (the root offset moves past it), then the segment.
  std::string file(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  uint32_t root_offset;
  std::memcpy(&root_offset, file.data(), 4);
  root_offset += kExtendedHeaderSize;
  std::memcpy(file.data(), &root_offset, 4);
  ExtendedHeader h;
  h.program_size = file.size() + kExtendedHeaderSize;
  h.segment_base_offset = (h.program_size + kSegmentAlignment - 1) / kSegmentAlignment * kSegmentAlignment;
  h.segment_data_size = 64;
  std::string header(kExtendedHeaderSize, '\0');
  h.Encode(reinterpret_cast<uint8_t*>(header.data()));
  file.insert(kExtendedHeaderOffset, header);
  file.resize(h.segment_base_offset + h.segment_data_size, '\0');
  const fb::Program* prog = fb::GetProgram(file.data());
  ASSERT_EQ(reinterpret_cast<uintptr_t>(prog->segments()->Data()) % 8, 4u) << "the test did not misalign the segments";
  std::unique_ptr<Program> program;
  Status s = LoadBytes(file, &program);
  EXPECT_TRUE(s.ok()) << s.message();
}

// ---- Executor ----------------------------------------------------------------------------------

TEST(Executor, DeviceTooSmall) {
  std::unique_ptr<Program> program;
  ASSERT_TRUE(LoadBytes(Write(SmallProgram()), &program).ok());
  target::ChipConfig chip = target::DefaultChipConfig();
  chip.dram_bytes = static_cast<int64_t>(program->device_dram_bytes()) - 1;
  sim::Device device(chip);
  std::unique_ptr<Executor> exec;
  Status s = Executor::Create(*program, &device, &exec);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), StartsWith("device memory too small"));
  EXPECT_THAT(s.message(), HasSubstr(std::to_string(program->device_dram_bytes())));
  EXPECT_EQ(exec, nullptr);
  EXPECT_EQ(device.memory().in_use(), 0);

  // An exact fit works.
  chip.dram_bytes = static_cast<int64_t>(program->device_dram_bytes());
  sim::Device exact(chip);
  std::unique_ptr<Executor> fits;  // declared after its device, so destroyed first
  EXPECT_TRUE(Executor::Create(*program, &exact, &fits).ok());
}

TEST(Executor, WrongInputShapeNamesInputAndBothShapes) {
  std::unique_ptr<Program> program;
  ASSERT_TRUE(LoadBytes(Write(SmallProgram()), &program).ok());
  sim::Device device(target::DefaultChipConfig());
  std::unique_ptr<Executor> exec;
  ASSERT_TRUE(Executor::Create(*program, &device, &exec).ok());
  std::vector<HostTensor> outputs;
  Status s = exec->Run({HostTensor::FromFloats({4, 2}, kX)}, &outputs, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("'x'"));
  EXPECT_THAT(s.message(), HasSubstr("[2, 4]"));
  EXPECT_THAT(s.message(), HasSubstr("[4, 2]"));

  s = exec->Run({}, &outputs, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("1 inputs, got 0"));

  HostTensor short_buffer = HostTensor::FromFloats({2, 4}, kX);
  short_buffer.bytes.resize(12);
  s = exec->Run({short_buffer}, &outputs, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("'x'"));

  // The executor still works after rejected calls.
  s = exec->Run({HostTensor::FromFloats({2, 4}, kX)}, &outputs, nullptr);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_FLOAT_EQ(outputs[0].f32()[0], kY[0]);
}

}  // namespace
}  // namespace kiln::runtime

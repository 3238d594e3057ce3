// The pass pipeline (slices, names, errors), the structural verifier (each invariant, with the text of
// its error) and the printer's naming rules.
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/compiler.h"
#include "compiler/lowering/device_graph.h"
#include "compiler/pipeline/pipeline.h"
#include "compiler/pipeline/verifier.h"
#include "compiler/program/printer.h"

namespace kiln::compiler {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

int Node(DeviceGraph& g, const std::string& op, std::vector<int> inputs, const std::string& name) {
  absl::StatusOr<int> id = g.AddNode(op, std::move(inputs), {}, name, name);
  EXPECT_TRUE(id.ok()) << id.status();
  return id.ok() ? *id : -1;
}

// x -> relu -> (+ c) -> y, with a constant c.
DeviceGraph Small() {
  DeviceGraph g;
  const int x = g.AddInput("x", {2, 3});
  const int c = g.AddConstant("c", {2, 3}, {1, 2, 3, 4, 5, 6});
  const int r = Node(g, "relu", {x}, "r");
  const int y = Node(g, "add", {r, c}, "y");
  g.inputs = {{"x", x}};
  g.outputs = {{"y", y}};
  return g;
}

// Without SRAM residency: the tests below name the DRAM regions 'activations' and 'constants'.
CompileOptions Verifying() {
  CompileOptions options;
  options.verify_each = true;
  options.sram_residency = false;
  return options;
}

ScheduledProgram SmallProgram() {
  absl::StatusOr<CompileState> state = RunPipeline(Small(), Verifying(), "plan-memory");
  EXPECT_TRUE(state.ok()) << state.status();
  return state.ok() ? *state->program : ScheduledProgram{};
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// ---- Pipeline ------------------------------------------------------------------------------------

TEST(Pipeline, UnknownPassNamesListTheValidOnes) {
  absl::StatusOr<CompileState> state = RunPipeline(Small(), Verifying(), "fold");
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(state.status()),
            "unknown pass 'fold'; the pipeline's passes are: lower, fold-constants, compose-permutes, cse, "
            "fuse-safe-softmax, fuse-gelu-tanh, fold-batch-norm, fuse-silu, fuse-hard-activations, "
            "fold-matmul-reshapes, split-sliced-matmuls, fold-matmul-scales, fold-head-splits, fuse-rearranges, "
            "fuse-epilogues, fuse-squeeze-excite, fuse-input-scale, dce, order-ops, place, select-layouts, schedule, "
            "evict, prefetch, alias-reshapes, plan-memory, serialize");
}

TEST(Pipeline, FoldingDisabledLeavesThePassOut) {
  CompileOptions options = Verifying();
  options.fold_constants = false;
  std::vector<Pass> pipeline = BuildPipeline(options);
  ASSERT_FALSE(FindPass(pipeline, "fold-constants").ok());
  EXPECT_THAT(Message(FindPass(pipeline, "fold-constants").status()),
              HasSubstr("passes are: lower, compose-permutes, cse, fuse-safe-softmax, fuse-gelu-tanh, fold-batch-norm, "
                        "fuse-silu, fuse-hard-activations, fold-matmul-reshapes, split-sliced-matmuls, "
                        "fold-matmul-scales, fold-head-splits, fuse-rearranges, fuse-epilogues, fuse-squeeze-excite, "
                        "fuse-input-scale, dce,"));
  options.compose_permutes = options.eliminate_common_subexpressions = options.fuse_safe_softmax = options.fuse_gelu_tanh = false;
  EXPECT_THAT(Message(FindPass(BuildPipeline(options), "cse").status()),
              HasSubstr("passes are: lower, fold-batch-norm, fuse-silu, fuse-hard-activations, fold-matmul-reshapes, "
                        "split-sliced-matmuls, fold-matmul-scales, fold-head-splits, fuse-rearranges, "
                        "fuse-epilogues, fuse-squeeze-excite, fuse-input-scale, dce,"));
  options.fold_batch_norm = false;
  EXPECT_THAT(Message(FindPass(BuildPipeline(options), "fold-batch-norm").status()),
              HasSubstr("passes are: lower, fuse-silu, fuse-hard-activations, fold-matmul-reshapes, "
                        "split-sliced-matmuls, fold-matmul-scales, fold-head-splits, fuse-rearranges, "
                        "fuse-epilogues, fuse-squeeze-excite, fuse-input-scale, dce,"));
  options.fuse_epilogues = false;
  EXPECT_THAT(Message(FindPass(BuildPipeline(options), "fuse-epilogues").status()),
              HasSubstr("passes are: lower, dce,"));
}

TEST(Pipeline, FromADeviceGraphStartsAfterLoweringAndStopsWhereAsked) {
  absl::StatusOr<CompileState> state = RunPipeline(Small(), Verifying(), "dce");
  ASSERT_TRUE(state.ok()) << state.status();
  std::vector<std::string> ran;
  for (const PassTiming& t : state->timings) ran.push_back(t.pass);
  EXPECT_EQ(ran, (std::vector<std::string>{"fold-constants", "compose-permutes", "cse", "fuse-safe-softmax",
                                            "fuse-gelu-tanh", "fold-batch-norm", "fuse-silu", "fuse-hard-activations",
                                            "fold-matmul-reshapes", "split-sliced-matmuls", "fold-matmul-scales",
                                            "fold-head-splits", "fuse-rearranges", "fuse-epilogues",
                                            "fuse-squeeze-excite", "fuse-input-scale", "dce"}));
  EXPECT_EQ(state->current(), IrKind::kDeviceGraph);
  EXPECT_FALSE(state->program.has_value());
  EXPECT_TRUE(state->kiln.empty());
}

TEST(Pipeline, ASliceContinuesFromANamedPassAndPlacementReleasesTheGraph) {
  const CompileOptions options = Verifying();
  absl::StatusOr<CompileState> state = RunPipeline(Small(), options, "dce");
  ASSERT_TRUE(state.ok()) << state.status();
  std::vector<std::string> seen;
  RunOptions run;
  run.start_at = "place";
  run.stop_after = "schedule";
  run.after_pass = [&](const Pass& p, const CompileState&) {
    seen.push_back(p.name);
    return absl::OkStatus();
  };
  ASSERT_TRUE(RunPasses(BuildPipeline(options), *state, options, run).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"place", "select-layouts", "schedule"}));
  EXPECT_FALSE(state->graph.has_value());
  EXPECT_EQ(state->current(), IrKind::kProgram);
  EXPECT_FALSE(state->memory_planned);
}

TEST(Pipeline, StoppingBeforeTheStartIsAnError) {
  const CompileOptions options = Verifying();
  CompileState state;
  state.graph = Small();
  absl::Status s = RunPasses(BuildPipeline(options), state, options, {"place", "dce", nullptr});
  EXPECT_EQ(Message(s), "pass 'dce' comes before 'place', where this run starts");
}

TEST(Pipeline, APassMissingItsInputFailsCleanly) {
  const CompileOptions options = Verifying();
  CompileState state;  // no IR at all
  absl::Status s = RunPasses(BuildPipeline(options), state, options, {"place", "", nullptr});
  EXPECT_EQ(Message(s), "pass 'place' needs a device graph, which the state does not hold");
}

TEST(Pipeline, CompileRunsTheWholePipeline) {
  AtenGraph aten;
  aten.inputs = {{"x", InputKind::kUserInput, ""}};
  aten.values["x"].sizes = {2, 3};
  aten.values["x"].dtype = TorchDType::kFloat;
  AtenNode relu;
  relu.name = relu.outputs.emplace_back("relu");
  relu.target = "torch.ops.aten.relu.default";
  relu.inputs.push_back({"self", {}});
  relu.inputs[0].arg.kind = Argument::Kind::kTensor;
  relu.inputs[0].arg.tensor = "x";
  aten.nodes.push_back(relu);
  aten.values["relu"] = aten.values["x"];
  aten.outputs = {"relu"};

  absl::StatusOr<CompileResult> compiled = Compile(aten, Verifying());
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  absl::StatusOr<CompileState> state = RunPipeline(aten, Verifying());
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->last_pass, "serialize");
  EXPECT_EQ(compiled->kiln, state->kiln);
  EXPECT_FALSE(compiled->kiln.empty());
  EXPECT_EQ(compiled->summary.aten_nodes, 1);
  EXPECT_EQ(compiled->summary.device_ops, 1);
  EXPECT_EQ(compiled->summary.transfers, 2);
  EXPECT_EQ(state->timings.size(), BuildPipeline(Verifying()).size());
}

TEST(Pipeline, SerializeStreamsToTheOutputPathAndLeavesNoPartialFile) {
  const std::string dir = ::testing::TempDir();
  absl::StatusOr<CompileState> in_memory = RunPipeline(Small(), Verifying());
  ASSERT_TRUE(in_memory.ok()) << in_memory.status();
  CompileOptions to_file = Verifying();
  to_file.output_path = dir + "/small.kiln";
  absl::StatusOr<CompileState> streamed = RunPipeline(Small(), to_file);
  ASSERT_TRUE(streamed.ok()) << streamed.status();
  EXPECT_TRUE(streamed->kiln.empty());  // nothing held in memory
  EXPECT_EQ(streamed->kiln_bytes, in_memory->kiln.size());
  std::ifstream file(to_file.output_path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes, in_memory->kiln);
  // A path that cannot be written is an error naming it, and leaves no ".partial" file behind.
  to_file.output_path = dir + "/no-such-dir/small.kiln";
  absl::StatusOr<CompileState> failed = RunPipeline(Small(), to_file);
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(Message(failed.status()), ::testing::HasSubstr("no-such-dir/small.kiln: cannot open for writing"));
  EXPECT_FALSE(std::ifstream(to_file.output_path + ".partial").good());
}

// A pass that breaks an invariant is named by the verifier that runs after it.
TEST(Pipeline, TheVerifierNamesThePassThatBrokeAnInvariant) {
  const CompileOptions options = Verifying();
  std::vector<Pass> pipeline = BuildPipeline(options);
  pipeline.insert(pipeline.begin() + 2, Pass{"swap-operands", "reads a value before it is defined", "",
                                              IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) {
                                                std::swap(s.graph->nodes[0], s.graph->nodes[1]);
                                                return absl::OkStatus();
                                              }});
  CompileState state;
  state.graph = Small();
  absl::Status s = RunPasses(pipeline, state, options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(Message(s),
            "verifier: after pass 'swap-operands': node 0 (%y = add(%r, %c) : f32[2, 3]  (from y)): operand 0 %r "
            "is not defined before this node");

  // Without verification the same pipeline runs on into a later pass's own error.
  CompileOptions unverified = options;
  unverified.verify_each = false;
  CompileState again;
  again.graph = Small();
  absl::Status later = RunPasses(pipeline, again, unverified);
  EXPECT_THAT(Message(later), StartsWith("placement: node y reads 'r' before it is computed"));
}

TEST(Pipeline, VerificationIsOnByDefaultInDebugBuilds) {
#ifdef NDEBUG
  EXPECT_FALSE(CompileOptions{}.verify_each);
#else
  EXPECT_TRUE(CompileOptions{}.verify_each);  // so Compile() in every test verifies after each pass
#endif
}

TEST(Pipeline, ABrokenInputIsReportedBeforeTheFirstPass) {
  DeviceGraph g = Small();
  g.outputs[0].second = 7;
  absl::StatusOr<CompileState> state = RunPipeline(std::move(g), Verifying());
  EXPECT_EQ(Message(state.status()),
            "verifier: before pass 'fold-constants': output 'y' refers to value id 7, but the graph has 4 values");
}

TEST(Pipeline, APassMustLeaveTheIrItDeclares) {
  const CompileOptions options = Verifying();
  std::vector<Pass> pipeline = {{"forget-graph", "drops the graph", "", IrKind::kDeviceGraph, IrKind::kDeviceGraph,
                                 [](CompileState& s) {
                                   s.graph.reset();
                                   return absl::OkStatus();
                                 }}};
  CompileState state;
  state.graph = Small();
  EXPECT_EQ(Message(RunPasses(pipeline, state, options)),
            "pass 'forget-graph' should leave a device graph but the state holds an ATen graph");
}

// ---- Verifier: device graph ----------------------------------------------------------------------

TEST(VerifyDeviceGraph, AcceptsWhatLoweringBuilds) { EXPECT_TRUE(VerifyDeviceGraph(Small()).ok()); }

TEST(VerifyDeviceGraph, OperandIdOutOfRange) {
  DeviceGraph g = Small();
  g.nodes[1].inputs[1] = 42;
  EXPECT_EQ(Message(VerifyDeviceGraph(g)),
            "node 1 (%y = add(%r, %<invalid id 42>) : f32[2, 3]  (from y)): operand 1 refers to value id 42, but "
            "the graph has 4 values");
}

TEST(VerifyDeviceGraph, ReadingAFreedConstant) {
  DeviceGraph g = Small();
  g.values[1].constant.clear();
  EXPECT_THAT(Message(VerifyDeviceGraph(g)), HasSubstr("operand 1 %c is a constant whose data was freed"));
}

TEST(VerifyDeviceGraph, ConstantDataMustMatchItsShape) {
  DeviceGraph g = Small();
  g.values[1].constant.pop_back();
  EXPECT_EQ(Message(VerifyDeviceGraph(g)), "constant %c holds 5 values but its shape [2, 3] has 6 elements");
}

TEST(VerifyDeviceGraph, ResultShapeMustBeWhatTheOpInfers) {
  DeviceGraph g = Small();
  g.values[g.nodes[0].output].shape = {3, 2};
  // add(r [3,2], c [2,3]) no longer broadcasts; relu's own result shape is checked first.
  EXPECT_EQ(Message(VerifyDeviceGraph(g)),
            "node 0 (%r = relu(%x) : f32[3, 2]  (from r)): result %r has shape [3, 2] but relu of these operands "
            "gives [2, 3]");
}

TEST(VerifyDeviceGraph, ArityIsCheckedByTheOpLibrary) {
  DeviceGraph g = Small();
  g.nodes[0].inputs.push_back(0);
  EXPECT_THAT(Message(VerifyDeviceGraph(g)), StartsWith("node 0 (%r = relu(%x, %x) : f32[2, 3]  (from r)) is invalid: "));
}

TEST(VerifyDeviceGraph, AResultIsDefinedOnce) {
  DeviceGraph g = Small();
  g.nodes[1].output = g.nodes[0].output;
  EXPECT_THAT(Message(VerifyDeviceGraph(g)), HasSubstr("result %r is already defined by node 0"));
}

TEST(VerifyDeviceGraph, OutputsMustBeDefined) {
  DeviceGraph g = Small();
  g.nodes.pop_back();
  EXPECT_EQ(Message(VerifyDeviceGraph(g)), "output 'y' is %y, which no node defines");
  g.outputs[0].second = -1;
  EXPECT_EQ(Message(VerifyDeviceGraph(g)), "output 'y' refers to value id -1, but the graph has 4 values");
}

// ---- Verifier: scheduled program -----------------------------------------------------------------

TEST(VerifyProgram, AcceptsWhatThePipelineBuilds) { EXPECT_TRUE(VerifyProgram(SmallProgram()).ok()); }

TEST(VerifyProgram, OperandReadBeforeWritten) {
  ScheduledProgram p = SmallProgram();
  std::swap(p.instructions[0], p.instructions[1]);  // relu before the input's upload
  EXPECT_EQ(Message(VerifyProgram(p)),
            "instruction 0 (%r = relu(%x.device) : f32[2, 3] row_major 24 B activations  (from r)): operand 0 %x.device "
            "is read before any instruction writes it");
}

TEST(VerifyProgram, ARegionSharingAnOwnersConstantsHoldsOnlyConstants) {
  ScheduledProgram p = SmallProgram();
  p.regions.push_back({"constants (shared)", target::RegionKind::kDeviceDram, 0, 1});
  p.tensors[p.instructions[0].output].region = static_cast<int>(p.regions.size()) - 1;
  EXPECT_THAT(Message(VerifyProgram(p)),
              ::testing::HasSubstr("is not a constant but is in region 'constants (shared)', which shares an owner "
                                   "program's constants"));
}

TEST(VerifyProgram, TensorsLiveInTheProgramsRegions) {
  ScheduledProgram p = SmallProgram();
  p.tensors[p.instructions[0].output].region = 7;
  EXPECT_THAT(Message(VerifyProgram(p)), ::testing::HasSubstr("is in region 7, but the program has 2 regions"));
}

TEST(VerifyProgram, TransfersGoBetweenHostAndDevice) {
  ScheduledProgram p = SmallProgram();
  ASSERT_EQ(p.instructions[0].kind, ProgramInstruction::Kind::kHostToDevice);
  p.instructions[0].kind = ProgramInstruction::Kind::kDeviceToHost;
  EXPECT_THAT(Message(VerifyProgram(p)),
              HasSubstr(": copies %x to %x.device; a device-to-host transfer goes from device memory to host memory"));
}

TEST(VerifyProgram, TensorIdOutOfRange) {
  ScheduledProgram p = SmallProgram();
  p.instructions[1].output = 99;
  EXPECT_THAT(Message(VerifyProgram(p)), HasSubstr("the result refers to tensor id 99, but the program has 6 tensors"));
}

TEST(VerifyProgram, OpsDoNotReadHostMemory) {
  ScheduledProgram p = SmallProgram();
  p.instructions[1].inputs[0] = p.inputs[0].second;
  EXPECT_THAT(Message(VerifyProgram(p)), HasSubstr("reads host tensor %x; ops read device memory"));
}

TEST(VerifyProgram, OutputsMustBeWritten) {
  ScheduledProgram p = SmallProgram();
  ASSERT_EQ(p.instructions.back().kind, ProgramInstruction::Kind::kDeviceToHost);
  p.instructions.pop_back();
  EXPECT_EQ(Message(VerifyProgram(p)), "output 'y' (%y#1) is never written");
}

// ---- State: buffers the program updates, kept between runs ----------------------------------------

// s (state) -> y = relu(s + x); s takes s + x when the run ends.
DeviceGraph WithState() {
  DeviceGraph g;
  const int x = g.AddInput("x", {2, 3});
  const int s = g.AddState("s", {2, 3}, ops::DType::kF32, {1, 2, 3, 4, 5, 6});
  const int sum = Node(g, "add", {s, x}, "sum");
  const int y = Node(g, "relu", {sum}, "y");
  g.inputs = {{"x", x}};
  g.outputs = {{"y", y}};
  g.state_updates = {{s, sum}};
  return g;
}

TEST(VerifyDeviceGraph, StateUpdates) {
  EXPECT_TRUE(VerifyDeviceGraph(WithState()).ok());
  DeviceGraph g = WithState();
  g.state_updates.push_back(g.state_updates[0]);
  EXPECT_EQ(Message(VerifyDeviceGraph(g)), "state %s is updated twice");
  g = WithState();
  g.state_updates[0].first = g.inputs[0].second;
  EXPECT_EQ(Message(VerifyDeviceGraph(g)), "state update of %x, which is not a state value");
  g = WithState();
  g.values[1].constant.pop_back();
  EXPECT_EQ(Message(VerifyDeviceGraph(g)), "state %s has 5 initial values but its shape [2, 3] has 6 elements");
}

TEST(VerifyProgram, StateIsWrittenOnceByTheOpThatEndsTheRun) {
  absl::StatusOr<CompileState> state = RunPipeline(WithState(), Verifying(), "plan-memory");
  ASSERT_TRUE(state.ok()) << state.status();
  ScheduledProgram p = *state->program;
  ASSERT_EQ(p.regions.size(), 3u);
  EXPECT_EQ(p.regions[kStateRegion].kind, target::RegionKind::kDeviceState);
  const ProgramInstruction& last = p.instructions.back();
  ASSERT_EQ(last.kind, ProgramInstruction::Kind::kOp);
  EXPECT_EQ(last.source, "state update of s");
  EXPECT_TRUE(p.tensors[last.output].is_state);
  ScheduledProgram twice = p;
  twice.instructions.push_back(last);
  EXPECT_THAT(Message(VerifyProgram(twice)), HasSubstr(": %s is already written (each tensor is written once)"));
  ScheduledProgram moved = p;
  moved.tensors[last.output].region = kConstantRegion;
  EXPECT_THAT(Message(VerifyProgram(moved)), HasSubstr("tensor %s is state but is not in a DEVICE_STATE region"));
}

// x [1, 32, 64] -> exp -> reshape [32, 64] (an alias of %e after alias-reshapes) -> neg.
ScheduledProgram AliasProgram() {
  DeviceGraph g;
  const int x = g.AddInput("x", {1, 32, 64});
  ops::Attrs flat;
  flat.SetInts("shape", {32, 64});
  absl::StatusOr<int> v = g.AddNode("reshape", {Node(g, "exp", {x}, "e")}, flat, "v", "v");
  EXPECT_TRUE(v.ok()) << v.status();
  g.inputs = {{"x", x}};
  g.outputs = {{"y", Node(g, "neg", {*v}, "y")}};
  absl::StatusOr<CompileState> state = RunPipeline(std::move(g), Verifying(), "plan-memory");
  EXPECT_TRUE(state.ok()) << state.status();
  if (!state.ok()) return {};
  EXPECT_EQ(state->aliasing.reshapes, 1);
  return *state->program;
}

TEST(VerifyProgram, AnAliasSeesItsTargetsBytesAsTheyAre) {
  const ScheduledProgram p = AliasProgram();
  int v = -1, e = -1;
  for (size_t t = 0; t < p.tensors.size(); ++t) {
    if (p.tensors[t].name == "v") v = static_cast<int>(t);
    if (p.tensors[t].name == "e") e = static_cast<int>(t);
  }
  ASSERT_GE(v, 0);
  ASSERT_EQ(p.tensors[v].alias_of, e);
  ASSERT_TRUE(VerifyProgram(p).ok());
  ScheduledProgram chained = p;
  chained.tensors[e].alias_of = v;
  EXPECT_THAT(Message(VerifyProgram(chained)),
              HasSubstr("is an alias of %v; only an activation aliases another one that is not itself an alias"));
  ScheduledProgram regrouped = p;
  regrouped.tensors[v].shape = {2, 16, 64};
  EXPECT_EQ(Message(VerifyProgram(regrouped)),
            "alias %v [2, 16, 64] of %e [1, 32, 64] would not see its target's stored bytes as they are (region, "
            "dtype, layout or shape)");
  ScheduledProgram written = p;
  ProgramInstruction& neg = written.instructions[written.instructions.size() - 2];
  ASSERT_EQ(neg.op->name, "neg");
  neg.output = v;
  neg.inputs = {e};
  EXPECT_THAT(Message(VerifyProgram(written)), HasSubstr("writes %v, an alias of %e; aliases are only read"));
}

TEST(VerifyProgram, EachTensorIsWrittenOnce) {
  ScheduledProgram p = SmallProgram();
  p.instructions.push_back(p.instructions[1]);
  EXPECT_THAT(Message(VerifyProgram(p)), HasSubstr(": %r is already written (each tensor is written once)"));
}

// ---- Printer -------------------------------------------------------------------------------------

TEST(Printer, RepeatedNamesAreNumberedAndWeightValuesNeverPrinted) {
  DeviceGraph g;
  const int x = g.AddInput("x", {2});
  const int a = g.AddConstant("scalar_2", {}, {12345.0f});
  const int b = g.AddConstant("scalar_2", {}, {67890.0f});
  const int m = Node(g, "mul", {x, a}, "m");
  const int y = Node(g, "mul", {m, b}, "y");
  g.inputs = {{"x", x}};
  g.outputs = {{"y", y}};
  const std::string text = PrintDeviceGraph(g);
  EXPECT_EQ(text,
            "device graph: 1 input, 1 output, 2 nodes, 2 constants (8 B)\n"
            "  input  %x : f32[2]\n"
            "  const  %scalar_2 : f32[] 4 B\n"
            "  const  %scalar_2#1 : f32[] 4 B\n"
            "  %m = mul(%x, %scalar_2) : f32[2]  (from m)\n"
            "  %y = mul(%m, %scalar_2#1) : f32[2]  (from y)\n"
            "  output y = %y\n");
  EXPECT_EQ(DeviceValueName(g, b), "%scalar_2#1");
}

}  // namespace
}  // namespace kiln::compiler

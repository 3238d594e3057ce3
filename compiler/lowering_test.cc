// Lowering tests on hand-built ATen graphs (no Python, no .pt2 files): the rules emit the right
// device ops with the right shapes and values, and every failure names the op, node or value at fault.
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/aten/aten_graph.h"
#include "compiler/lowering/device_graph.h"
#include "compiler/lowering/lower_aten.h"
#include "compiler/lowering/lowering_context.h"

namespace kiln::compiler {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// ---- Builders for ATen graphs ----------------------------------------------------------------

NamedArgument TensorArg(const std::string& name, const std::string& value) {
  NamedArgument a{name, {}};
  a.arg.kind = Argument::Kind::kTensor;
  a.arg.tensor = value;
  return a;
}
NamedArgument IntsArg(const std::string& name, std::vector<int64_t> v) {
  NamedArgument a{name, {}};
  a.arg.kind = Argument::Kind::kInts;
  a.arg.ints = std::move(v);
  return a;
}
NamedArgument IntArg(const std::string& name, int64_t v) {
  NamedArgument a{name, {}};
  a.arg.kind = Argument::Kind::kInt;
  a.arg.i = v;
  return a;
}
NamedArgument FloatArg(const std::string& name, double v) {
  NamedArgument a{name, {}};
  a.arg.kind = Argument::Kind::kFloat;
  a.arg.f = v;
  return a;
}

TensorMeta Meta(std::vector<int64_t> sizes, TorchDType dtype = TorchDType::kFloat) {
  TensorMeta m;
  m.sizes = std::move(sizes);
  m.dtype = dtype;
  return m;
}

WeightTensor FloatWeight(std::vector<int64_t> sizes, const std::vector<float>& values) {
  WeightTensor w;
  w.meta = Meta(std::move(sizes));
  std::vector<uint8_t> bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  w.bytes = WeightBytes(std::move(bytes));
  return w;
}

void AddUserInput(AtenGraph& g, const std::string& name, std::vector<int64_t> sizes,
                  TorchDType dtype = TorchDType::kFloat) {
  g.inputs.push_back({name, InputKind::kUserInput, ""});
  g.values[name] = Meta(std::move(sizes), dtype);
}

void AddParameter(AtenGraph& g, const std::string& name, const std::string& target, std::vector<int64_t> sizes,
                  const std::vector<float>& values) {
  g.inputs.push_back({name, InputKind::kParameter, target});
  g.values[name] = Meta(sizes);
  g.weights[target] = FloatWeight(sizes, values);
}

// Appends a node with one output named after the node; records the output's shape when given.
void AddNode(AtenGraph& g, const std::string& name, const std::string& target, std::vector<NamedArgument> args,
             std::vector<int64_t> out_sizes, std::vector<std::string> outputs = {}) {
  AtenNode n;
  n.name = name;
  n.target = target;
  n.inputs = std::move(args);
  n.outputs = outputs.empty() ? std::vector<std::string>{name} : std::move(outputs);
  g.values[n.outputs[0]] = Meta(std::move(out_sizes));
  g.nodes.push_back(std::move(n));
}

// ---- A reference interpreter for device graphs, using the op library's own kernels -----------

std::map<std::string, std::vector<float>> Evaluate(const DeviceGraph& g,
                                                   const std::map<std::string, std::vector<float>>& inputs) {
  std::vector<std::vector<float>> data(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].kind == DeviceValue::Kind::kConstant) data[v] = g.values[v].constant;
  for (const auto& [name, v] : g.inputs) data[v] = inputs.at(name);
  for (const DeviceNode& n : g.nodes) {
    std::vector<ops::ConstView> views;
    for (int v : n.inputs) views.push_back({data[v].data(), g.values[v].shape});
    data[n.output].assign(ops::NumElements(g.values[n.output].shape), 0.0f);
    n.op->kernel(views, n.attrs, {data[n.output].data(), g.values[n.output].shape});
  }
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, v] : g.outputs) out[name] = data[v];
  return out;
}

std::vector<std::string> OpNames(const DeviceGraph& g) {
  std::vector<std::string> names;
  for (const DeviceNode& n : g.nodes) names.emplace_back(n.op->name);
  return names;
}

// nn.Linear(4, 3) + ReLU, as torch.export writes it: permute(weight), addmm(bias, x, weight^T), relu.
AtenGraph LinearRelu(double alpha = 1.0, double beta = 1.0) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 4});
  AddParameter(g, "p_fc_weight", "fc.weight", {3, 4}, {1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1});
  AddParameter(g, "p_fc_bias", "fc.bias", {3}, {0.5f, -10.0f, 1.0f});
  AddNode(g, "permute", "torch.ops.aten.permute.default",
          {TensorArg("self", "p_fc_weight"), IntsArg("dims", {1, 0})}, {4, 3});
  std::vector<NamedArgument> addmm = {TensorArg("self", "p_fc_bias"), TensorArg("mat1", "x"),
                                      TensorArg("mat2", "permute")};
  if (alpha != 1.0) addmm.push_back(FloatArg("alpha", alpha));
  if (beta != 1.0) addmm.push_back(FloatArg("beta", beta));
  AddNode(g, "addmm", "torch.ops.aten.addmm.default", addmm, {2, 3});
  AddNode(g, "relu", "torch.ops.aten.relu.default", {TensorArg("self", "addmm")}, {2, 3});
  g.outputs = {"relu"};
  return g;
}

const std::vector<float> kLinearX = {1, 2, 3, 4, -1, -2, -3, -4};

TEST(Lowering, LinearReluBecomesMatmulAndRelu) {
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(LinearRelu());
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  const DeviceGraph& g = *lowered;
  EXPECT_EQ(OpNames(g), (std::vector<std::string>{"permute", "matmul", "relu"}));

  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.inputs[0].first, "x");
  EXPECT_EQ(g.values[g.inputs[0].second].kind, DeviceValue::Kind::kInput);
  EXPECT_EQ(g.values[g.inputs[0].second].shape, (ops::Shape{2, 4}));

  const DeviceNode& permute = g.nodes[0];
  ASSERT_EQ(permute.inputs.size(), 1u);
  const DeviceValue& weight = g.values[permute.inputs[0]];
  EXPECT_EQ(weight.kind, DeviceValue::Kind::kConstant);
  EXPECT_EQ(weight.name, "fc.weight");
  EXPECT_EQ(weight.shape, (ops::Shape{3, 4}));
  EXPECT_EQ(weight.constant, (std::vector<float>{1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(g.values[permute.output].shape, (ops::Shape{4, 3}));
  EXPECT_EQ(permute.attrs.Ints("dims"), (std::vector<int64_t>{1, 0}));

  const DeviceNode& matmul = g.nodes[1];
  EXPECT_EQ(matmul.source, "addmm");
  ASSERT_EQ(matmul.inputs.size(), 3u);  // bias fused into the matmul
  EXPECT_EQ(matmul.inputs[0], g.inputs[0].second);
  EXPECT_EQ(matmul.inputs[1], permute.output);
  EXPECT_EQ(g.values[matmul.inputs[2]].name, "fc.bias");
  EXPECT_EQ(g.values[matmul.inputs[2]].shape, (ops::Shape{3}));
  EXPECT_EQ(g.values[matmul.output].shape, (ops::Shape{2, 3}));
  EXPECT_EQ(g.values[matmul.output].kind, DeviceValue::Kind::kIntermediate);

  const DeviceNode& relu = g.nodes[2];
  EXPECT_EQ(relu.inputs, std::vector<int>{matmul.output});
  EXPECT_EQ(g.values[relu.output].shape, (ops::Shape{2, 3}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.outputs[0].first, "relu");
  EXPECT_EQ(g.outputs[0].second, relu.output);

  // relu(x @ W^T + b): row 0 = relu(1+.5, 2-10, 10+1), row 1 = relu(-1+.5, -2-10, -10+1).
  auto out = Evaluate(g, {{"x", kLinearX}});
  EXPECT_EQ(out["relu"], (std::vector<float>{1.5f, 0, 11, 0, 0, 0}));
}

TEST(Lowering, AddmmWithAlphaAndBetaScalesBothTerms) {
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(LinearRelu(/*alpha=*/0.5, /*beta=*/2.0));
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  EXPECT_EQ(OpNames(*lowered), (std::vector<std::string>{"permute", "matmul", "mul", "mul", "add", "relu"}));
  // relu(0.5 * x @ W^T + 2 * b)
  auto out = Evaluate(*lowered, {{"x", kLinearX}});
  EXPECT_EQ(out["relu"], (std::vector<float>{1.5f, 0, 7, 0.5f, 0, 0}));
}

TEST(Lowering, UnsupportedOpsAreAllReportedAtOnce) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddNode(g, "cumsum_a", "torch.ops.aten.cumsum.default", {TensorArg("self", "x"), IntArg("dim", 0)}, {2, 3});
  AddNode(g, "relu", "torch.ops.aten.relu.default", {TensorArg("self", "cumsum_a")}, {2, 3});
  AddNode(g, "erfinv", "torch.ops.aten.erfinv.default", {TensorArg("self", "relu")}, {2, 3});
  AddNode(g, "cumsum_b", "torch.ops.aten.cumsum.default", {TensorArg("self", "erfinv"), IntArg("dim", 1)},
          {2, 3});
  g.outputs = {"cumsum_b"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_FALSE(lowered.ok());
  EXPECT_EQ(lowered.status().code(), absl::StatusCode::kUnimplemented);
  const std::string msg(lowered.status().message());
  EXPECT_THAT(msg, HasSubstr("aten.cumsum.default"));
  EXPECT_THAT(msg, HasSubstr("aten.erfinv.default"));
  EXPECT_THAT(msg, HasSubstr("cumsum_a"));
  EXPECT_THAT(msg, HasSubstr("cumsum_b"));
  EXPECT_THAT(msg, HasSubstr("erfinv"));
  EXPECT_THAT(msg, Not(HasSubstr("relu")));  // supported ops are not listed
}

TEST(Lowering, RecordedShapeMismatchNamesTheNode) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddNode(g, "my_relu", "torch.ops.aten.relu.default", {TensorArg("self", "x")}, {2, 5});  // wrong record
  g.outputs = {"my_relu"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_FALSE(lowered.ok());
  const std::string msg(lowered.status().message());
  EXPECT_THAT(msg, HasSubstr("my_relu"));
  EXPECT_THAT(msg, HasSubstr("[2, 3]"));
  EXPECT_THAT(msg, HasSubstr("[2, 5]"));
}

AtenGraph MaxPoolGraph(const std::string& used_output) {
  AtenGraph g;
  AddUserInput(g, "x", {1, 1, 4, 4});
  AddNode(g, "max_pool2d_with_indices", "torch.ops.aten.max_pool2d_with_indices.default",
          {TensorArg("self", "x"), IntsArg("kernel_size", {2, 2}), IntsArg("stride", {2, 2})}, {1, 1, 2, 2},
          {"getitem", "getitem_1"});
  g.values["getitem_1"] = Meta({1, 1, 2, 2}, TorchDType::kLong);
  AddNode(g, "consumer", "torch.ops.aten.relu.default", {TensorArg("self", used_output)}, {1, 1, 2, 2});
  g.outputs = {"consumer"};
  return g;
}

TEST(Lowering, UseOfAnUnproducedOutputNamesTheProducer) {
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(MaxPoolGraph("getitem_1"));
  ASSERT_FALSE(lowered.ok());
  const std::string msg(lowered.status().message());
  EXPECT_THAT(msg, HasSubstr("consumer"));
  EXPECT_THAT(msg, HasSubstr("getitem_1"));
  EXPECT_THAT(msg, HasSubstr("'max_pool2d_with_indices'"));
  EXPECT_THAT(msg, HasSubstr("aten.max_pool2d_with_indices.default"));

  // Output 0 (the pooled values) is fine.
  absl::StatusOr<DeviceGraph> ok = LowerAtenGraph(MaxPoolGraph("getitem"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(OpNames(*ok), (std::vector<std::string>{"max_pool2d", "relu"}));
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[i] = static_cast<float>(i);
  EXPECT_EQ(Evaluate(*ok, {{"x", x}})["consumer"], (std::vector<float>{5, 7, 13, 15}));
}

TEST(Lowering, UnknownValueIsNamed) {
  AtenGraph g;
  AddUserInput(g, "x", {2});
  AddNode(g, "relu", "torch.ops.aten.relu.default", {TensorArg("self", "ghost")}, {2});
  g.outputs = {"relu"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_FALSE(lowered.ok());
  EXPECT_THAT(std::string(lowered.status().message()), HasSubstr("'ghost'"));
}

TEST(Lowering, ViewResolvesMinusOne) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3, 4});
  AddNode(g, "view", "torch.ops.aten.view.default", {TensorArg("self", "x"), IntsArg("size", {-1, 4})}, {6, 4});
  AddNode(g, "view_1", "torch.ops.aten.view.default", {TensorArg("self", "view"), IntsArg("size", {2, -1})},
          {2, 12});
  g.outputs = {"view_1"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  const DeviceGraph& d = *lowered;
  ASSERT_EQ(OpNames(d), (std::vector<std::string>{"reshape", "reshape"}));
  EXPECT_EQ(d.nodes[0].attrs.Ints("shape"), (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(d.values[d.nodes[0].output].shape, (ops::Shape{6, 4}));
  EXPECT_EQ(d.nodes[1].attrs.Ints("shape"), (std::vector<int64_t>{2, 12}));
  EXPECT_EQ(d.values[d.outputs[0].second].shape, (ops::Shape{2, 12}));
  std::vector<float> x(24);
  for (int i = 0; i < 24; ++i) x[i] = static_cast<float>(i);
  EXPECT_EQ(Evaluate(d, {{"x", x}})["view_1"], x);  // row-major order is unchanged
}

TEST(Lowering, ViewToTheSameShapeEmitsNothing) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddNode(g, "view", "torch.ops.aten.view.default", {TensorArg("self", "x"), IntsArg("size", {2, -1})}, {2, 3});
  AddNode(g, "relu", "torch.ops.aten.relu.default", {TensorArg("self", "view")}, {2, 3});
  g.outputs = {"relu"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  EXPECT_EQ(OpNames(*lowered), (std::vector<std::string>{"relu"}));
  EXPECT_EQ(lowered->nodes[0].inputs[0], lowered->inputs[0].second);
}

TEST(Lowering, BadViewSizesNameTheNode) {
  for (const std::vector<int64_t>& size : {std::vector<int64_t>{-1, -1}, std::vector<int64_t>{-1, 5}}) {
    AtenGraph g;
    AddUserInput(g, "x", {2, 3, 4});
    AddNode(g, "bad_view", "torch.ops.aten.view.default", {TensorArg("self", "x"), IntsArg("size", size)}, {1});
    g.outputs = {"bad_view"};
    absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
    ASSERT_FALSE(lowered.ok());
    EXPECT_THAT(std::string(lowered.status().message()), HasSubstr("bad_view"));
  }
}

TEST(Lowering, AddWithAlphaAndScalarOperand) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 2});
  // x + 2 * 3.0
  AddNode(g, "add", "torch.ops.aten.add.Tensor", {TensorArg("self", "x"), FloatArg("other", 3.0), IntArg("alpha", 2)},
          {2, 2});
  g.outputs = {"add"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  const DeviceGraph& d = *lowered;
  ASSERT_EQ(OpNames(d), (std::vector<std::string>{"mul", "add"}));
  // The scalar and alpha are rank-0 constants; the scaled operand feeds the add.
  for (int v : d.nodes[0].inputs) {
    EXPECT_EQ(d.values[v].kind, DeviceValue::Kind::kConstant);
    EXPECT_TRUE(d.values[v].shape.empty());
  }
  std::vector<float> operands;
  for (int v : d.nodes[0].inputs) operands.push_back(d.values[v].constant.at(0));
  EXPECT_THAT(operands, ::testing::UnorderedElementsAre(3.0f, 2.0f));
  EXPECT_EQ(d.nodes[1].inputs, (std::vector<int>{d.inputs[0].second, d.nodes[0].output}));
  EXPECT_EQ(d.values[d.outputs[0].second].shape, (ops::Shape{2, 2}));
  EXPECT_EQ(Evaluate(d, {{"x", {1, -2, 0.5f, 4}}})["add"], (std::vector<float>{7, 4, 6.5f, 10}));
}

TEST(Lowering, SubWithAlphaScalesTheTensorOperand) {
  AtenGraph g;
  AddUserInput(g, "x", {3});
  AddUserInput(g, "y", {3});
  AddNode(g, "sub", "torch.ops.aten.sub.Tensor",
          {TensorArg("self", "x"), TensorArg("other", "y"), FloatArg("alpha", 0.5)}, {3});
  g.outputs = {"sub"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  EXPECT_EQ(OpNames(*lowered), (std::vector<std::string>{"mul", "sub"}));
  EXPECT_EQ(Evaluate(*lowered, {{"x", {1, 2, 3}}, {"y", {2, 4, 6}}})["sub"], (std::vector<float>{0, 0, 0}));
}

TEST(Lowering, NonFloatUserInputIsRejected) {
  AtenGraph g;
  AddUserInput(g, "tokens", {2, 3}, TorchDType::kLong);
  AddNode(g, "relu", "torch.ops.aten.relu.default", {TensorArg("self", "tokens")}, {2, 3});
  g.outputs = {"relu"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_FALSE(lowered.ok());
  EXPECT_EQ(lowered.status().code(), absl::StatusCode::kUnimplemented);
  const std::string msg(lowered.status().message());
  EXPECT_THAT(msg, HasSubstr("'tokens'"));
  EXPECT_THAT(msg, HasSubstr("int64"));
}

TEST(Lowering, UserInputWithoutMetadataIsRejected) {
  AtenGraph g;
  g.inputs.push_back({"x", InputKind::kUserInput, ""});
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_FALSE(lowered.ok());
  EXPECT_THAT(std::string(lowered.status().message()), HasSubstr("'x'"));
}

TEST(Lowering, WeightWithWrongByteCountNamesTheWeight) {
  AtenGraph g = LinearRelu();
  g.weights["fc.weight"].bytes = g.weights["fc.weight"].bytes.first(7);
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_FALSE(lowered.ok());
  const std::string msg(lowered.status().message());
  EXPECT_THAT(msg, HasSubstr("fc.weight"));
  EXPECT_THAT(msg, HasSubstr("permute"));
}

TEST(Lowering, MissingWeightNamesIt) {
  AtenGraph g = LinearRelu();
  g.weights.erase("fc.bias");
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_FALSE(lowered.ok());
  const std::string msg(lowered.status().message());
  EXPECT_THAT(msg, HasSubstr("fc.bias"));
  EXPECT_THAT(msg, HasSubstr("addmm"));
}

TEST(Lowering, OutputNotProducedIsReported) {
  AtenGraph g = LinearRelu();
  g.outputs = {"relu", "nowhere"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_FALSE(lowered.ok());
  EXPECT_THAT(std::string(lowered.status().message()), HasSubstr("'nowhere'"));
}

TEST(Lowering, InvalidDeviceOpNamesTheNode) {
  // mm of [2,3] x [4,5]: the op library's shape rule rejects it; the error names the ATen node.
  AtenGraph g;
  AddUserInput(g, "a", {2, 3});
  AddUserInput(g, "b", {4, 5});
  AddNode(g, "mm_bad", "torch.ops.aten.mm.default", {TensorArg("self", "a"), TensorArg("mat2", "b")}, {2, 5});
  g.outputs = {"mm_bad"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_FALSE(lowered.ok());
  const std::string msg(lowered.status().message());
  EXPECT_THAT(msg, HasSubstr("mm_bad"));
  EXPECT_THAT(msg, HasSubstr("matmul"));
}

TEST(Lowering, ShortTargetStripsPrefix) {
  EXPECT_EQ(ShortTarget("torch.ops.aten.relu.default"), "aten.relu.default");
  EXPECT_EQ(ShortTarget("aten.relu.default"), "aten.relu.default");
}

}  // namespace
}  // namespace kiln::compiler

namespace kiln::compiler {
namespace {

TEST(Lowering, HardtanhAndClampBecomeClamp) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddNode(g, "hardtanh", "torch.ops.aten.hardtanh.default",
          {TensorArg("self", "x"), FloatArg("min_val", 0.0), FloatArg("max_val", 6.0)}, {2, 3});
  AddNode(g, "clamp", "torch.ops.aten.clamp.default", {TensorArg("self", "hardtanh"), FloatArg("max", 4.0)}, {2, 3});
  g.outputs = {"clamp"};
  absl::StatusOr<DeviceGraph> d = LowerAtenGraph(g);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(OpNames(*d), (std::vector<std::string>{"clamp", "clamp"}));
  EXPECT_EQ(d->nodes[0].attrs.Float("min", -99), 0.0);
  EXPECT_EQ(d->nodes[0].attrs.Float("max", -99), 6.0);
  EXPECT_FALSE(d->nodes[1].attrs.Has("min"));  // an absent bound stays absent
  const auto out = Evaluate(*d, {{"x", {-1, 0.5f, 3, 5, 7, 100}}});
  EXPECT_EQ(out.at("clamp"), (std::vector<float>{0, 0.5f, 3, 4, 4, 4}));
}

TEST(Lowering, EvenAdaptiveAvgPoolIsAvgPoolAndIdentityIsFree) {
  AtenGraph g;
  AddUserInput(g, "x", {1, 2, 4, 6});
  AddNode(g, "pool", "torch.ops.aten._adaptive_avg_pool2d.default",
          {TensorArg("self", "x"), IntsArg("output_size", {2, 3})}, {1, 2, 2, 3});
  AddNode(g, "same", "torch.ops.aten._adaptive_avg_pool2d.default",
          {TensorArg("self", "pool"), IntsArg("output_size", {2, 3})}, {1, 2, 2, 3});
  g.outputs = {"same"};
  absl::StatusOr<DeviceGraph> d = LowerAtenGraph(g);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(OpNames(*d), (std::vector<std::string>{"avg_pool2d"}));
  EXPECT_EQ(d->nodes[0].attrs.Ints("kernel"), (std::vector<int64_t>{2, 2}));
  std::vector<float> x(48);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  const auto out = Evaluate(*d, {{"x", x}});
  // Channel 0, window rows 0-1, cols 0-1: (0 + 1 + 6 + 7) / 4.
  EXPECT_EQ(out.at("same")[0], 3.5f);
}

TEST(Lowering, UnevenAdaptiveAvgPoolIsNamed) {
  AtenGraph g;
  AddUserInput(g, "x", {1, 2, 5, 5});
  AddNode(g, "pool", "torch.ops.aten._adaptive_avg_pool2d.default",
          {TensorArg("self", "x"), IntsArg("output_size", {2, 2})}, {1, 2, 2, 2});
  g.outputs = {"pool"};
  absl::StatusOr<DeviceGraph> d = LowerAtenGraph(g);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("node 'pool'"));
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("uneven windows"));
}

}  // namespace
}  // namespace kiln::compiler

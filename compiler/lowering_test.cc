// Lowering tests on hand-built ATen graphs (no Python, no .pt2 files): the rules emit the right
// device ops with the right shapes and values, and every failure names the op, node or value at fault.
#include <cctype>
#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/aten/aten_graph.h"
#include "compiler/lowering/device_graph.h"
#include "compiler/lowering/lower_aten.h"
#include "compiler/lowering/lowering_context.h"
#include "ops/kernels.h"

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

NamedArgument BoolArg(const std::string& name, bool v) {
  NamedArgument a{name, {}};
  a.arg.kind = Argument::Kind::kBool;
  a.arg.b = v;
  return a;
}
NamedArgument DTypeArg(const std::string& name, TorchDType t) {
  NamedArgument a{name, {}};
  a.arg.kind = Argument::Kind::kScalarType;
  a.arg.i = static_cast<int64_t>(t);
  return a;
}
// An optional-tensor list such as index.Tensor's indices; "" is None.
NamedArgument OptionalTensorsArg(const std::string& name, std::vector<std::string> values) {
  NamedArgument a{name, {}};
  a.arg.kind = Argument::Kind::kOptionalTensors;
  a.arg.tensors = std::move(values);
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
    const ops::KernelFn kernel = ops::FindKernel(*n.op);
    EXPECT_NE(kernel, nullptr) << n.op->name;
    if (!kernel) return {};
    kernel(views, n.attrs, {data[n.output].data(), g.values[n.output].shape});
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
  AddNode(g, "rand_a", "torch.ops.aten.rand.default", {IntsArg("size", {2, 2})}, {2, 2});
  AddNode(g, "relu", "torch.ops.aten.relu.default", {TensorArg("self", "rand_a")}, {2, 2});
  AddNode(g, "mystery", "torch.ops.aten.mystery_op.default", {TensorArg("self", "relu")}, {2, 2});
  AddNode(g, "rand_b", "torch.ops.aten.rand.default", {IntsArg("size", {2, 2})}, {2, 2});
  AddNode(g, "add", "torch.ops.aten.add.Tensor", {TensorArg("self", "mystery"), TensorArg("other", "rand_b")}, {2, 2});
  g.outputs = {"add"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_FALSE(lowered.ok());
  EXPECT_EQ(lowered.status().code(), absl::StatusCode::kUnimplemented);
  // Supported ops are not listed; a known gap says why.
  EXPECT_EQ(lowered.status().message(),
            "unsupported ATen ops: aten.mystery_op.default (node mystery); aten.rand.default (nodes rand_a, rand_b): "
            "cannot run on the device: random numbers; the device has no RNG");
}

TEST(Lowering, OpsThatCannotRunSayWhy) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddNode(g, "nonzero", "torch.ops.aten.nonzero.default", {TensorArg("self", "x")}, {2, 2});
  g.outputs = {"nonzero"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_FALSE(lowered.ok());
  EXPECT_EQ(lowered.status().message(), "unsupported ATen op: aten.nonzero.default (node nonzero): "
                                        "cannot run on the device: data-dependent output shape");
}

// A model exported in training mode (torchvision's stochastic depth, dropout) samples random masks.
TEST(Lowering, TrainingModeRandomnessSaysToCallEval) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddNode(g, "bernoulli", "torch.ops.aten.bernoulli.p", {TensorArg("self", "x")}, {2, 3});
  g.outputs = {"bernoulli"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_FALSE(lowered.ok());
  EXPECT_EQ(lowered.status().message(),
            "unsupported ATen op: aten.bernoulli.p (node bernoulli): cannot run on the device: random numbers; the "
            "device has no RNG (dropout or stochastic depth in training mode: call model.eval() before torch.export)");
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

TEST(Lowering, MaxPoolIndicesAreComputedOnlyWhenUsed) {
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[i] = static_cast<float>(i);
  // Output 0 alone is the max_pool2d device op.
  absl::StatusOr<DeviceGraph> values = LowerAtenGraph(MaxPoolGraph("getitem"));
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(OpNames(*values), (std::vector<std::string>{"max_pool2d", "relu"}));
  EXPECT_EQ(Evaluate(*values, {{"x", x}})["consumer"], (std::vector<float>{5, 7, 13, 15}));
  // The indices: each window's argmax as a flat position in the 4x4 plane.
  absl::StatusOr<DeviceGraph> indices = LowerAtenGraph(MaxPoolGraph("getitem_1"));
  ASSERT_TRUE(indices.ok()) << indices.status();
  x[4] = 100;  // the top-left window's maximum moves to (1, 0)
  EXPECT_EQ(Evaluate(*indices, {{"x", x}})["consumer"], (std::vector<float>{4, 7, 13, 15}));
}

TEST(Lowering, UseOfAnUnproducedOutputNamesTheProducer) {
  AtenGraph g;
  AddUserInput(g, "w", {5, 2});
  AddUserInput(g, "i", {3}, TorchDType::kLong);
  AddUserInput(g, "o", {2}, TorchDType::kLong);
  AddNode(g, "bag", "torch.ops.aten._embedding_bag.default",
          {TensorArg("weight", "w"), TensorArg("indices", "i"), TensorArg("offsets", "o")}, {2, 2},
          {"bag_out", "offset2bag", "bag_size", "max_indices"});
  AddNode(g, "consumer", "torch.ops.aten.relu.default", {TensorArg("self", "offset2bag")}, {3});
  g.outputs = {"consumer"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_FALSE(lowered.ok());
  EXPECT_EQ(lowered.status().message(), "node 'consumer' (aten.relu.default): uses 'offset2bag', a result of node "
                                        "'bag' (aten._embedding_bag.default) that Kiln does not produce");
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

// Inputs keep their ATen dtype, outputs take the dtype torch.export recorded (bool for eq).
TEST(Lowering, IntegerAndBoolInputsAndOutputsKeepTheirDType) {
  AtenGraph g;
  AddUserInput(g, "tokens", {2, 3}, TorchDType::kLong);
  AddUserInput(g, "mask", {2, 3}, TorchDType::kBool);
  AddNode(g, "relu", "torch.ops.aten.relu.default", {TensorArg("self", "tokens")}, {2, 3});
  g.values["relu"].dtype = TorchDType::kLong;
  AddNode(g, "eq", "torch.ops.aten.eq.Tensor", {TensorArg("self", "tokens"), TensorArg("other", "mask")}, {2, 3});
  g.values["eq"].dtype = TorchDType::kBool;
  g.outputs = {"relu", "eq"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  EXPECT_EQ(lowered->values[lowered->inputs[0].second].dtype, ops::DType::kI64);
  EXPECT_EQ(lowered->values[lowered->inputs[1].second].dtype, ops::DType::kBool);
  EXPECT_EQ(lowered->values[lowered->outputs[0].second].dtype, ops::DType::kI64);
  EXPECT_EQ(lowered->values[lowered->outputs[1].second].dtype, ops::DType::kBool);
}

TEST(Lowering, UnsupportedInputDTypeIsRejected) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3}, static_cast<TorchDType>(28));  // uint16, which the enum does not name
  AddNode(g, "relu", "torch.ops.aten.relu.default", {TensorArg("self", "x")}, {2, 3});
  g.outputs = {"relu"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_FALSE(lowered.ok());
  EXPECT_EQ(lowered.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(lowered.status().message(),
            "input 'x' is uint16; inputs may be float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, "
            "bool, complex64 or complex128");
}

// float16 and bfloat16 cross to the host as themselves (the DMA converts); float64 too, but the
// device computes it in float32, so lowering warns once per tensor, naming it.
TEST(Lowering, HalfAndDoubleHostDTypes) {
  AtenGraph g;
  AddUserInput(g, "h", {2, 3}, TorchDType::kHalf);
  AddUserInput(g, "b", {2, 3}, TorchDType::kBFloat16);
  AddUserInput(g, "d", {2, 3}, TorchDType::kDouble);
  AddNode(g, "relu", "torch.ops.aten.relu.default", {TensorArg("self", "d")}, {2, 3});
  g.values["relu"].dtype = TorchDType::kDouble;
  AddNode(g, "neg", "torch.ops.aten.neg.default", {TensorArg("self", "h")}, {2, 3});
  g.values["neg"].dtype = TorchDType::kHalf;
  g.outputs = {"relu", "neg", "b"};
  g.values["b"].dtype = TorchDType::kBFloat16;
  std::vector<std::string> warnings;
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g, &warnings);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  EXPECT_EQ(lowered->values[lowered->inputs[0].second].dtype, ops::DType::kF16);
  EXPECT_EQ(lowered->values[lowered->inputs[1].second].dtype, ops::DType::kBF16);
  EXPECT_EQ(lowered->values[lowered->inputs[2].second].dtype, ops::DType::kF64);
  EXPECT_EQ(lowered->values[lowered->outputs[0].second].dtype, ops::DType::kF64);
  EXPECT_EQ(lowered->values[lowered->outputs[1].second].dtype, ops::DType::kF16);
  EXPECT_EQ(warnings, (std::vector<std::string>{
                          "input 'd' is float64; the device computes it in float32 (about 7 significant digits)",
                          "output 'relu' is float64; the device computes it in float32 (about 7 significant digits)"}));
}

// An output that is an input in another dtype (to_copy of exact conversions binds to the input) gets
// its own copy, stored in the output's dtype; so does a value returned twice in two dtypes.
TEST(Lowering, InputReturnedInAnotherDTypeGetsItsOwnCopy) {
  AtenGraph g;
  AddUserInput(g, "tokens", {2}, TorchDType::kLong);
  AddNode(g, "clone", "torch.ops.aten.clone.default", {TensorArg("self", "tokens")}, {2});  // float32
  AddNode(g, "relu", "torch.ops.aten.relu.default", {TensorArg("self", "tokens")}, {2});
  g.values["relu"].dtype = TorchDType::kLong;
  AddNode(g, "same", "torch.ops.aten.clone.default", {TensorArg("self", "relu")}, {2});
  g.values["same"].dtype = TorchDType::kInt;
  g.outputs = {"clone", "tokens", "relu", "same"};
  g.values["tokens"].dtype = TorchDType::kLong;
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  const DeviceGraph& d = *lowered;
  ASSERT_EQ(d.outputs.size(), 4u);
  const DeviceValue& clone = d.values[d.outputs[0].second];
  EXPECT_EQ(clone.dtype, ops::DType::kF32);
  EXPECT_EQ(clone.kind, DeviceValue::Kind::kIntermediate);
  EXPECT_EQ(d.outputs[1].second, d.inputs[0].second);  // returned unchanged, no copy
  EXPECT_EQ(d.values[d.outputs[2].second].dtype, ops::DType::kI64);
  EXPECT_NE(d.outputs[3].second, d.outputs[2].second);
  EXPECT_EQ(d.values[d.outputs[3].second].dtype, ops::DType::kI32);
  EXPECT_EQ(d.nodes.back().op->name, "reshape");
  EXPECT_EQ(d.nodes.back().source, "same");
}

// x.add_(1) returns x's new value twice: as the user output and, after the outputs, under the
// input's name, so the caller can write it back.
TEST(Lowering, MutatedInputIsReturnedUnderItsName) {
  AtenGraph g;
  AddUserInput(g, "x", {2});
  AddNode(g, "add", "torch.ops.aten.relu.default", {TensorArg("self", "x")}, {2});
  g.outputs = {"add"};
  g.input_mutations = {{"add", "x"}};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  ASSERT_EQ(lowered->outputs.size(), 2u);
  EXPECT_EQ(lowered->outputs[0].first, "add");
  EXPECT_EQ(lowered->outputs[1].first, "x");
  EXPECT_EQ(lowered->outputs[1].second, lowered->outputs[0].second);
  g.input_mutations = {{"nope", "x"}};
  EXPECT_EQ(LowerAtenGraph(g).status().message(), "output 'nope' is not produced by the graph");
}

// A buffer an in-place op changes (a KV cache) becomes a state value with the buffer's contents, and
// the program ends by giving it the new value; a buffer nothing mutates stays a constant.
TEST(Lowering, MutatedBufferBecomesState) {
  AtenGraph g;
  g.inputs.push_back({"b_cache", InputKind::kBuffer, "cache"});
  g.values["b_cache"] = Meta({2});
  g.weights["cache"] = FloatWeight({2}, {1, 2});
  g.inputs.push_back({"b_scale", InputKind::kBuffer, "scale"});
  g.values["b_scale"] = Meta({2});
  g.weights["scale"] = FloatWeight({2}, {3, 4});
  AddUserInput(g, "x", {2});
  AddNode(g, "add", "torch.ops.aten.add.Tensor", {TensorArg("self", "b_cache"), TensorArg("other", "x")}, {2});
  AddNode(g, "mul", "torch.ops.aten.mul.Tensor", {TensorArg("self", "add"), TensorArg("other", "b_scale")}, {2});
  g.outputs = {"mul"};
  g.buffer_mutations = {{"add", "cache"}};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  ASSERT_EQ(lowered->state_updates.size(), 1u);
  const auto [state, value] = lowered->state_updates[0];
  EXPECT_EQ(lowered->values[state].kind, DeviceValue::Kind::kState);
  EXPECT_EQ(lowered->values[state].name, "cache");
  EXPECT_EQ(lowered->values[state].constant, (std::vector<float>{1, 2}));
  EXPECT_EQ(lowered->values[value].name, "add");
  EXPECT_EQ(lowered->nodes[0].inputs[0], state);  // the add reads the state
  for (const DeviceValue& v : lowered->values)
    if (v.name == "scale") EXPECT_EQ(v.kind, DeviceValue::Kind::kConstant);

  g.buffer_mutations = {{"nope", "cache"}};
  EXPECT_EQ(LowerAtenGraph(g).status().message(), "the new value 'nope' of buffer 'cache' is not produced by the graph");
  g.buffer_mutations = {{"add", "cache"}};
  g.weights.erase("cache");
  EXPECT_EQ(LowerAtenGraph(g).status().message(), "buffer 'cache' (state) is missing from the archive");
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

// ---- Comparisons, logic, indexing and compile-time constants ---------------------------------

// Lowers `g` (which must succeed) and evaluates it on `inputs`.
std::map<std::string, std::vector<float>> LowerAndRun(const AtenGraph& g,
                                                      const std::map<std::string, std::vector<float>>& inputs,
                                                      std::vector<std::string>* ops = nullptr) {
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  EXPECT_TRUE(lowered.ok()) << lowered.status();
  if (!lowered.ok()) return {};
  if (ops) *ops = OpNames(*lowered);
  return Evaluate(*lowered, inputs);
}

std::string LoweringError(const AtenGraph& g) {
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  return lowered.ok() ? "lowered fine" : std::string(lowered.status().message());
}

void SetDType(AtenGraph& g, const std::string& value, TorchDType t) { g.values[value].dtype = t; }

TEST(Lowering, ComparisonsProduceOnesAndZeros) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {1, 2, 3, nan}, y = {2, 2, 2, nan};
  struct Case {
    const char* target;
    std::vector<float> tensor_result;  // x op y
    std::vector<float> scalar_result;  // x op 2.0
    std::vector<std::string> ops;
  };
  const std::vector<Case> cases = {
      {"eq", {0, 1, 0, 0}, {0, 1, 0, 0}, {"eq"}},
      {"ne", {1, 0, 1, 1}, {1, 0, 1, 1}, {"eq", "logical_not"}},
      {"lt", {1, 0, 0, 0}, {1, 0, 0, 0}, {"lt"}},
      {"le", {1, 1, 0, 0}, {1, 1, 0, 0}, {"le"}},
      {"gt", {0, 0, 1, 0}, {0, 0, 1, 0}, {"lt"}},
      {"ge", {0, 1, 1, 0}, {0, 1, 1, 0}, {"le"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.target);
    for (bool scalar : {false, true}) {
      AtenGraph g;
      AddUserInput(g, "x", {4});
      AddUserInput(g, "y", {4});
      AddNode(g, "cmp", std::string("torch.ops.aten.") + c.target + (scalar ? ".Scalar" : ".Tensor"),
              {TensorArg("self", "x"), scalar ? FloatArg("other", 2.0) : TensorArg("other", "y")}, {4});
      SetDType(g, "cmp", TorchDType::kBool);
      g.outputs = {"cmp"};
      std::vector<std::string> ops;
      EXPECT_EQ(LowerAndRun(g, {{"x", x}, {"y", y}}, &ops)["cmp"], scalar ? c.scalar_result : c.tensor_result);
      EXPECT_EQ(ops, c.ops);
    }
  }
}

// The causal mask of an attention block, as PyTorch's decomposition of scaled_dot_product_attention
// writes it: arange, le against a column, logical_not, where with a scalar -inf, then softmax.
TEST(Lowering, CausalMaskFromArangeLeAndWhere) {
  AtenGraph g;
  AddUserInput(g, "scores", {3, 3});
  AddNode(g, "arange", "torch.ops.aten.arange.start_step", {IntArg("start", 0), IntArg("end", 3), IntArg("step", 1)},
          {3});
  SetDType(g, "arange", TorchDType::kLong);
  AddNode(g, "col", "torch.ops.aten.unsqueeze.default", {TensorArg("self", "arange"), IntArg("dim", 1)}, {3, 1});
  AddNode(g, "le", "torch.ops.aten.le.Tensor", {TensorArg("self", "arange"), TensorArg("other", "col")}, {3, 3});
  SetDType(g, "le", TorchDType::kBool);
  AddNode(g, "masked", "torch.ops.aten.logical_not.default", {TensorArg("self", "le")}, {3, 3});
  SetDType(g, "masked", TorchDType::kBool);
  AddNode(g, "ninf", "torch.ops.aten.scalar_tensor.default", {FloatArg("s", -std::numeric_limits<double>::infinity())},
          {});
  AddNode(g, "where", "torch.ops.aten.where.self",
          {TensorArg("condition", "masked"), TensorArg("self", "ninf"), TensorArg("other", "scores")}, {3, 3});
  AddNode(g, "any", "torch.ops.aten.any.dim", {TensorArg("self", "le"), IntArg("dim", -1), BoolArg("keepdim", true)},
          {3, 1});
  SetDType(g, "any", TorchDType::kBool);
  AddNode(g, "softmax", "torch.ops.aten._softmax.default",
          {TensorArg("self", "where"), IntArg("dim", -1), BoolArg("half_to_float", false)}, {3, 3});
  g.outputs = {"softmax", "any"};
  std::vector<std::string> ops;
  const auto out = LowerAndRun(g, {{"scores", {0, 5, 5, 0, 0, 5, 0, 0, 0}}}, &ops);
  // The arange is a constant; the bool input of any needs no normalization.
  EXPECT_EQ(ops, (std::vector<std::string>{"reshape", "le", "logical_not", "where", "reduce_max", "softmax"}));
  const std::vector<float>& p = out.at("softmax");
  ASSERT_EQ(p.size(), 9u);
  EXPECT_FLOAT_EQ(p[0], 1.0f);
  EXPECT_FLOAT_EQ(p[1], 0.0f);  // masked, though its score is the largest
  EXPECT_FLOAT_EQ(p[3], 0.5f);
  EXPECT_FLOAT_EQ(p[8], 1.0f / 3.0f);
  EXPECT_EQ(out.at("any"), (std::vector<float>{1, 1, 1}));
}

TEST(Lowering, LogicalAndBitwiseOps) {
  AtenGraph g;
  AddUserInput(g, "x", {4});
  AddUserInput(g, "y", {4});
  AddNode(g, "a", "torch.ops.aten.ne.Scalar", {TensorArg("self", "x"), IntArg("other", 0)}, {4});
  AddNode(g, "b", "torch.ops.aten.ne.Scalar", {TensorArg("self", "y"), IntArg("other", 0)}, {4});
  AddNode(g, "and", "torch.ops.aten.bitwise_and.Tensor", {TensorArg("self", "a"), TensorArg("other", "b")}, {4});
  AddNode(g, "or", "torch.ops.aten.bitwise_or.Tensor", {TensorArg("self", "a"), TensorArg("other", "b")}, {4});
  AddNode(g, "xor", "torch.ops.aten.logical_xor.default", {TensorArg("self", "x"), TensorArg("other", "y")}, {4});
  AddNode(g, "not", "torch.ops.aten.bitwise_not.default", {TensorArg("self", "a")}, {4});
  for (const char* v : {"a", "b", "and", "or", "xor", "not"}) SetDType(g, v, TorchDType::kBool);
  g.outputs = {"and", "or", "xor", "not"};
  auto out = LowerAndRun(g, {{"x", {0, 0, 3, -1}}, {"y", {0, 2, 0, 0.5f}}});
  EXPECT_EQ(out["and"], (std::vector<float>{0, 0, 0, 1}));
  EXPECT_EQ(out["or"], (std::vector<float>{0, 1, 1, 1}));
  EXPECT_EQ(out["xor"], (std::vector<float>{0, 1, 1, 0}));
  EXPECT_EQ(out["not"], (std::vector<float>{1, 1, 0, 0}));

  // On integers they act on bits: the integer ops (ops/integer.cc).
  AtenGraph ints;
  AddUserInput(ints, "x", {4}, TorchDType::kLong);
  AddNode(ints, "band", "torch.ops.aten.bitwise_and.Scalar", {TensorArg("self", "x"), IntArg("other", 6)}, {4});
  AddNode(ints, "bnot", "torch.ops.aten.bitwise_not.default", {TensorArg("self", "x")}, {4});
  AddNode(ints, "shl", "torch.ops.aten.bitwise_left_shift.Scalar_Tensor", {IntArg("self", 1), TensorArg("other", "x")},
          {4});
  AddNode(ints, "gcd", "torch.ops.aten.gcd.default", {TensorArg("self", "x"), TensorArg("other", "band")}, {4});
  for (const char* v : {"band", "bnot", "shl", "gcd"}) SetDType(ints, v, TorchDType::kLong);
  ints.outputs = {"band", "bnot", "shl", "gcd"};
  std::vector<std::string> ops;
  out = LowerAndRun(ints, {{"x", {3, 12, -7, 0}}}, &ops);
  EXPECT_EQ(out["band"], (std::vector<float>{2, 4, 0, 0}));
  EXPECT_EQ(out["bnot"], (std::vector<float>{-4, -13, 6, -1}));
  EXPECT_EQ(out["shl"], (std::vector<float>{8, 4096, 0, 1}));
  EXPECT_EQ(out["gcd"], (std::vector<float>{1, 4, 7, 0}));
  EXPECT_EQ(ops, (std::vector<std::string>{"bitwise_and", "bitwise_not", "shift_left", "gcd"}));
  ints.values["x"].dtype = TorchDType::kFloat;
  EXPECT_EQ(LoweringError(ints), "node 'band' (aten.bitwise_and.Scalar): takes integer or bool operands, got float32");
}

TEST(Lowering, AnyAndAllNormalizeNonBoolInputs) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddNode(g, "any", "torch.ops.aten.any.dim", {TensorArg("self", "x"), IntArg("dim", 1)}, {2});
  AddNode(g, "all", "torch.ops.aten.all.dim", {TensorArg("self", "x"), IntArg("dim", 1)}, {2});
  AddNode(g, "any_all", "torch.ops.aten.any.default", {TensorArg("self", "x")}, {});
  g.outputs = {"any", "all", "any_all"};
  std::vector<std::string> ops;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto out = LowerAndRun(g, {{"x", {0, 0, nan, 1, 2, -3}}}, &ops);
  EXPECT_EQ(out["any"], (std::vector<float>{1, 1}));  // NaN is true
  EXPECT_EQ(out["all"], (std::vector<float>{0, 1}));
  EXPECT_EQ(out["any_all"], (std::vector<float>{1}));
  EXPECT_EQ(ops, (std::vector<std::string>{"logical_not", "logical_not", "reduce_max", "logical_not", "logical_not",
                                           "reduce_min", "logical_not", "logical_not", "reduce_max"}));
}

TEST(Lowering, CumsumGatherIndexSelectAndEmbedding) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddParameter(g, "p_emb", "emb.weight", {4, 2}, {0, 1, 10, 11, 20, 21, 30, 31});
  // Token ids arrive as an int64 buffer; lowering converts it to the device's fp32.
  WeightTensor ids;
  ids.meta = Meta({2, 2}, TorchDType::kLong);
  const std::vector<int64_t> id_values = {3, 0, 1, 3};
  std::vector<uint8_t> bytes(id_values.size() * 8);
  std::memcpy(bytes.data(), id_values.data(), bytes.size());
  ids.bytes = WeightBytes(std::move(bytes));
  g.inputs.push_back({"c_ids", InputKind::kConstantTensor, "ids"});
  g.values["c_ids"] = ids.meta;
  g.weights["ids"] = ids;
  AddNode(g, "cumsum", "torch.ops.aten.cumsum.default", {TensorArg("self", "x"), IntArg("dim", 1)}, {2, 3});
  AddNode(g, "emb", "torch.ops.aten.embedding.default", {TensorArg("weight", "p_emb"), TensorArg("indices", "c_ids")},
          {2, 2, 2});
  AddNode(g, "sel", "torch.ops.aten.index_select.default",
          {TensorArg("self", "x"), IntArg("dim", 1), TensorArg("index", "c_ids")}, {2, 2, 2});
  AddNode(g, "idx", "torch.ops.aten.index.Tensor",
          {TensorArg("self", "p_emb"), OptionalTensorsArg("indices", {"", "c_ids"})}, {4, 2, 2});
  g.outputs = {"cumsum", "emb", "sel", "idx"};
  auto out = LowerAndRun(g, {{"x", {1, 2, 3, 4, 5, 6}}});
  EXPECT_EQ(out["cumsum"], (std::vector<float>{1, 3, 6, 4, 9, 15}));
  EXPECT_EQ(out["emb"], (std::vector<float>{30, 31, 0, 1, 10, 11, 30, 31}));
  // index 3 is out of range for dim 1 of size 3: the device reads NaN rather than fail mid-program.
  const std::vector<float> sel = out["sel"];
  ASSERT_EQ(sel.size(), 8u);
  EXPECT_TRUE(std::isnan(sel[0]));
  EXPECT_EQ(sel[1], 1);
  EXPECT_EQ(sel[2], 2);
  // x[:, ids] over a [4, 2] weight: ids 3 and 1... only 0 and 1 are in range for dim 1.
  EXPECT_EQ(out["idx"][1], 0);
  EXPECT_EQ(out["idx"][2], 1);

  AtenGraph gather;
  AddUserInput(gather, "x", {2, 3});
  AddParameter(gather, "p_i", "i", {2, 2}, {2, 0, 1, 1});
  AddNode(gather, "gather", "torch.ops.aten.gather.default",
          {TensorArg("self", "x"), IntArg("dim", 1), TensorArg("index", "p_i")}, {2, 2});
  gather.outputs = {"gather"};
  EXPECT_EQ(LowerAndRun(gather, {{"x", {1, 2, 3, 4, 5, 6}}})["gather"], (std::vector<float>{3, 1, 5, 5}));
}

TEST(Lowering, IndexWithAMaskOrNonAdjacentTensorsIsAClearError) {
  AtenGraph g;
  AddUserInput(g, "x", {3, 3});
  AddNode(g, "mask", "torch.ops.aten.gt.Scalar", {TensorArg("self", "x"), IntArg("other", 0)}, {3, 3});
  SetDType(g, "mask", TorchDType::kBool);
  AddNode(g, "index", "torch.ops.aten.index.Tensor", {TensorArg("self", "x"), OptionalTensorsArg("indices", {"mask"})},
          {5});
  g.outputs = {"index"};
  EXPECT_EQ(LoweringError(g), "node 'index' (aten.index.Tensor): indexing with the boolean mask 'mask' has a "
                              "data-dependent output shape");
  g.nodes.back().inputs[1] = OptionalTensorsArg("indices", {"x", "", "x"});
  EXPECT_EQ(LoweringError(g), "node 'index' (aten.index.Tensor): index tensors on the non-adjacent dims [0, 2] are "
                              "not supported yet");
}

// x[:, rows, cols] with broadcasting index tensors, as bilinear interpolation and gathers of
// (batch, position) pairs export.
TEST(Lowering, IndexWithAdjacentIndexTensors) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3, 4});
  AddUserInput(g, "rows", {2, 1});
  AddUserInput(g, "cols", {3});
  AddNode(g, "index", "torch.ops.aten.index.Tensor",
          {TensorArg("self", "x"), OptionalTensorsArg("indices", {"", "rows", "cols"})}, {2, 2, 3});
  g.outputs = {"index"};
  std::vector<float> x(24);
  for (int i = 0; i < 24; ++i) x[i] = static_cast<float>(i);
  // rows 2 and -1 (= 2); cols 0, -4 (= 0) and 4 (out of range: NaN).
  const std::vector<float> got = LowerAndRun(g, {{"x", x}, {"rows", {2, -1}}, {"cols", {0, -4, 4}}})["index"];
  ASSERT_EQ(got.size(), 12u);
  for (int b = 0; b < 2; ++b)
    for (int r = 0; r < 2; ++r) {
      const int base = b * 12 + 2 * 4;
      EXPECT_EQ(got[b * 6 + r * 3 + 0], base);
      EXPECT_EQ(got[b * 6 + r * 3 + 1], base);
      EXPECT_TRUE(std::isnan(got[b * 6 + r * 3 + 2]));
    }
}

TEST(Lowering, SelectSplitAndRepeat) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 5});
  AddNode(g, "select", "torch.ops.aten.select.int", {TensorArg("self", "x"), IntArg("dim", 1), IntArg("index", -2)},
          {2});
  // chunk/split export as split_with_sizes with one output per part (the getitems).
  AddNode(g, "split", "torch.ops.aten.split_with_sizes.default",
          {TensorArg("self", "x"), IntsArg("split_sizes", {2, 3}), IntArg("dim", -1)}, {2, 2},
          {"getitem", "getitem_1"});
  g.values["getitem_1"] = Meta({2, 3});
  AddNode(g, "repeat", "torch.ops.aten.repeat.default", {TensorArg("self", "getitem"), IntsArg("repeats", {2, 1, 2})},
          {2, 2, 4});
  g.outputs = {"select", "getitem_1", "repeat"};
  auto out = LowerAndRun(g, {{"x", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}});
  EXPECT_EQ(out["select"], (std::vector<float>{3, 8}));
  EXPECT_EQ(out["getitem_1"], (std::vector<float>{2, 3, 4, 7, 8, 9}));
  EXPECT_EQ(out["repeat"], (std::vector<float>{0, 1, 0, 1, 5, 6, 5, 6, 0, 1, 0, 1, 5, 6, 5, 6}));

  AtenGraph bad;
  AddUserInput(bad, "x", {2, 5});
  AddNode(bad, "select", "torch.ops.aten.select.int", {TensorArg("self", "x"), IntArg("dim", 1), IntArg("index", 5)},
          {2});
  bad.outputs = {"select"};
  EXPECT_EQ(LoweringError(bad), "node 'select' (aten.select.int): index 5 is out of range for dim 1 of [2, 5]");
  bad.nodes.back() = AtenNode{"split", "torch.ops.aten.split_with_sizes.default",
                              {TensorArg("self", "x"), IntsArg("split_sizes", {2, 2}), IntArg("dim", 1)},
                              {"a", "b"}, ""};
  bad.outputs = {"a"};
  EXPECT_EQ(LoweringError(bad), "node 'split' (aten.split_with_sizes.default): split sizes [2, 2] sum to 4, not dim 1 "
                                "of [2, 5]");
}

TEST(Lowering, ConstantsAreResolvedAtCompileTime) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 2});
  AddNode(g, "full", "torch.ops.aten.full.default", {IntsArg("size", {2, 2}), FloatArg("fill_value", 2.5)}, {2, 2});
  AddNode(g, "full_like", "torch.ops.aten.full_like.default",
          {TensorArg("self", "x"), FloatArg("fill_value", 7.9), DTypeArg("dtype", TorchDType::kLong)}, {2, 2});
  AddNode(g, "arange", "torch.ops.aten.arange.start_step",
          {FloatArg("start", 1.0), FloatArg("end", 2.0), FloatArg("step", 0.25)}, {4});
  AddNode(g, "scalar", "torch.ops.aten.scalar_tensor.default", {FloatArg("s", -3.0)}, {});
  AddNode(g, "mask", "torch.ops.aten.full.default", {IntsArg("size", {3}), BoolArg("fill_value", true)}, {3});
  AddNode(g, "meta", "torch.ops.aten._assert_tensor_metadata.default",
          {TensorArg("a", "x"), IntsArg("size", {2, 2}), DTypeArg("dtype", TorchDType::kFloat)}, {}, {""});
  g.outputs = {"full", "full_like", "arange", "scalar", "mask"};
  std::vector<std::string> ops;
  auto out = LowerAndRun(g, {{"x", {0, 0, 0, 0}}}, &ops);
  EXPECT_EQ(out["full"], (std::vector<float>(4, 2.5f)));
  EXPECT_EQ(out["full_like"], (std::vector<float>(4, 7.0f)));  // truncated to int64, as torch does
  EXPECT_EQ(out["arange"], (std::vector<float>{1, 1.25f, 1.5f, 1.75f}));
  EXPECT_EQ(out["scalar"], (std::vector<float>{-3}));
  EXPECT_EQ(out["mask"], (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(ops, (std::vector<std::string>{"expand", "expand", "expand"}));  // scalars broadcast; the assert is free

  auto error_for = [](NamedArgument bad_arg, const std::string& target) {
    AtenGraph e;
    AddUserInput(e, "x", {2, 2});
    std::vector<NamedArgument> args;
    if (target == "_assert_tensor_metadata.default") args.push_back(TensorArg("a", "x"));
    if (target == "arange.start_step") args = {IntArg("start", 0), IntArg("end", 5)};
    args.push_back(std::move(bad_arg));
    AddNode(e, "n", "torch.ops.aten." + target, args, {2, 2}, {"n"});
    e.outputs = {"x"};
    return LoweringError(e);
  };
  EXPECT_EQ(error_for(IntsArg("size", {2, 3}), "_assert_tensor_metadata.default"),
            "node 'n' (aten._assert_tensor_metadata.default): asserts size [2, 3] but the tensor is [2, 2]");
  EXPECT_EQ(error_for(DTypeArg("dtype", TorchDType::kLong), "_assert_tensor_metadata.default"),
            "node 'n' (aten._assert_tensor_metadata.default): asserts dtype int64 but the tensor is float32");
  EXPECT_EQ(error_for(IntArg("step", -1), "arange.start_step"),
            "node 'n' (aten.arange.start_step): arange(0, 5, -1): the step's sign does not lead from start to end");
  EXPECT_EQ(error_for(IntArg("step", 0), "arange.start_step"),
            "node 'n' (aten.arange.start_step): arange(0, 5, 0) has no finite, non-zero step");
}

TEST(Lowering, DTypeConversions) {
  AtenGraph g;
  AddUserInput(g, "x", {3});
  AddNode(g, "as_bool", "torch.ops.aten._to_copy.default", {TensorArg("self", "x"), DTypeArg("dtype", TorchDType::kBool)},
          {3});
  SetDType(g, "as_bool", TorchDType::kBool);
  AddNode(g, "as_long", "torch.ops.aten._to_copy.default",
          {TensorArg("self", "as_bool"), DTypeArg("dtype", TorchDType::kLong)}, {3});
  SetDType(g, "as_long", TorchDType::kLong);
  AddNode(g, "as_float", "torch.ops.aten._to_copy.default",
          {TensorArg("self", "as_long"), DTypeArg("dtype", TorchDType::kFloat)}, {3});
  g.outputs = {"as_float"};
  std::vector<std::string> ops;
  EXPECT_EQ(LowerAndRun(g, {{"x", {0, -2, 0.5f}}}, &ops)["as_float"], (std::vector<float>{0, 1, 1}));
  EXPECT_EQ(ops, (std::vector<std::string>{"logical_not", "logical_not"}));  // the widenings are free

  AtenGraph trunc;
  AddUserInput(trunc, "x", {3});
  AddNode(trunc, "as_long", "torch.ops.aten._to_copy.default",
          {TensorArg("self", "x"), DTypeArg("dtype", TorchDType::kLong)}, {3});
  trunc.outputs = {"as_long"};
  EXPECT_EQ(LowerAndRun(trunc, {{"x", {-2.5f, 0.5f, 3.99f}}})["as_long"], (std::vector<float>{-2, 0, 3}));
  trunc.nodes[0].inputs[1] = DTypeArg("dtype", TorchDType::kHalf);
  SetDType(trunc, "as_long", TorchDType::kHalf);
  EXPECT_EQ(LowerAndRun(trunc, {{"x", {0.1f, 70000.0f, 1.0f + std::ldexp(1.0f, -11)}}})["as_long"],
            (std::vector<float>{0.0999755859375f, INFINITY, 1.0f}));
  trunc.nodes[0].inputs[1] = DTypeArg("dtype", static_cast<TorchDType>(9));
  EXPECT_EQ(LoweringError(trunc),
            "node 'as_long' (aten._to_copy.default): conversion from float32 to complex32 is not supported yet");
}

// To int8, uint8 and int16 the truncated value wraps around, as torch converts on the CPU; from those
// to a wider integer or float is the value itself. (Expected values are torch 2.14's.)
// Beyond int32 (and NaN, inf) x86's conversion gives INT32_MIN, whose low bits are 0; just below
// 2^31, 2147483520 keeps its low bits (a naive lo + (x - lo) mod 2^16 would round x - lo).
TEST(Lowering, ToCopyToNarrowIntegersWraps) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {-1.5f, 300.7f, -129.2f, 40000, 127.9f, 255.5f, -0.7f, 1e5f,
                                2147483520.0f, 3e9f, -3e9f, inf, -inf, nan, -2147483648.0f};
  const int64_t n = static_cast<int64_t>(x.size());
  const std::map<TorchDType, std::vector<float>> want = {
      {TorchDType::kChar, {-1, 44, 127, 64, 127, -1, 0, -96, -128, 0, 0, 0, 0, 0, 0}},
      {TorchDType::kByte, {255, 44, 127, 64, 127, 255, 0, 160, 128, 0, 0, 0, 0, 0, 0}},
      {TorchDType::kShort, {-1, 300, -129, -25536, 127, 255, 0, -31072, -128, 0, 0, 0, 0, 0, 0}},
  };
  for (const auto& [dtype, values] : want) {
    SCOPED_TRACE(TorchDTypeName(dtype));
    AtenGraph g;
    AddUserInput(g, "x", {n});
    AddNode(g, "narrow", "torch.ops.aten._to_copy.default", {TensorArg("self", "x"), DTypeArg("dtype", dtype)}, {n});
    SetDType(g, "narrow", dtype);
    AddNode(g, "back", "torch.ops.aten._to_copy.default",
            {TensorArg("self", "narrow"), DTypeArg("dtype", TorchDType::kLong)}, {n});
    SetDType(g, "back", TorchDType::kLong);
    AddNode(g, "f", "torch.ops.aten._to_copy.default", {TensorArg("self", "back"), DTypeArg("dtype", TorchDType::kFloat)},
            {n});
    g.outputs = {"f"};
    std::vector<std::string> ops;
    EXPECT_EQ(LowerAndRun(g, {{"x", x}}, &ops)["f"], values);
    // The widenings are free; uint8 needs no shift into its range.
    EXPECT_EQ(ops, dtype == TorchDType::kByte
                       ? (std::vector<std::string>{"trunc", "abs", "lt", "where", "remainder"})
                       : (std::vector<std::string>{"trunc", "abs", "lt", "where", "remainder", "sub", "remainder", "add"}));
  }
  // int32 to uint8 wraps too; uint8 to int16 is the value itself.
  AtenGraph ints;
  AddUserInput(ints, "i", {4}, TorchDType::kInt);
  AddNode(ints, "u8", "torch.ops.aten._to_copy.default", {TensorArg("self", "i"), DTypeArg("dtype", TorchDType::kByte)},
          {4});
  SetDType(ints, "u8", TorchDType::kByte);
  AddNode(ints, "i16", "torch.ops.aten._to_copy.default",
          {TensorArg("self", "u8"), DTypeArg("dtype", TorchDType::kShort)}, {4});
  SetDType(ints, "i16", TorchDType::kShort);
  AddNode(ints, "f", "torch.ops.aten._to_copy.default", {TensorArg("self", "i16"), DTypeArg("dtype", TorchDType::kFloat)},
          {4});
  ints.outputs = {"f"};
  std::vector<std::string> ops;
  EXPECT_EQ(LowerAndRun(ints, {{"i", {-1, 300, -129, 40000}}}, &ops)["f"], (std::vector<float>{255, 44, 127, 64}));
  EXPECT_EQ(ops, (std::vector<std::string>{"remainder"}));
  // Returned to the host in their own dtypes.
  ints.outputs = {"u8", "i16"};
  absl::StatusOr<DeviceGraph> d = LowerAtenGraph(ints);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->values[d->outputs[0].second].dtype, ops::DType::kU8);
  EXPECT_EQ(d->values[d->outputs[1].second].dtype, ops::DType::kI16);
}

// sum(x, dtype=int64) of floats truncates each element first, as x.to(int64).sum() does; other
// target dtypes are the value itself, and a rounding one is a clear error.
TEST(Lowering, SumToAnotherDType) {
  AtenGraph g;
  AddUserInput(g, "x", {3});
  AddNode(g, "sum", "torch.ops.aten.sum.dim_IntList",
          {TensorArg("self", "x"), IntsArg("dim", {0}), DTypeArg("dtype", TorchDType::kLong)}, {});
  SetDType(g, "sum", TorchDType::kLong);
  g.outputs = {"sum"};
  std::vector<std::string> ops;
  EXPECT_EQ(LowerAndRun(g, {{"x", {-2.5f, 0.5f, 3.99f}}}, &ops)["sum"], (std::vector<float>{1}));
  EXPECT_EQ(ops, (std::vector<std::string>{"trunc", "reduce_sum"}));
  g.nodes[0].inputs[2] = DTypeArg("dtype", TorchDType::kDouble);
  EXPECT_EQ(LowerAndRun(g, {{"x", {-2.5f, 0.5f, 3.75f}}}, &ops)["sum"], (std::vector<float>{1.75f}));
  g.nodes[0].inputs[2] = DTypeArg("dtype", TorchDType::kBool);
  EXPECT_EQ(LoweringError(g), "node 'sum' (aten.sum.dim_IntList): reducing float32 as bool is not supported yet");
}

// An integer ATen result from a device op that can make fractions is converted as ATen's integer
// arithmetic does (int64 avg_pool2d truncates); a float result of the same op is left alone.
TEST(Lowering, IntegerResultsTruncateLikeATen) {
  AtenGraph g;
  AddUserInput(g, "x", {1, 1, 2, 2}, TorchDType::kLong);
  AddNode(g, "avg", "torch.ops.aten.avg_pool2d.default", {TensorArg("self", "x"), IntsArg("kernel_size", {2, 2})},
          {1, 1, 1, 1});
  SetDType(g, "avg", TorchDType::kLong);
  g.outputs = {"avg"};
  std::vector<std::string> ops;
  EXPECT_EQ(LowerAndRun(g, {{"x", {1, 2, 4, 4}}}, &ops)["avg"], (std::vector<float>{2}));
  // Window sums, one exact division by each window's divisor, truncation.
  EXPECT_EQ(ops, (std::vector<std::string>{"avg_pool2d", "div", "trunc"}));
  EXPECT_EQ(LowerAndRun(g, {{"x", {-1, -2, -4, -4}}})["avg"], (std::vector<float>{-2}));  // toward zero
  AtenGraph f;
  AddUserInput(f, "x", {1, 1, 2, 2});
  AddNode(f, "avg", "torch.ops.aten.avg_pool2d.default", {TensorArg("self", "x"), IntsArg("kernel_size", {2, 2})},
          {1, 1, 1, 1});
  f.outputs = {"avg"};
  EXPECT_EQ(LowerAndRun(f, {{"x", {1, 2, 4, 4}}}, &ops)["avg"], (std::vector<float>{2.75f}));
  EXPECT_EQ(ops, (std::vector<std::string>{"avg_pool2d"}));
}

// int64 legalization (README, Dtypes): device integers are fp32 values, exact within 2^24, so an
// integer weight or an integer operand beyond that is a compile error naming it and the value.
TEST(Lowering, IntegerConstantsBeyondTwoToThe24AreNamed) {
  AtenGraph g;
  AddUserInput(g, "ids", {2}, TorchDType::kLong);
  g.inputs.push_back({"b_pos", InputKind::kBuffer, "pos"});
  g.values["b_pos"] = Meta({2}, TorchDType::kLong);
  const std::vector<int64_t> pos = {7, (int64_t{1} << 24) + 1};
  std::vector<uint8_t> bytes(16);
  std::memcpy(bytes.data(), pos.data(), 16);
  g.weights["pos"] = {Meta({2}, TorchDType::kLong), WeightBytes(std::move(bytes))};
  AddNode(g, "add", "torch.ops.aten.add.Tensor", {TensorArg("self", "ids"), TensorArg("other", "b_pos")}, {2});
  SetDType(g, "add", TorchDType::kLong);
  g.outputs = {"add"};
  EXPECT_EQ(LoweringError(g), "node 'add' (aten.add.Tensor): weight 'pos': element 1 is 16777217, beyond 2^24, "
                              "which the device's fp32 integers do not hold exactly");

  AtenGraph scalar;
  AddUserInput(scalar, "ids", {2}, TorchDType::kLong);
  AddNode(scalar, "add", "torch.ops.aten.add.Scalar", {TensorArg("self", "ids"), IntArg("other", int64_t{1} << 40)},
          {2});
  SetDType(scalar, "add", TorchDType::kLong);
  scalar.outputs = {"add"};
  EXPECT_EQ(LoweringError(scalar), "node 'add' (aten.add.Scalar): integer operand 'other' = 1099511627776 is beyond "
                                   "2^24, which the device's fp32 integers do not hold exactly");
  // The same Python int with a float result is a float constant, as in ATen.
  SetDType(scalar, "add", TorchDType::kFloat);
  scalar.values["ids"].dtype = TorchDType::kFloat;
  EXPECT_TRUE(LowerAtenGraph(scalar).ok());
}

NamedArgument StringArg(const std::string& name, const std::string& v) {
  NamedArgument a{name, {}};
  a.arg.kind = Argument::Kind::kString;
  a.arg.s = v;
  return a;
}

TEST(Lowering, ActivationsAndRoundingDecompositions) {
  AtenGraph g;
  AddUserInput(g, "x", {4});
  AddUserInput(g, "lo", {4});
  AddNode(g, "gelu_tanh", "torch.ops.aten.gelu.default", {TensorArg("self", "x"), StringArg("approximate", "tanh")},
          {4});
  AddNode(g, "leaky", "torch.ops.aten.leaky_relu.default", {TensorArg("self", "x"), FloatArg("negative_slope", 0.5)},
          {4});
  AddNode(g, "elu", "torch.ops.aten.elu.default", {TensorArg("self", "x"), FloatArg("alpha", 2.0)}, {4});
  AddNode(g, "clamp", "torch.ops.aten.clamp.Tensor", {TensorArg("self", "x"), TensorArg("min", "lo")}, {4});
  AddNode(g, "trunc", "torch.ops.aten.div.Tensor_mode",
          {TensorArg("self", "x"), FloatArg("other", -2.0), StringArg("rounding_mode", "trunc")}, {4});
  AddNode(g, "floor", "torch.ops.aten.div.Tensor_mode",
          {TensorArg("self", "x"), FloatArg("other", -2.0), StringArg("rounding_mode", "floor")}, {4});
  g.outputs = {"gelu_tanh", "leaky", "elu", "clamp", "trunc", "floor"};
  auto out = LowerAndRun(g, {{"x", {-2, -0.5f, 0, 3}}, {"lo", {-1, -1, 1, 1}}});
  EXPECT_EQ(out["leaky"], (std::vector<float>{-1, -0.25f, 0, 3}));
  for (int i = 0; i < 4; ++i) {
    const double x = std::vector<double>{-2, -0.5, 0, 3}[i];
    const double want = 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    EXPECT_NEAR(out["gelu_tanh"][i], want, 1e-6) << x;
  }
  EXPECT_FLOAT_EQ(out["elu"][0], 2.0f * std::expm1(-2.0f));
  EXPECT_EQ(out["elu"][3], 3.0f);
  EXPECT_EQ(out["clamp"], (std::vector<float>{-1, -0.5f, 1, 3}));
  EXPECT_EQ(out["trunc"], (std::vector<float>{1, 0, 0, -1}));
  EXPECT_EQ(out["floor"], (std::vector<float>{1, 0, 0, -2}));
}

TEST(Lowering, MaxDimVarAndProd) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddNode(g, "max", "torch.ops.aten.max.dim", {TensorArg("self", "x"), IntArg("dim", 1)}, {2},
          {"values", "indices"});
  g.values["indices"] = Meta({2}, TorchDType::kLong);
  AddNode(g, "var", "torch.ops.aten.var.correction", {TensorArg("self", "x"), IntsArg("dim", {1})}, {2});
  AddNode(g, "prod", "torch.ops.aten.prod.default", {TensorArg("self", "x")}, {});
  g.outputs = {"values", "indices", "var", "prod"};
  auto out = LowerAndRun(g, {{"x", {1, 5, 3, 2, 2, -4}}});
  EXPECT_EQ(out["values"], (std::vector<float>{5, 2}));
  EXPECT_EQ(out["indices"], (std::vector<float>{1, 0}));  // the first of equal maxima
  EXPECT_FLOAT_EQ(out["var"][0], 4.0f);                    // unbiased: ((1-3)^2 + 2^2 + 0) / 2
  EXPECT_FLOAT_EQ(out["var"][1], 12.0f);
  EXPECT_EQ(out["prod"], (std::vector<float>{-240}));
}

TEST(Lowering, PaddingListsDimsFromTheLast) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddNode(g, "pad", "torch.ops.aten.constant_pad_nd.default",
          {TensorArg("self", "x"), IntsArg("pad", {1, 0}), FloatArg("value", 9)}, {2, 4});
  AddNode(g, "reflect", "torch.ops.aten.reflection_pad1d.default", {TensorArg("self", "x"), IntsArg("padding", {2, 1})},
          {2, 6});
  g.outputs = {"pad", "reflect"};
  auto out = LowerAndRun(g, {{"x", {1, 2, 3, 4, 5, 6}}});
  EXPECT_EQ(out["pad"], (std::vector<float>{9, 1, 2, 3, 9, 4, 5, 6}));
  EXPECT_EQ(out["reflect"], (std::vector<float>{3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5}));
}

TEST(Lowering, StaticViewsAndScattersAreTakesThroughIndexMaps) {
  AtenGraph g;
  AddUserInput(g, "x", {3, 4});
  AddUserInput(g, "row", {4});
  AddUserInput(g, "cols", {3, 2});
  // x.t() as a strided view, the diagonal above the main one, and a flip of both dims.
  AddNode(g, "strided", "torch.ops.aten.as_strided.default",
          {TensorArg("self", "x"), IntsArg("size", {4, 3}), IntsArg("stride", {1, 4})}, {4, 3});
  AddNode(g, "diag", "torch.ops.aten.diagonal.default", {TensorArg("self", "x"), IntArg("offset", 1)}, {3});
  AddNode(g, "flip", "torch.ops.aten.flip.default", {TensorArg("self", "x"), IntsArg("dims", {0, -1})}, {3, 4});
  AddNode(g, "sel", "torch.ops.aten.select_scatter.default",
          {TensorArg("self", "x"), TensorArg("src", "row"), IntArg("dim", 0), IntArg("index", -1)}, {3, 4});
  AddNode(g, "sl", "torch.ops.aten.slice_scatter.default",
          {TensorArg("self", "x"), TensorArg("src", "cols"), IntArg("dim", 1), IntArg("start", 1), IntArg("step", 2)},
          {3, 4});
  g.outputs = {"strided", "diag", "flip", "sel", "sl"};
  std::vector<float> x(12);
  for (int i = 0; i < 12; ++i) x[i] = static_cast<float>(i);
  auto out = LowerAndRun(g, {{"x", x}, {"row", {-1, -2, -3, -4}}, {"cols", {-1, -2, -3, -4, -5, -6}}});
  EXPECT_EQ(out["strided"], (std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  EXPECT_EQ(out["diag"], (std::vector<float>{1, 6, 11}));
  EXPECT_EQ(out["flip"], (std::vector<float>{11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(out["sel"], (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, -1, -2, -3, -4}));
  EXPECT_EQ(out["sl"], (std::vector<float>{0, -1, 2, -2, 4, -3, 6, -4, 8, -5, 10, -6}));

  // The index maps are whole numbers the device indexes with: i32 whatever the device dtype (bf16
  // would round positions above 256, as a [3, 64, 64] slice_scatter's map has).
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  int maps = 0;
  for (const DeviceValue& v : lowered->values)
    if (v.kind == DeviceValue::Kind::kConstant && (v.name.ends_with("_index") || v.name.ends_with("_reversed"))) {
      EXPECT_EQ(v.dtype, ops::DType::kI32) << v.name;
      ++maps;
    }
  EXPECT_GE(maps, 4);

  AtenGraph bad;
  AddUserInput(bad, "x", {3, 4});
  AddNode(bad, "strided", "torch.ops.aten.as_strided.default",
          {TensorArg("self", "x"), IntsArg("size", {4, 4}), IntsArg("stride", {1, 4})}, {4, 4});
  bad.outputs = {"strided"};
  EXPECT_EQ(LoweringError(bad), "node 'strided' (aten.as_strided.default): element [0, 3] is at storage index 12, "
                                "outside the 12 elements of the input");
}

TEST(Lowering, AvgPool1dAndNearestUpsampling) {
  AtenGraph g;
  AddUserInput(g, "x", {1, 1, 4});
  AddUserInput(g, "img", {1, 1, 2, 2});
  AddNode(g, "pool", "torch.ops.aten.avg_pool1d.default", {TensorArg("self", "x"), IntsArg("kernel_size", {2})},
          {1, 1, 2});
  AddNode(g, "up", "torch.ops.aten.upsample_nearest2d.vec", {TensorArg("input", "img"), IntsArg("output_size", {3, 4})},
          {1, 1, 3, 4});
  AddNode(g, "bilinear", "torch.ops.aten.upsample_bilinear2d.vec",
          {TensorArg("input", "img"), IntsArg("output_size", {2, 4}), BoolArg("align_corners", false)}, {1, 1, 2, 4});
  AddNode(g, "corners", "torch.ops.aten.upsample_bilinear2d.vec",
          {TensorArg("input", "img"), IntsArg("output_size", {3, 2}), BoolArg("align_corners", true)}, {1, 1, 3, 2});
  g.outputs = {"pool", "up", "bilinear", "corners"};
  auto out = LowerAndRun(g, {{"x", {1, 3, 5, 9}}, {"img", {1, 2, 3, 4}}});
  EXPECT_EQ(out["pool"], (std::vector<float>{2, 7}));
  // Rows 0, 0, 1 (floor(o * 2/3)); columns 0, 0, 1, 1.
  EXPECT_EQ(out["up"], (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4}));
  // Columns at source positions 0 (clamped), 0.25, 0.75, 1, as torch.nn.functional.interpolate.
  EXPECT_EQ(out["bilinear"], (std::vector<float>{1, 1.25f, 1.75f, 2, 3, 3.25f, 3.75f, 4}));
  EXPECT_EQ(out["corners"], (std::vector<float>{1, 2, 2, 3, 3, 4}));
}

TEST(Lowering, RoundDecimalsAndEmptyResults) {
  AtenGraph g;
  AddUserInput(g, "x", {3});
  AddNode(g, "r2", "torch.ops.aten.round.decimals", {TensorArg("self", "x"), IntArg("decimals", 1)}, {3});
  AddNode(g, "rm1", "torch.ops.aten.round.decimals", {TensorArg("self", "x"), IntArg("decimals", -1)}, {3});
  // Empty results need no constant data (a constant holds at least one element).
  AddNode(g, "empty", "torch.ops.aten.arange.start_step", {IntArg("start", 3), IntArg("end", 3), IntArg("step", 1)},
          {0});
  AddNode(g, "flip", "torch.ops.aten.flip.default", {TensorArg("self", "empty"), IntsArg("dims", {0})}, {0});
  g.outputs = {"r2", "rm1", "flip"};
  auto out = LowerAndRun(g, {{"x", {1.25f, -17.0f, 35.0f}}});
  EXPECT_EQ(out["r2"], (std::vector<float>{1.2f, -17.0f, 35.0f}));  // halves to even
  EXPECT_EQ(out["rm1"], (std::vector<float>{0, -20, 40}));
  EXPECT_TRUE(out["flip"].empty());
}

// Uneven windows overlap: 5 -> 2 averages rows [0, 3) and [2, 5).
TEST(Lowering, UnevenAdaptiveAvgPoolAveragesOverlappingWindows) {
  AtenGraph g;
  AddUserInput(g, "x", {1, 1, 5, 5});
  AddNode(g, "pool", "torch.ops.aten._adaptive_avg_pool2d.default",
          {TensorArg("self", "x"), IntsArg("output_size", {2, 2})}, {1, 1, 2, 2});
  g.outputs = {"pool"};
  std::vector<std::string> ops;
  std::vector<float> x(25);
  for (int i = 0; i < 25; ++i) x[i] = static_cast<float>(i);
  const std::vector<float> got = LowerAndRun(g, {{"x", x}}, &ops)["pool"];
  EXPECT_EQ(ops, (std::vector<std::string>{"matmul", "matmul"}));
  ASSERT_EQ(got.size(), 4u);
  EXPECT_FLOAT_EQ(got[0], 6.0f);   // rows 0-2, cols 0-2: mean of 0..2 + 5 * (0..2)
  EXPECT_FLOAT_EQ(got[1], 8.0f);   // cols 2-4
  EXPECT_FLOAT_EQ(got[2], 16.0f);  // rows 2-4
  EXPECT_FLOAT_EQ(got[3], 18.0f);

  g.nodes[0].inputs[1] = IntsArg("output_size", {0, 2});
  g.values["pool"] = Meta({1, 1, 0, 2});
  EXPECT_EQ(LoweringError(g), "node 'pool' (aten._adaptive_avg_pool2d.default): adaptive pooling from 5x5 to 0x2 "
                              "needs positive sizes");
}

// The statistics outputs of layer and group norm are bound when the graph uses them.
TEST(Lowering, NormStatisticsOutputs) {
  AtenGraph g;
  AddUserInput(g, "x", {1, 2, 2});
  AddNode(g, "ln", "torch.ops.aten.native_layer_norm.default",
          {TensorArg("input", "x"), IntsArg("normalized_shape", {2}), FloatArg("eps", 0.0)}, {1, 2, 2},
          {"ln_out", "ln_mean", "ln_rstd"});
  g.values["ln_mean"] = Meta({1, 2, 1});
  g.values["ln_rstd"] = Meta({1, 2, 1});
  AddNode(g, "gn", "torch.ops.aten.native_group_norm.default",
          {TensorArg("input", "x"), IntArg("N", 1), IntArg("C", 2), IntArg("HxW", 2), IntArg("group", 1),
           FloatArg("eps", 0.0)},
          {1, 2, 2}, {"gn_out", "gn_mean", "gn_rstd"});
  g.values["gn_mean"] = Meta({1, 1});
  g.values["gn_rstd"] = Meta({1, 1});
  AddNode(g, "bn", "torch.ops.aten._native_batch_norm_legit.no_stats",
          {TensorArg("input", "x"), BoolArg("training", true), FloatArg("momentum", 0.1), FloatArg("eps", 0.0)},
          {1, 2, 2}, {"bn_out", "bn_mean", "bn_rstd"});
  g.values["bn_mean"] = Meta({2});
  g.values["bn_rstd"] = Meta({2});
  g.outputs = {"ln_out", "ln_mean", "ln_rstd", "gn_out", "gn_mean", "gn_rstd", "bn_out", "bn_mean"};
  auto out = LowerAndRun(g, {{"x", {1, 3, 5, 5}}});
  EXPECT_EQ(out["ln_mean"], (std::vector<float>{2, 5}));
  EXPECT_FLOAT_EQ(out["ln_rstd"][0], 1.0f);  // variance 1
  EXPECT_TRUE(std::isinf(out["ln_rstd"][1]));  // variance 0, eps 0
  EXPECT_EQ(out["gn_mean"], (std::vector<float>{3.5f}));
  EXPECT_FLOAT_EQ(out["gn_rstd"][0], 1.0f / std::sqrt(2.75f));
  EXPECT_FLOAT_EQ(out["gn_out"][0], -2.5f / std::sqrt(2.75f));
  EXPECT_EQ(out["bn_mean"], (std::vector<float>{2, 5}));  // per channel (dim 1)
  EXPECT_EQ(out["bn_out"][0], -1.0f);
  EXPECT_EQ(out["bn_out"][1], 1.0f);
}

// torch.export functionalizes _native_batch_norm_legit (aten_cases checks the functional form against
// eager); graphs that keep the in-place form get the same batch statistics.
TEST(Lowering, BatchNormLegitTrainingUsesBatchStatistics) {
  AtenGraph g;
  AddUserInput(g, "x", {1, 2, 2});
  AddUserInput(g, "rm", {2});
  AddUserInput(g, "rv", {2});
  AddNode(g, "bn", "torch.ops.aten._native_batch_norm_legit.default",
          {TensorArg("input", "x"), TensorArg("running_mean", "rm"), TensorArg("running_var", "rv"),
           BoolArg("training", true), FloatArg("momentum", 0.1), FloatArg("eps", 0.0)},
          {1, 2, 2}, {"bn_out", "bn_mean", "bn_rstd"});
  g.values["bn_mean"] = Meta({2});
  g.values["bn_rstd"] = Meta({2});
  g.outputs = {"bn_out", "bn_mean", "bn_rstd"};
  auto out = LowerAndRun(g, {{"x", {1, 3, 5, 9}}, {"rm", {100, 100}}, {"rv", {7, 7}}});
  EXPECT_EQ(out["bn_out"], (std::vector<float>{-1, 1, -1, 1}));
  EXPECT_EQ(out["bn_mean"], (std::vector<float>{2, 7}));
  EXPECT_EQ(out["bn_rstd"], (std::vector<float>{1, 0.5f}));
}

// _batch_norm_with_update_functional is training mode without a `training` argument; its running
// statistics come after an empty reserve (cuDNN's workspace): momentum 0.5 of the batch mean [2, 7]
// and unbiased variance [2, 8] into [100, 100] and [7, 7].
TEST(Lowering, BatchNormWithUpdateReturnsTheNewRunningStatistics) {
  AtenGraph g;
  AddUserInput(g, "x", {1, 2, 2});
  AddUserInput(g, "rm", {2});
  AddUserInput(g, "rv", {2});
  AddNode(g, "bn", "torch.ops.aten._batch_norm_with_update_functional.default",
          {TensorArg("input", "x"), TensorArg("running_mean", "rm"), TensorArg("running_var", "rv"),
           FloatArg("momentum", 0.5), FloatArg("eps", 0.0)},
          {1, 2, 2}, {"bn_out", "bn_mean", "bn_rstd", "reserve", "rm_out", "rv_out"});
  for (const char* stat : {"bn_mean", "bn_rstd", "rm_out", "rv_out"}) g.values[stat] = Meta({2});
  g.values["reserve"] = Meta({0});
  g.outputs = {"bn_out", "reserve", "rm_out", "rv_out"};
  auto out = LowerAndRun(g, {{"x", {1, 3, 5, 9}}, {"rm", {100, 100}}, {"rv", {7, 7}}});
  EXPECT_EQ(out["bn_out"], (std::vector<float>{-1, 1, -1, 1}));
  EXPECT_TRUE(out["reserve"].empty());
  EXPECT_EQ(out["rm_out"], (std::vector<float>{51, 53.5f}));
  EXPECT_EQ(out["rv_out"], (std::vector<float>{4.5f, 7.5f}));
}

// Bad arguments to the decomposed nn ops name the node, the op and the values at fault.
TEST(Lowering, DecomposedNnOpsRejectBadArgumentsByName) {
  {
    AtenGraph g;
    AddUserInput(g, "x", {1, 2, 4, 4});
    AddUserInput(g, "grid", {1, 3, 3, 2});
    AddNode(g, "gs", "torch.ops.aten.grid_sampler_2d.default",
            {TensorArg("input", "x"), TensorArg("grid", "grid"), IntArg("interpolation_mode", 2),
             IntArg("padding_mode", 0), BoolArg("align_corners", false)},
            {1, 2, 3, 3});
    g.outputs = {"gs"};
    absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
    ASSERT_FALSE(lowered.ok());
    EXPECT_THAT(lowered.status().message(),
                HasSubstr("node 'gs' (aten.grid_sampler_2d.default): interpolation mode 2 (bicubic) is not supported "
                          "yet; bilinear (0) and nearest (1) are"));
  }
  {
    AtenGraph g;
    AddUserInput(g, "cols", {1, 8, 5});
    AddNode(g, "fold", "torch.ops.aten.col2im.default",
            {TensorArg("self", "cols"), IntsArg("output_size", {3, 3}), IntsArg("kernel_size", {2, 2}),
             IntsArg("dilation", {1}), IntsArg("padding", {0}), IntsArg("stride", {1})},
            {1, 2, 3, 3});
    g.outputs = {"fold"};
    absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
    ASSERT_FALSE(lowered.ok());
    EXPECT_THAT(lowered.status().message(),
                HasSubstr("node 'fold' (aten.col2im.default): input [1, 8, 5] does not hold C * 2 * 2 rows of 2 * 2 "
                          "blocks for output [3, 3]"));
  }
  {
    AtenGraph g;
    AddUserInput(g, "dy", {1, 4, 3, 3});
    AddUserInput(g, "x", {1, 3, 5, 5});
    AddUserInput(g, "w", {4, 2, 3, 3});
    AddNode(g, "cb", "torch.ops.aten.convolution_backward.default",
            {TensorArg("grad_output", "dy"), TensorArg("input", "x"), TensorArg("weight", "w"),
             IntsArg("stride", {1}), IntsArg("padding", {0}), IntsArg("dilation", {1}),
             BoolArg("transposed", false), IntsArg("output_padding", {0}), IntArg("groups", 1)},
            {1, 3, 5, 5}, {"cb_input", "cb_weight", ""});
    g.outputs = {"cb_input"};
    absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
    ASSERT_FALSE(lowered.ok());
    EXPECT_THAT(lowered.status().message(),
                HasSubstr("node 'cb' (aten.convolution_backward.default): input [1, 3, 5, 5], weight [4, 2, 3, 3] and "
                          "grad_output [1, 4, 3, 3] do not fit a convolution with 1 groups"));
  }
}

TEST(Lowering, ScatterOverloads) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddUserInput(g, "src", {2, 2});
  AddParameter(g, "p_i", "i", {2, 2}, {2, 0, 1, 1});
  AddNode(g, "add", "torch.ops.aten.scatter_add.default",
          {TensorArg("self", "x"), IntArg("dim", 1), TensorArg("index", "p_i"), TensorArg("src", "src")}, {2, 3});
  AddNode(g, "value", "torch.ops.aten.scatter.value",
          {TensorArg("self", "x"), IntArg("dim", 1), TensorArg("index", "p_i"), FloatArg("value", -1)}, {2, 3});
  AddNode(g, "amax", "torch.ops.aten.scatter_reduce.two",
          {TensorArg("self", "x"), IntArg("dim", 1), TensorArg("index", "p_i"), TensorArg("src", "src"),
           StringArg("reduce", "amax"), BoolArg("include_self", false)},
          {2, 3});
  g.outputs = {"add", "value", "amax"};
  auto out = LowerAndRun(g, {{"x", {0, 0, 0, 5, 5, 5}}, {"src", {1, 2, 3, 4}}});
  EXPECT_EQ(out["add"], (std::vector<float>{2, 0, 1, 5, 12, 5}));
  EXPECT_EQ(out["value"], (std::vector<float>{-1, 0, -1, 5, -1, 5}));
  EXPECT_EQ(out["amax"], (std::vector<float>{2, 0, 1, 5, 4, 5}));
}

// x[:, rows, cols] = v, and += with repeated positions.
TEST(Lowering, IndexPutScattersAtCombinedPositions) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 2, 3});
  AddUserInput(g, "rows", {2});
  AddUserInput(g, "cols", {2});
  AddUserInput(g, "v", {1});
  AddNode(g, "put", "torch.ops.aten.index_put.default",
          {TensorArg("self", "x"), OptionalTensorsArg("indices", {"", "rows", "cols"}), TensorArg("values", "v")},
          {2, 2, 3});
  AddNode(g, "acc", "torch.ops.aten.index_put.default",
          {TensorArg("self", "x"), OptionalTensorsArg("indices", {"", "rows", "cols"}), TensorArg("values", "v"),
           BoolArg("accumulate", true)},
          {2, 2, 3});
  g.outputs = {"put", "acc"};
  // Positions (1, -1) and (1, 2): the same element twice; an out-of-range one would be skipped.
  auto out = LowerAndRun(g, {{"x", std::vector<float>(12, 0)}, {"rows", {1, 1}}, {"cols", {-1, 2}}, {"v", {5}}});
  EXPECT_EQ(out["put"], (std::vector<float>{0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 5}));
  EXPECT_EQ(out["acc"], (std::vector<float>{0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 10}));
}

TEST(Lowering, SortAndTopk) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddNode(g, "sort", "torch.ops.aten.sort.default", {TensorArg("self", "x"), BoolArg("descending", true)}, {2, 3},
          {"values", "indices"});
  g.values["indices"] = Meta({2, 3}, TorchDType::kLong);
  AddNode(g, "topk", "torch.ops.aten.topk.default", {TensorArg("self", "x"), IntArg("k", 2), BoolArg("largest", false)},
          {2, 2}, {"top_values", "top_indices"});
  g.values["top_indices"] = Meta({2, 2}, TorchDType::kLong);
  g.outputs = {"values", "indices", "top_values", "top_indices"};
  auto out = LowerAndRun(g, {{"x", {3, 1, 2, 0, 5, 5}}});
  EXPECT_EQ(out["values"], (std::vector<float>{3, 2, 1, 5, 5, 0}));
  EXPECT_EQ(out["indices"], (std::vector<float>{0, 2, 1, 1, 2, 0}));  // stable among equal values
  EXPECT_EQ(out["top_values"], (std::vector<float>{1, 2, 0, 5}));
  EXPECT_EQ(out["top_indices"], (std::vector<float>{1, 2, 0, 1}));
  g.nodes[1].inputs[1] = IntArg("k", 4);
  EXPECT_EQ(LoweringError(g), "node 'topk' (aten.topk.default): k=4 is out of range for dim -1 of size 3");
}

TEST(Lowering, MaskedScatterTakesSourceElementsInOrder) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddUserInput(g, "source", {4});
  AddNode(g, "mask", "torch.ops.aten.gt.Scalar", {TensorArg("self", "x"), IntArg("other", 0)}, {2, 3});
  SetDType(g, "mask", TorchDType::kBool);
  AddNode(g, "ms", "torch.ops.aten.masked_scatter.default",
          {TensorArg("self", "x"), TensorArg("mask", "mask"), TensorArg("source", "source")}, {2, 3});
  g.outputs = {"ms"};
  EXPECT_EQ(LowerAndRun(g, {{"x", {1, -1, 1, -1, 1, -1}}, {"source", {10, 20, 30, 40}}})["ms"],
            (std::vector<float>{10, -1, 20, -1, 30, -1}));
}

TEST(Lowering, AdaptiveAvgPool3dAveragesEachAxis) {
  AtenGraph g;
  AddUserInput(g, "x", {1, 3, 2, 2});
  AddNode(g, "pool", "torch.ops.aten._adaptive_avg_pool3d.default",
          {TensorArg("self", "x"), IntsArg("output_size", {2, 1, 1})}, {1, 2, 1, 1});
  g.outputs = {"pool"};
  std::vector<float> x(12);
  for (int i = 0; i < 12; ++i) x[i] = static_cast<float>(i);
  // Depth 3 -> 2: windows [0, 2) and [1, 3), each over the whole 2x2 plane.
  const std::vector<float> got = LowerAndRun(g, {{"x", x}})["pool"];
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FLOAT_EQ(got[0], 3.5f);
  EXPECT_FLOAT_EQ(got[1], 7.5f);
}

TEST(Lowering, AvgPool3dIsSeparable) {
  AtenGraph g;
  AddUserInput(g, "x", {1, 1, 2, 2, 2});
  AddNode(g, "pool", "torch.ops.aten.avg_pool3d.default", {TensorArg("self", "x"), IntsArg("kernel_size", {2})},
          {1, 1, 1, 1, 1});
  AddNode(g, "sum", "torch.ops.aten.avg_pool3d.default",
          {TensorArg("self", "x"), IntsArg("kernel_size", {2}), IntArg("divisor_override", -1)}, {1, 1, 1, 1, 1});
  g.outputs = {"pool", "sum"};
  auto out = LowerAndRun(g, {{"x", {1, 2, 3, 4, 5, 6, 7, 8}}});
  EXPECT_EQ(out["pool"], (std::vector<float>{4.5f}));
  EXPECT_EQ(out["sum"], (std::vector<float>{-36}));
}

// The special functions: a Scalar overload takes a constant operand, polygamma's order becomes the
// device op's attribute, ldexp is x * 2^e.
TEST(Lowering, SpecialFunctions) {
  AtenGraph g;
  AddUserInput(g, "x", {3});
  AddUserInput(g, "n", {3});
  AddNode(g, "cheb", "torch.ops.aten.special_chebyshev_polynomial_t.x_scalar",
          {FloatArg("x", 0.5), TensorArg("n", "n")}, {3});
  AddNode(g, "trigamma", "torch.ops.aten.polygamma.default", {IntArg("n", 1), TensorArg("self", "x")}, {3});
  AddNode(g, "ldexp", "torch.ops.aten.ldexp.Tensor", {TensorArg("self", "x"), TensorArg("other", "n")}, {3});
  g.outputs = {"cheb", "trigamma", "ldexp"};
  std::vector<std::string> ops;
  auto out = LowerAndRun(g, {{"x", {1, 2, 0.5f}}, {"n", {0, 2, 3}}}, &ops);
  EXPECT_EQ(ops, (std::vector<std::string>{"chebyshev_polynomial_t", "polygamma", "exp2", "mul"}));
  EXPECT_EQ(out["cheb"], (std::vector<float>{1, -0.5f, -1}));  // T0, T2, T3 at 1/2
  EXPECT_FLOAT_EQ(out["trigamma"][0], static_cast<float>(M_PI * M_PI / 6));
  EXPECT_EQ(out["ldexp"], (std::vector<float>{1, 8, 4}));

  AtenGraph bad;
  AddUserInput(bad, "x", {3});
  AddNode(bad, "pg", "torch.ops.aten.polygamma.default", {IntArg("n", -1), TensorArg("self", "x")}, {3});
  bad.outputs = {"pg"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(bad);
  ASSERT_FALSE(lowered.ok());
  EXPECT_THAT(std::string(lowered.status().message()), ::testing::HasSubstr("polygamma needs an order n >= 0, got -1"));
}

// Every rule names device ops that exist, and no overload both has a rule and is listed unsupported.
TEST(Lowering, RuleStatusesAreConsistent) {
  for (const auto& [target, entry] : LoweringRules()) {
    SCOPED_TRACE(target);
    EXPECT_FALSE(entry.how.empty());
    EXPECT_EQ(UnsupportedAtenOps().count(target), 0u);
    if (entry.kind == RuleKind::kResolved) continue;
    size_t pos = 0;
    while (pos < entry.how.size()) {
      size_t end = pos;
      while (end < entry.how.size() && (std::islower(entry.how[end]) || entry.how[end] == '_' ||
                                        std::isdigit(entry.how[end])))
        ++end;
      const std::string op = entry.how.substr(pos, end - pos);
      EXPECT_NE(ops::FindOp(op), nullptr) << "'" << op << "' in '" << entry.how << "'";
      pos = entry.how.find(", ", end);
      if (pos == std::string::npos) break;
      pos += 2;
    }
  }
  for (const auto& [target, op] : UnsupportedAtenOps()) EXPECT_FALSE(op.reason.empty()) << target;
}


// ---- Copies, views, scatters, scans, order statistics and products (issue 6) ----

std::vector<float> Iota(int n) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = static_cast<float>(i);
  return v;
}

TEST(Lowering, CopyVariantsNarrowUnbindAndResize) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddNode(g, "vc", "torch.ops.aten.view_copy.default", {TensorArg("self", "x"), IntsArg("size", {3, -1})}, {3, 2});
  AddNode(g, "pc", "torch.ops.aten.permute_copy.default", {TensorArg("self", "x"), IntsArg("dims", {1, 0})}, {3, 2});
  AddNode(g, "nc", "torch.ops.aten.narrow_copy.default",
          {TensorArg("self", "x"), IntArg("dim", 1), IntArg("start", -2), IntArg("length", 2)}, {2, 2});
  AddNode(g, "ub", "torch.ops.aten.unbind_copy.int", {TensorArg("self", "x"), IntArg("dim", 1)}, {2},
          {"ub0", "", "ub2"});
  g.values["ub2"] = Meta({2});
  AddNode(g, "rs", "torch.ops.aten.resize.default", {TensorArg("self", "x"), IntsArg("size", {2, 2})}, {2, 2});
  g.outputs = {"vc", "pc", "nc", "ub0", "ub2", "rs"};
  auto out = LowerAndRun(g, {{"x", Iota(6)}});
  EXPECT_EQ(out["vc"], (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(out["pc"], (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(out["nc"], (std::vector<float>{1, 2, 4, 5}));
  EXPECT_EQ(out["ub0"], (std::vector<float>{0, 3}));
  EXPECT_EQ(out["ub2"], (std::vector<float>{2, 5}));
  EXPECT_EQ(out["rs"], (std::vector<float>{0, 1, 2, 3}));  // the first elements

  AtenGraph grow;
  AddUserInput(grow, "x", {2, 3});
  AddNode(grow, "rs", "torch.ops.aten.resize.default", {TensorArg("self", "x"), IntsArg("size", {7})}, {7});
  grow.outputs = {"rs"};
  EXPECT_EQ(LoweringError(grow), "node 'rs' (aten.resize.default): resizing [2, 3] to [7] adds 1 uninitialized "
                                 "elements; not supported");
  AtenGraph narrow;
  AddUserInput(narrow, "x", {2, 3});
  AddNode(narrow, "nc", "torch.ops.aten.narrow_copy.default",
          {TensorArg("self", "x"), IntArg("dim", 1), IntArg("start", 2), IntArg("length", 2)}, {2, 2});
  narrow.outputs = {"nc"};
  EXPECT_EQ(LoweringError(narrow), "node 'nc' (aten.narrow_copy.default): start 2 and length 2 are out of range for "
                                   "dim 1 of [2, 3]");
}

// as_strided reads the storage behind its input as torch.export recorded it: an input that starts at
// storage offset 2 holds storage elements 2.., and a transposed input its elements in storage order.
TEST(Lowering, AsStridedFollowsTheInputsRecordedLayout) {
  AtenGraph g;
  AddUserInput(g, "x", {6});
  g.values["x"].strides = {1};
  g.values["x"].storage_offset = 2;
  AddUserInput(g, "t", {3, 2});
  g.values["t"].strides = {1, 3};  // a [2, 3] tensor transposed: t[i][j] is storage element i + 3j
  AddNode(g, "a", "torch.ops.aten.as_strided.default",
          {TensorArg("self", "x"), IntsArg("size", {2, 2}), IntsArg("stride", {3, 1}), IntArg("storage_offset", 3)},
          {2, 2});
  AddNode(g, "b", "torch.ops.aten.as_strided_copy.default",
          {TensorArg("self", "t"), IntsArg("size", {6}), IntsArg("stride", {1})}, {6});
  g.outputs = {"a", "b"};
  // x holds storage [2, 8); t's row-major elements are storage 0, 3, 1, 4, 2, 5.
  auto out = LowerAndRun(g, {{"x", {20, 30, 40, 50, 60, 70}}, {"t", {0, 3, 1, 4, 2, 5}}});
  EXPECT_EQ(out["a"], (std::vector<float>{30, 40, 60, 70}));
  EXPECT_EQ(out["b"], (std::vector<float>{0, 1, 2, 3, 4, 5}));

  AtenGraph before;
  AddUserInput(before, "x", {6});
  before.values["x"].strides = {1};
  before.values["x"].storage_offset = 5;
  AddNode(before, "a", "torch.ops.aten.as_strided.default",
          {TensorArg("self", "x"), IntsArg("size", {2}), IntsArg("stride", {1}), IntArg("storage_offset", 4)}, {2});
  before.outputs = {"a"};
  EXPECT_EQ(LoweringError(before), "node 'a' (aten.as_strided.default): element [0] is at storage index 4, outside "
                                   "the 6 elements of 'x' (strides [1], storage offset 5)");
}

TEST(Lowering, StridedAndDiagonalScattersAndUnfold) {
  AtenGraph g;
  AddUserInput(g, "x", {3, 3});
  AddUserInput(g, "d", {2});
  AddUserInput(g, "v", {5});
  AddNode(g, "ds", "torch.ops.aten.diagonal_scatter.default",
          {TensorArg("self", "x"), TensorArg("src", "d"), IntArg("offset", -1)}, {3, 3});
  AddNode(g, "ss", "torch.ops.aten.as_strided_scatter.default",
          {TensorArg("self", "x"), TensorArg("src", "d"), IntsArg("size", {2}), IntsArg("stride", {4}),
           IntArg("storage_offset", 1)},
          {3, 3});
  AddNode(g, "uf", "torch.ops.aten.unfold.default",
          {TensorArg("self", "v"), IntArg("dimension", 0), IntArg("size", 2), IntArg("step", 2)}, {2, 2});
  g.outputs = {"ds", "ss", "uf"};
  auto out = LowerAndRun(g, {{"x", Iota(9)}, {"d", {-1, -2}}, {"v", {10, 11, 12, 13, 14}}});
  EXPECT_EQ(out["ds"], (std::vector<float>{0, 1, 2, -1, 4, 5, 6, -2, 8}));
  EXPECT_EQ(out["ss"], (std::vector<float>{0, -1, 2, 3, 4, -2, 6, 7, 8}));
  EXPECT_EQ(out["uf"], (std::vector<float>{10, 11, 12, 13}));

  AtenGraph bad;
  AddUserInput(bad, "x", {3, 3});
  AddUserInput(bad, "d", {3});
  AddNode(bad, "ds", "torch.ops.aten.diagonal_scatter.default",
          {TensorArg("self", "x"), TensorArg("src", "d"), IntArg("offset", 1)}, {3, 3});
  bad.outputs = {"ds"};
  EXPECT_EQ(LoweringError(bad), "node 'ds' (aten.diagonal_scatter.default): src has shape [3], the scattered "
                                "positions [2]");
}

TEST(Lowering, IndexSelectOfAScalarIndexReducePutAndNonzeroStatic) {
  AtenGraph g;
  AddUserInput(g, "s", {});
  AddUserInput(g, "i", {1}, TorchDType::kLong);
  AddUserInput(g, "x", {3, 2});
  AddUserInput(g, "idx", {3}, TorchDType::kLong);
  AddUserInput(g, "src", {3, 2});
  AddUserInput(g, "m", {2, 3});
  AddNode(g, "sel", "torch.ops.aten.index_select.default",
          {TensorArg("self", "s"), IntArg("dim", 0), TensorArg("index", "i")}, {});
  AddNode(g, "ir", "torch.ops.aten.index_reduce.default",
          {TensorArg("self", "x"), IntArg("dim", 0), TensorArg("index", "idx"), TensorArg("source", "src"),
           StringArg("reduce", "amax"), BoolArg("include_self", false)},
          {3, 2});
  AddNode(g, "put", "torch.ops.aten.put.default",
          {TensorArg("self", "x"), TensorArg("index", "idx"), TensorArg("source", "idx"), BoolArg("accumulate", true)},
          {3, 2});
  AddNode(g, "nz", "torch.ops.aten.nonzero_static.default",
          {TensorArg("self", "m"), IntArg("size", 3), IntArg("fill_value", -7)}, {3, 2});
  g.outputs = {"sel", "ir", "put", "nz"};
  auto out = LowerAndRun(g, {{"s", {4.5f}}, {"i", {0}}, {"x", Iota(6)}, {"idx", {2, 0, -1}},
                             {"src", {1, 9, 3, 4, 5, 6}}, {"m", {0, 1, 0, 2, 3, 4}}});
  EXPECT_EQ(out["sel"], (std::vector<float>{4.5f}));
  // Rows of src go to rows 2, 0, 2 of x (-1 wraps); row 1 keeps x; amax without self.
  EXPECT_EQ(out["ir"], (std::vector<float>{3, 4, 2, 3, 5, 9}));
  // Flat positions 2, 0, 5 (-1 wraps) get 2, 0 and -1 added.
  EXPECT_EQ(out["put"], (std::vector<float>{0, 1, 4, 3, 4, 4}));
  // The first three nonzeros of m: (0, 1), (1, 0), (1, 1).
  EXPECT_EQ(out["nz"], (std::vector<float>{0, 1, 1, 0, 1, 1}));
  out = LowerAndRun(g, {{"s", {4.5f}}, {"i", {0}}, {"x", Iota(6)}, {"idx", {2, 0, -1}},
                        {"src", {1, 9, 3, 4, 5, 6}}, {"m", {0, 0, 0, 0, 3, 0}}});
  EXPECT_EQ(out["nz"], (std::vector<float>{1, 1, -7, -7, -7, -7}));  // fewer nonzeros than rows

  AtenGraph bad;
  AddUserInput(bad, "x", {3, 2});
  AddUserInput(bad, "idx", {2}, TorchDType::kLong);
  AddUserInput(bad, "src", {3, 2});
  AddNode(bad, "ir", "torch.ops.aten.index_reduce.default",
          {TensorArg("self", "x"), IntArg("dim", 0), TensorArg("index", "idx"), TensorArg("source", "src"),
           StringArg("reduce", "sum")},
          {3, 2});
  bad.outputs = {"ir"};
  EXPECT_EQ(LoweringError(bad), "node 'ir' (aten.index_reduce.default): reduce must be 'prod', 'mean', 'amax' or "
                                "'amin', got 'sum'");
}

TEST(Lowering, ScansVarMeanAndMedians) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 4});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  AddNode(g, "cp", "torch.ops.aten.cumprod.default", {TensorArg("self", "x"), IntArg("dim", 1)}, {2, 4});
  AddNode(g, "lse", "torch.ops.aten.logcumsumexp.default", {TensorArg("self", "x"), IntArg("dim", 0)}, {2, 4});
  AddNode(g, "vm", "torch.ops.aten.var_mean.correction", {TensorArg("self", "x"), IntsArg("dim", {1})}, {2},
          {"var", "mean"});
  g.values["mean"] = Meta({2});
  AddNode(g, "md", "torch.ops.aten.median.dim", {TensorArg("self", "x"), IntArg("dim", 1)}, {2},
          {"md_values", "md_indices"});
  g.values["md_indices"] = Meta({2}, TorchDType::kLong);
  AddNode(g, "nmd", "torch.ops.aten.nanmedian.dim",
          {TensorArg("self", "x"), IntArg("dim", 1), BoolArg("keepdim", true)}, {2, 1}, {"nmd_values", "nmd_indices"});
  g.values["nmd_indices"] = Meta({2, 1}, TorchDType::kLong);
  AddNode(g, "m", "torch.ops.aten.median.default", {TensorArg("self", "x")}, {});
  g.outputs = {"cp", "lse", "var", "mean", "md_values", "md_indices", "nmd_values", "nmd_indices", "m"};
  auto out = LowerAndRun(g, {{"x", {3, 1, 2, 2, 5, nan, 4, 1}}});
  EXPECT_EQ(out["cp"][3], 12.0f);
  EXPECT_TRUE(std::isnan(out["cp"][7]));
  EXPECT_NEAR(out["lse"][4], std::log(std::exp(3.0) + std::exp(5.0)), 1e-5);
  EXPECT_FLOAT_EQ(out["var"][0], 2.0f / 3.0f);  // [3, 1, 2, 2]: mean 2, squares 1 + 1 + 0 + 0 over 3
  EXPECT_FLOAT_EQ(out["mean"][0], 2.0f);
  // Row 0 sorted is 1, 2, 2, 3: the lower median 2 is the first 2 (index 2). Row 1 has a NaN: median
  // is that NaN (index 1); nanmedian the lower median of 5, 4, 1: 4 (index 2).
  EXPECT_EQ(out["md_values"][0], 2.0f);
  EXPECT_EQ(out["md_indices"], (std::vector<float>{2, 1}));
  EXPECT_TRUE(std::isnan(out["md_values"][1]));
  EXPECT_EQ(out["nmd_values"], (std::vector<float>{2, 4}));
  EXPECT_EQ(out["nmd_indices"], (std::vector<float>{2, 2}));
  EXPECT_TRUE(std::isnan(out["m"][0]));  // the NaN propagates
}

TEST(Lowering, SearchSortedBucketizeAndHistc) {
  AtenGraph g;
  AddUserInput(g, "seq", {2, 3});
  AddUserInput(g, "v", {2, 2});
  AddUserInput(g, "b", {3});
  AddUserInput(g, "x", {5});
  NamedArgument side{"side", {}};
  side.arg.kind = Argument::Kind::kString;
  side.arg.s = "right";
  AddNode(g, "ss", "torch.ops.aten.searchsorted.Tensor",
          {TensorArg("sorted_sequence", "seq"), TensorArg("self", "v"), side}, {2, 2});
  AddNode(g, "bk", "torch.ops.aten.bucketize.Tensor", {TensorArg("self", "x"), TensorArg("boundaries", "b")}, {5});
  AddNode(g, "hc", "torch.ops.aten.histc.default", {TensorArg("self", "x"), IntArg("bins", 4)}, {4});
  AddNode(g, "hr", "torch.ops.aten.histc.default",
          {TensorArg("self", "x"), IntArg("bins", 2), FloatArg("min", 0), FloatArg("max", 2)}, {2});
  g.outputs = {"ss", "bk", "hc", "hr"};
  auto out = LowerAndRun(g, {{"seq", {1, 3, 5, 2, 4, 6}}, {"v", {3, 0, 6, 7}}, {"b", {1, 2, 3}},
                             {"x", {0, 1, 1.5f, 3, 4}}});
  EXPECT_EQ(out["ss"], (std::vector<float>{2, 0, 3, 3}));
  EXPECT_EQ(out["bk"], (std::vector<float>{0, 0, 1, 2, 3}));
  EXPECT_EQ(out["hc"], (std::vector<float>{1, 2, 0, 2}));  // range [0, 4] from the data; 4 in the last bin
  EXPECT_EQ(out["hr"], (std::vector<float>{1, 2}));        // 3 and 4 lie outside [0, 2]
}

TEST(Lowering, AddmvAddbmmBilinearAndDist) {
  AtenGraph g;
  AddUserInput(g, "self", {2});
  AddUserInput(g, "mat", {2, 3});
  AddUserInput(g, "vec", {3});
  AddUserInput(g, "b1", {2, 2, 1});
  AddUserInput(g, "b2", {2, 1, 2});
  AddUserInput(g, "x1", {1, 2});
  AddUserInput(g, "w", {1, 2, 3});
  AddUserInput(g, "x2", {1, 3});
  AddNode(g, "mv", "torch.ops.aten.addmv.default",
          {TensorArg("self", "self"), TensorArg("mat", "mat"), TensorArg("vec", "vec"), FloatArg("beta", 0.5),
           FloatArg("alpha", 2)},
          {2});
  AddNode(g, "bmm", "torch.ops.aten.addbmm.default",
          {TensorArg("self", "self"), TensorArg("batch1", "b1"), TensorArg("batch2", "b2")}, {2, 2});
  AddNode(g, "tri", "torch.ops.aten._trilinear.default",
          {TensorArg("i1", "x1"), TensorArg("i2", "w"), TensorArg("i3", "x2"), IntsArg("expand1", {1, 3}),
           IntsArg("expand2", {0}), IntsArg("expand3", {1, 2}), IntsArg("sumdim", {2, 3})},
          {1, 1});
  AddNode(g, "d", "torch.ops.aten.dist.default", {TensorArg("self", "mat"), TensorArg("other", "vec")}, {});
  AddNode(g, "d1", "torch.ops.aten.dist.default",
          {TensorArg("self", "mat"), TensorArg("other", "vec"), FloatArg("p", 1)}, {});
  g.outputs = {"mv", "bmm", "tri", "d", "d1"};
  auto out = LowerAndRun(g, {{"self", {10, 20}}, {"mat", {1, 2, 3, 4, 5, 6}}, {"vec", {1, 0, -1}},
                             {"b1", {1, 2, 3, 4}}, {"b2", {1, 1, 2, 2}}, {"x1", {1, 2}},
                             {"w", {1, 0, 0, 0, 1, 1}}, {"x2", {3, 4, 5}}});
  EXPECT_EQ(out["mv"], (std::vector<float>{1, 6}));               // 0.5 * [10, 20] + 2 * [-2, -2]
  EXPECT_EQ(out["bmm"], (std::vector<float>{17, 27, 20, 30}));    // [1, 2]^T [1, 1] + [3, 4]^T [2, 2] + self
  EXPECT_EQ(out["tri"], (std::vector<float>{3 + 2 * (4 + 5)}));   // x1 W x2
  EXPECT_FLOAT_EQ(out["d"][0], std::sqrt(4.0f + 16 + 9 + 25 + 49));  // mat - vec = [0 2 4; 3 5 7]
  EXPECT_EQ(out["d1"], (std::vector<float>{21}));
}

TEST(Lowering, SegmentReduceOverLengthsAndOffsets) {
  AtenGraph g;
  AddUserInput(g, "data", {4, 2});
  AddUserInput(g, "lengths", {3}, TorchDType::kLong);
  AddUserInput(g, "offsets", {4}, TorchDType::kLong);
  AddNode(g, "mx", "torch.ops.aten.segment_reduce.default",
          {TensorArg("data", "data"), StringArg("reduce", "max"), TensorArg("lengths", "lengths")}, {3, 2});
  AddNode(g, "mean", "torch.ops.aten.segment_reduce.default",
          {TensorArg("data", "data"), StringArg("reduce", "mean"), TensorArg("offsets", "offsets"),
           FloatArg("initial", 2)},
          {3, 2});
  g.outputs = {"mx", "mean"};
  // Segments of rows [0, 1), [1, 1) (empty) and [1, 4).
  auto out = LowerAndRun(g, {{"data", Iota(8)}, {"lengths", {1, 0, 3}}, {"offsets", {0, 1, 1, 4}}});
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(out["mx"], (std::vector<float>{0, 1, -inf, -inf, 6, 7}));
  // (sum + initial) / count; the empty segment is initial.
  EXPECT_EQ(out["mean"], (std::vector<float>{2, 3, 2, 2, 14.0f / 3, 17.0f / 3}));

  AtenGraph bad;
  AddUserInput(bad, "data", {4, 2});
  AddUserInput(bad, "lengths", {3}, TorchDType::kLong);
  AddNode(bad, "s", "torch.ops.aten.segment_reduce.default",
          {TensorArg("data", "data"), StringArg("reduce", "any"), TensorArg("lengths", "lengths")}, {3, 2});
  bad.outputs = {"s"};
  EXPECT_EQ(LoweringError(bad), "node 's' (aten.segment_reduce.default): reduce must be 'sum', 'prod', 'mean', 'max' "
                                "or 'min', got 'any'");
}

// bilinear's _trilinear is two matmuls; no device value holds every N x out x in1 x in2 term.
TEST(Lowering, BilinearIsTwoMatmuls) {
  AtenGraph g;
  AddUserInput(g, "x1", {4, 5});
  AddUserInput(g, "w", {3, 5, 6});
  AddUserInput(g, "x2", {4, 6});
  AddNode(g, "tri", "torch.ops.aten._trilinear.default",
          {TensorArg("i1", "x1"), TensorArg("i2", "w"), TensorArg("i3", "x2"), IntsArg("expand1", {1, 3}),
           IntsArg("expand2", {0}), IntsArg("expand3", {1, 2}), IntsArg("sumdim", {2, 3})},
          {4, 3});
  g.outputs = {"tri"};
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  int matmuls = 0;
  for (const DeviceNode& n : lowered->nodes) {
    matmuls += n.op->name == "matmul";
    // At most the weight (rearranged for the first matmul); all terms would be 4 * 3 * 5 * 6.
    EXPECT_LE(ops::NumElements(lowered->values[n.output].shape), 3 * 5 * 6) << n.op->name;
  }
  EXPECT_EQ(matmuls, 2);
  std::vector<float> x1(20), w(90), x2(24);
  for (size_t i = 0; i < x1.size(); ++i) x1[i] = static_cast<float>(i % 7) - 3;
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 5) - 2;
  for (size_t i = 0; i < x2.size(); ++i) x2[i] = static_cast<float>(i % 3) - 1;
  const std::vector<float> got = Evaluate(*lowered, {{"x1", x1}, {"w", w}, {"x2", x2}})["tri"];
  ASSERT_EQ(got.size(), 12u);
  for (int n = 0; n < 4; ++n)
    for (int o = 0; o < 3; ++o) {
      float want = 0;
      for (int i = 0; i < 5; ++i)
        for (int j = 0; j < 6; ++j) want += x1[n * 5 + i] * w[(o * 5 + i) * 6 + j] * x2[n * 6 + j];
      EXPECT_EQ(got[n * 3 + o], want) << n << ", " << o;
    }
}

// kthvalue is a gather into an argsort; mode and cummax/cummin compare each element with each other
// along the dim, and take the last index holding the result, as ATen's CPU kernels do.
TEST(Lowering, KthvalueModeCummaxCummin) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 5});
  AddUserInput(g, "y", {2, 5});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  AddNode(g, "kth", "torch.ops.aten.kthvalue.default", {TensorArg("self", "x"), IntArg("k", 2), IntArg("dim", 1)},
          {2}, {"kth_values", "kth_indices"});
  g.values["kth_indices"] = Meta({2}, TorchDType::kLong);
  AddNode(g, "mode", "torch.ops.aten.mode.default",
          {TensorArg("self", "y"), IntArg("dim", -1), BoolArg("keepdim", true)}, {2, 1},
          {"mode_values", "mode_indices"});
  g.values["mode_indices"] = Meta({2, 1}, TorchDType::kLong);
  AddNode(g, "cmax", "torch.ops.aten.cummax.default", {TensorArg("self", "x"), IntArg("dim", 1)}, {2, 5},
          {"cmax_values", "cmax_indices"});
  g.values["cmax_indices"] = Meta({2, 5}, TorchDType::kLong);
  AddNode(g, "cmin", "torch.ops.aten.cummin.default", {TensorArg("self", "x"), IntArg("dim", 0)}, {2, 5},
          {"cmin_values", "cmin_indices"});
  g.values["cmin_indices"] = Meta({2, 5}, TorchDType::kLong);
  g.outputs = {"kth_values", "kth_indices", "mode_values", "mode_indices", "cmax_values", "cmax_indices",
               "cmin_values", "cmin_indices"};
  auto out = LowerAndRun(g, {{"x", {3, 1, 3, 1, 2, /**/ 4, nan, 0, 4, 5}}, {"y", {3, 1, 3, 1, 2, /**/ 4, 2, 0, 4, 5}}});
  // Row 0 sorted is 1 (1), 1 (3), 2, 3, 3: the 2nd smallest is the second 1. Row 1: 0 (2), 4 (0 or 3:
  // ATen's quickselect picks either of tied elements), 4, 5, NaN.
  EXPECT_EQ(out["kth_values"], (std::vector<float>{1, 4}));
  EXPECT_EQ(out["kth_indices"][0], 3.0f);
  EXPECT_TRUE(out["kth_indices"][1] == 0.0f || out["kth_indices"][1] == 3.0f) << out["kth_indices"][1];
  // mode (of y: ATen's mode of NaN is unordered): row 0 has 3 and 1 twice, the smaller 1 wins, last at
  // 3. Row 1: 4 twice, last at 3.
  EXPECT_EQ(out["mode_values"], (std::vector<float>{1, 4}));
  EXPECT_EQ(out["mode_indices"], (std::vector<float>{3, 3}));
  // Row 0: 3, 3, 3 (a later equal takes the index), 3, 3. Row 1: the NaN propagates from index 1.
  EXPECT_EQ(std::vector<float>(out["cmax_values"].begin(), out["cmax_values"].begin() + 5),
            (std::vector<float>{3, 3, 3, 3, 3}));
  EXPECT_EQ(out["cmax_indices"], (std::vector<float>{0, 0, 2, 2, 2, 0, 1, 1, 1, 1}));
  EXPECT_EQ(out["cmax_values"][5], 4.0f);
  for (int i = 6; i < 10; ++i) EXPECT_TRUE(std::isnan(out["cmax_values"][i])) << i;
  // Down dim 0: row 1 is min(row 0, row 1), NaN propagating; ties take row 1.
  EXPECT_EQ(std::vector<float>(out["cmin_values"].begin(), out["cmin_values"].begin() + 5),
            (std::vector<float>{3, 1, 3, 1, 2}));
  EXPECT_EQ(out["cmin_values"][5], 3.0f);
  EXPECT_TRUE(std::isnan(out["cmin_values"][6]));
  EXPECT_EQ(std::vector<float>(out["cmin_values"].begin() + 7, out["cmin_values"].end()),
            (std::vector<float>{0, 1, 2}));
  EXPECT_EQ(out["cmin_indices"], (std::vector<float>{0, 0, 0, 0, 0, 0, 1, 1, 0, 0}));

  AtenGraph bad;
  AddUserInput(bad, "x", {2, 5});
  AddNode(bad, "kth", "torch.ops.aten.kthvalue.default", {TensorArg("self", "x"), IntArg("k", 6)}, {2},
          {"v", "i"});
  bad.outputs = {"v"};
  EXPECT_EQ(LoweringError(bad), "node 'kth' (aten.kthvalue.default): k = 6 is outside [1, 5], the size of the dim");
}

// frexp matches std::frexp on powers of two and their neighbours, the largest float and subnormals
// (where log2 rounds and 2^-exponent alone would overflow), and keeps 0, inf and NaN with exponent 0.
TEST(Lowering, FrexpIsExact) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x = {1, 0.5f, -3, 0.75f, std::nextafter(1.0f, 0.0f), std::nextafter(8.0f, 16.0f),
                          std::numeric_limits<float>::max(), 1e-40f, -std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::min(), 16777215.0f, 0.0f, -0.0f, inf, -inf, nan};
  AtenGraph g;
  AddUserInput(g, "x", {static_cast<int64_t>(x.size())});
  AddNode(g, "fr", "torch.ops.aten.frexp.Tensor", {TensorArg("self", "x")}, {static_cast<int64_t>(x.size())},
          {"mantissa", "exponent"});
  g.values["exponent"] = Meta({static_cast<int64_t>(x.size())}, TorchDType::kInt);
  g.outputs = {"mantissa", "exponent"};
  auto out = LowerAndRun(g, {{"x", x}});
  for (size_t i = 0; i < x.size(); ++i) {
    SCOPED_TRACE(x[i]);
    if (std::isnan(x[i])) {
      EXPECT_TRUE(std::isnan(out["mantissa"][i]));
    } else if (std::isinf(x[i]) || x[i] == 0) {
      EXPECT_EQ(out["mantissa"][i], x[i]);
      EXPECT_EQ(std::signbit(out["mantissa"][i]), std::signbit(x[i]));
    } else {
      int e = 0;
      EXPECT_EQ(out["mantissa"][i], std::frexp(x[i], &e));
      EXPECT_EQ(out["exponent"][i], static_cast<float>(e));
      continue;
    }
    EXPECT_EQ(out["exponent"][i], 0.0f);
  }
}

// histogram: ATen's linspace edges over the data's range, the last bin holding its right edge, the
// weights summed per bin, and density dividing by the total and the bin widths.
// histogramdd's bins per dim: (0.5, 0.2) lies on dim 0's middle edge, so in its upper bin; the
// edges come back per dim.
TEST(Lowering, HistogramDd) {
  AtenGraph g;
  AddUserInput(g, "x", {3, 2});
  AddNode(g, "edges", "torch.ops.aten._histogramdd_bin_edges.default",
          {TensorArg("self", "x"), IntsArg("bins", {2, 2})}, {3}, {"e0", "e1"});
  g.values["e1"] = Meta({3});
  AddNode(g, "hist", "torch.ops.aten._histogramdd_from_bin_cts.default",
          {TensorArg("self", "x"), IntsArg("bins", {2, 2})}, {2, 2});
  g.outputs = {"e0", "e1", "hist"};
  auto out = LowerAndRun(g, {{"x", {0, 0, 1, 1, 0.5f, 0.2f}}});
  EXPECT_EQ(out["e0"], (std::vector<float>{0, 0.5f, 1}));
  EXPECT_EQ(out["e1"], (std::vector<float>{0, 0.5f, 1}));
  EXPECT_EQ(out["hist"], (std::vector<float>{1, 0, 1, 1}));
  AtenGraph bad;
  AddUserInput(bad, "x", {3, 2});
  AddNode(bad, "hist", "torch.ops.aten._histogramdd_from_bin_cts.default",
          {TensorArg("self", "x"), IntsArg("bins", {2})}, {2});
  bad.outputs = {"hist"};
  EXPECT_EQ(LoweringError(bad), "node 'hist' (aten._histogramdd_from_bin_cts.default): bins [2] must give one count "
                                "for each of the 2 dims of the points [3, 2]");
}

TEST(Lowering, HistogramBinCount) {
  AtenGraph g;
  AddUserInput(g, "x", {2, 3});
  AddUserInput(g, "w", {2, 3});
  AddNode(g, "h", "torch.ops.aten.histogram.bin_ct", {TensorArg("self", "x"), IntArg("bins", 3)}, {3},
          {"hist", "edges"});
  g.values["edges"] = Meta({4});
  NamedArgument range{"range", {}};
  range.arg.kind = Argument::Kind::kFloats;
  range.arg.floats = {0, 2};
  AddNode(g, "hd", "torch.ops.aten.histogram.bin_ct",
          {TensorArg("self", "x"), IntArg("bins", 2), range, TensorArg("weight", "w"), BoolArg("density", true)}, {2},
          {"dens", "dens_edges"});
  g.values["dens_edges"] = Meta({3});
  g.outputs = {"hist", "edges", "dens", "dens_edges"};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto out = LowerAndRun(g, {{"x", {0, 1, 1.5f, 3, nan, 2}}, {"w", {1, 2, 3, 4, 5, 6}}});
  // reduce_min/max see the NaN: torch.histogram's aminmax of this input is NaN too, so only the
  // ranged call is compared here.
  EXPECT_EQ(out["dens_edges"], (std::vector<float>{0, 1, 2}));
  // Bin [0, 1): 0 (weight 1); bin [1, 2]: 1, 1.5, 2 (2 + 3 + 6); 3 and NaN in none. Total 12, width 1.
  EXPECT_FLOAT_EQ(out["dens"][0], 1.0f / 12);
  EXPECT_FLOAT_EQ(out["dens"][1], 11.0f / 12);

  AtenGraph data_range;
  AddUserInput(data_range, "x", {5});
  AddNode(data_range, "h", "torch.ops.aten.histogram.bin_ct", {TensorArg("self", "x"), IntArg("bins", 3)}, {3},
          {"hist", "edges"});
  data_range.values["edges"] = Meta({4});
  data_range.outputs = {"hist", "edges"};
  out = LowerAndRun(data_range, {{"x", {0, 1, 1.5f, 3, 2}}});
  EXPECT_EQ(out["edges"], (std::vector<float>{0, 1, 2, 3}));
  EXPECT_EQ(out["hist"], (std::vector<float>{1, 2, 2}));  // 3 in the last bin with its right edge
  out = LowerAndRun(data_range, {{"x", {4, 4, 4, 4, 4}}});  // an empty range widens by 0.5 each way
  EXPECT_EQ(out["edges"], (std::vector<float>{3.5f, 3.5f + 1.0f / 3, 4.5f - 1.0f / 3, 4.5f}));
  EXPECT_EQ(out["hist"], (std::vector<float>{0, 5, 0}));

  // Given edges (bins_tensor): uneven bins; 3 is the last edge, in the last bin; 4 and -1 in none.
  AtenGraph given;
  AddUserInput(given, "x", {6});
  AddUserInput(given, "e", {4});
  AddNode(given, "h", "torch.ops.aten.histogram.bins_tensor",
          {TensorArg("self", "x"), TensorArg("bins", "e"), BoolArg("density", true)}, {3}, {"hist", "edges"});
  given.values["edges"] = Meta({4});
  given.outputs = {"hist", "edges"};
  out = LowerAndRun(given, {{"x", {0, 0.5f, 1, 3, 4, -1}}, {"e", {0, 1, 2.5f, 3}}});
  // Counts 2, 1, 1 of 4; widths 1, 1.5, 0.5.
  EXPECT_EQ(out["hist"], (std::vector<float>{0.5f, 0.25f / 1.5f, 0.5f}));
  EXPECT_EQ(out["edges"], (std::vector<float>{0, 1, 2.5f, 3}));
}

// torch.linalg's solve takes vectors and left=False; slogdet and info are outputs of their own;
// the LU byproducts autograd would read are refused by name.
TEST(Lowering, LinalgSolveAndSlogdet) {
  AtenGraph g;
  AddUserInput(g, "a", {2, 2});
  AddUserInput(g, "b", {2});
  AddNode(g, "solve", "torch.ops.aten._linalg_solve_ex.default", {TensorArg("A", "a"), TensorArg("B", "b")}, {2},
          {"x", "lu", "pivots", "info"});
  g.values["info"] = Meta({}, TorchDType::kInt);
  AddNode(g, "solve_right", "torch.ops.aten._linalg_solve_ex.default",
          {TensorArg("A", "a"), TensorArg("B", "b"), BoolArg("left", false)}, {2}, {"y", "lu2", "pivots2", "info2"});
  AddNode(g, "slogdet", "torch.ops.aten._linalg_slogdet.default", {TensorArg("A", "a")}, {},
          {"sign", "logabsdet", "lu3", "pivots3"});
  g.values["logabsdet"] = Meta({});
  g.outputs = {"x", "info", "y", "sign", "logabsdet"};
  auto out = LowerAndRun(g, {{"a", {2, 1, 0, 4}}, {"b", {4, 8}}});
  EXPECT_EQ(out["x"], (std::vector<float>{1, 2}));     // [[2, 1], [0, 4]] x = [4, 8]
  EXPECT_EQ(out["y"], (std::vector<float>{2, 1.5f}));  // y [[2, 1], [0, 4]] = [4, 8]
  EXPECT_EQ(out["info"], (std::vector<float>{0}));
  EXPECT_EQ(out["sign"], (std::vector<float>{1}));
  EXPECT_FLOAT_EQ(out["logabsdet"][0], std::log(8.0f));

  g.outputs = {"x", "lu"};
  EXPECT_EQ(LoweringError(g), "node 'solve' (aten._linalg_solve_ex.default): output 1 (LU) is not computed on the "
                              "device: LAPACK's byproduct, which only autograd reads");
  AtenGraph svd;
  AddUserInput(svd, "a", {3, 2});
  AddNode(svd, "svd", "torch.ops.aten._linalg_svd.default", {TensorArg("A", "a")}, {3, 2}, {"u", "s", "vh"});
  svd.values["s"] = Meta({2});
  svd.outputs = {"s"};
  EXPECT_EQ(LowerAndRun(svd, {{"a", {3, 0, 0, 4, 0, 0}}})["s"], (std::vector<float>{4, 3}));
  svd.outputs = {"s", "vh"};
  EXPECT_EQ(LoweringError(svd), "node 'svd' (aten._linalg_svd.default): output 2 (Vh) is not computed on the device: "
                                "each vector is defined only up to sign and the device does not reproduce LAPACK's "
                                "choice; the values alone (torch.linalg.svdvals, eigvalsh) are supported");
  AtenGraph bad;
  AddUserInput(bad, "a", {2, 2});
  AddUserInput(bad, "b", {3});
  AddNode(bad, "solve", "torch.ops.aten._linalg_solve_ex.default", {TensorArg("A", "a"), TensorArg("B", "b")}, {2},
          {"x", "lu", "pivots", "info"});
  bad.outputs = {"x"};
  EXPECT_EQ(LoweringError(bad), "node 'solve' (aten._linalg_solve_ex.default): B [3] does not match A [2, 2] (A X = B)");
}

// left=False solves X A = B through the transposes, where the lower triangle becomes the upper;
// triangular_solve's transpose=True solves A^T X = b and returns A as its second output.
TEST(Lowering, TriangularSolves) {
  AtenGraph g;
  AddUserInput(g, "a", {2, 2});  // upper [[2, 1], [0, 4]]; the 9 below the diagonal is not read
  AddUserInput(g, "b", {2, 1});
  AddUserInput(g, "row", {1, 2});
  AddNode(g, "left", "torch.ops.aten.linalg_solve_triangular.default",
          {TensorArg("self", "a"), TensorArg("B", "b"), BoolArg("upper", true)}, {2, 1});
  AddNode(g, "right", "torch.ops.aten.linalg_solve_triangular.default",
          {TensorArg("self", "a"), TensorArg("B", "row"), BoolArg("upper", true), BoolArg("left", false)}, {1, 2});
  AddNode(g, "legacy", "torch.ops.aten.triangular_solve.default",
          {TensorArg("self", "b"), TensorArg("A", "a"), BoolArg("upper", true), BoolArg("transpose", true)}, {2, 1},
          {"t", "coefficient"});
  g.values["coefficient"] = Meta({2, 2});
  g.outputs = {"left", "right", "t", "coefficient"};
  auto out = LowerAndRun(g, {{"a", {2, 1, 9, 4}}, {"b", {4, 8}}, {"row", {4, 8}}});
  EXPECT_EQ(out["left"], (std::vector<float>{1, 2}));        // [[2, 1], [0, 4]] x = [4, 8]
  EXPECT_EQ(out["right"], (std::vector<float>{2, 1.5f}));    // x [[2, 1], [0, 4]] = [4, 8]
  EXPECT_EQ(out["t"], (std::vector<float>{2, 1.5f}));        // [[2, 0], [1, 4]] x = [4, 8]
  EXPECT_EQ(out["coefficient"], (std::vector<float>{2, 1, 9, 4}));
  AtenGraph bad;
  AddUserInput(bad, "a", {2, 2});
  AddUserInput(bad, "b", {3, 1});
  AddNode(bad, "solve", "torch.ops.aten.linalg_solve_triangular.default",
          {TensorArg("self", "a"), TensorArg("B", "b"), BoolArg("upper", true)}, {2, 1});
  bad.outputs = {"solve"};
  EXPECT_EQ(LoweringError(bad),
            "node 'solve' (aten.linalg_solve_triangular.default): B [3, 1] does not match A [2, 2] (A X = B)");
}

// lu_unpack without its data or pivots returns empty tensors for them, as ATen does; linalg_lu is
// getrf then lu_unpack; LDL's pivots must have LD's batch and n.
TEST(Lowering, LuUnpackAndLdl) {
  AtenGraph g;
  AddUserInput(g, "a", {2, 2});
  AddNode(g, "plu", "torch.ops.aten.linalg_lu.default", {TensorArg("A", "a")}, {2, 2}, {"p", "l", "u"});
  g.values["l"] = Meta({2, 2});
  g.values["u"] = Meta({2, 2});
  AddNode(g, "factor", "torch.ops.aten.linalg_lu_factor_ex.default", {TensorArg("A", "a")}, {2, 2},
          {"lu", "pivots", "info"});
  g.values["pivots"] = Meta({2}, TorchDType::kInt);
  AddNode(g, "unpack", "torch.ops.aten.lu_unpack.default",
          {TensorArg("LU_data", "lu"), TensorArg("LU_pivots", "pivots"), BoolArg("unpack_data", false)}, {2, 2},
          {"p2", "l2", "u2"});
  g.values["l2"] = Meta({0});
  g.outputs = {"p", "l", "u", "p2", "l2"};
  std::vector<std::string> ops;
  auto out = LowerAndRun(g, {{"a", {1, 2, 4, 2}}}, &ops);  // rows swapped: [[4, 2], [1, 2]] = L U
  EXPECT_EQ(out["p"], (std::vector<float>{0, 1, 1, 0}));
  EXPECT_EQ(out["l"], (std::vector<float>{1, 0, 0.25f, 1}));
  EXPECT_EQ(out["u"], (std::vector<float>{4, 2, 0, 1.5f}));
  EXPECT_EQ(out["p2"], out["p"]);
  EXPECT_TRUE(out["l2"].empty());
  AtenGraph ldl;
  AddUserInput(ldl, "ld", {2, 3, 3});
  AddUserInput(ldl, "pivots", {3}, TorchDType::kInt);
  AddUserInput(ldl, "b", {2, 3, 1});
  AddNode(ldl, "solve", "torch.ops.aten.linalg_ldl_solve.default",
          {TensorArg("LD", "ld"), TensorArg("pivots", "pivots"), TensorArg("B", "b")}, {2, 3, 1});
  ldl.outputs = {"solve"};
  EXPECT_EQ(LoweringError(ldl),
            "node 'solve' (aten.linalg_ldl_solve.default): pivots [3] must be [..., n] for LD [2, 3, 3]");
}

// ---- Complex values and the FFT --------------------------------------------------------------

using Complexes = std::vector<std::complex<double>>;

// sum_n x_n e^{sign 2 pi i k n / N} * scale along `dim` of a row-major `shape`.
Complexes ReferenceDft(const Complexes& x, const std::vector<int64_t>& shape, size_t dim, int sign, double scale) {
  int64_t inner = 1, outer = 1;
  for (size_t d = dim + 1; d < shape.size(); ++d) inner *= shape[d];
  for (size_t d = 0; d < dim; ++d) outer *= shape[d];
  const int64_t n_len = shape[dim];
  Complexes y(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      for (int64_t k = 0; k < n_len; ++k) {
        std::complex<double> sum = 0;
        for (int64_t n = 0; n < n_len; ++n)
          sum += x[(o * n_len + n) * inner + i] * std::polar(1.0, sign * 2 * M_PI * double(k * n) / double(n_len));
        y[(o * n_len + k) * inner + i] = sum * scale;
      }
  return y;
}

double NormScale(int64_t norm, int64_t n) { return norm == 0 ? 1.0 : norm == 1 ? 1.0 / std::sqrt(double(n)) : 1.0 / n; }

// Deterministic test data: n values in about [-2, 2].
std::vector<float> Wiggly(size_t n, float phase) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 2.0f * std::sin(1.7f * float(i) + phase) - 0.3f * std::cos(0.3f * float(i));
  return v;
}

Complexes FromParts(const std::vector<float>& parts) {
  Complexes c(parts.size() / 2);
  for (size_t i = 0; i < c.size(); ++i) c[i] = {parts[2 * i], parts[2 * i + 1]};
  return c;
}

void ExpectNear(const std::vector<float>& got, const Complexes& want, double tol) {
  ASSERT_EQ(got.size(), 2 * want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[2 * i], want[i].real(), tol) << "element " << i << " (real)";
    EXPECT_NEAR(got[2 * i + 1], want[i].imag(), tol) << "element " << i << " (imaginary)";
  }
}

TEST(ComplexLowering, FftR2CMatchesReferenceDft) {
  const std::vector<int64_t> shape = {4, 5};
  const std::vector<float> x = Wiggly(20, 0.1f);
  for (bool onesided : {true, false})
    for (int64_t norm : {0, 1, 2})
      for (std::vector<int64_t> dims : {std::vector<int64_t>{1}, std::vector<int64_t>{0}, std::vector<int64_t>{0, -1}}) {
        SCOPED_TRACE(testing::Message() << "onesided " << onesided << " norm " << norm << " dims " << dims.size());
        const size_t last = dims.back() < 0 ? dims.back() + 2 : dims.back();
        std::vector<int64_t> out_shape = shape;
        if (onesided) out_shape[last] = shape[last] / 2 + 1;
        AtenGraph g;
        AddUserInput(g, "x", shape);
        AddNode(g, "fft", "torch.ops.aten._fft_r2c.default",
                {TensorArg("self", "x"), IntsArg("dim", dims), IntArg("normalization", norm), BoolArg("onesided", onesided)},
                out_shape);
        SetDType(g, "fft", TorchDType::kComplexFloat);
        g.outputs = {"fft"};
        Complexes want(x.begin(), x.end());
        for (int64_t d : dims) {
          const size_t dd = d < 0 ? d + 2 : d;
          want = ReferenceDft(want, shape, dd, -1, NormScale(norm, shape[dd]));
        }
        if (onesided) {  // the first N/2 + 1 entries along the last dim
          Complexes half;
          for (int64_t i = 0; i < out_shape[0]; ++i)
            for (int64_t j = 0; j < out_shape[1]; ++j) half.push_back(want[i * shape[1] + j]);
          want = half;
        }
        ExpectNear(LowerAndRun(g, {{"x", x}})["fft"], want, 1e-5);
      }
}

// The DC and Nyquist bins of a real signal are real: imaginary parts of exactly +0 (not sin(pi) times
// the input), so that angle() of a negative bin is pi, as with pocketfft.
TEST(ComplexLowering, FftRealBinsHaveZeroImaginaryParts) {
  AtenGraph g;
  AddUserInput(g, "x", {6});
  AddNode(g, "fft", "torch.ops.aten._fft_r2c.default",
          {TensorArg("self", "x"), IntsArg("dim", {0}), IntArg("normalization", 0), BoolArg("onesided", true)}, {4});
  SetDType(g, "fft", TorchDType::kComplexFloat);
  AddNode(g, "angle", "torch.ops.aten.angle.default", {TensorArg("self", "fft")}, {4});
  g.outputs = {"fft", "angle"};
  const auto out = LowerAndRun(g, {{"x", {-1, 2.5f, -3, 0.25f, -2, 1}}});
  for (int k : {0, 3}) {
    EXPECT_EQ(out.at("fft")[2 * k + 1], 0.0f) << k;
    EXPECT_FALSE(std::signbit(out.at("fft")[2 * k + 1])) << k;
  }
  EXPECT_EQ(out.at("fft")[0], -2.25f);  // the sum
  EXPECT_FLOAT_EQ(out.at("angle")[0], static_cast<float>(M_PI));
  EXPECT_EQ(out.at("fft")[6], -9.75f);  // the alternating sum
}

TEST(ComplexLowering, FftC2CMatchesReferenceDft) {
  const std::vector<int64_t> shape = {3, 4};
  const std::vector<float> z = Wiggly(24, 0.7f);
  for (bool forward : {true, false})
    for (int64_t norm : {0, 1, 2})
      for (std::vector<int64_t> dims : {std::vector<int64_t>{1}, std::vector<int64_t>{-1, 0}}) {
        SCOPED_TRACE(testing::Message() << "forward " << forward << " norm " << norm << " dims " << dims.size());
        AtenGraph g;
        AddUserInput(g, "z", shape, TorchDType::kComplexFloat);
        AddNode(g, "fft", "torch.ops.aten._fft_c2c.default",
                {TensorArg("self", "z"), IntsArg("dim", dims), IntArg("normalization", norm), BoolArg("forward", forward)},
                shape);
        SetDType(g, "fft", TorchDType::kComplexFloat);
        g.outputs = {"fft"};
        Complexes want = FromParts(z);
        for (int64_t d : dims) {
          const size_t dd = d < 0 ? d + 2 : d;
          want = ReferenceDft(want, shape, dd, forward ? -1 : 1, NormScale(norm, shape[dd]));
        }
        ExpectNear(LowerAndRun(g, {{"z", z}})["fft"], want, 1e-5);
      }
}

// The real signal of length N from the first N/2 + 1 entries of its spectrum along the last dim, after
// inverse transforms along the others. The imaginary parts of DC and (N even) Nyquist are ignored.
TEST(ComplexLowering, FftC2RMatchesReferenceDft) {
  const std::vector<int64_t> in_shape = {3, 4};
  const std::vector<float> spectrum = Wiggly(24, 1.3f);  // DC and Nyquist have nonzero imaginary parts
  for (int64_t n : {6, 7})
    for (int64_t norm : {0, 1, 2})
      for (std::vector<int64_t> dims : {std::vector<int64_t>{1}, std::vector<int64_t>{0, 1}}) {
        SCOPED_TRACE(testing::Message() << "N " << n << " norm " << norm << " dims " << dims.size());
        AtenGraph g;
        AddUserInput(g, "z", in_shape, TorchDType::kComplexFloat);
        AddNode(g, "fft", "torch.ops.aten._fft_c2r.default",
                {TensorArg("self", "z"), IntsArg("dim", dims), IntArg("normalization", norm), IntArg("last_dim_size", n)},
                {3, n});
        g.outputs = {"fft"};
        Complexes x = FromParts(spectrum);
        if (dims.size() == 2) x = ReferenceDft(x, in_shape, 0, 1, NormScale(norm, 3));
        Complexes full(3 * n);
        for (int64_t r = 0; r < 3; ++r)
          for (int64_t k = 0; k < n; ++k) {
            std::complex<double> v = k <= n / 2 ? x[r * 4 + k] : std::conj(x[r * 4 + (n - k)]);
            if (k == 0 || 2 * k == n) v = v.real();
            full[r * n + k] = v;
          }
        const Complexes want = ReferenceDft(full, {3, n}, 1, 1, NormScale(norm, n));
        const std::vector<float> got = LowerAndRun(g, {{"z", spectrum}})["fft"];
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i].real(), 1e-5) << i;
      }
}

TEST(ComplexLowering, FftErrorsNameTheProblem) {
  AtenGraph g;
  AddUserInput(g, "x", {3, 4});
  AddNode(g, "fft", "torch.ops.aten._fft_r2c.default",
          {TensorArg("self", "x"), IntsArg("dim", {2}), IntArg("normalization", 0), BoolArg("onesided", true)}, {3, 3});
  SetDType(g, "fft", TorchDType::kComplexFloat);
  g.outputs = {"fft"};
  EXPECT_EQ(LoweringError(g), "node 'fft' (aten._fft_r2c.default): dim 2 is out of range for a signal of 2 dims");
  g.nodes[0].inputs[1] = IntsArg("dim", {1});
  g.nodes[0].inputs[2] = IntArg("normalization", 3);
  EXPECT_EQ(LoweringError(g), "node 'fft' (aten._fft_r2c.default): normalization 3 is not one of ATen's 0 (none), "
                              "1 (1/sqrt(n)), 2 (1/n)");
  AtenGraph big;
  AddUserInput(big, "x", {4096});
  AddNode(big, "fft", "torch.ops.aten._fft_r2c.default",
          {TensorArg("self", "x"), IntsArg("dim", {0}), IntArg("normalization", 0), BoolArg("onesided", true)}, {2049});
  SetDType(big, "fft", TorchDType::kComplexFloat);
  big.outputs = {"fft"};
  EXPECT_EQ(LoweringError(big), "node 'fft' (aten._fft_r2c.default): dim 0 has length 4096; the DFT-matmul lowering "
                                "takes at most 2048 (a [2N, 2N] constant)");
}

// A rule that does not take complex values never sees one: the error names the node, the operand and
// the value, and lists the rules that do.
TEST(ComplexLowering, OtherRulesRejectComplexValues) {
  AtenGraph g;
  AddUserInput(g, "z", {3}, TorchDType::kComplexFloat);
  AddNode(g, "div", "torch.ops.aten.div.Tensor", {TensorArg("self", "z"), TensorArg("other", "z")}, {3});
  SetDType(g, "div", TorchDType::kComplexFloat);
  g.outputs = {"div"};
  const std::string error = LoweringError(g);
  EXPECT_THAT(error, HasSubstr("node 'div' (aten.div.Tensor): complex-valued operand 'self' (value 'z', complex64); "
                               "complex values are supported only by aten._conj.default, "));
  EXPECT_THAT(error, HasSubstr("aten._fft_c2c.default"));
  EXPECT_THAT(error, HasSubstr("aten.permute.default"));
  EXPECT_THAT(error, HasSubstr("aten.mul.Tensor"));
  EXPECT_THAT(error, Not(HasSubstr("aten.div.Tensor,")));

  AtenGraph made;  // a complex result of a real-only rule (full with a complex dtype, say)
  AddUserInput(made, "x", {3});
  AddNode(made, "exp", "torch.ops.aten.exp.default", {TensorArg("self", "x")}, {3});
  SetDType(made, "exp", TorchDType::kComplexFloat);
  made.outputs = {"exp"};
  EXPECT_THAT(LoweringError(made), HasSubstr("node 'exp' (aten.exp.default): complex-valued result 'exp' (complex64); "
                                             "complex values are supported only by "));
}

// Arithmetic on complex values: a real operand (tensor or scalar) is a complex with imaginary parts 0
// in a sum and scales both parts in a product; abs and angle give real results.
TEST(ComplexLowering, ArithmeticAbsAndAngle) {
  AtenGraph g;
  AddUserInput(g, "z", {2}, TorchDType::kComplexFloat);
  AddUserInput(g, "w", {2}, TorchDType::kComplexFloat);
  AddUserInput(g, "r", {2});
  AddNode(g, "zw", "torch.ops.aten.mul.Tensor", {TensorArg("self", "z"), TensorArg("other", "w")}, {2});
  AddNode(g, "zr", "torch.ops.aten.mul.Tensor", {TensorArg("self", "r"), TensorArg("other", "z")}, {2});
  AddNode(g, "z3", "torch.ops.aten.mul.Tensor", {TensorArg("self", "z"), FloatArg("other", 3)}, {2});
  AddNode(g, "sum", "torch.ops.aten.add.Tensor", {TensorArg("self", "z"), TensorArg("other", "r"), FloatArg("alpha", 2)},
          {2});
  AddNode(g, "diff", "torch.ops.aten.sub.Tensor", {TensorArg("self", "z"), TensorArg("other", "w")}, {2});
  AddNode(g, "plus1", "torch.ops.aten.add.Tensor", {TensorArg("self", "z"), IntArg("other", 1)}, {2});
  AddNode(g, "neg", "torch.ops.aten.neg.default", {TensorArg("self", "z")}, {2});
  AddNode(g, "abs", "torch.ops.aten.abs.default", {TensorArg("self", "z")}, {2});
  AddNode(g, "angle", "torch.ops.aten.angle.default", {TensorArg("self", "z")}, {2});
  for (const char* v : {"zw", "zr", "z3", "sum", "diff", "plus1", "neg"}) SetDType(g, v, TorchDType::kComplexFloat);
  g.outputs = {"zw", "zr", "z3", "sum", "diff", "plus1", "neg", "abs", "angle"};
  // z = [3+4i, -1+2i], w = [2-1i, 0.5+0i], r = [2, -1].
  const auto out = LowerAndRun(g, {{"z", {3, 4, -1, 2}}, {"w", {2, -1, 0.5f, 0}}, {"r", {2, -1}}});
  EXPECT_EQ(out.at("zw"), (std::vector<float>{10, 5, -0.5f, 1}));  // (3+4i)(2-i) = 10+5i
  EXPECT_EQ(out.at("zr"), (std::vector<float>{6, 8, 1, -2}));
  EXPECT_EQ(out.at("z3"), (std::vector<float>{9, 12, -3, 6}));
  EXPECT_EQ(out.at("sum"), (std::vector<float>{7, 4, -3, 2}));
  EXPECT_EQ(out.at("diff"), (std::vector<float>{1, 5, -1.5f, 2}));
  EXPECT_EQ(out.at("plus1"), (std::vector<float>{4, 4, 0, 2}));
  EXPECT_EQ(out.at("neg"), (std::vector<float>{-3, -4, 1, -2}));
  EXPECT_EQ(out.at("abs")[0], 5.0f);
  EXPECT_FLOAT_EQ(out.at("abs")[1], std::sqrt(5.0f));
  EXPECT_FLOAT_EQ(out.at("angle")[0], std::atan2(4.0f, 3.0f));
  EXPECT_FLOAT_EQ(out.at("angle")[1], std::atan2(2.0f, -1.0f));
}

// Data movement on complex values addresses the leading dims; the (real, imaginary) pair stays last.
TEST(ComplexLowering, DataMovementActsOnLeadingDims) {
  AtenGraph g;
  AddUserInput(g, "z", {2, 3}, TorchDType::kComplexFloat);
  AddNode(g, "perm", "torch.ops.aten.permute.default", {TensorArg("self", "z"), IntsArg("dims", {-1, 0})}, {3, 2});
  AddNode(g, "sl", "torch.ops.aten.slice.Tensor",
          {TensorArg("self", "perm"), IntArg("dim", -1), IntArg("start", 1), IntArg("end", 2)}, {3, 1});
  AddNode(g, "pad", "torch.ops.aten.constant_pad_nd.default", {TensorArg("self", "sl"), IntsArg("pad", {1, 0})},
          {3, 2});
  AddNode(g, "view", "torch.ops.aten.view.default", {TensorArg("self", "pad"), IntsArg("size", {-1})}, {6});
  AddNode(g, "unsq", "torch.ops.aten.unsqueeze.default", {TensorArg("self", "view"), IntArg("dim", -1)}, {6, 1});
  for (const char* v : {"perm", "sl", "pad", "view", "unsq"}) SetDType(g, v, TorchDType::kComplexFloat);
  g.outputs = {"unsq"};
  // z = [[0+1i, 2+3i, 4+5i], [6+7i, 8+9i, 10+11i]]; permuted: [[0+1i, 6+7i], [2+3i, 8+9i], [4+5i, 10+11i]];
  // column 1, padded with a 0 before it, flattened, one more dim.
  std::vector<std::string> ops;
  const auto out = LowerAndRun(g, {{"z", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}}, &ops);
  EXPECT_EQ(out.at("unsq"), (std::vector<float>{0, 0, 6, 7, 0, 0, 8, 9, 0, 0, 10, 11}));
  EXPECT_EQ(ops, (std::vector<std::string>{"permute", "slice", "pad", "reshape", "reshape"}));

  // fftshift's index_select: a real index picks along a leading dim.
  AtenGraph shift;
  AddUserInput(shift, "z", {3}, TorchDType::kComplexFloat);
  AddUserInput(shift, "i", {3}, TorchDType::kLong);
  AddNode(shift, "sel", "torch.ops.aten.index_select.default",
          {TensorArg("self", "z"), IntArg("dim", -1), TensorArg("index", "i")}, {3});
  SetDType(shift, "sel", TorchDType::kComplexFloat);
  shift.outputs = {"sel"};
  EXPECT_EQ(LowerAndRun(shift, {{"z", {1, 2, 3, 4, 5, 6}}, {"i", {2, 0, 1}}})["sel"],
            (std::vector<float>{5, 6, 1, 2, 3, 4}));

  g.nodes[2].inputs.push_back(FloatArg("value", 1.5));
  EXPECT_EQ(LoweringError(g), "node 'pad' (aten.constant_pad_nd.default): padding a complex tensor with 1.5 is not "
                              "supported (only with 0)");
  g.nodes[2].inputs.pop_back();
  g.nodes[0].inputs[1] = IntsArg("dims", {2, 0});
  EXPECT_EQ(LoweringError(g), "node 'perm' (aten.permute.default): argument 'dims' = 2 is out of range for a complex "
                              "tensor of 2 dims");

  AtenGraph mixed;  // cat of a complex and a real tensor
  AddUserInput(mixed, "z", {2}, TorchDType::kComplexFloat);
  AddUserInput(mixed, "x", {2});
  AtenNode cat;
  cat.name = "cat";
  cat.target = "torch.ops.aten.cat.default";
  NamedArgument tensors{"tensors", {}};
  tensors.arg.kind = Argument::Kind::kTensors;
  tensors.arg.tensors = {"z", "x"};
  cat.inputs = {tensors};
  cat.outputs = {"cat"};
  mixed.values["cat"] = Meta({4}, TorchDType::kComplexFloat);
  mixed.nodes.push_back(cat);
  mixed.outputs = {"cat"};
  EXPECT_EQ(LoweringError(mixed), "node 'cat' (aten.cat.default): mixes complex and real tensor operands; convert the "
                                  "real ones to complex first");
}

TEST(ComplexLowering, ConversionsConjugationAndConstruction) {
  AtenGraph g;
  AddUserInput(g, "x", {2});
  AddUserInput(g, "y", {2});
  AddNode(g, "c", "torch.ops.aten._to_copy.default", {TensorArg("self", "x"), DTypeArg("dtype", TorchDType::kComplexFloat)},
          {2});
  AddNode(g, "conj", "torch.ops.aten._conj.default", {TensorArg("self", "c")}, {2});
  AddNode(g, "cplx", "torch.ops.aten.complex.default", {TensorArg("real", "x"), TensorArg("imag", "y")}, {2});
  AddNode(g, "conj2", "torch.ops.aten._conj_physical.default", {TensorArg("self", "cplx")}, {2});
  AddNode(g, "re", "torch.ops.aten.view_as_real.default", {TensorArg("self", "conj2")}, {2, 2});
  AddNode(g, "back", "torch.ops.aten.view_as_complex.default", {TensorArg("self", "re")}, {2});
  AddNode(g, "real", "torch.ops.aten._to_copy.default", {TensorArg("self", "back"), DTypeArg("dtype", TorchDType::kFloat)},
          {2});
  AddNode(g, "polar", "torch.ops.aten.polar.default", {TensorArg("abs", "x"), TensorArg("angle", "y")}, {2});
  for (const char* v : {"c", "conj", "cplx", "conj2", "back", "polar"}) SetDType(g, v, TorchDType::kComplexFloat);
  SetDType(g, "polar", TorchDType::kComplexDouble);
  g.outputs = {"conj", "re", "back", "real", "polar"};
  std::vector<std::string> warnings;
  absl::StatusOr<DeviceGraph> lowered = LowerAtenGraph(g, &warnings);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  // Complex outputs cross to the host as c64 with the trailing 2; complex128 is narrowed, with a warning.
  EXPECT_EQ(lowered->values[lowered->outputs[0].second].dtype, ops::DType::kC64);
  EXPECT_EQ(lowered->values[lowered->outputs[0].second].shape, (ops::Shape{2, 2}));
  EXPECT_EQ(lowered->values[lowered->outputs[1].second].dtype, ops::DType::kF32);
  EXPECT_EQ(lowered->values[lowered->outputs[4].second].dtype, ops::DType::kC64);
  EXPECT_EQ(warnings, (std::vector<std::string>{"output 'polar' is complex128; the device computes it in complex64 "
                                                "(float32 parts, about 7 significant digits), which is what the "
                                                "caller passes and gets back"}));
  const auto out = Evaluate(*lowered, {{"x", {3, -2}}, {"y", {0.5f, 4}}});
  EXPECT_EQ(out.at("conj"), (std::vector<float>{3, 0, -2, 0}));  // -0 == 0
  EXPECT_EQ(out.at("re"), (std::vector<float>{3, -0.5f, -2, -4}));
  EXPECT_EQ(out.at("back"), (std::vector<float>{3, -0.5f, -2, -4}));
  EXPECT_EQ(out.at("real"), (std::vector<float>{3, -2}));
  const std::vector<float> p = out.at("polar");
  ASSERT_EQ(p.size(), 4u);
  EXPECT_FLOAT_EQ(p[0], 3 * std::cos(0.5f));
  EXPECT_FLOAT_EQ(p[1], 3 * std::sin(0.5f));
  EXPECT_FLOAT_EQ(p[2], -2 * std::cos(4.0f));
  EXPECT_FLOAT_EQ(p[3], -2 * std::sin(4.0f));

  // A complex input is c64 with the trailing 2; converting it to an integer type is an error.
  AtenGraph in;
  AddUserInput(in, "z", {3}, TorchDType::kComplexDouble);
  AddNode(in, "i", "torch.ops.aten._to_copy.default", {TensorArg("self", "z"), DTypeArg("dtype", TorchDType::kLong)},
          {3});
  SetDType(in, "i", TorchDType::kLong);
  in.outputs = {"i"};
  EXPECT_EQ(LoweringError(in), "node 'i' (aten._to_copy.default): conversion from complex128 to int64 is not "
                               "supported; complex values convert to float32 or float64 (their real part)");
  in.nodes.clear();
  in.outputs = {"z"};
  warnings.clear();
  lowered = LowerAtenGraph(in, &warnings);
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  EXPECT_EQ(lowered->values[lowered->inputs[0].second].dtype, ops::DType::kC64);
  EXPECT_EQ(lowered->values[lowered->inputs[0].second].shape, (ops::Shape{3, 2}));
  EXPECT_EQ(warnings.size(), 2u);  // input and output
}

}  // namespace
}  // namespace kiln::compiler

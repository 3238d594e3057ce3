#include "compiler/pt2/export_json.h"

#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::compiler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Meta(const std::string& sizes_json = R"([{"as_int": 2}, {"as_int": 3}])",
                 const std::string& strides_json = R"([{"as_int": 3}, {"as_int": 1}])", int dtype = 7) {
  return R"({"dtype": )" + std::to_string(dtype) + R"(, "sizes": )" + sizes_json +
         R"(, "requires_grad": false, "device": {"type": "cpu", "index": null}, "strides": )" +
         strides_json + R"(, "storage_offset": {"as_int": 0}, "layout": 7})";
}

// A program with one user input x and the given nodes / extra tensor values / output specs.
std::string Program(const std::string& nodes, const std::string& extra_values,
                    const std::string& output_specs = R"([{"user_output": {"arg": {"as_tensor": {"name": "y"}}}}])",
                    const std::string& x_meta = Meta()) {
  return R"({"graph_module": {"graph": {
      "inputs": [{"as_tensor": {"name": "x"}}],
      "outputs": [{"as_tensor": {"name": "y"}}],
      "nodes": )" + nodes + R"(,
      "tensor_values": {"x": )" + x_meta + extra_values + R"(},
      "sym_int_values": {}, "sym_bool_values": {}, "is_single_tensor_return": false},
    "signature": {"input_specs": [{"user_input": {"arg": {"as_tensor": {"name": "x"}}}}],
                  "output_specs": )" + output_specs + R"(},
    "module_call_graph": []},
    "opset_version": {"aten": 10}, "range_constraints": {}, "schema_version": {"major": 8, "minor": 20}})";
}

std::string Node(const std::string& name, const std::string& target, const std::string& inputs,
                 const std::string& outputs) {
  return R"({"target": ")" + target + R"(", "inputs": )" + inputs + R"(, "outputs": )" + outputs +
         R"(, "metadata": {"stack_trace": "File \"m.py\", line 3"}, "name": ")" + name + R"("})";
}

TEST(ExportJsonTest, ParsesArgumentEncodings) {
  const std::string inputs = R"([
      {"name": "self", "arg": {"as_tensor": {"name": "x"}}, "kind": 1},
      {"name": "none", "arg": {"as_none": true}, "kind": 1},
      {"name": "ints", "arg": {"as_ints": [1, -2]}, "kind": 1},
      {"name": "int", "arg": {"as_int": 7}, "kind": 1},
      {"name": "float", "arg": {"as_float": 0.5}, "kind": 1},
      {"name": "ninf", "arg": {"as_float": "-Infinity"}, "kind": 1},
      {"name": "floats", "arg": {"as_floats": [1.5, "NaN", 2]}, "kind": 1},
      {"name": "bool", "arg": {"as_bool": true}, "kind": 1},
      {"name": "bools", "arg": {"as_bools": [true, false]}, "kind": 1},
      {"name": "str", "arg": {"as_string": "mean"}, "kind": 1},
      {"name": "dtype", "arg": {"as_scalar_type": 6}, "kind": 2},
      {"name": "mf", "arg": {"as_memory_format": 2}, "kind": 2},
      {"name": "layout", "arg": {"as_layout": 7}, "kind": 2},
      {"name": "device", "arg": {"as_device": {"type": "cuda", "index": 1}}, "kind": 2},
      {"name": "cpu", "arg": {"as_device": {"type": "cpu", "index": null}}, "kind": 2},
      {"name": "tensors", "arg": {"as_tensors": [{"name": "x"}, {"name": "x"}]}, "kind": 1},
      {"name": "opt", "arg": {"as_optional_tensors": [{"as_tensor": {"name": "x"}}, {"as_none": true}]}, "kind": 1},
      {"name": "opt1", "arg": {"as_optional_tensor": {"as_none": true}}, "kind": 1},
      {"name": "symc", "arg": {"as_sym_int": {"as_int": 4}}, "kind": 1},
      {"name": "syms", "arg": {"as_sym_ints": [{"as_int": 4}, {"as_int": 5}]}, "kind": 1},
      {"name": "symn", "arg": {"as_sym_int": {"as_name": "s0"}}, "kind": 1},
      {"name": "graph", "arg": {"as_graph": {"name": "g", "graph": {}}}, "kind": 1}
  ])";
  absl::StatusOr<AtenGraph> g = ParseExportedProgramJson(Program(
      "[" + Node("y", "torch.ops.aten.foo.default", inputs, R"([{"as_tensor": {"name": "y"}}])") + "]",
      R"(, "y": )" + Meta()));
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->nodes.size(), 1u);
  const AtenNode& n = g->nodes[0];
  EXPECT_EQ(n.name, "y");
  EXPECT_EQ(n.target, "torch.ops.aten.foo.default");
  EXPECT_EQ(n.stack_trace, "File \"m.py\", line 3");
  EXPECT_THAT(n.outputs, ElementsAre("y"));
  using K = Argument::Kind;
  auto arg = [&](const char* name) {
    const Argument* a = n.Find(name);
    EXPECT_NE(a, nullptr) << name;
    return a ? *a : Argument();
  };
  EXPECT_EQ(arg("self").kind, K::kTensor);
  EXPECT_EQ(arg("self").tensor, "x");
  EXPECT_EQ(arg("none").kind, K::kNone);
  EXPECT_EQ(arg("ints").kind, K::kInts);
  EXPECT_THAT(arg("ints").ints, ElementsAre(1, -2));
  EXPECT_EQ(arg("int").i, 7);
  EXPECT_EQ(arg("float").f, 0.5);
  EXPECT_EQ(arg("ninf").f, -INFINITY);
  ASSERT_EQ(arg("floats").floats.size(), 3u);
  EXPECT_TRUE(std::isnan(arg("floats").floats[1]));
  EXPECT_EQ(arg("floats").floats[2], 2.0);
  EXPECT_TRUE(arg("bool").b);
  EXPECT_THAT(arg("bools").bools, ElementsAre(true, false));
  EXPECT_EQ(arg("str").kind, K::kString);
  EXPECT_EQ(arg("str").s, "mean");
  EXPECT_EQ(arg("dtype").kind, K::kScalarType);
  EXPECT_EQ(arg("dtype").i, 6);
  EXPECT_EQ(arg("mf").kind, K::kMemoryFormat);
  EXPECT_EQ(arg("layout").kind, K::kLayout);
  EXPECT_EQ(arg("device").kind, K::kDevice);
  EXPECT_EQ(arg("device").s, "cuda:1");
  EXPECT_EQ(arg("cpu").s, "cpu");
  EXPECT_EQ(arg("tensors").kind, K::kTensors);
  EXPECT_THAT(arg("tensors").tensors, ElementsAre("x", "x"));
  EXPECT_EQ(arg("opt").kind, K::kOptionalTensors);
  EXPECT_THAT(arg("opt").tensors, ElementsAre("x", ""));
  EXPECT_EQ(arg("opt1").kind, K::kNone);
  EXPECT_EQ(arg("symc").kind, K::kInt);
  EXPECT_EQ(arg("symc").i, 4);
  EXPECT_THAT(arg("syms").ints, ElementsAre(4, 5));
  EXPECT_EQ(arg("symn").kind, K::kOther);
  EXPECT_EQ(arg("symn").s, "as_sym_int");
  EXPECT_EQ(arg("graph").kind, K::kOther);
  EXPECT_EQ(arg("graph").s, "as_graph");
  EXPECT_EQ(n.Find("missing"), nullptr);
  EXPECT_EQ(g->FindProducer("y"), &g->nodes[0]);
  EXPECT_EQ(g->FindProducer("x"), nullptr);
}

TEST(ExportJsonTest, FlattensMultiOutputs) {
  const std::string nodes = "[" +
      Node("split", "torch.ops.aten.split_with_sizes.default",
           R"([{"name": "self", "arg": {"as_tensor": {"name": "x"}}, "kind": 1}])",
           R"([{"as_tensors": [{"name": "a"}, {"name": "b"}]}])") + "," +
      Node("y", "torch.ops.aten.some.default",
           R"([{"name": "self", "arg": {"as_tensor": {"name": "a"}}, "kind": 1}])",
           R"([{"as_tensor": {"name": "y"}}, {"as_none": true}, {"as_sym_int": {"as_name": "n"}}])") + "]";
  absl::StatusOr<AtenGraph> g = ParseExportedProgramJson(
      Program(nodes, R"(, "a": )" + Meta() + R"(, "b": )" + Meta() + R"(, "y": )" + Meta()));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(g->nodes[0].outputs, ElementsAre("a", "b"));
  EXPECT_THAT(g->nodes[1].outputs, ElementsAre("y", "", ""));
  EXPECT_EQ(g->FindProducer("b"), &g->nodes[0]);
  EXPECT_EQ(g->FindProducer(""), nullptr);
  EXPECT_THAT(g->outputs, ElementsAre("y"));
  EXPECT_EQ(g->values.at("x").dtype, TorchDType::kFloat);
  EXPECT_THAT(g->values.at("x").sizes, ElementsAre(2, 3));
  EXPECT_THAT(g->values.at("x").strides, ElementsAre(3, 1));
}

TEST(ExportJsonTest, ReturnsInputDirectly) {
  absl::StatusOr<AtenGraph> g = ParseExportedProgramJson(
      Program("[]", "", R"([{"user_output": {"arg": {"as_tensor": {"name": "x"}}}}])"));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(g->outputs, ElementsAre("x"));
}

absl::Status ParseError(const std::string& text) {
  absl::StatusOr<AtenGraph> g = ParseExportedProgramJson(text);
  return g.ok() ? absl::OkStatus() : g.status();
}

// An effect token (torch.export's ordering of side effects, e.g. around linalg error checks) is
// dropped: its input and output specs, and with_effects(token, op, *args) becomes op(*args).
TEST(ExportJsonTest, EffectTokensAreDropped) {
  std::string text = Program(
      "[" + Node("with_effects", "torch.ops.higher_order.with_effects",
                 R"([{"name": "", "arg": {"as_tensor": {"name": "token"}}, "kind": 1},
                     {"name": "", "arg": {"as_operator": "torch.ops.aten._linalg_check_errors.default"}, "kind": 1},
                     {"name": "", "arg": {"as_tensor": {"name": "x"}}, "kind": 1},
                     {"name": "", "arg": {"as_string": "linalg.inv"}, "kind": 1}])",
                 R"([{"as_tensor": {"name": "token_out"}}, {"as_none": true}])") + "]",
      R"(, "token_out": )" + Meta(),
      R"([{"token": {"arg": {"name": "token_out"}}}, {"user_output": {"arg": {"as_tensor": {"name": "x"}}}}])");
  const std::string inputs = R"("inputs": [{"as_tensor": {"name": "x"}}])";
  text.replace(text.find(inputs), inputs.size(), R"("inputs": [{"as_tensor": {"name": "token"}}, {"as_tensor": {"name": "x"}}])");
  const std::string specs = R"("input_specs": [)";
  text.replace(text.find(specs), specs.size(), R"("input_specs": [{"token": {"arg": {"name": "token"}}}, )");
  absl::StatusOr<AtenGraph> g = ParseExportedProgramJson(text);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->inputs.size(), 1u);
  EXPECT_EQ(g->inputs[0].name, "x");
  EXPECT_THAT(g->outputs, ElementsAre("x"));
  ASSERT_EQ(g->nodes.size(), 1u);
  EXPECT_EQ(g->nodes[0].target, "torch.ops.aten._linalg_check_errors.default");
  ASSERT_EQ(g->nodes[0].inputs.size(), 2u);
  EXPECT_EQ(g->nodes[0].inputs[0].arg.tensor, "x");
  EXPECT_THAT(g->nodes[0].outputs, ElementsAre(""));

  const std::string op = R"({"as_operator": "torch.ops.aten._linalg_check_errors.default"})";
  text.replace(text.find(op), op.size(), R"({"as_int": 3})");
  EXPECT_THAT(ParseError(text).message(),
              HasSubstr("node 'with_effects': with_effects needs a token and an operator as its first two inputs"));
}

TEST(ExportJsonTest, StructuralErrorsNameTheNode) {
  const std::string y_meta = R"(, "y": )" + Meta();
  const std::string out_y = R"([{"as_tensor": {"name": "y"}}])";
  {
    absl::Status st = ParseError(Program(
        "[" + Node("y", "torch.ops.aten.relu.default",
                   R"([{"name": "self", "arg": {"as_tensor": {"name": "ghost"}}}])", out_y) + "]",
        y_meta));
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(st.message(), HasSubstr("node 'y' (torch.ops.aten.relu.default): argument 'self' uses "
                                        "value 'ghost', which is not defined before the node"));
  }
  {
    absl::Status st = ParseError(Program(
        R"([{"inputs": [], "outputs": [], "name": "nt"}])", ""));
    EXPECT_THAT(st.message(), HasSubstr("node 'nt': missing field 'target'"));
  }
  {
    absl::Status st = ParseError(Program(
        "[" + Node("y", "t", R"([{"name": "self", "arg": {"as_int": "three"}}])", out_y) + "]", y_meta));
    EXPECT_THAT(st.message(), HasSubstr("node 'y' (t) argument 'self': expected an integer, got string"));
  }
  {
    absl::Status st = ParseError(Program(
        "[" + Node("y", "t", R"([{"name": "self", "arg": {"as_int": 1, "as_float": 2.0}}])", out_y) + "]",
        y_meta));
    EXPECT_THAT(st.message(), HasSubstr("node 'y' (t) argument 'self': expected a one-key union"));
  }
  {
    absl::Status st = ParseError(Program("[" + Node("y", "t", "[]", out_y) + "]", ""));
    EXPECT_THAT(st.message(), HasSubstr("node 'y' (t): output 'y' has no entry in tensor_values"));
  }
  {
    absl::Status st = ParseError(Program("[" + Node("y", "t", "[]", out_y) + "," +
                                         Node("y2", "t", "[]", out_y) + "]", y_meta));
    EXPECT_THAT(st.message(), HasSubstr("node 'y2' (t): output 'y' is already defined"));
  }
  {
    absl::Status st = ParseError(Program("[]", ""));
    EXPECT_THAT(st.message(), HasSubstr("output spec #0: user output 'y' is not defined by the graph"));
  }
  {
    absl::Status st = ParseError("{\"graph_module\": [1, 2");
    EXPECT_THAT(st.message(), HasSubstr("malformed JSON"));
  }
  {
    absl::Status st = ParseError(R"({"schema_version": {"major": 8, "minor": 20}})");
    EXPECT_THAT(st.message(), HasSubstr("missing field 'graph_module'"));
  }
}

TEST(ExportJsonTest, UnsupportedFeaturesAreClearErrors) {
  {
    absl::Status st = ParseError(Program(
        "[]", "", R"([{"user_output": {"arg": {"as_tensor": {"name": "x"}}}}])",
        Meta(R"([{"as_expr": {"expr_str": "s77", "hint": {"as_int": 4}}}, {"as_int": 3}])")));
    EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(st.message(), HasSubstr("value 'x': dynamic shapes are not supported yet (size[0] is "
                                        "symbolic: s77)"));
  }
  {
    // An unbacked size (u0: nonzero's row count) is the data's, not the export's.
    absl::Status st = ParseError(Program(
        "[]", "", R"([{"user_output": {"arg": {"as_tensor": {"name": "x"}}}}])",
        Meta(R"j([{"as_expr": {"expr_str": "Symbol('u0', integer=True)"}}, {"as_int": 2}])j")));
    EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(st.message(), HasSubstr("value 'x': the output shape is data-dependent (size[0] is "
                                        "Symbol('u0', integer=True), known only from the tensor's values); "
                                        "Kiln compiles static shapes, so an op whose result size depends on the "
                                        "data (nonzero, masked_select, bincount, unique, ...) cannot run"));
  }
  {
    absl::Status st = ParseError(Program(
        "[]", "", R"([{"buffer_mutation": {"arg": {"name": "x"}, "buffer_name": "bn.running_mean"}}])"));
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(st.message(), HasSubstr("output spec #0 (buffer_mutation): mutates 'bn.running_mean', which is not a "
                                        "buffer input"));
  }
  {
    absl::Status st = ParseError(Program(
        "[]", "", R"([{"user_output": {"arg": {"as_none": true}}}])"));
    EXPECT_THAT(st.message(), HasSubstr("output spec #0: user output is 'as_none'"));
  }
  {
    std::string text = Program("[]", "", R"([{"user_output": {"arg": {"as_tensor": {"name": "x"}}}}])");
    const std::string from = R"({"user_input": {"arg": {"as_tensor": {"name": "x"}}}})";
    text.replace(text.find(from), from.size(),
                 R"({"custom_obj": {"arg": {"name": "x", "class_fqn": "Foo"}, "custom_obj_name": "obj"}})");
    absl::Status st = ParseError(text);
    EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(st.message(), HasSubstr("input spec #0 ('x') is a 'custom_obj' input"));
  }
}

// An in-place op on a user input: the mutation is recorded with the input it changes.
TEST(ExportJsonTest, UserInputMutations) {
  const std::string node = "[" + Node("y", "torch.ops.aten.relu.default",
                                      R"([{"name": "self", "arg": {"as_tensor": {"name": "x"}}, "kind": 1}])",
                                      R"([{"as_tensor": {"name": "y"}}])") + "]";
  const std::string mutation = R"({"user_input_mutation": {"arg": {"name": "y"}, "user_input_name": "x"}})";
  absl::StatusOr<AtenGraph> g = ParseExportedProgramJson(Program(
      node, R"(, "y": )" + Meta(), "[" + mutation + R"(, {"user_output": {"arg": {"as_tensor": {"name": "y"}}}}])"));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(g->outputs, ElementsAre("y"));
  ASSERT_EQ(g->input_mutations.size(), 1u);
  EXPECT_EQ(g->input_mutations[0], (std::pair<std::string, std::string>{"y", "x"}));

  std::string bad = mutation;
  bad.replace(bad.find("\"x\""), 3, "\"w\"");
  EXPECT_THAT(ParseError(Program(node, R"(, "y": )" + Meta(), "[" + bad + "]")).message(),
              HasSubstr("output spec #0 (user_input_mutation): mutates 'w', which is not a user input"));
  bad = mutation;
  bad.replace(bad.find("\"y\""), 3, "\"q\"");
  EXPECT_THAT(ParseError(Program(node, R"(, "y": )" + Meta(), "[" + bad + "]")).message(),
              HasSubstr("the mutation of input 'x': value 'q' is not defined by the graph"));
}

// A program with buffer `cache` (value b_cache) and user input x, node y = `target`(b_cache, x), and
// the given output specs.
std::string BufferProgram(const std::string& target, const std::string& output_specs) {
  const std::string node = Node("y", target, R"([{"name": "self", "arg": {"as_tensor": {"name": "b_cache"}}, "kind": 1},
                                                 {"name": "other", "arg": {"as_tensor": {"name": "x"}}, "kind": 1}])",
                                R"([{"as_tensor": {"name": "y"}}])");
  return R"({"graph_module": {"graph": {
      "inputs": [{"as_tensor": {"name": "b_cache"}}, {"as_tensor": {"name": "x"}}],
      "outputs": [{"as_tensor": {"name": "y"}}, {"as_tensor": {"name": "y"}}],
      "nodes": [)" + node + R"(],
      "tensor_values": {"x": )" + Meta() + R"(, "b_cache": )" + Meta() + R"(, "y": )" + Meta() + R"(},
      "sym_int_values": {}, "sym_bool_values": {}, "is_single_tensor_return": false},
    "signature": {"input_specs": [{"buffer": {"arg": {"name": "b_cache"}, "buffer_name": "cache", "persistent": true}},
                                  {"user_input": {"arg": {"as_tensor": {"name": "x"}}}}],
                  "output_specs": )" + output_specs + R"(},
    "module_call_graph": []},
    "opset_version": {"aten": 10}, "range_constraints": {}, "schema_version": {"major": 8, "minor": 20}})";
}

// An in-place op on a module buffer (a KV cache's index_copy_): the new value is recorded with the
// buffer, for the program to keep as state; batch norm's running statistics keep the eval() hint.
TEST(ExportJsonTest, BufferMutations) {
  const std::string user = R"({"user_output": {"arg": {"as_tensor": {"name": "y"}}}})";
  auto mutation = [](const std::string& value, const std::string& buffer) {
    return R"({"buffer_mutation": {"arg": {"name": ")" + value + R"("}, "buffer_name": ")" + buffer + R"("}})";
  };
  absl::StatusOr<AtenGraph> g = ParseExportedProgramJson(
      BufferProgram("torch.ops.aten.add.Tensor", "[" + mutation("y", "cache") + ", " + user + "]"));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(g->outputs, ElementsAre("y"));
  ASSERT_EQ(g->buffer_mutations.size(), 1u);
  EXPECT_EQ(g->buffer_mutations[0], (std::pair<std::string, std::string>{"y", "cache"}));

  EXPECT_THAT(ParseError(BufferProgram("torch.ops.aten.add.Tensor", "[" + mutation("y", "x") + "]")).message(),
              HasSubstr("output spec #0 (buffer_mutation): mutates 'x', which is not a buffer input"));
  EXPECT_THAT(ParseError(BufferProgram("torch.ops.aten.add.Tensor", "[" + mutation("q", "cache") + "]")).message(),
              HasSubstr("the mutation of buffer 'cache': value 'q' is not defined by the graph"));
  EXPECT_THAT(ParseError(BufferProgram("torch.ops.aten.add.Tensor",
                                       "[" + mutation("y", "cache") + ", " + mutation("y", "cache") + "]"))
                  .message(),
              HasSubstr("output spec #1 (buffer_mutation): mutates 'cache' a second time"));
  const absl::Status bn = ParseError(BufferProgram("torch.ops.aten._native_batch_norm_legit_functional.default",
                                                   "[" + mutation("y", "cache") + "]"));
  EXPECT_EQ(bn.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(bn.message(),
            "buffer 'cache' is updated by node 'y' (torch.ops.aten._native_batch_norm_legit_functional.default): a "
            "training-mode module mutates its batch-norm statistics; call model.eval() before torch.export");
}

TEST(ExportJsonTest, PayloadConfig) {
  absl::StatusOr<std::map<std::string, PayloadMeta>> c = ParsePayloadConfigJson(
      R"({"config": {"l1.weight": {"path_name": "weight_0", "is_param": true, "use_pickle": false,
          "tensor_meta": )" + Meta() + R"(},
          "obj": {"path_name": "custom_obj_0", "is_param": false, "use_pickle": true, "tensor_meta": null}}})");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 2u);
  const PayloadMeta& w = c->at("l1.weight");
  EXPECT_EQ(w.path_name, "weight_0");
  EXPECT_TRUE(w.is_param);
  EXPECT_FALSE(w.use_pickle);
  ASSERT_TRUE(w.tensor_meta.has_value());
  EXPECT_THAT(w.tensor_meta->sizes, ElementsAre(2, 3));
  EXPECT_TRUE(c->at("obj").use_pickle);
  EXPECT_FALSE(c->at("obj").tensor_meta.has_value());

  absl::StatusOr<std::map<std::string, PayloadMeta>> bad =
      ParsePayloadConfigJson(R"({"config": {"w": {"is_param": true}}})");
  EXPECT_THAT(bad.status().message(), HasSubstr("entry 'w': missing field 'path_name'"));
}

TEST(ExportJsonTest, SchemaVersion) {
  const std::string ok = Program("[]", "", R"([{"user_output": {"arg": {"as_tensor": {"name": "x"}}}}])");
  ASSERT_TRUE(ParseExportedProgramJson(ok).ok()) << ParseExportedProgramJson(ok).status();
  auto with_version = [&](const std::string& v) {
    std::string text = ok;
    const std::string from = R"("schema_version": {"major": 8, "minor": 20})";
    text.replace(text.find(from), from.size(), v);
    return ParseExportedProgramJson(text).status();
  };
  EXPECT_TRUE(with_version(R"("schema_version": {"major": 8, "minor": 27})").ok()) << "a newer minor only adds";
  absl::Status st = with_version(R"("schema_version": {"major": 9, "minor": 1})");
  EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(st.message(), "export schema version 9.1 is not supported; this reader supports 8.x "
                          "(written against 8.20, as saved by torch 2.14)");
  st = with_version(R"("schema_version": {"major": 0, "minor": 0})");
  EXPECT_THAT(st.message(), HasSubstr("export schema version 0.0 is not supported"));
  st = with_version(R"("schema_ver": {"major": 8, "minor": 20})");
  EXPECT_EQ(st.message(), "exported program: missing field 'schema_version'");
  st = with_version(R"("schema_version": {"major": "8", "minor": 20})");
  EXPECT_EQ(st.message(), "schema_version.major: expected an integer, got string");
}

}  // namespace
}  // namespace kiln::compiler

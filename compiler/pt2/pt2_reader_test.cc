#include "compiler/pt2/pt2_reader.h"

#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "compiler/pt2/zip_reader.h"
#include "compiler/pt2/zip_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::compiler {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using testing::PeakRssKb;
using testing::ReadFileOrDie;
using testing::TestDataPath;
using testing::WriteZip;
using testing::ZipMember;
using testing::ZipWriteOptions;

std::vector<float> Floats(const WeightTensor& w) {
  std::vector<float> v(w.bytes.size() / sizeof(float));
  std::memcpy(v.data(), w.bytes.data(), v.size() * sizeof(float));
  return v;
}

// The members of a real archive, to rewrite with changes.
std::vector<ZipMember> Members(const std::string& archive) {
  absl::StatusOr<ZipReader> zip = ZipReader::Open(archive, "fixture");
  EXPECT_TRUE(zip.ok()) << zip.status();
  std::vector<ZipMember> out;
  for (const ZipReader::Entry& e : zip->entries()) {
    absl::StatusOr<std::string> data = zip->Read(e.name);
    EXPECT_TRUE(data.ok()) << data.status();
    out.push_back({e.name, *data});
  }
  return out;
}

ZipMember& MemberNamed(std::vector<ZipMember>& members, const std::string& name) {
  for (ZipMember& m : members) {
    if (m.name == name) return m;
  }
  ADD_FAILURE() << "no member " << name;
  static ZipMember none;
  return none;
}

// Rewrites one JSON member of the MLP fixture.
std::string MlpWithJsonEdit(const std::string& member, const std::function<void(nlohmann::json&)>& edit) {
  std::vector<ZipMember> members = Members(ReadFileOrDie(TestDataPath("mlp.pt2")));
  ZipMember& m = MemberNamed(members, member);
  nlohmann::json j = nlohmann::json::parse(m.data);
  edit(j);
  m.data = j.dump();
  return WriteZip(members, {.zip64_eocd = true, .align = 64});
}

// Gives l1.bias (stored as 3 floats) the layout sizes/strides, in the weights config and the graph.
std::string MlpWithBiasLayout(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  auto ints = [](const std::vector<int64_t>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (int64_t x : v) a.push_back({{"as_int", x}});
    return a;
  };
  std::vector<ZipMember> members = Members(ReadFileOrDie(TestDataPath("mlp.pt2")));
  ZipMember& config = MemberNamed(members, "mlp/data/weights/model_weights_config.json");
  nlohmann::json j = nlohmann::json::parse(config.data);
  j["config"]["l1.bias"]["tensor_meta"]["sizes"] = ints(sizes);
  j["config"]["l1.bias"]["tensor_meta"]["strides"] = ints(strides);
  config.data = j.dump();
  ZipMember& model = MemberNamed(members, "mlp/models/model.json");
  j = nlohmann::json::parse(model.data);
  j["graph_module"]["graph"]["tensor_values"]["p_l1_bias"]["sizes"] = ints(sizes);
  j["graph_module"]["graph"]["tensor_values"]["p_l1_bias"]["strides"] = ints(strides);
  model.data = j.dump();
  return WriteZip(members, {.zip64_eocd = true, .align = 64});
}

// The resident size of this process's mapping of a file whose path ends with `suffix`, in KB.
long MappedRssKb(const std::string& suffix) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in_mapping = false;
  while (std::getline(smaps, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find(' ') != std::string::npos &&
        line.find('-') < line.find(' ')) {
      in_mapping = line.size() >= suffix.size() && line.compare(line.size() - suffix.size(), suffix.size(), suffix) == 0;
    } else if (in_mapping && line.rfind("Rss:", 0) == 0) {
      return std::stol(line.substr(4));
    }
  }
  return -1;
}

// The address range of this process's mapping of a file whose path ends with `suffix`, if any.
std::optional<std::pair<uintptr_t, uintptr_t>> MappingOf(const std::string& suffix) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.size() < suffix.size() || line.compare(line.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    uintptr_t begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &begin, &end) == 2) return std::make_pair(begin, end);
  }
  return std::nullopt;
}

void ExpectMlp(const AtenGraph& g) {
  ASSERT_EQ(g.inputs.size(), 3u);
  EXPECT_EQ(g.inputs[0].name, "p_l1_weight");
  EXPECT_EQ(g.inputs[0].kind, InputKind::kParameter);
  EXPECT_EQ(g.inputs[0].target, "l1.weight");
  EXPECT_EQ(g.inputs[1].name, "p_l1_bias");
  EXPECT_EQ(g.inputs[1].kind, InputKind::kParameter);
  EXPECT_EQ(g.inputs[1].target, "l1.bias");
  EXPECT_EQ(g.inputs[2].name, "x");
  EXPECT_EQ(g.inputs[2].kind, InputKind::kUserInput);
  EXPECT_EQ(g.inputs[2].target, "");

  ASSERT_EQ(g.nodes.size(), 3u);
  const AtenNode& permute = g.nodes[0];
  EXPECT_EQ(permute.name, "permute");
  EXPECT_EQ(permute.target, "torch.ops.aten.permute.default");
  ASSERT_NE(permute.Find("self"), nullptr);
  EXPECT_EQ(permute.Find("self")->kind, Argument::Kind::kTensor);
  EXPECT_EQ(permute.Find("self")->tensor, "p_l1_weight");
  ASSERT_NE(permute.Find("dims"), nullptr);
  EXPECT_EQ(permute.Find("dims")->kind, Argument::Kind::kInts);
  EXPECT_THAT(permute.Find("dims")->ints, ElementsAre(1, 0));
  EXPECT_THAT(permute.outputs, ElementsAre("permute"));
  EXPECT_THAT(permute.stack_trace, HasSubstr("in forward"));

  const AtenNode& addmm = g.nodes[1];
  EXPECT_EQ(addmm.target, "torch.ops.aten.addmm.default");
  ASSERT_EQ(addmm.inputs.size(), 3u);
  EXPECT_EQ(addmm.inputs[0].name, "self");
  EXPECT_EQ(addmm.inputs[0].arg.tensor, "p_l1_bias");
  EXPECT_EQ(addmm.inputs[1].name, "mat1");
  EXPECT_EQ(addmm.inputs[1].arg.tensor, "x");
  EXPECT_EQ(addmm.inputs[2].name, "mat2");
  EXPECT_EQ(addmm.inputs[2].arg.tensor, "permute");
  EXPECT_THAT(addmm.outputs, ElementsAre("addmm"));
  EXPECT_EQ(g.nodes[2].target, "torch.ops.aten.relu.default");
  EXPECT_EQ(g.nodes[2].Find("self")->tensor, "addmm");
  EXPECT_EQ(g.FindProducer("addmm"), &g.nodes[1]);
  EXPECT_EQ(g.FindProducer("x"), nullptr);
  EXPECT_THAT(g.outputs, ElementsAre("relu"));

  const TensorMeta& x = g.values.at("x");
  EXPECT_EQ(x.dtype, TorchDType::kFloat);
  EXPECT_THAT(x.sizes, ElementsAre(2, 4));
  EXPECT_THAT(x.strides, ElementsAre(4, 1));
  EXPECT_EQ(x.storage_offset, 0);
  EXPECT_THAT(g.values.at("permute").sizes, ElementsAre(4, 3));
  EXPECT_THAT(g.values.at("permute").strides, ElementsAre(1, 4));  // a view, as exported
  EXPECT_THAT(g.values.at("relu").sizes, ElementsAre(2, 3));
  EXPECT_EQ(g.values.size(), 6u);

  ASSERT_EQ(g.weights.size(), 2u);
  const WeightTensor& w = g.weights.at("l1.weight");
  EXPECT_EQ(w.meta.dtype, TorchDType::kFloat);
  EXPECT_THAT(w.meta.sizes, ElementsAre(3, 4));
  EXPECT_THAT(w.meta.strides, ElementsAre(4, 1));
  std::vector<float> expected;
  for (int i = 0; i < 12; ++i) expected.push_back(i * 0.25f - 1.0f);
  EXPECT_THAT(Floats(w), ElementsAreArray(expected));
  const WeightTensor& b = g.weights.at("l1.bias");
  EXPECT_THAT(b.meta.sizes, ElementsAre(3));
  EXPECT_THAT(Floats(b), ElementsAre(0.5f, -0.5f, 1.5f));
}

TEST(Pt2ReaderTest, ReadsMlp) {
  absl::StatusOr<AtenGraph> g = ReadPt2(TestDataPath("mlp.pt2"));
  ASSERT_TRUE(g.ok()) << g.status();
  ExpectMlp(*g);
}

TEST(Pt2ReaderTest, ReadsConvBnWithBuffersViewsAndConstants) {
  absl::StatusOr<AtenGraph> g = ReadPt2(TestDataPath("convbn.pt2"));
  ASSERT_TRUE(g.ok()) << g.status();
  std::map<std::string, std::pair<InputKind, std::string>> inputs;
  for (const GraphInput& in : g->inputs) inputs[in.name] = {in.kind, in.target};
  EXPECT_EQ(inputs.at("p_conv_weight"), std::make_pair(InputKind::kParameter, std::string("conv.weight")));
  EXPECT_EQ(inputs.at("b_bn_running_mean"), std::make_pair(InputKind::kBuffer, std::string("bn.running_mean")));
  EXPECT_EQ(inputs.at("b_scale"), std::make_pair(InputKind::kBuffer, std::string("scale")));
  EXPECT_EQ(inputs.at("c_k"), std::make_pair(InputKind::kConstantTensor, std::string("k")));
  EXPECT_EQ(inputs.at("x"), std::make_pair(InputKind::kUserInput, std::string()));
  EXPECT_EQ(g->inputs.back().name, "x");

  EXPECT_THAT(Floats(g->weights.at("conv.weight")), ElementsAre(2.0f, -3.0f));
  EXPECT_THAT(g->weights.at("conv.weight").meta.sizes, ElementsAre(2, 1, 1, 1));
  EXPECT_THAT(Floats(g->weights.at("bn.weight")), ElementsAre(1.25f, 0.75f));
  EXPECT_THAT(Floats(g->weights.at("bn.bias")), ElementsAre(0.5f, -0.5f));
  EXPECT_THAT(Floats(g->weights.at("bn.running_mean")), ElementsAre(0.1f, 0.2f));
  EXPECT_THAT(Floats(g->weights.at("bn.running_var")), ElementsAre(1.5f, 2.5f));
  const WeightTensor& nbt = g->weights.at("bn.num_batches_tracked");
  EXPECT_EQ(nbt.meta.dtype, TorchDType::kLong);
  EXPECT_TRUE(nbt.meta.sizes.empty());
  EXPECT_EQ(nbt.bytes.size(), 8u);
  // "scale" is arange(6).reshape(2, 3).t(): stored with strides [1, 3], copied contiguous.
  const WeightTensor& scale = g->weights.at("scale");
  EXPECT_THAT(scale.meta.sizes, ElementsAre(3, 2));
  EXPECT_THAT(scale.meta.strides, ElementsAre(2, 1));
  EXPECT_THAT(Floats(scale), ElementsAre(0, 3, 1, 4, 2, 5));
  EXPECT_THAT(g->values.at("b_scale").strides, ElementsAre(1, 3));  // the graph keeps the export's view
  EXPECT_THAT(Floats(g->weights.at("k")), ElementsAre(10.0f, 20.0f));

  const AtenNode* bn = g->FindProducer("getitem");
  ASSERT_NE(bn, nullptr);
  EXPECT_EQ(bn->target, "torch.ops.aten._native_batch_norm_legit_no_training.default");
  ASSERT_EQ(bn->outputs.size(), 3u);
  EXPECT_EQ(bn->outputs[0], "getitem");
  EXPECT_EQ(g->FindProducer(bn->outputs[2]), bn);
  EXPECT_EQ(bn->Find("running_var")->tensor, "b_bn_running_var");
  EXPECT_EQ(bn->Find("eps")->kind, Argument::Kind::kFloat);
  EXPECT_DOUBLE_EQ(bn->Find("eps")->f, 1e-5);
  const AtenNode* conv = g->FindProducer(bn->Find("input")->tensor);
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->target, "torch.ops.aten.convolution.default");
  EXPECT_EQ(conv->Find("bias")->kind, Argument::Kind::kNone);
  EXPECT_EQ(conv->Find("transposed")->kind, Argument::Kind::kBool);
  EXPECT_EQ(conv->Find("groups")->i, 1);
  EXPECT_THAT(g->outputs, ElementsAre("add_1"));
}

TEST(Pt2ReaderTest, IndependentOfPrefixCompressionAndZipFlavor) {
  const std::string original = ReadFileOrDie(TestDataPath("mlp.pt2"));
  struct Variant {
    std::string prefix;
    bool deflate;
    ZipWriteOptions options;
  };
  for (const Variant& v : {Variant{"renamed/", false, {}}, Variant{"", false, {}},
                           Variant{"x/", true, {.data_descriptor = true}},
                           Variant{"deep/", true, {.zip64_extra = true, .align = 64}}}) {
    std::vector<ZipMember> members = Members(original);
    for (ZipMember& m : members) {
      m.name = v.prefix + m.name.substr(m.name.find('/') + 1);
      m.deflate = v.deflate;
    }
    absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(WriteZip(members, v.options), "variant.pt2");
    ASSERT_TRUE(g.ok()) << v.prefix << ": " << g.status();
    ExpectMlp(*g);
  }
}

TEST(Pt2ReaderTest, MissingFile) {
  absl::StatusOr<AtenGraph> g = ReadPt2("/nonexistent/model.pt2");
  EXPECT_EQ(g.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(g.status().message(), HasSubstr("/nonexistent/model.pt2"));
}

TEST(Pt2ReaderTest, NotAZip) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/text.pt2";
  std::ofstream(path) << "this is not a zip file";
  absl::StatusOr<AtenGraph> g = ReadPt2(path);
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(g.status().message(), HasSubstr(path + ": not a zip archive"));
}

TEST(Pt2ReaderTest, TruncatedArchive) {
  const std::string bytes = ReadFileOrDie(TestDataPath("mlp.pt2"));
  absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(bytes.substr(0, bytes.size() / 2), "half.pt2");
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(g.status().message(), HasSubstr("half.pt2: not a zip archive (or truncated)"));
  for (size_t len = 0; len < bytes.size(); ++len) {
    ASSERT_FALSE(ReadPt2FromBuffer(bytes.substr(0, len), "t.pt2").ok()) << len;
  }
}

TEST(Pt2ReaderTest, CorruptMemberCrc) {
  std::string bytes = ReadFileOrDie(TestDataPath("mlp.pt2"));
  absl::StatusOr<ZipReader> zip = ZipReader::Open(bytes, "mlp.pt2");
  ASSERT_TRUE(zip.ok());
  const uint64_t offset = zip->Find("mlp/data/weights/weight_0")->data_offset;
  bytes[offset + 5] ^= 0x10;
  absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(bytes, "mlp.pt2");
  EXPECT_EQ(g.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(g.status().message(),
              HasSubstr("mlp.pt2: member 'mlp/data/weights/weight_0' (data at byte " +
                        std::to_string(offset) + "): CRC-32 mismatch"));
}

TEST(Pt2ReaderTest, CorruptingAnyByteNeverCrashes) {
  const std::string bytes = ReadFileOrDie(TestDataPath("mlp.pt2"));
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    std::string damaged = bytes;
    damaged[pos] = static_cast<char>(~damaged[pos]);
    absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(damaged, "d.pt2");
    if (g.ok()) ExpectMlp(*g);  // only bytes nobody reads (padding, timestamps, ...) may change
  }
}

TEST(Pt2ReaderTest, MissingModelJson) {
  std::vector<ZipMember> members = Members(ReadFileOrDie(TestDataPath("mlp.pt2")));
  std::erase_if(members, [](const ZipMember& m) { return m.name == "mlp/models/model.json"; });
  absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(WriteZip(members), "nomodel.pt2");
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(g.status().message(),
              HasSubstr("nomodel.pt2: missing model graph member 'mlp/models/model.json'"));
}

TEST(Pt2ReaderTest, PickledWeight) {
  const std::string bytes = MlpWithJsonEdit("mlp/data/weights/model_weights_config.json", [](nlohmann::json& j) {
    j["config"]["l1.weight"]["use_pickle"] = true;
  });
  absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(bytes, "pickled.pt2");
  EXPECT_EQ(g.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(g.status().message(),
              HasSubstr("pickled.pt2: member 'mlp/data/weights/weight_0': parameter 'l1.weight' "
                        "(graph input 'p_l1_weight') is stored pickled"));
}

TEST(Pt2ReaderTest, WeightErrors) {
  {
    const std::string bytes = MlpWithJsonEdit("mlp/data/weights/model_weights_config.json",
                                              [](nlohmann::json& j) { j["config"].erase("l1.bias"); });
    absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(bytes, "w.pt2");
    EXPECT_THAT(g.status().message(),
                HasSubstr("w.pt2: parameter 'l1.bias' (graph input 'p_l1_bias') has no entry in "
                          "'mlp/data/weights/model_weights_config.json'"));
  }
  {
    // A storage too small for the declared view.
    const std::string bytes = MlpWithJsonEdit("mlp/data/weights/model_weights_config.json", [](nlohmann::json& j) {
      j["config"]["l1.bias"]["tensor_meta"]["storage_offset"]["as_int"] = 1;
    });
    absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(bytes, "w.pt2");
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(g.status().message(),
                HasSubstr("member 'mlp/data/weights/weight_1': parameter 'l1.bias' (graph input "
                          "'p_l1_bias'): the tensor (sizes [3], strides [1], storage_offset 1) needs "
                          "16 bytes of storage but the storage has 12"));
  }
  {
    const std::string bytes = MlpWithJsonEdit("mlp/data/weights/model_weights_config.json", [](nlohmann::json& j) {
      j["config"]["l1.bias"]["tensor_meta"]["dtype"] = 8;
    });
    absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(bytes, "w.pt2");
    EXPECT_THAT(g.status().message(), HasSubstr("stored as float64[3] but the graph says float32[3]"));
  }
  {
    const std::string bytes = MlpWithJsonEdit("mlp/data/weights/model_weights_config.json", [](nlohmann::json& j) {
      j["config"]["l1.bias"]["path_name"] = "weight_9";
    });
    absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(bytes, "w.pt2");
    EXPECT_THAT(g.status().message(),
                HasSubstr("storage member 'mlp/data/weights/weight_9' is missing from the archive"));
  }
}

TEST(Pt2ReaderTest, GraphErrorsNameTheMember) {
  {
    const std::string bytes = MlpWithJsonEdit("mlp/models/model.json", [](nlohmann::json& j) {
      j["graph_module"]["graph"]["tensor_values"]["x"]["sizes"][0] =
          {{"as_expr", {{"expr_str", "s0"}, {"hint", {{"as_int", 2}}}}}};
    });
    absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(bytes, "dyn.pt2");
    EXPECT_EQ(g.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(g.status().message(),
                HasSubstr("dyn.pt2: member 'mlp/models/model.json': value 'x': dynamic shapes are "
                          "not supported yet"));
  }
  {
    const std::string bytes = MlpWithJsonEdit("mlp/models/model.json", [](nlohmann::json& j) {
      j["graph_module"]["graph"]["nodes"][1]["inputs"][2]["arg"]["as_tensor"]["name"] = "nope";
    });
    absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(bytes, "g.pt2");
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(g.status().message(),
                HasSubstr("g.pt2: member 'mlp/models/model.json': node 'addmm' "
                          "(torch.ops.aten.addmm.default): argument 'mat2' uses value 'nope'"));
  }
  {
    const std::string bytes = MlpWithJsonEdit("mlp/models/model.json", [](nlohmann::json& j) {
      j["graph_module"]["signature"]["output_specs"][0] =
          {{"buffer_mutation", {{"arg", {{"name", "relu"}}}, {"buffer_name", "l1.bias"}}}};
    });
    absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(bytes, "bm.pt2");
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(g.status().message(),
                HasSubstr("output spec #0 (buffer_mutation): mutates 'l1.bias', which is not a buffer input"));
  }
}

TEST(Pt2ReaderTest, MutatedJsonNeverCrashes) {
  const std::string original = ReadFileOrDie(TestDataPath("convbn.pt2"));
  const std::vector<ZipMember> members = Members(original);
  std::mt19937 rng(42);
  for (const char* target : {"convbn/models/model.json", "convbn/data/weights/model_weights_config.json",
                             "convbn/data/constants/model_constants_config.json"}) {
    for (int iter = 0; iter < 150; ++iter) {
      std::vector<ZipMember> mutated = members;
      std::string& text = MemberNamed(mutated, target).data;
      switch (iter % 3) {
        case 0:  // random byte edits (keep it JSON-ish: digits, quotes, brackets)
          for (int k = 0; k < 3; ++k) text[rng() % text.size()] = "0129-\"[]{}:,e."[rng() % 14];
          break;
        case 1:
          text.resize(rng() % text.size());
          break;
        case 2: {  // delete a random span
          const size_t a = rng() % text.size();
          text.erase(a, rng() % 40);
          break;
        }
      }
      absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(WriteZip(mutated), "m.pt2");
      if (!g.ok()) {
        EXPECT_THAT(g.status().message(), HasSubstr("m.pt2: ")) << g.status();
      }
    }
  }
}

TEST(Pt2ReaderTest, StoredWeightsAreReadInPlaceFromTheMappedFile) {
  std::optional<WeightTensor> kept;
  {
    absl::StatusOr<AtenGraph> g = ReadPt2(TestDataPath("convbn.pt2"));
    ASSERT_TRUE(g.ok()) << g.status();
    const auto mapping = MappingOf("/convbn.pt2");
    ASSERT_TRUE(mapping.has_value()) << "the archive is not memory-mapped";
    auto in_mapping = [&](const WeightTensor& w) {
      const auto p = reinterpret_cast<uintptr_t>(w.bytes.data());
      return p >= mapping->first && p + w.bytes.size() <= mapping->second;
    };
    EXPECT_TRUE(in_mapping(g->weights.at("conv.weight")));
    EXPECT_TRUE(in_mapping(g->weights.at("bn.running_var")));
    EXPECT_FALSE(in_mapping(g->weights.at("scale"))) << "a transposed weight is copied contiguous";
    kept = g->weights.at("conv.weight");
  }
  // A weight outlives its graph: it keeps the mapping alive, which goes when the last view does.
  ASSERT_TRUE(MappingOf("/convbn.pt2").has_value());
  EXPECT_THAT(Floats(*kept), ElementsAre(2.0f, -3.0f));
  kept.reset();
  EXPECT_FALSE(MappingOf("/convbn.pt2").has_value());
}

TEST(Pt2ReaderTest, OnlyRegularFiles) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  absl::StatusOr<AtenGraph> g = ReadPt2(dir);
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(g.status().message(), dir + ": not a regular file (a directory)");
  g = ReadPt2("/dev/zero");  // used to be read until memory ran out
  EXPECT_EQ(g.status().message(), "/dev/zero: not a regular file");
  const std::string fifo = dir + "/model_fifo.pt2";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  g = ReadPt2(fifo);  // without waiting for a writer
  EXPECT_EQ(g.status().message(), fifo + ": not a regular file");
  const std::string empty = dir + "/empty.pt2";
  std::ofstream(empty).close();
  g = ReadPt2(empty);
  EXPECT_THAT(g.status().message(), HasSubstr(empty + ": not a zip archive: only 0 bytes"));
}

TEST(Pt2ReaderTest, ZeroStrideWeights) {
  // A small broadcast weight is expanded.
  absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(MlpWithBiasLayout({2, 3}, {0, 1}), "b.pt2");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(Floats(g->weights.at("l1.bias")), ElementsAre(0.5f, -0.5f, 1.5f, 0.5f, -0.5f, 1.5f));
  EXPECT_THAT(g->weights.at("l1.bias").meta.strides, ElementsAre(3, 1));

  // The bad inputs crash_stride0_wrap.pt2 (the byte count wrapped to 0, then a write through null),
  // crash_stride0_bad_alloc.pt2 (2^62 bytes asked for) and mem_stride0_1GiB.pt2 (1 GiB allocated):
  // zero-stride views of one stored float, refused before allocating.
  const std::string prefix =
      "b.pt2: member 'mlp/data/weights/weight_1': parameter 'l1.bias' (graph input 'p_l1_bias'): ";
  struct Case {
    int64_t size;
    std::string bytes;
  };
  for (const Case& c : {Case{int64_t{1} << 31, "more than 2^64"}, Case{int64_t{1} << 30, "4611686018427387904"},
                        Case{16384, "1073741824"}}) {
    const std::string archive = MlpWithBiasLayout({c.size, c.size}, {0, 0});
    const long before = PeakRssKb();
    g = ReadPt2FromBuffer(archive, "b.pt2");
    EXPECT_LT(PeakRssKb() - before, 64 * 1024) << c.size;
    EXPECT_EQ(g.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(g.status().message(),
              absl::StrCat(prefix, "the tensor (sizes [", c.size, ", ", c.size,
                           "], strides [0, 0], storage_offset 0) would take ", c.bytes,
                           " bytes made contiguous, from 4 bytes of storage (zero strides broadcast it); "
                           "copies of non-contiguous weights may total at most the archive's size (",
                           archive.size(), " bytes, 0 used so far); save the weight contiguous before exporting"));
  }
  // A layout reaching past its storage is refused, however far (the index arithmetic cannot overflow).
  g = ReadPt2FromBuffer(MlpWithBiasLayout({2, 2}, {int64_t{1} << 62, 1}), "b.pt2");
  EXPECT_EQ(std::string(g.status().message()),
            prefix + "the tensor (sizes [2, 2], strides [4611686018427387904, 1], storage_offset 0) needs "
                     "more than 2^64 bytes of storage but the storage has 12");
}

TEST(Pt2ReaderTest, ArchiveVersion) {
  std::vector<ZipMember> members = Members(ReadFileOrDie(TestDataPath("mlp.pt2")));
  MemberNamed(members, "mlp/archive_version").data = "1";
  absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(WriteZip(members), "v.pt2");
  EXPECT_EQ(g.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(g.status().message(),
            "v.pt2: member 'mlp/archive_version': PT2 archive version '1' is not supported; this reader "
            "supports version 0 (the version torch 2.14 writes)");
  // Archives from before the member existed are version 0.
  std::erase_if(members, [](const ZipMember& m) { return m.name == "mlp/archive_version"; });
  g = ReadPt2FromBuffer(WriteZip(members), "v.pt2");
  ASSERT_TRUE(g.ok()) << g.status();
  ExpectMlp(*g);
}

TEST(Pt2ReaderTest, SchemaVersion) {
  const std::string bytes = MlpWithJsonEdit("mlp/models/model.json", [](nlohmann::json& j) {
    j["schema_version"] = {{"major", 9}, {"minor", 0}};
  });
  absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(bytes, "s.pt2");
  EXPECT_EQ(g.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(g.status().message(),
            "s.pt2: member 'mlp/models/model.json': export schema version 9.0 is not supported; this "
            "reader supports 8.x (written against 8.20, as saved by torch 2.14)");
}

TEST(Pt2ReaderTest, MarkerMembersAreNeitherInflatedNorQuotedWhole) {
  std::vector<ZipMember> members = Members(ReadFileOrDie(TestDataPath("mlp.pt2")));
  // 64 MB of deflated text in archive_format (the bad input had a 1 GiB member, all of it quoted in
  // the error).
  MemberNamed(members, "mlp/archive_format") = {"mlp/archive_format", std::string(64 << 20, 'p'), true};
  absl::StatusOr<AtenGraph> g = ReadPt2FromBuffer(WriteZip(members), "f.pt2");
  EXPECT_EQ(g.status().message(), "f.pt2: member 'mlp/archive_format' has 67108864 bytes; expected 'pt2'");
  MemberNamed(members, "mlp/archive_format") = {"mlp/archive_format", "pt3\x01" + std::string(50, 'x')};
  g = ReadPt2FromBuffer(WriteZip(members), "f.pt2");
  EXPECT_EQ(g.status().message(),
            "f.pt2: member 'mlp/archive_format' says archive format "
            "'pt3\\x01xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...', expected 'pt2'");
}

TEST(Pt2ReaderTest, MappedWeightsCanBeEvictedAndReadAgain) {
  // The MLP with a 4 MB l1.weight, written to a file.
  constexpr int64_t kCols = 1 << 18;
  std::vector<ZipMember> members = Members(ReadFileOrDie(TestDataPath("mlp.pt2")));
  std::string data(3 * kCols * sizeof(float), '\0');
  for (int64_t i = 0; i < 3 * kCols; ++i) {
    const float v = static_cast<float>(i % 1000);
    std::memcpy(&data[i * sizeof(float)], &v, sizeof(float));
  }
  MemberNamed(members, "mlp/data/weights/weight_0").data = data;
  const nlohmann::json sizes = {{{"as_int", 3}}, {{"as_int", kCols}}};
  const nlohmann::json strides = {{{"as_int", kCols}}, {{"as_int", 1}}};
  ZipMember& config = MemberNamed(members, "mlp/data/weights/model_weights_config.json");
  nlohmann::json j = nlohmann::json::parse(config.data);
  j["config"]["l1.weight"]["tensor_meta"]["sizes"] = sizes;
  j["config"]["l1.weight"]["tensor_meta"]["strides"] = strides;
  config.data = j.dump();
  ZipMember& model = MemberNamed(members, "mlp/models/model.json");
  j = nlohmann::json::parse(model.data);
  j["graph_module"]["graph"]["tensor_values"]["p_l1_weight"]["sizes"] = sizes;
  j["graph_module"]["graph"]["tensor_values"]["p_l1_weight"]["strides"] = strides;
  model.data = j.dump();
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/wide_mlp.pt2";
  std::ofstream(path, std::ios::binary) << WriteZip(members, {.zip64_eocd = true, .align = 64});

  absl::StatusOr<AtenGraph> g = ReadPt2(path);
  ASSERT_TRUE(g.ok()) << g.status();
  // The CRC check read all 3 MB; the reader let the pages go again.
  EXPECT_LT(MappedRssKb("/wide_mlp.pt2"), 256);
  const WeightTensor& w = g->weights.at("l1.weight");
  ASSERT_EQ(w.bytes.size(), data.size());
  EXPECT_EQ(std::memcmp(w.bytes.data(), data.data(), data.size()), 0);  // paged in again
  EXPECT_GT(MappedRssKb("/wide_mlp.pt2"), 3 * 1024);
  w.bytes.Evict();  // as lowering does once it has converted the weight
  EXPECT_LT(MappedRssKb("/wide_mlp.pt2"), 256);
  EXPECT_EQ(std::memcmp(w.bytes.data(), data.data(), data.size()), 0);
}

}  // namespace
}  // namespace kiln::compiler

// Prints a summary of a .pt2 archive as the reader sees it: inputs, nodes, outputs, weights.
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/pt2/pt2_reader.h"

namespace {

using kiln::compiler::Argument;
using kiln::compiler::TensorMeta;

std::string MetaString(const TensorMeta& m) {
  return absl::StrCat(kiln::compiler::TorchDTypeName(m.dtype), "[", absl::StrJoin(m.sizes, ","), "]");
}

std::string ArgString(const Argument& a) {
  switch (a.kind) {
    case Argument::Kind::kNone: return "None";
    case Argument::Kind::kTensor: return "%" + a.tensor;
    case Argument::Kind::kTensors:
    case Argument::Kind::kOptionalTensors: return absl::StrCat("[%", absl::StrJoin(a.tensors, ", %"), "]");
    case Argument::Kind::kInt: return absl::StrCat(a.i);
    case Argument::Kind::kInts: return absl::StrCat("[", absl::StrJoin(a.ints, ", "), "]");
    case Argument::Kind::kFloat: return absl::StrCat(a.f);
    case Argument::Kind::kFloats: return absl::StrCat("[", absl::StrJoin(a.floats, ", "), "]");
    case Argument::Kind::kBool: return a.b ? "True" : "False";
    case Argument::Kind::kBools: return absl::StrCat("[", absl::StrJoin(a.bools, ", "), "]");
    case Argument::Kind::kString: return "'" + a.s + "'";
    case Argument::Kind::kScalarType: return absl::StrCat("dtype:", a.i);
    case Argument::Kind::kMemoryFormat: return absl::StrCat("memory_format:", a.i);
    case Argument::Kind::kLayout: return absl::StrCat("layout:", a.i);
    case Argument::Kind::kDevice: return "device:" + a.s;
    case Argument::Kind::kOther: return "<" + a.s + ">";
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  const bool list_weights = argc == 3 && std::strcmp(argv[1], "--weights") == 0;
  if (argc != 2 && !list_weights) {
    std::fprintf(stderr, "usage: %s [--weights] model.pt2\n", argv[0]);
    return 2;
  }
  absl::StatusOr<kiln::compiler::AtenGraph> g = kiln::compiler::ReadPt2(argv[argc - 1]);
  if (!g.ok()) {
    std::fprintf(stderr, "error: %s\n", g.status().ToString().c_str());
    return 1;
  }
  static const char* kKinds[] = {"user_input", "parameter", "buffer", "constant"};
  for (const auto& in : g->inputs) {
    std::printf("input %%%s %s %s %s\n", in.name.c_str(), kKinds[static_cast<int>(in.kind)],
                in.target.c_str(), MetaString(g->values.at(in.name)).c_str());
  }
  for (const auto& n : g->nodes) {
    std::vector<std::string> args;
    for (const auto& a : n.inputs) args.push_back(a.name + "=" + ArgString(a.arg));
    std::vector<std::string> outs;
    for (const auto& o : n.outputs) {
      outs.push_back(o.empty() ? "_" : absl::StrCat("%", o, ":", MetaString(g->values.at(o))));
    }
    std::printf("%s = %s(%s)\n", absl::StrJoin(outs, ", ").c_str(), n.target.c_str(),
                absl::StrJoin(args, ", ").c_str());
  }
  std::printf("outputs: %%%s\n", absl::StrJoin(g->outputs, ", %").c_str());
  size_t total = 0;
  for (const auto& [name, w] : g->weights) {
    total += w.bytes.size();
    if (list_weights) {
      std::printf("weight %s %s crc32=%08lx\n", name.c_str(), MetaString(w.meta).c_str(),
                  crc32_z(0, w.bytes.data(), w.bytes.size()));
    }
  }
  std::printf("%zu weights, %zu bytes\n", g->weights.size(), total);
  return 0;
}

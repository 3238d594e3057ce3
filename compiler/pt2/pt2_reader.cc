#include "compiler/pt2/pt2_reader.h"

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <list>
#include <map>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/pt2/export_json.h"
#include "compiler/pt2/zip_reader.h"

namespace kiln::compiler {
namespace {

// The model name torch.export.save uses (models/<name>.json, data/weights/<name>_weights_config.json).
constexpr char kModelName[] = "model";

absl::Status WithPrefix(const absl::Status& st, const std::string& prefix) {
  return absl::Status(st.code(), absl::StrCat(prefix, ": ", st.message()));
}

std::string Trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(s.find_last_not_of(ws) + 1);
  s.erase(0, s.find_first_not_of(ws));
  return s;
}

std::string DimsString(const std::vector<int64_t>& v) { return absl::StrCat("[", absl::StrJoin(v, ", "), "]"); }

const char* InputKindName(InputKind k) {
  switch (k) {
    case InputKind::kUserInput: return "user input";
    case InputKind::kParameter: return "parameter";
    case InputKind::kBuffer: return "buffer";
    case InputKind::kConstantTensor: return "tensor constant";
  }
  return "input";
}

// Copies the strided view (sizes/strides/storage_offset, in elements) of `storage` into a contiguous
// row-major buffer, checking that every element lies inside the storage.
absl::StatusOr<std::vector<uint8_t>> GatherContiguous(std::string_view storage, const TensorMeta& m,
                                                      int64_t elem, const std::string& ctx) {
  const size_t rank = m.sizes.size();
  if (m.strides.size() != rank) {
    return absl::InvalidArgumentError(absl::StrCat(ctx, ": ", rank, " sizes but ", m.strides.size(), " strides"));
  }
  if (m.storage_offset < 0) {
    return absl::InvalidArgumentError(absl::StrCat(ctx, ": negative storage_offset ", m.storage_offset));
  }
  unsigned __int128 numel = 1, max_index = static_cast<uint64_t>(m.storage_offset);
  constexpr unsigned __int128 kLimit = static_cast<unsigned __int128>(1) << 62;
  for (size_t d = 0; d < rank; ++d) {
    if (m.sizes[d] < 0 || m.strides[d] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(ctx, ": negative size or stride (sizes ",
                                                     DimsString(m.sizes), ", strides ",
                                                     DimsString(m.strides), ")"));
    }
    numel *= static_cast<uint64_t>(m.sizes[d]);
    if (numel > kLimit) return absl::InvalidArgumentError(absl::StrCat(ctx, ": tensor too large"));
  }
  if (numel == 0) return std::vector<uint8_t>();
  for (size_t d = 0; d < rank; ++d) {
    max_index += static_cast<unsigned __int128>(m.sizes[d] - 1) * static_cast<uint64_t>(m.strides[d]);
    if (max_index > kLimit) return absl::InvalidArgumentError(absl::StrCat(ctx, ": strides too large"));
  }
  const unsigned __int128 needed = (max_index + 1) * static_cast<uint64_t>(elem);
  if (needed > storage.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        ctx, ": the tensor (sizes ", DimsString(m.sizes), ", strides ", DimsString(m.strides),
        ", storage_offset ", m.storage_offset, ") needs ", static_cast<uint64_t>(needed),
        " bytes of storage but the storage has ", storage.size()));
  }
  std::vector<uint8_t> out(static_cast<size_t>(numel * static_cast<uint64_t>(elem)));
  const char* base = storage.data();
  // Contiguous (ignoring strides of size-1 dims): one copy.
  bool contiguous = true;
  int64_t expect = 1;
  for (size_t d = rank; d-- > 0;) {
    if (m.sizes[d] != 1 && m.strides[d] != expect) contiguous = false;
    expect *= m.sizes[d];
  }
  if (contiguous) {
    std::memcpy(out.data(), base + m.storage_offset * elem, out.size());
    return out;
  }
  // General case: walk the outer dimensions with an odometer; copy the innermost dimension as one
  // run when it is dense.
  const int64_t inner = rank == 0 ? 1 : m.sizes[rank - 1];
  const int64_t inner_stride = rank == 0 ? 1 : m.strides[rank - 1];
  std::vector<int64_t> idx(rank, 0);
  uint8_t* dst = out.data();
  while (true) {
    int64_t src = m.storage_offset;
    for (size_t d = 0; d + 1 < rank; ++d) src += idx[d] * m.strides[d];
    if (inner_stride == 1) {
      std::memcpy(dst, base + src * elem, static_cast<size_t>(inner * elem));
      dst += inner * elem;
    } else {
      for (int64_t k = 0; k < inner; ++k) {
        std::memcpy(dst, base + (src + k * inner_stride) * elem, static_cast<size_t>(elem));
        dst += elem;
      }
    }
    if (rank <= 1) break;
    size_t d = rank - 1;
    while (d-- > 0) {
      if (++idx[d] < m.sizes[d]) break;
      idx[d] = 0;
    }
    if (d == static_cast<size_t>(-1)) break;
  }
  return out;
}

std::vector<int64_t> ContiguousStrides(const std::vector<int64_t>& sizes) {
  std::vector<int64_t> strides(sizes.size());
  int64_t s = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    strides[d] = s;
    s *= std::max<int64_t>(sizes[d], 1);
  }
  return strides;
}

struct PayloadSource {
  std::string config_member;  // e.g. "mlp/data/weights/model_weights_config.json"
  std::string dir;            // e.g. "mlp/data/weights/"
  bool present = false;
  std::map<std::string, PayloadMeta> config;
};

absl::Status LoadPayloadConfig(const ZipReader& zip, const std::string& display_name,
                               PayloadSource* src) {
  const ZipReader::Entry* e = zip.Find(src->config_member);
  if (e == nullptr) {
    const std::string legacy = absl::StrCat(src->dir, kModelName, ".pt");
    if (zip.Find(legacy) != nullptr) {
      return absl::UnimplementedError(absl::StrCat(
          display_name, ": member '", legacy,
          "': legacy pickled weight format (torch < 2.6); re-save with a current torch.export.save"));
    }
    return absl::OkStatus();  // no payloads of this kind
  }
  std::string scratch;
  absl::StatusOr<std::string_view> text = zip.ReadView(*e, &scratch);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::map<std::string, PayloadMeta>> config = ParsePayloadConfigJson(*text);
  if (!config.ok()) {
    return WithPrefix(config.status(), absl::StrCat(display_name, ": member '", src->config_member, "'"));
  }
  src->config = std::move(*config);
  src->present = true;
  return absl::OkStatus();
}

// Picks the folder all members live under ("mlp/"), or "" for an archive written without one.
absl::StatusOr<std::string> FindPrefix(const ZipReader& zip, const std::string& display_name) {
  const std::string model_rel = absl::StrCat("models/", kModelName, ".json");
  if (zip.entries().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(display_name, ": the zip archive is empty"));
  }
  const std::string& first = zip.entries().front().name;
  const size_t slash = first.find('/');
  const std::string top = slash == std::string::npos ? "" : first.substr(0, slash + 1);
  if (!top.empty() && zip.Find(top + model_rel) != nullptr) return top;
  if (zip.Find(model_rel) != nullptr) return std::string();
  // Explain what is there instead.
  std::vector<std::string> models, sample;
  for (const ZipReader::Entry& e : zip.entries()) {
    if (e.name.find("models/") != std::string::npos && e.name.size() > 5 &&
        e.name.compare(e.name.size() - 5, 5, ".json") == 0) {
      models.push_back(e.name);
    }
    if (sample.size() < 8) sample.push_back(e.name);
  }
  std::string hint;
  if (!models.empty()) {
    hint = absl::StrCat("; this reader loads the model named '", kModelName,
                        "' but the archive has: ", absl::StrJoin(models, ", "));
  } else if (zip.Find(top + "data.pkl") != nullptr) {
    hint = "; this looks like a torch.save / TorchScript archive, not torch.export.save";
  } else {
    hint = absl::StrCat("; not a torch.export.save archive? members: ", absl::StrJoin(sample, ", "),
                        zip.entries().size() > sample.size() ? ", ..." : "");
  }
  return absl::InvalidArgumentError(absl::StrCat(display_name, ": missing model graph member '",
                                                 top, model_rel, "'", hint));
}

}  // namespace

absl::StatusOr<AtenGraph> ReadPt2(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    const int err = errno;
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot open file: ", err != 0 ? std::strerror(err) : "unknown error"));
  }
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  f.seekg(0, std::ios::beg);
  if (size < 0) return absl::DataLossError(absl::StrCat(path, ": cannot determine the file size"));
  std::string bytes(static_cast<size_t>(size), '\0');
  if (size > 0 && !f.read(bytes.data(), size)) {
    return absl::DataLossError(absl::StrCat(path, ": read error after ", f.gcount(), " of ", size, " bytes"));
  }
  return ReadPt2FromBuffer(bytes, path);
}

absl::StatusOr<AtenGraph> ReadPt2FromBuffer(const std::string& bytes, const std::string& display_name) {
  absl::StatusOr<ZipReader> zip_or = ZipReader::Open(bytes, display_name);
  if (!zip_or.ok()) return zip_or.status();
  const ZipReader& zip = *zip_or;
  absl::StatusOr<std::string> prefix_or = FindPrefix(zip, display_name);
  if (!prefix_or.ok()) return prefix_or.status();
  const std::string prefix = *prefix_or;

  // Small sanity markers, when present.
  if (const ZipReader::Entry* e = zip.Find(prefix + "archive_format"); e != nullptr) {
    absl::StatusOr<std::string> v = zip.Read(e->name);
    if (!v.ok()) return v.status();
    if (Trim(*v) != "pt2") {
      return absl::InvalidArgumentError(absl::StrCat(display_name, ": member '", e->name,
                                                     "' says archive format '", Trim(*v),
                                                     "', expected 'pt2'"));
    }
  }
  if (const ZipReader::Entry* e = zip.Find(prefix + "byteorder"); e != nullptr) {
    absl::StatusOr<std::string> v = zip.Read(e->name);
    if (!v.ok()) return v.status();
    if (Trim(*v) != "little") {
      return absl::UnimplementedError(absl::StrCat(display_name, ": member '", e->name,
                                                   "': byte order '", Trim(*v),
                                                   "' is not supported (only little-endian)"));
    }
  }

  // The graph.
  const std::string model_member = absl::StrCat(prefix, "models/", kModelName, ".json");
  AtenGraph graph;
  {
    std::string scratch;
    absl::StatusOr<std::string_view> text = zip.ReadView(*zip.Find(model_member), &scratch);
    if (!text.ok()) return text.status();
    absl::StatusOr<AtenGraph> g = ParseExportedProgramJson(*text);
    if (!g.ok()) return WithPrefix(g.status(), absl::StrCat(display_name, ": member '", model_member, "'"));
    graph = std::move(*g);
  }

  // Weights, buffers and lifted constants, keyed by fully qualified name.
  PayloadSource weights, constants;
  weights.config_member = absl::StrCat(prefix, "data/weights/", kModelName, "_weights_config.json");
  weights.dir = prefix + "data/weights/";
  constants.config_member = absl::StrCat(prefix, "data/constants/", kModelName, "_constants_config.json");
  constants.dir = prefix + "data/constants/";
  bool needs_payloads = false;
  for (const GraphInput& in : graph.inputs) needs_payloads |= in.kind != InputKind::kUserInput;
  if (needs_payloads) {
    if (absl::Status st = LoadPayloadConfig(zip, display_name, &weights); !st.ok()) return st;
    if (absl::Status st = LoadPayloadConfig(zip, display_name, &constants); !st.ok()) return st;
  }
  std::map<std::string, std::string_view> storages;  // CRC-checked member bytes, by member name
  std::list<std::string> inflated;                    // owns inflated member bytes
  for (const GraphInput& in : graph.inputs) {
    if (in.kind == InputKind::kUserInput || graph.weights.count(in.target)) continue;
    // Non-persistent buffers are saved with the constants, so look in both configs.
    PayloadSource* order[2] = {&weights, &constants};
    if (in.kind == InputKind::kConstantTensor) std::swap(order[0], order[1]);
    const PayloadSource* src = nullptr;
    const PayloadMeta* pm = nullptr;
    for (PayloadSource* s : order) {
      auto it = s->config.find(in.target);
      if (it != s->config.end()) {
        src = s;
        pm = &it->second;
        break;
      }
    }
    const std::string what = absl::StrCat(InputKindName(in.kind), " '", in.target, "' (graph input '", in.name, "')");
    if (pm == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          display_name, ": ", what, " has no entry in '", weights.config_member, "'",
          weights.present ? "" : " (missing)", " or '", constants.config_member, "'",
          constants.present ? "" : " (missing)"));
    }
    const std::string member = src->dir + pm->path_name;
    const std::string ctx = absl::StrCat(display_name, ": member '", member, "': ", what);
    if (pm->use_pickle) {
      return absl::UnimplementedError(absl::StrCat(
          ctx, " is stored pickled (use_pickle: a tensor subclass?); pickled weights are not supported"));
    }
    if (!pm->tensor_meta.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(ctx, ": the payload config entry has no tensor_meta"));
    }
    const TensorMeta& meta = *pm->tensor_meta;
    const int64_t elem = TorchDTypeSize(meta.dtype);
    if (elem == 0) {
      return absl::UnimplementedError(absl::StrCat(ctx, " has dtype ", TorchDTypeName(meta.dtype), " (code ",
                                                   static_cast<int>(meta.dtype), "), which is not supported"));
    }
    if (auto v = graph.values.find(in.name); v != graph.values.end()) {
      if (v->second.sizes != meta.sizes || v->second.dtype != meta.dtype) {
        return absl::InvalidArgumentError(absl::StrCat(
            ctx, ": stored as ", TorchDTypeName(meta.dtype), DimsString(meta.sizes), " but the graph says ",
            TorchDTypeName(v->second.dtype), DimsString(v->second.sizes)));
      }
    }
    auto st_it = storages.find(member);
    if (st_it == storages.end()) {
      const ZipReader::Entry* e = zip.Find(member);
      if (e == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(display_name, ": ", what, ": storage member '",
                                                       member, "' is missing from the archive"));
      }
      std::string scratch;
      absl::StatusOr<std::string_view> data = zip.ReadView(*e, &scratch);
      if (!data.ok()) return data.status();
      std::string_view view = *data;
      if (e->method != 0) {
        inflated.push_back(std::move(scratch));
        view = inflated.back();
      }
      st_it = storages.emplace(member, view).first;
    }
    absl::StatusOr<std::vector<uint8_t>> bytes_or = GatherContiguous(st_it->second, meta, elem, ctx);
    if (!bytes_or.ok()) return bytes_or.status();
    WeightTensor w;
    w.meta.dtype = meta.dtype;
    w.meta.sizes = meta.sizes;
    w.meta.strides = ContiguousStrides(meta.sizes);
    w.meta.storage_offset = 0;
    w.bytes = std::move(*bytes_or);
    graph.weights.emplace(in.target, std::move(w));
  }
  return graph;
}

}  // namespace kiln::compiler

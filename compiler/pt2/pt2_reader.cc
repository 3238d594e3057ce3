#include "compiler/pt2/pt2_reader.h"

#include <cstring>
#include <algorithm>
#include <map>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/macros.h"
#include "base/quote.h"
#include "compiler/pt2/export_json.h"
#include "compiler/pt2/mapped_file.h"
#include "compiler/pt2/pt2_archive_spec.h"
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

// A member name from a spec format such as "models/{}.json".
std::string SpecPath(const std::string& prefix, std::string_view format) {
  std::string path = prefix + std::string(format);
  if (const size_t at = path.find("{}", prefix.size()); at != std::string::npos) path.replace(at, 2, kModelName);
  return path;
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

// Bytes a weight can view: a stored member in the archive (owned by the archive's owner, evictable
// when that is a mapping) or a member's inflated copy.
struct Storage {
  std::shared_ptr<const void> owner;
  std::string_view bytes;  // CRC-checked
  WeightBytes::EvictFn evict = nullptr;
};

struct CopyBudget {
  uint64_t limit = 0;  // the archive's size
  uint64_t used = 0;
};

// The contiguous row-major bytes of the strided view (sizes/strides/storage_offset, in elements) of
// `storage`, after checking with overflow-free arithmetic that every element lies inside it. A view
// that is already contiguous is returned in place (sharing the storage's owner); any other view (transposed,
// sliced, or broadcast with zero strides) is copied, and such copies may total at most the archive's
// size: a zero-stride weight of a few stored bytes could otherwise ask for any amount of memory (2^62
// bytes in one fuzzed archive), while a real model's broadcast constants are small.
absl::StatusOr<WeightBytes> ContiguousWeight(const Storage& from, const TensorMeta& m, int64_t elem,
                                             const std::string& ctx, CopyBudget* budget) {
  const std::string_view storage = from.bytes;
  const size_t rank = m.sizes.size();
  auto layout = [&] {
    return absl::StrCat("sizes ", DimsString(m.sizes), ", strides ", DimsString(m.strides),
                        ", storage_offset ", m.storage_offset);
  };
  if (m.strides.size() != rank) {
    return absl::InvalidArgumentError(absl::StrCat(ctx, ": ", rank, " sizes but ", m.strides.size(), " strides"));
  }
  if (m.storage_offset < 0) {
    return absl::InvalidArgumentError(absl::StrCat(ctx, ": negative storage_offset ", m.storage_offset));
  }
  for (size_t d = 0; d < rank; ++d) {
    if (m.sizes[d] < 0 || m.strides[d] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(ctx, ": negative size or stride (", layout(), ")"));
    }
  }
  for (int64_t sz : m.sizes) {
    if (sz == 0) return WeightBytes();
  }
  // Element count and the largest element index in 128 bits, saturated at 2^64 (more than any
  // storage or budget): with sizes and strides below 2^63 no step can overflow.
  constexpr unsigned __int128 kSaturated = static_cast<unsigned __int128>(1) << 64;
  unsigned __int128 numel = 1, max_index = static_cast<uint64_t>(m.storage_offset);
  for (size_t d = 0; d < rank; ++d) {
    numel = std::min(numel * static_cast<uint64_t>(m.sizes[d]), kSaturated);
    max_index = std::min(
        max_index + static_cast<unsigned __int128>(m.sizes[d] - 1) * static_cast<uint64_t>(m.strides[d]),
        kSaturated);
  }
  const unsigned __int128 needed = (max_index + 1) * static_cast<uint64_t>(elem);
  if (needed > storage.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        ctx, ": the tensor (", layout(), ") needs ",
        needed >> 64 ? std::string("more than 2^64") : absl::StrCat(static_cast<uint64_t>(needed)),
        " bytes of storage but the storage has ", storage.size()));
  }
  const char* base = storage.data();
  // Contiguous (ignoring strides of size-1 dims): a view.
  bool contiguous = true;
  unsigned __int128 expect = 1;  // stays below 2^126: it is compared with a stride before growing
  for (size_t d = rank; d-- > 0;) {
    if (m.sizes[d] != 1 && static_cast<uint64_t>(m.strides[d]) != expect) {
      contiguous = false;
      break;
    }
    expect *= static_cast<uint64_t>(m.sizes[d]);
  }
  if (contiguous) {
    return WeightBytes(from.owner, reinterpret_cast<const uint8_t*>(base + m.storage_offset * elem),
                       static_cast<size_t>(numel * static_cast<uint64_t>(elem)), from.evict);
  }
  const unsigned __int128 dense = numel * static_cast<uint64_t>(elem);
  if (dense > budget->limit - budget->used) {
    return absl::ResourceExhaustedError(absl::StrCat(
        ctx, ": the tensor (", layout(), ") would take ",
        dense >> 64 ? std::string("more than 2^64") : absl::StrCat(static_cast<uint64_t>(dense)),
        " bytes made contiguous, from ", static_cast<uint64_t>(needed), " bytes of storage",
        std::count(m.strides.begin(), m.strides.end(), 0) > 0 ? " (zero strides broadcast it)" : "",
        "; copies of non-contiguous weights may total at most the archive's size (", budget->limit,
        " bytes, ", budget->used, " used so far); save the weight contiguous before exporting"));
  }
  budget->used += static_cast<uint64_t>(dense);
  std::vector<uint8_t> out(static_cast<size_t>(dense));
  // Walk the outer dimensions with an odometer; copy the innermost dimension as one run when it is
  // dense.
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
  return WeightBytes(std::move(out));
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
  const std::string model_rel = SpecPath("", pt2_spec::kModelsFilenameFormat);
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
        e.name.compare(e.name.size() - 5, 5, ".json") == 0 && models.size() < 8) {
      models.push_back(Quoted(e.name));
    }
    if (sample.size() < 8) sample.push_back(Quoted(e.name));
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

// A small text member (archive_format, archive_version, byteorder), trimmed; the size is checked
// before reading so a huge member is neither inflated nor quoted.
absl::StatusOr<std::string> ReadMarker(const ZipReader& zip, const ZipReader::Entry& e,
                                       const std::string& display_name, std::string_view expected) {
  if (e.uncompressed_size > 64) {
    return absl::InvalidArgumentError(absl::StrCat(display_name, ": member '", e.name, "' has ",
                                                   e.uncompressed_size, " bytes; expected '",
                                                   std::string(expected), "'"));
  }
  std::string scratch;
  absl::StatusOr<std::string_view> v = zip.ReadView(e, &scratch);
  if (!v.ok()) return v.status();
  return Trim(std::string(*v));
}

// Checks the archive's format and layout version, and its byte order.
absl::Status CheckArchiveMarkers(const ZipReader& zip, const std::string& prefix,
                                 const std::string& display_name) {
  if (const ZipReader::Entry* e = zip.Find(SpecPath(prefix, pt2_spec::kArchiveFormatPath)); e != nullptr) {
    KILN_ASSIGN_OR_RETURN(std::string v, ReadMarker(zip, *e, display_name, pt2_spec::kArchiveFormatValue));
    if (v != pt2_spec::kArchiveFormatValue) {
      return absl::InvalidArgumentError(absl::StrCat(display_name, ": member '", e->name,
                                                     "' says archive format ", Quoted(v),
                                                     ", expected '", std::string(pt2_spec::kArchiveFormatValue), "'"));
    }
  }
  // An archive without the member predates it and is version 0, as torch reads it.
  if (const ZipReader::Entry* e = zip.Find(SpecPath(prefix, pt2_spec::kArchiveVersionPath)); e != nullptr) {
    KILN_ASSIGN_OR_RETURN(std::string v, ReadMarker(zip, *e, display_name, pt2_spec::kSupportedArchiveVersion));
    if (v != pt2_spec::kSupportedArchiveVersion) {
      return absl::UnimplementedError(absl::StrCat(
          display_name, ": member '", e->name, "': PT2 archive version ", Quoted(v),
          " is not supported; this reader supports version ", std::string(pt2_spec::kSupportedArchiveVersion),
          " (the version torch 2.14 writes)"));
    }
  }
  if (const ZipReader::Entry* e = zip.Find(prefix + "byteorder"); e != nullptr) {
    KILN_ASSIGN_OR_RETURN(std::string v, ReadMarker(zip, *e, display_name, "little"));
    if (v != "little") {
      return absl::UnimplementedError(absl::StrCat(display_name, ": member '", e->name,
                                                   "': byte order ", Quoted(v),
                                                   " is not supported (only little-endian)"));
    }
  }
  return absl::OkStatus();
}

// Reads the archive in `archive.bytes`, which `archive.owner` keeps alive: weights stored
// uncompressed become views into it that share the owner. Members read from a mapping are evicted
// once checked or parsed, so the archive is not resident while the rest of compilation runs.
absl::StatusOr<AtenGraph> ReadArchive(const Storage& archive, const std::string& display_name) {
  const std::string_view bytes = archive.bytes;
  absl::StatusOr<ZipReader> zip_or = ZipReader::Open(bytes, display_name);
  if (!zip_or.ok()) return zip_or.status();
  const ZipReader& zip = *zip_or;
  absl::StatusOr<std::string> prefix_or = FindPrefix(zip, display_name);
  if (!prefix_or.ok()) return prefix_or.status();
  const std::string prefix = *prefix_or;
  KILN_RETURN_IF_ERROR(CheckArchiveMarkers(zip, prefix, display_name));

  // The graph.
  const std::string model_member = SpecPath(prefix, pt2_spec::kModelsFilenameFormat);
  AtenGraph graph;
  {
    std::string scratch;
    const ZipReader::Entry& e = *zip.Find(model_member);
    absl::StatusOr<std::string_view> text = zip.ReadView(e, &scratch);
    if (!text.ok()) return text.status();
    absl::StatusOr<AtenGraph> g = ParseExportedProgramJson(*text);
    if (archive.evict != nullptr && e.method == 0) archive.evict(text->data(), text->size());
    if (!g.ok()) return WithPrefix(g.status(), absl::StrCat(display_name, ": member '", model_member, "'"));
    graph = std::move(*g);
  }

  // Weights, buffers and lifted constants, keyed by fully qualified name.
  PayloadSource weights, constants;
  weights.config_member = SpecPath(prefix, pt2_spec::kWeightsConfigFilenameFormat);
  weights.dir = SpecPath(prefix, pt2_spec::kWeightsDir);
  constants.config_member = SpecPath(prefix, pt2_spec::kConstantsConfigFilenameFormat);
  constants.dir = SpecPath(prefix, pt2_spec::kConstantsDir);
  bool needs_payloads = false;
  for (const GraphInput& in : graph.inputs) needs_payloads |= in.kind != InputKind::kUserInput;
  if (needs_payloads) {
    if (absl::Status st = LoadPayloadConfig(zip, display_name, &weights); !st.ok()) return st;
    if (absl::Status st = LoadPayloadConfig(zip, display_name, &constants); !st.ok()) return st;
  }
  std::map<std::string, Storage> storages;  // by member name
  CopyBudget copy_budget{.limit = bytes.size()};  // for weights that must be made contiguous
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
      auto scratch = std::make_shared<std::string>();
      absl::StatusOr<std::string_view> data = zip.ReadView(*e, scratch.get());
      if (!data.ok()) return data.status();
      Storage storage{archive.owner, *data, archive.evict};
      if (e->method != 0) storage = {std::move(scratch), *data, nullptr};  // the view points into it
      if (storage.evict != nullptr) storage.evict(data->data(), data->size());  // read by the CRC check
      st_it = storages.emplace(member, std::move(storage)).first;
    }
    absl::StatusOr<WeightBytes> bytes_or = ContiguousWeight(st_it->second, meta, elem, ctx, &copy_budget);
    if (!bytes_or.ok()) return bytes_or.status();
    WeightTensor w;
    w.meta.dtype = meta.dtype;
    w.meta.sizes = meta.sizes;
    w.meta.strides = ContiguousStrides(meta.sizes);
    w.meta.storage_offset = 0;
    w.bytes = *std::move(bytes_or);
    graph.weights.emplace(in.target, std::move(w));
  }
  return graph;
}

}  // namespace

absl::StatusOr<AtenGraph> ReadPt2(const std::string& path) {
  KILN_ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> file, MappedFile::Open(path));
  const std::string_view bytes = file->bytes();
  return ReadArchive({std::move(file), bytes, &MappedFile::Evict}, path);
}

absl::StatusOr<AtenGraph> ReadPt2FromBuffer(std::string bytes, const std::string& display_name) {
  auto owned = std::make_shared<const std::string>(std::move(bytes));
  const std::string_view view = *owned;
  return ReadArchive({std::move(owned), view}, display_name);
}

}  // namespace kiln::compiler

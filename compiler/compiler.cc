#include "compiler/compiler.h"

#include "base/macros.h"
#include "compiler/pt2/pt2_reader.h"

namespace kiln::compiler {

absl::StatusOr<CompileResult> Compile(const AtenGraph& aten, const CompileOptions& options) {
  KILN_ASSIGN_OR_RETURN(CompileState state, RunPipeline(aten, options));
  return CompileResult{std::move(state.kiln), state.Summary(), std::move(state.warnings)};
}

absl::StatusOr<std::shared_ptr<const OwnerConstants>> OwnerConstantsOf(const runtime::Program& owner) {
  auto out = std::make_shared<OwnerConstants>();
  const auto& regions = owner.regions();
  std::vector<int> slot(regions.size(), -1);  // index into out->regions, -1 when not shareable
  for (size_t r = 0; r < regions.size(); ++r)
    if (regions[r].kind == target::RegionKind::kDeviceDram || regions[r].kind == target::RegionKind::kDeviceSram) {
      slot[r] = static_cast<int>(out->regions.size());
      out->regions.push_back({static_cast<int>(r), regions[r].name, regions[r].kind, regions[r].size_bytes, {}});
    }
  for (const runtime::TensorInfo& t : owner.tensors()) {
    if (t.in_caller_buffer() || slot[t.region] < 0) continue;
    OwnerRegion& region = out->regions[slot[t.region]];
    if (!t.constant) {  // a region that holds activations too is not shareable
      region.constants.clear();
      slot[t.region] = -1;
      continue;
    }
    OwnerConstant c{t.name, t.shape, t.dtype, t.layout, t.offset, nullptr, t.size_bytes};
    if (Status s = owner.InitialData(t, &c.data); !s.ok()) return absl::InternalError(s.message());
    region.constants.push_back(std::move(c));
  }
  std::erase_if(out->regions, [](const OwnerRegion& r) { return r.constants.empty(); });
  return std::shared_ptr<const OwnerConstants>(std::move(out));
}

absl::StatusOr<CompileResult> CompilePt2File(const std::string& path, const CompileOptions& options) {
  absl::StatusOr<AtenGraph> graph = ReadPt2(path);
  if (!graph.ok()) return graph.status();
  absl::StatusOr<CompileResult> result = Compile(*graph, options);
  if (!result.ok())
    return absl::Status(result.status().code(), path + ": " + std::string(result.status().message()));
  return result;
}

}  // namespace kiln::compiler

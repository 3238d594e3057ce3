#include "runtime/program.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "runtime/program_validation.h"
#include "schema/file_layout.h"
#include "schema/format_version.h"
#include "schema/kiln_generated.h"

namespace kiln::runtime {
namespace {

// FlatBuffers' verifier handles buffers below 2 GiB; the FlatBuffer part of a program is far smaller.
constexpr uint64_t kMaxFlatBufferBytes = (uint64_t{1} << 31) - 2;

Status Fail(const std::string& msg) { return Status::InvalidProgram(msg); }

// The format version is the root table's first field in every format, so it can be read (after a
// check of just that field) before the rest of the file is known to follow this runtime's schema.
Status ReadFormatVersion(const uint8_t* buf, uint64_t size, uint32_t* version) {
  uint32_t root;
  std::memcpy(&root, buf, 4);
  flatbuffers::Verifier verifier(buf, size);
  const auto* table = reinterpret_cast<const flatbuffers::Table*>(buf + std::min<uint64_t>(root, size));
  if (root >= size || !table->VerifyTableStart(verifier) ||
      !table->VerifyField<uint32_t>(verifier, fb::Program::VT_FORMAT_VERSION, 4))
    return Fail("the root table at offset " + std::to_string(root) + " is corrupt (" + std::to_string(size) +
                " bytes)");
  *version = table->GetField<uint32_t>(fb::Program::VT_FORMAT_VERSION, 0);
  return Status::Ok();
}

Status Prefixed(const Status& s, const std::string& what) {
  if (s.ok()) return s;
  return s.WithPrefix(what + (s.code() == StatusCode::kInvalidProgram ? ": invalid .kiln program: " : ": "));
}

}  // namespace


Status Program::LoadFile(const std::string& path, std::unique_ptr<Program>* out, const LoadOptions& options) {
  std::unique_ptr<MmapDataLoader> loader;
  KILN_RETURN_IF_ERROR(MmapDataLoader::Open(path, options.limits.max_program_bytes, &loader));
  return Load(std::move(loader), path, options, out);
}

Status Program::Load(const void* data, size_t size, const std::string& what, std::unique_ptr<Program>* out,
                     const LoadOptions& options) {
  return Load(std::make_unique<BufferDataLoader>(data, size), what, options, out);
}

Status Program::Load(std::unique_ptr<DataLoader> loader, const std::string& what, const LoadOptions& options,
                     std::unique_ptr<Program>* out) {
  if (!loader) return Status::InvalidArgument(what + ": no data loader");
  auto program = std::unique_ptr<Program>(new Program());
  program->loader_ = std::move(loader);
  KILN_RETURN_IF_ERROR(Prefixed(program->Decode(what, options), what));
  *out = std::move(program);
  return Status::Ok();
}

Status Program::Decode(const std::string& what, const LoadOptions& options) {
  const Limits& limits = options.limits;
  const uint64_t file_size = loader_->size();
  if (file_size > limits.max_program_bytes)
    return Status::OutOfMemory("the program is " + std::to_string(file_size) + " bytes, above the limit of " +
                               std::to_string(limits.max_program_bytes) + " bytes (Limits::max_program_bytes)");
  if (file_size < 8) return Fail("file is " + std::to_string(file_size) + " bytes, too short for a header");
  const uint8_t* buf = nullptr;
  const uint64_t probe = std::min(file_size, kMaxFlatBufferBytes);
  KILN_RETURN_IF_ERROR(loader_->Load(0, probe, &buf));
  if (reinterpret_cast<uintptr_t>(buf) % 8 != 0)
    return Status::InvalidArgument("the program's bytes start at an address that is not 8-byte aligned");
  if (!fb::ProgramBufferHasIdentifier(buf))
    return Fail("bad file identifier at offset 4 (expected \"KILN\", found \"" +
                std::string(reinterpret_cast<const char*>(buf + 4), 4) + "\")");
  uint32_t version = 0;
  KILN_RETURN_IF_ERROR(ReadFormatVersion(buf, probe, &version));
  if (version == 1)
    return Status::Unsupported("format 1 is no longer supported (this runtime reads format " +
                               std::to_string(kFormatVersion) + "); recompile the model");
  if (version != kFormatVersion)
    return Status::Unsupported("format " + std::to_string(version) + " is not supported (this runtime reads format " +
                               std::to_string(kFormatVersion) + ")");

  // The extended header, then the FlatBuffer in place.
  ExtendedHeader header;
  if (file_size < kExtendedHeaderOffset + kExtendedHeaderSize || !header.Decode(buf + kExtendedHeaderOffset))
    return Fail("missing or corrupt extended header at offset " + std::to_string(kExtendedHeaderOffset));
  KILN_RETURN_IF_ERROR(validation::ValidateHeader(header, file_size));
  if (header.program_size > kMaxFlatBufferBytes)
    return Fail("the FlatBuffer takes " + std::to_string(header.program_size) + " bytes; at most " +
                std::to_string(kMaxFlatBufferBytes) + " are allowed");
  flatbuffers::Verifier verifier(buf, header.program_size, /*max_depth=*/64, /*max_tables=*/50'000'000);
  if (!fb::VerifyProgramBuffer(verifier))
    return Fail("FlatBuffers structure check failed (truncated or corrupt; " + std::to_string(header.program_size) +
                " bytes)");
  const fb::Program* prog = fb::GetProgram(buf);
  producer_ = prog->producer() ? prog->producer()->str() : "";

  if (!prog->regions()) return Fail("missing region list");
  for (uint32_t i = 0; i < prog->regions()->size(); ++i) {
    RegionInfo region;
    KILN_RETURN_IF_ERROR(validation::ValidateRegion(prog->regions()->Get(i), i, limits, &region));
    regions_.push_back(std::move(region));
  }
  std::vector<validation::Segment> segments;
  if (prog->segments()) {
    for (uint32_t i = 0; i < prog->segments()->size(); ++i) {
      // Copied out: FlatBuffers checks a struct vector's alignment only to 4 bytes, these hold 8-byte fields.
      fb::DataSegment segment;
      std::memcpy(&segment, prog->segments()->Data() + i * sizeof(fb::DataSegment), sizeof(segment));
      validation::Segment s;
      KILN_RETURN_IF_ERROR(validation::ValidateSegment(&segment, i, header, &s));
      segments.push_back(s);
    }
  }

  if (!prog->tensors()) return Fail("missing tensor table");
  for (uint32_t i = 0; i < prog->tensors()->size(); ++i) {
    TensorInfo info;
    validation::Segment data{0, 0};
    KILN_RETURN_IF_ERROR(validation::ValidateTensor(prog->tensors()->Get(i), i, regions_, segments, &info, &data));
    info.data_offset = data.offset;
    tensors_.push_back(std::move(info));
  }
  KILN_RETURN_IF_ERROR(validation::ValidateAliases(&tensors_));
  const uint32_t num_tensors = static_cast<uint32_t>(tensors_.size());

  // Inputs and outputs: tensors in the caller's buffers, with unique names.
  std::vector<bool> written(num_tensors, false);
  std::set<uint32_t> host_outputs;
  for (auto [list, dst, label] :
       {std::tuple{prog->inputs(), &inputs_, "input"}, std::tuple{prog->outputs(), &outputs_, "output"}}) {
    if (!list) return Fail(std::string("missing ") + label + " list");
    std::set<std::string> names;
    for (uint32_t i = 0; i < list->size(); ++i) {
      const fb::IoBinding* io = list->Get(i);
      const std::string where = std::string(label) + " " + std::to_string(i);
      const std::string name = io->name() ? io->name()->str() : "";
      if (io->tensor() >= num_tensors)
        return Fail(where + ": tensor index " + std::to_string(io->tensor()) + " out of range (" +
                    std::to_string(num_tensors) + " tensors)");
      if (!tensors_[io->tensor()].in_caller_buffer())
        return Fail(where + ": must be bound to a host tensor (one with no region)");
      if (!names.insert(name).second) return Fail(where + ": duplicate name '" + name + "'");
      dst->push_back({name, io->tensor()});
      if (dst == &inputs_) written[io->tensor()] = true;
      else host_outputs.insert(io->tensor());
    }
  }
  for (uint32_t i = 0; i < num_tensors; ++i)
    if (tensors_[i].has_initial_data()) written[i] = true;

  // Instructions: decoded once, with dataflow checked (nothing is read before it is written).
  if (!prog->instructions() || !prog->instructions_type()) return Fail("missing instruction list");
  if (prog->instructions_type()->size() != prog->instructions()->size())
    return Fail("instruction type and value lists differ in length");
  std::vector<double> read_share(tensors_.size(), 0.0);  // of each tensor, the most one op reads
  for (uint32_t i = 0; i < prog->instructions()->size(); ++i) {
    Instruction inst;
    KILN_RETURN_IF_ERROR(validation::ValidateInstruction(prog, i, regions_, tensors_, &written, &inst));
    total_work_ += inst.work;
    if (inst.op) {
      std::vector<ops::Shape> shapes;
      for (uint32_t t : inst.inputs) shapes.push_back(tensors_[t].shape);
      const ops::Shape& out = tensors_[inst.output].shape;
      if (inst.op->flops) workload_.matrix_flops += inst.op->flops(shapes, out, inst.attrs);
      const std::vector<double> shares = ops::ReadSharesOf(*inst.op, shapes, out, inst.attrs);
      for (size_t k = 0; k < inst.inputs.size(); ++k)
        read_share[inst.inputs[k]] = std::max(read_share[inst.inputs[k]], shares[k]);
    }
    instructions_.push_back(std::move(inst));
  }
  for (uint32_t t : host_outputs)
    if (!written[t]) return Fail("output '" + tensors_[t].name + "' is never written");
  // A run must read each weight's bytes its ops read (a gather only the rows it selects).
  for (size_t t = 0; t < tensors_.size(); ++t)
    if (tensors_[t].constant)
      workload_.weight_bytes += static_cast<int64_t>(
          read_share[t] * static_cast<double>(ops::NumElements(tensors_[t].shape) * ops::DTypeSize(tensors_[t].dtype)));
  for (const auto* io : {&inputs_, &outputs_})
    for (const IoInfo& b : *io) {
      const TensorInfo& t = tensors_[b.tensor];
      workload_.io_bytes += ops::NumElements(t.shape) * ops::DTypeSize(t.dtype);
      workload_.io_tensors += 1;
    }
  KILN_RETURN_IF_ERROR(validation::ValidateMemoryPlan(regions_, tensors_, instructions_));
  KILN_RETURN_IF_ERROR(validation::ValidateLimits(regions_, total_work_, limits, &device_dram_bytes_));
  return PlanConstantUploads();
}

Status Program::PlanConstantUploads() {
  std::vector<const TensorInfo*> constants;
  for (const TensorInfo& t : tensors_)
    if (t.has_initial_data() && t.size_bytes > 0) constants.push_back(&t);
  std::sort(constants.begin(), constants.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->region != b->region ? a->region < b->region : a->offset < b->offset;
  });
  // A run grows while the next constant starts after the run's end at the same distance from the run's
  // start in the file as in the region; the bytes between are file padding over region padding.
  struct Run {
    int32_t region;
    uint64_t offset, data_offset, size;
  };
  std::vector<Run> runs;
  for (const TensorInfo* t : constants) {
    if (!runs.empty()) {
      Run& r = runs.back();
      if (r.region == t->region && t->offset >= r.offset + r.size && t->data_offset >= r.data_offset &&
          t->offset - r.offset == t->data_offset - r.data_offset) {
        r.size = t->offset + t->size_bytes - r.offset;
        continue;
      }
    }
    runs.push_back({t->region, t->offset, t->data_offset, t->size_bytes});
  }
  for (const Run& r : runs) {
    ConstantUpload u{r.region, r.offset, nullptr, r.size};
    KILN_RETURN_IF_ERROR(loader_->Load(r.data_offset, r.size, &u.data));
    constant_uploads_.push_back(u);
  }
  return Status::Ok();
}

}  // namespace kiln::runtime

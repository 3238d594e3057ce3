#include "compiler/codegen/kiln_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "compiler/passes/memory_planning.h"
#include "base/align.h"
#include "base/macros.h"
#include "ops/tile_layout.h"
#include "schema/file_layout.h"
#include "schema/format_version.h"
#include "schema/kiln_enums.h"
#include "schema/kiln_generated.h"

namespace kiln::compiler {

namespace {
constexpr char kProducer[] = "kiln-compiler 0.1";
constexpr uint32_t kConstantSegment = 0;  // the one segment, laid out like the constants' region

absl::Status WriteZeros(std::ostream& out, uint64_t n) {
  static const char zeros[4096] = {};
  while (n > 0) {
    const uint64_t k = std::min<uint64_t>(n, sizeof(zeros));
    out.write(zeros, static_cast<std::streamsize>(k));
    n -= k;
  }
  return out ? absl::OkStatus() : absl::DataLossError("write failed");
}

}  // namespace

absl::Status WriteKiln(const ScheduledProgram& program, std::ostream& out) {
  // The constants segment holds each region's constants laid out as in the region (the device's, and
  // the host's when eviction streams weights), one region after another: a tensor's data sits at its
  // region's base in the segment plus its region offset, so the loader copies a region in one piece.
  std::vector<const ProgramTensor*> constants;
  std::vector<bool> holds_constants(program.regions.size(), false);
  for (const ProgramTensor& t : program.tensors) {
    if (!t.in_caller_buffer() && (t.region < 0 || t.region >= static_cast<int>(program.regions.size())))
      return absl::InternalError(absl::StrCat("tensor '", t.name, "' is in region ", t.region, ", but the program has ",
                                              program.regions.size(), " regions"));
    if (!t.has_initial_data()) continue;  // constants and state: their initial values
    if (t.in_caller_buffer()) return absl::InternalError(absl::StrCat("constant '", t.name, "' is in no region"));
    holds_constants[t.region] = true;
    const uint64_t region_bytes = program.regions[t.region].size_bytes;
    if (static_cast<int64_t>(t.constant.size()) != ops::NumElements(t.shape))
      return absl::InternalError(absl::StrCat("constant '", t.name, "' has no data"));
    if (t.offset > region_bytes || t.size_bytes() > region_bytes - t.offset)
      return absl::InternalError(absl::StrCat("constant '", t.name, "' lies outside its region"));
    constants.push_back(&t);
  }
  std::vector<uint64_t> segment_base(program.regions.size(), 0);
  uint64_t segment_bytes = 0;
  for (size_t r = 0; r < program.regions.size(); ++r) {
    if (!holds_constants[r]) continue;
    segment_base[r] = AlignUp(segment_bytes, kDeviceAlignment);
    segment_bytes = segment_base[r] + program.regions[r].size_bytes;
  }
  auto data_offset = [&](const ProgramTensor* t) { return segment_base[t->region] + t->offset; };
  std::sort(constants.begin(), constants.end(),
            [&](const ProgramTensor* a, const ProgramTensor* b) { return data_offset(a) < data_offset(b); });

  flatbuffers::FlatBufferBuilder b(1 << 16);
  // Every scalar is stored, defaults included: a file says what it means (a region's kind, a tensor's
  // dtype) without relying on the schema's defaults, and tools can patch any field in place.
  b.ForceDefaults(true);
  std::vector<flatbuffers::Offset<fb::MemoryRegion>> regions;
  for (const MemoryRegion& r : program.regions)
    regions.push_back(fb::CreateMemoryRegion(b, b.CreateString(r.name), static_cast<fb::RegionKind>(r.kind),
                                             r.size_bytes, r.shares));

  std::map<std::string, uint32_t> operator_index;
  std::vector<flatbuffers::Offset<fb::Operator>> operators;
  for (const ProgramInstruction& inst : program.instructions) {
    if (inst.kind != ProgramInstruction::Kind::kOp) continue;
    const std::string name(inst.op->name);
    if (operator_index.emplace(name, static_cast<uint32_t>(operators.size())).second)
      operators.push_back(fb::CreateOperator(b, b.CreateString(name)));
  }

  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  for (const ProgramTensor& t : program.tensors) {
    fb::Placement placement(static_cast<uint32_t>(t.region), t.offset);
    fb::DataRef data(kConstantSegment, t.has_initial_data() ? segment_base[t.region] + t.offset : 0, t.size_bytes());
    tensors.push_back(fb::CreateTensor(b, b.CreateString(t.name), b.CreateVector(t.shape),
                                       static_cast<fb::DType>(t.dtype), static_cast<fb::Layout>(t.layout),
                                       t.in_caller_buffer() || t.is_alias() ? nullptr : &placement, t.size_bytes(),
                                       t.has_initial_data() ? &data : nullptr, t.alias_of));
  }

  std::vector<uint8_t> types;
  std::vector<flatbuffers::Offset<void>> insts;
  for (const ProgramInstruction& inst : program.instructions) {
    if (inst.kind == ProgramInstruction::Kind::kOp) {
      std::vector<flatbuffers::Offset<fb::Attribute>> attrs;
      for (const auto& [name, v] : inst.attrs.values())
        attrs.push_back(fb::CreateAttribute(b, b.CreateString(name), static_cast<fb::AttrKind>(v.kind),
                                            b.CreateVector(v.ints), v.f));
      std::vector<uint32_t> inputs(inst.inputs.begin(), inst.inputs.end());
      auto op = fb::CreateDeviceOp(b, operator_index.at(std::string(inst.op->name)), b.CreateVector(inputs),
                                   static_cast<uint32_t>(inst.output), b.CreateVector(attrs),
                                   b.CreateString(inst.source));
      types.push_back(static_cast<uint8_t>(fb::Instruction::DeviceOp));
      insts.push_back(op.Union());
    } else {
      const auto dir = inst.kind == ProgramInstruction::Kind::kHostToDevice ? fb::Direction::HOST_TO_DEVICE
                                                                             : fb::Direction::DEVICE_TO_HOST;
      auto tr = fb::CreateTransfer(b, dir, static_cast<uint32_t>(inst.inputs[0]), static_cast<uint32_t>(inst.output));
      types.push_back(static_cast<uint8_t>(fb::Instruction::Transfer));
      insts.push_back(tr.Union());
    }
  }
  auto io = [&](const std::vector<std::pair<std::string, int>>& list) {
    std::vector<flatbuffers::Offset<fb::IoBinding>> v;
    for (const auto& [name, t] : list) v.push_back(fb::CreateIoBinding(b, b.CreateString(name), t));
    return b.CreateVector(v);
  };
  auto inputs = io(program.inputs);
  auto outputs = io(program.outputs);
  // One segment holds every constant.
  std::vector<fb::DataSegment> segments;
  if (!constants.empty()) segments.emplace_back(0, segment_bytes);
  auto types_vec = b.CreateVector(reinterpret_cast<const fb::Instruction*>(types.data()), types.size());
  auto root = fb::CreateProgram(b, kFormatVersion, b.CreateString(kProducer), b.CreateVector(regions),
                                b.CreateVector(operators), b.CreateVector(tensors), inputs, outputs, types_vec,
                                b.CreateVector(insts), b.CreateVectorOfStructs(segments));
  fb::FinishProgramBuffer(b, root);

  // Insert the extended header after the identifier. Every FlatBuffers offset except the root offset is
  // relative to its own position, so moving the rest of the buffer only moves the root; the header size
  // is a multiple of the buffer's alignment, so every scalar keeps its alignment.
  static_assert(kExtendedHeaderSize % 8 == 0);
  if (kExtendedHeaderSize % b.GetBufferMinAlignment() != 0)
    return absl::InternalError("the .kiln header size does not keep the FlatBuffer's alignment");
  const uint8_t* fbuf = b.GetBufferPointer();
  const uint64_t fsize = b.GetSize();
  ExtendedHeader header;
  header.program_size = fsize + kExtendedHeaderSize;
  if (segment_bytes > 0) {
    header.segment_base_offset = AlignUp(header.program_size, kSegmentAlignment);
    header.segment_data_size = segment_bytes;
  }
  uint8_t head[kExtendedHeaderOffset + kExtendedHeaderSize];
  std::memcpy(head, fbuf, kExtendedHeaderOffset);
  uint32_t root_offset;
  std::memcpy(&root_offset, head, 4);
  root_offset += static_cast<uint32_t>(kExtendedHeaderSize);
  std::memcpy(head, &root_offset, 4);
  header.Encode(head + kExtendedHeaderOffset);
  out.write(reinterpret_cast<const char*>(head), sizeof(head));
  out.write(reinterpret_cast<const char*>(fbuf + kExtendedHeaderOffset),
            static_cast<std::streamsize>(fsize - kExtendedHeaderOffset));
  if (header.segment_data_size == 0) return out ? absl::OkStatus() : absl::DataLossError("write failed");

  // The constants segment, one tensor at a time.
  KILN_RETURN_IF_ERROR(WriteZeros(out, header.segment_base_offset - header.program_size));
  uint64_t written = 0;
  std::vector<uint8_t> bytes;
  for (const ProgramTensor* t : constants) {
    if (data_offset(t) < written)
      return absl::InternalError(absl::StrCat("constant '", t->name, "' overlaps the constant before it"));
    KILN_RETURN_IF_ERROR(WriteZeros(out, data_offset(t) - written));
    t->StoredData(&bytes);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    written = data_offset(t) + t->size_bytes();
  }
  KILN_RETURN_IF_ERROR(WriteZeros(out, segment_bytes - written));
  return out ? absl::OkStatus() : absl::DataLossError("write failed");
}

absl::Status WriteKilnFile(const ScheduledProgram& program, const std::string& path) {
  // Written beside the target and renamed at the end, so a failure never leaves half a program
  // where a runtime might load it.
  const std::string tmp = path + ".partial";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open for writing"));
  absl::Status s = WriteKiln(program, out);
  out.close();
  if (s.ok() && !out) s = absl::DataLossError("write failed");
  if (s.ok() && std::rename(tmp.c_str(), path.c_str()) != 0)
    s = absl::DataLossError(absl::StrCat("cannot rename ", tmp, ": ", std::strerror(errno)));
  if (!s.ok()) {
    std::remove(tmp.c_str());
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> WriteKiln(const ScheduledProgram& program) {
  std::ostringstream out;
  KILN_RETURN_IF_ERROR(WriteKiln(program, out));
  return std::move(out).str();
}

}  // namespace kiln::compiler

#include "compiler/codegen/kiln_writer.h"

#include "absl/strings/str_cat.h"
#include "ops/tile_layout.h"
#include "schema/format_version.h"
#include "schema/kiln_generated.h"

namespace kiln::compiler {

namespace {
constexpr char kProducer[] = "kiln-compiler 0.1";
}  // namespace

absl::StatusOr<std::string> WriteKiln(const ScheduledProgram& program) {
  // FlatBuffers offsets are 32-bit: a program must stay under 2 GiB.
  if (program.constant_bytes > (uint64_t{1} << 31) - (uint64_t{64} << 20))
    return absl::ResourceExhaustedError(absl::StrCat("constants take ", program.constant_bytes,
                                                     " bytes; .kiln files hold under 2 GiB"));
  std::vector<uint8_t> constants(program.constant_bytes, 0);
  for (const ProgramTensor& t : program.tensors) {
    if (t.space != MemSpace::kDeviceConstant) continue;
    if (static_cast<int64_t>(t.constant.size()) != ops::NumElements(t.shape))
      return absl::InternalError(absl::StrCat("constant '", t.name, "' has no data"));
    if (t.offset + t.size_bytes() > constants.size())
      return absl::InternalError(absl::StrCat("constant '", t.name, "' lies outside the constant region"));
    std::vector<float> stored(ops::StoredElements(t.shape, t.layout));
    if (t.layout == ops::Layout::kTile) ops::Tilize(t.constant.data(), t.shape, stored.data());
    else stored = t.constant;
    ops::StoreFromFloat(stored.data(), static_cast<int64_t>(stored.size()), t.dtype, constants.data() + t.offset);
  }

  flatbuffers::FlatBufferBuilder b(1 << 20);
  // The big constant vector goes first, with the alignment the schema asks for.
  b.ForceVectorAlignment(constants.size(), 1, 32);
  auto constants_vec = b.CreateVector(constants);

  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  for (const ProgramTensor& t : program.tensors)
    tensors.push_back(fb::CreateTensor(b, b.CreateString(t.name), b.CreateVector(t.shape),
                                       static_cast<fb::DType>(t.dtype), static_cast<fb::Layout>(t.layout),
                                       static_cast<fb::MemSpace>(t.space), t.offset, t.size_bytes()));

  std::vector<uint8_t> types;
  std::vector<flatbuffers::Offset<void>> insts;
  for (const ProgramInstruction& inst : program.instructions) {
    if (inst.kind == ProgramInstruction::Kind::kOp) {
      std::vector<flatbuffers::Offset<fb::Attribute>> attrs;
      for (const auto& [name, v] : inst.attrs.values())
        attrs.push_back(fb::CreateAttribute(b, b.CreateString(name), static_cast<fb::AttrKind>(v.kind),
                                            b.CreateVector(v.ints), v.f));
      std::vector<uint32_t> inputs(inst.inputs.begin(), inst.inputs.end());
      auto op = fb::CreateDeviceOp(b, b.CreateString(std::string(inst.op->name)), b.CreateVector(inputs),
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
  auto plan = fb::CreateMemoryPlan(b, program.arena_bytes, program.constant_bytes,
                                   program.arena_bytes + program.constant_bytes);
  auto types_vec = b.CreateVector(reinterpret_cast<const fb::Instruction*>(types.data()), types.size());
  auto root = fb::CreateProgram(b, kFormatVersion, b.CreateString(kProducer), b.CreateVector(tensors), inputs,
                                outputs, types_vec, b.CreateVector(insts), plan, constants_vec);
  fb::FinishProgramBuffer(b, root);
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

}  // namespace kiln::compiler

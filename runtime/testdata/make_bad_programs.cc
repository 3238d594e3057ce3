// Writes format-2 versions of the bad .kiln inputs of issue 5 (../shared/bad-inputs): the same defect
// in each, built from a small valid program. bad_programs_test.sh runs the `run` tool on them.
//   make_bad_programs OUT_DIR
#include <cstdio>
#include <cstring>
#include <string>

#include "compiler/codegen/kiln_writer.h"
#include "compiler/lowering/device_graph.h"
#include "compiler/pipeline/pipeline.h"
#include "schema/kiln_generated.h"

namespace {
using kiln::compiler::ScheduledProgram;

// One op on an input of shape `shape`.
ScheduledProgram OneOp(const std::string& op, const kiln::ops::Shape& shape, const kiln::ops::Attrs& attrs) {
  kiln::compiler::DeviceGraph g;
  const int x = g.AddInput("x", shape);
  absl::StatusOr<int> y = g.AddNode(op, {x}, attrs, op, op);
  if (!y.ok()) return {};
  g.inputs = {{"x", x}};
  g.outputs = {{"y", *y}};
  kiln::compiler::CompileOptions options;
  options.chip.dram_bytes = int64_t{1} << 40;
  absl::StatusOr<kiln::compiler::CompileState> s =
      kiln::compiler::RunPipeline(std::move(g), options, "plan-memory");
  return s.ok() ? *std::move(s->program) : ScheduledProgram{};
}

// Writes `p`, with every tensor's shape replaced in the file by `shape` (same rank) when given: the
// defect is in the bytes, the compiler never handles the bad shape.
bool Write(const ScheduledProgram& p, const std::string& path, const kiln::ops::Shape& shape = {}) {
  absl::StatusOr<std::string> bytes = kiln::compiler::WriteKiln(p);
  if (!bytes.ok() || p.tensors.empty()) return false;
  if (!shape.empty())
    for (const kiln::fb::Tensor* t : *kiln::fb::GetProgram(bytes->data())->tensors()) {
      if (t->shape()->size() != shape.size()) return false;
      std::memcpy(const_cast<uint8_t*>(t->shape()->Data()), shape.data(), shape.size() * sizeof(int64_t));
    }
  std::FILE* f = std::fopen(path.c_str(), "wb");
  const bool ok = f && std::fwrite(bytes->data(), 1, bytes->size(), f) == bytes->size();
  if (f) std::fclose(f);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: make_bad_programs OUT_DIR\n"), 2;
  const std::string dir = argv[1];
  bool ok = true;

  // A tile tensor [2^40, 0, 1]: no elements, 2^40 matrices.
  ok &= Write(OneOp("relu", {4, 0, 1}, {}), dir + "/zero_dim_tile.kiln", {int64_t{1} << 40, 0, 1});

  // max_pool2d with a window of 2^40 + 1 rows and 2^39 rows of padding on a 1x1 image.
  kiln::ops::Attrs pool;
  pool.SetInts("kernel", {1, 1});
  pool.SetInts("stride", {1, 1});
  pool.SetInts("padding", {0, 0});
  pool.SetInts("dilation", {1, 1});
  pool.SetInt("ceil_mode", 0);
  ScheduledProgram window = OneOp("max_pool2d", {1, 1, 1, 1}, pool);
  for (auto& inst : window.instructions)
    if (inst.op) {
      inst.attrs.SetInts("kernel", {(int64_t{1} << 40) + 1, 1});
      inst.attrs.SetInts("padding", {int64_t{1} << 39, 0});
    }
  ok &= Write(window, dir + "/maxpool_window.kiln");

  // A 1 KB program that asks for a 12 GiB activation arena.
  ScheduledProgram arena = OneOp("relu", {2, 4}, {});
  arena.regions[kiln::compiler::kActivationRegion].size_bytes = uint64_t{12} << 30;
  ok &= Write(arena, dir + "/arena_12GiB.kiln");

  // A shape whose element count overflows int64.
  ok &= Write(OneOp("relu", {2, 4}, {}), dir + "/overflow_shape.kiln", {int64_t{1} << 32, int64_t{1} << 32});
  return ok ? 0 : 1;
}

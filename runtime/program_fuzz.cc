// libFuzzer target: the .kiln loader and verifier, then one run of whatever loads, on a simulated
// device small enough (64 MiB of DRAM) that a fuzzed program cannot make the simulator allocate
// much. Every input must load and run, or fail with a Status: never crash, hang or leak.
// Build and run: tools/fuzz.sh (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "runtime/executor.h"
#include "runtime/program.h"
#include "schema/kiln_generated.h"
#include "simulator/device.h"
#include "target/chip_config.h"
#include "tools/fuzz/flatbuffer_mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kiln;
  // Regions no larger than the device: a fuzzed HOST_SCRATCH region could otherwise ask the host for
  // gigabytes, which the loader's default limits (8 GiB per region) allow a real caller.
  runtime::LoadOptions options;
  options.limits.max_region_bytes = uint64_t{64} << 20;
  std::unique_ptr<runtime::Program> program;
  if (!runtime::Program::Load(data, size, "fuzz input", &program, options).ok()) return 0;

  target::ChipConfig chip = target::DefaultChipConfig();
  chip.dram_bytes = int64_t{64} << 20;
  sim::Device device(chip);
  std::unique_ptr<runtime::Executor> executor;
  if (!runtime::Executor::Create(*program, &device, &executor).ok()) return 0;

  // Zero-filled inputs of the declared shapes. The harness refuses to allocate more than twice the
  // device's DRAM (host f32 may be stored as bf16): such an input could not be on the device anyway.
  std::vector<runtime::HostTensor> inputs;
  int64_t input_bytes = 0;
  for (const runtime::IoInfo& in : program->inputs()) {
    const runtime::TensorInfo& t = program->tensors()[in.tensor];
    const int64_t bytes = ops::NumElements(t.shape) * ops::DTypeSize(t.dtype);
    input_bytes += bytes;
    if (bytes < 0 || input_bytes > 2 * chip.dram_bytes) return 0;
    inputs.push_back({t.shape, t.dtype, std::vector<uint8_t>(static_cast<size_t>(bytes), 0)});
  }
  std::vector<runtime::HostTensor> outputs;
  runtime::RunStats stats;
  (void)executor->Run(inputs, &outputs, &stats);
  return 0;
}

// Most mutations change one field of a well-formed program (tools/fuzz/flatbuffer_mutator.h), so
// that shapes, offsets, sizes, indices and attributes reach the verifier's checks and the kernels;
// the rest, and any input that is no well-formed FlatBuffer, mutate raw bytes.

namespace kiln::fuzz {
extern const unsigned char kKilnBfbs[];  // //tools/fuzz:kiln_bfbs
}

// Weak, so the build without libFuzzer (which never calls LLVMFuzzerCustomMutator) links.
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size) __attribute__((weak));

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  std::minstd_rand rng(seed);
  flatbuffers::Verifier verifier(data, size);
  if (rng() % 4 != 0 && kiln::fb::VerifyProgramBuffer(verifier) &&
      kiln::fuzz::MutateFlatBuffer(kiln::fuzz::kKilnBfbs, data, rng, LLVMFuzzerMutate))
    return size;
  return LLVMFuzzerMutate(data, size, max_size);
}

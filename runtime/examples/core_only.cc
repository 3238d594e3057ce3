// The runtime core alone (loader, verifier, executor; no simulator): what an embedded program links
// before it adds its own device. Loads and verifies a .kiln and prints what it needs. Built to measure
// the core's size (core_size_test.sh); the executor is linked in through its entry point.
#include <cstdio>
#include <memory>

#include "runtime/executor.h"
#include "runtime/program.h"

int main(int argc, char** argv) {
  if (argc != 2) return std::fprintf(stderr, "usage: core_only MODEL.kiln\n"), 2;
  std::unique_ptr<kiln::runtime::Program> program;
  kiln::Status s = kiln::runtime::Program::LoadFile(argv[1], &program);
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;
  std::printf("%zu instructions, %zu tensors, %llu bytes of device DRAM\n", program->instructions().size(),
              program->tensors().size(), static_cast<unsigned long long>(program->device_dram_bytes()));
  // A real embedding passes its own Device to Executor::Create; its address keeps the executor linked.
  std::printf("executor entry at %p\n", reinterpret_cast<void*>(&kiln::runtime::Executor::Create));
  return 0;
}

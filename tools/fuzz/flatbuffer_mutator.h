// A structure-aware libFuzzer mutation for FlatBuffers, driven by the schema's binary form (.bfbs), so
// it follows schema changes without edits. It changes one value of a verified buffer in place: a
// scalar (table field or vector element) set to an edge value, a string rewritten no longer than it
// was, or a vector shortened. The buffer stays well-formed, so the mutated value reaches the checks
// and code behind the FlatBuffers verifier, which byte-level mutations rarely get through.
#ifndef KILN_TOOLS_FUZZ_FLATBUFFER_MUTATOR_H_
#define KILN_TOOLS_FUZZ_FLATBUFFER_MUTATOR_H_

#include <cstddef>
#include <cstdint>
#include <random>

namespace kiln::fuzz {

// libFuzzer's byte mutator (LLVMFuzzerMutate), used for string contents.
using MutateBytesFn = size_t (*)(uint8_t* data, size_t size, size_t max_size);

// `data` must already have passed the verifier of the schema's root type. Returns false when the
// buffer holds nothing to mutate.
bool MutateFlatBuffer(const uint8_t* bfbs, uint8_t* data, std::minstd_rand& rng, MutateBytesFn mutate_bytes);

}  // namespace kiln::fuzz

#endif  // KILN_TOOLS_FUZZ_FLATBUFFER_MUTATOR_H_

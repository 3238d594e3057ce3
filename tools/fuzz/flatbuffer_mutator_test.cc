#include "tools/fuzz/flatbuffer_mutator.h"

#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "schema/kiln_generated.h"

namespace kiln::fuzz {
extern const unsigned char kKilnBfbs[];
namespace {

std::vector<uint8_t> ReadSeed(const std::string& name) {
  std::ifstream in("runtime/fuzz_seeds/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Stands in for libFuzzer's byte mutator: flips the first byte, or shortens by one.
size_t FakeMutateBytes(uint8_t* data, size_t size, size_t) {
  if (size == 0) return 0;
  if (data[0] % 2) return size - 1;
  data[0] ^= 0x20;
  return size;
}

bool Verifies(const std::vector<uint8_t>& buf) {
  flatbuffers::Verifier verifier(buf.data(), buf.size());
  return fb::VerifyProgramBuffer(verifier);
}

TEST(FlatBufferMutatorTest, ChangesOneValueAndKeepsTheBufferWellFormed) {
  const std::vector<uint8_t> seed = ReadSeed("convbn.kiln");
  ASSERT_TRUE(Verifies(seed));
  const fb::Program* orig = fb::GetProgram(seed.data());
  int changed = 0, verified = 0;
  std::set<std::string> what;  // which kinds of field were reached
  const int kRuns = 2000;
  for (int i = 0; i < kRuns; ++i) {
    std::vector<uint8_t> buf = seed;
    std::minstd_rand rng(i);
    ASSERT_TRUE(MutateFlatBuffer(kKilnBfbs, buf.data(), rng, FakeMutateBytes));
    EXPECT_EQ(buf.size(), seed.size());
    changed += buf != seed;
    // Changing a union's type byte may make its table the wrong kind, which the verifier refuses.
    if (!Verifies(buf)) continue;
    ++verified;
    const fb::Program* p = fb::GetProgram(buf.data());
    if (p->tensors()->size() < orig->tensors()->size()) what.insert("vector length");
    for (size_t t = 0; t < p->tensors()->size(); ++t) {
      const fb::Tensor* a = orig->tensors()->Get(t);
      const fb::Tensor* b = p->tensors()->Get(t);
      if (!std::equal(a->shape()->begin(), a->shape()->end(), b->shape()->begin(), b->shape()->end()))
        what.insert("tensor shape");
      if (a->size_bytes() != b->size_bytes()) what.insert("tensor scalar");
      if (a->placement() && b->placement() && a->placement()->offset() != b->placement()->offset())
        what.insert("tensor placement (a struct)");
      if (a->name()->str() != b->name()->str()) what.insert("tensor name");
    }
    for (size_t k = 0; k < p->instructions()->size(); ++k) {
      if (orig->instructions_type()->Get(k) != fb::Instruction::DeviceOp ||
          p->instructions_type()->Get(k) != fb::Instruction::DeviceOp)
        continue;
      const fb::DeviceOp* a = orig->instructions()->GetAs<fb::DeviceOp>(k);
      const fb::DeviceOp* b = p->instructions()->GetAs<fb::DeviceOp>(k);
      if (a->attrs() == nullptr || b->attrs() == nullptr) continue;
      for (size_t j = 0; j < std::min(a->attrs()->size(), b->attrs()->size()); ++j) {
        const fb::Attribute* x = a->attrs()->Get(j);
        const fb::Attribute* y = b->attrs()->Get(j);
        if (x->ints() && y->ints() &&
            !std::equal(x->ints()->begin(), x->ints()->end(), y->ints()->begin(), y->ints()->end()))
          what.insert("op attribute (inside a union)");
      }
    }
  }
  EXPECT_GT(changed, kRuns * 8 / 10);
  EXPECT_GT(verified, kRuns * 9 / 10);
  EXPECT_EQ(what, (std::set<std::string>{"op attribute (inside a union)", "tensor name", "tensor placement (a struct)", "tensor scalar",
                                         "tensor shape", "vector length"}));
}

// libFuzzer stacks mutations: each must cope with what the ones before it left (a union set to NONE,
// an empty vector, a string cut to nothing), as long as the buffer still verifies.
TEST(FlatBufferMutatorTest, StackedMutationsOfVerifiedBuffersStayInBounds) {
  const std::vector<uint8_t> seed = ReadSeed("mlp.kiln");
  int stacked = 0;
  for (int i = 0; i < 500; ++i) {
    std::vector<uint8_t> buf = seed;
    std::minstd_rand rng(i);
    for (int depth = 0; depth < 50 && Verifies(buf); ++depth, ++stacked)
      if (!MutateFlatBuffer(kKilnBfbs, buf.data(), rng, FakeMutateBytes)) break;
  }
  EXPECT_GT(stacked, 500 * 10);
}

}  // namespace
}  // namespace kiln::fuzz

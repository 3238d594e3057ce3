// Every overload the installed torch tags core has a status in Kiln: a lowering rule, or an entry in
// the known-unsupported table with its reason. The list comes from the build (tools/core_aten_ops.py).
#include <gtest/gtest.h>

#include <string>

#include "compiler/lowering/lowering_context.h"
#include "tools/core_aten_ops_list.h"

namespace {

std::string g_list_path;

TEST(CoreAtenOps, EveryCoreOverloadHasAStatus) {
  kiln::tools::CoreAtenOps core;
  ASSERT_EQ(kiln::tools::ReadCoreAtenOps(g_list_path, &core), "");
  // A sanity floor: torch 2.x tags well over a hundred overloads core; a broken dump lists fewer.
  EXPECT_GT(core.overloads.size(), 150u);
  std::string missing;
  for (const std::string& op : core.overloads)
    if (!kiln::compiler::LoweringRules().count(op) && !kiln::compiler::UnsupportedAtenOps().count(op))
      missing += "\n  " + op;
  EXPECT_EQ(missing, "") << "core ATen overloads of torch " << core.torch_version
                         << " with neither a lowering rule nor an entry in compiler/lowering/unsupported_ops.cc:"
                         << missing;
}

TEST(CoreAtenOps, ListReaderRejectsMalformedFiles) {
  kiln::tools::CoreAtenOps core;
  EXPECT_EQ(kiln::tools::ReadCoreAtenOps("/no/such/file", &core), "cannot open /no/such/file");
  EXPECT_EQ(kiln::tools::ReadCoreAtenOps("/dev/null", &core),
            "/dev/null: first line must be '# torch <version>'");
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) g_list_path = argv[1];
  return RUN_ALL_TESTS();
}

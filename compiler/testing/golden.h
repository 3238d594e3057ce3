// Golden-text comparison for tests (in the manner of FileCheck tests, but whole-file): a test prints
// an IR and compares it with a checked-in file; any difference fails with a unified diff.
//
// To regenerate the files after an intended change, run the test with KILN_UPDATE_GOLDENS set:
//   KILN_UPDATE_GOLDENS=1 bazel run //compiler:passes_golden_test
// (`bazel run` tells the test the workspace directory), or KILN_UPDATE_GOLDENS=/path/to/workspace.
// Then review the change with `git diff`.
#ifndef KILN_COMPILER_TESTING_GOLDEN_H_
#define KILN_COMPILER_TESTING_GOLDEN_H_

#include <string>

#include <gtest/gtest.h>

namespace kiln::compiler::testing {

// `path` is relative to the workspace root (e.g. "compiler/passes/testdata/dce.txt") and must be
// in the test's data. In update mode the file is rewritten and the comparison succeeds.
::testing::AssertionResult MatchesGolden(const std::string& actual, const std::string& path);

// A unified diff (3 lines of context, "@@ -a,b +c,d @@" hunks) from `expected` to `actual`; "" when equal.
std::string UnifiedDiff(const std::string& expected, const std::string& actual);

}  // namespace kiln::compiler::testing

#endif  // KILN_COMPILER_TESTING_GOLDEN_H_

#include "compiler/testing/golden.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace kiln::compiler::testing {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The update directory when regenerating goldens, else "".
std::string UpdateRoot() {
  const char* update = std::getenv("KILN_UPDATE_GOLDENS");
  if (update == nullptr || *update == '\0' || std::string(update) == "0") return "";
  if (std::string(update) != "1") return update;
  const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");  // set by `bazel run`
  return workspace ? workspace : "";
}

// How to rerun this test in update mode (Bazel names the test in TEST_TARGET).
std::string UpdateCommand() {
  const char* target = std::getenv("TEST_TARGET");
  return std::string("KILN_UPDATE_GOLDENS=1 bazel run ") + (target ? target : "<this test>");
}

}  // namespace

std::string UnifiedDiff(const std::string& expected, const std::string& actual) {
  const std::vector<std::string> a = Lines(expected), b = Lines(actual);
  const size_t n = a.size(), m = b.size();
  // Longest common subsequence table over line suffixes; goldens are small.
  std::vector<std::vector<int>> lcs(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;)
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  struct Edit {
    char op;  // ' ', '-', '+'
    size_t a, b;  // line indices before this edit
    std::string text;
  };
  std::vector<Edit> edits;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) edits.push_back({' ', i, j, a[i]}), ++i, ++j;
    else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) edits.push_back({'-', i, j, a[i]}), ++i;
    else edits.push_back({'+', i, j, b[j]}), ++j;
  }
  constexpr size_t kContext = 3;
  std::string out;
  for (size_t k = 0; k < edits.size();) {
    if (edits[k].op == ' ') {
      ++k;
      continue;
    }
    // A hunk: from kContext lines before this change to kContext lines after the last change that
    // is within 2 * kContext unchanged lines of the previous one.
    const size_t begin = k >= kContext ? k - kContext : 0;
    size_t end = k, unchanged = 0;
    for (size_t e = k; e < edits.size() && unchanged <= 2 * kContext; ++e) {
      if (edits[e].op == ' ') ++unchanged;
      else end = e, unchanged = 0;
    }
    end = std::min(edits.size(), end + 1 + kContext);
    size_t a_count = 0, b_count = 0;
    for (size_t e = begin; e < end; ++e) {
      a_count += edits[e].op != '+';
      b_count += edits[e].op != '-';
    }
    out += "@@ -" + std::to_string(edits[begin].a + 1) + "," + std::to_string(a_count) + " +" +
           std::to_string(edits[begin].b + 1) + "," + std::to_string(b_count) + " @@\n";
    for (size_t e = begin; e < end; ++e) out += edits[e].op + edits[e].text + "\n";
    k = end;
  }
  return out;
}

::testing::AssertionResult MatchesGolden(const std::string& actual, const std::string& path) {
  const char* update = std::getenv("KILN_UPDATE_GOLDENS");
  if (update && std::string(update) == "1" && UpdateRoot().empty())
    return ::testing::AssertionFailure() << "KILN_UPDATE_GOLDENS=1 needs `bazel run` (which says where the "
                                            "workspace is); or set KILN_UPDATE_GOLDENS to the workspace path";
  if (const std::string root = UpdateRoot(); !root.empty()) {
    std::ofstream out(root + "/" + path);
    out << actual;
    if (!out) return ::testing::AssertionFailure() << "cannot write golden " << root << "/" << path;
    std::printf("updated %s/%s\n", root.c_str(), path.c_str());
    return ::testing::AssertionSuccess();
  }
  std::ifstream in(path);
  if (!in)
    return ::testing::AssertionFailure() << "cannot read golden file " << path
                                         << " (is it in the test's data? create it with "
                                         << UpdateCommand() << ")";
  std::stringstream expected;
  expected << in.rdbuf();
  if (expected.str() == actual) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "output differs from " << path << " (--- golden, +++ actual):\n"
                                       << UnifiedDiff(expected.str(), actual)
                                       << (UnifiedDiff(expected.str(), actual).empty() ? "(only line endings differ)\n" : "")
                                       << "If the change is intended: " << UpdateCommand();
}

}  // namespace kiln::compiler::testing

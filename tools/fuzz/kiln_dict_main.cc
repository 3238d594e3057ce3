// Prints a libFuzzer dictionary for .kiln files from the op library's registry (so it cannot drift
// from ops/): the file identifier, every op name and every attribute name. Mutations that swap one
// op or attribute name for another reach kernels that random bytes would not spell.
#include <cstdio>
#include <set>
#include <string>

#include "ops/op_def.h"

int main() {
  std::set<std::string> words = {"KILN"};
  for (const kiln::ops::OpDef* op : kiln::ops::AllOps()) {
    words.insert(std::string(op->name));
    for (const kiln::ops::AttrDef& a : op->attrs) words.insert(std::string(a.name));
  }
  // Names are identifiers (letters, digits, '_'), so they need no escaping in dictionary syntax.
  for (const std::string& w : words) std::printf("\"%s\"\n", w.c_str());
  return 0;
}

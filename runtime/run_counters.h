// A run's totals by name, in one list that every tool exporting them uses (`run --stats-json`,
// kiln_ext's run statistics), so a counter has one name everywhere. Apart from the runtime core, which
// an embedded program links without it.
#ifndef KILN_RUNTIME_RUN_COUNTERS_H_
#define KILN_RUNTIME_RUN_COUNTERS_H_

#include <vector>

#include "runtime/device.h"
#include "runtime/executor.h"

namespace kiln::runtime {

// Times in simulated microseconds (from `device`'s clock); `integral` values are counts or bytes.
struct NamedCounter {
  const char* name;
  double value;
  bool integral;
};
std::vector<NamedCounter> CountersByName(const RunStats& stats, const Device& device);

}  // namespace kiln::runtime

#endif  // KILN_RUNTIME_RUN_COUNTERS_H_

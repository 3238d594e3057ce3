#include "simulator/range_times.h"

#include <algorithm>
#include <iterator>

namespace kiln::sim {

void RangeTimes::Clear() {
  segs_.clear();
  segs_.emplace(0, Times{});
}

double RangeTimes::WriteReady(uint64_t addr, int64_t bytes) const {
  double t = 0;
  if (bytes <= 0) return t;
  const uint64_t end = addr + static_cast<uint64_t>(bytes);
  for (auto it = std::prev(segs_.upper_bound(addr)); it != segs_.end() && it->first < end; ++it)
    t = std::max(t, it->second.write_end);
  return t;
}

double RangeTimes::AccessDone(uint64_t addr, int64_t bytes) const {
  double t = 0;
  if (bytes <= 0) return t;
  const uint64_t end = addr + static_cast<uint64_t>(bytes);
  for (auto it = std::prev(segs_.upper_bound(addr)); it != segs_.end() && it->first < end; ++it)
    t = std::max({t, it->second.write_end, it->second.read_end});
  return t;
}

void RangeTimes::SplitAt(uint64_t at) {
  auto it = std::prev(segs_.upper_bound(at));
  if (it->first != at) segs_.emplace_hint(std::next(it), at, it->second);
}

template <typename F>
void RangeTimes::Update(uint64_t addr, int64_t bytes, F f) {
  if (bytes <= 0) return;
  const uint64_t end = addr + static_cast<uint64_t>(bytes);
  SplitAt(addr);
  SplitAt(end);
  for (auto it = segs_.find(addr); it != segs_.end() && it->first < end; ++it) f(it->second);
}

void RangeTimes::RecordRead(uint64_t addr, int64_t bytes, double end) {
  Update(addr, bytes, [end](Times& t) { t.read_end = std::max(t.read_end, end); });
}

void RangeTimes::RecordWrite(uint64_t addr, int64_t bytes, double end) {
  Update(addr, bytes, [end](Times& t) { t.write_end = std::max(t.write_end, end); });
}

}  // namespace kiln::sim

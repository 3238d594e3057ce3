// When each byte of an address space was last written and last read, on the simulated timeline: what
// the engine model asks before it starts a command. A reader waits for the last write of the bytes it
// reads (RAW); a writer also waits for the last read and write of the bytes it overwrites (WAR, WAW),
// which matters because the memory planner reuses addresses.
#ifndef KILN_SIMULATOR_RANGE_TIMES_H_
#define KILN_SIMULATOR_RANGE_TIMES_H_

#include <cstddef>
#include <cstdint>
#include <map>

namespace kiln::sim {

class RangeTimes {
 public:
  RangeTimes() { Clear(); }

  // The latest write end over [addr, addr + bytes) (0 for bytes never written).
  double WriteReady(uint64_t addr, int64_t bytes) const;
  // The latest read or write end over the range.
  double AccessDone(uint64_t addr, int64_t bytes) const;
  void RecordRead(uint64_t addr, int64_t bytes, double end);
  void RecordWrite(uint64_t addr, int64_t bytes, double end);
  // Forgets everything: for a device that is idle, every earlier access is over.
  void Clear();
  size_t segments() const { return segs_.size(); }

 private:
  struct Times {
    double write_end = 0;
    double read_end = 0;
  };
  template <typename F>
  void Update(uint64_t addr, int64_t bytes, F f);
  void SplitAt(uint64_t at);
  // Piecewise constant: the entry at key k holds from k to the next key (the first key is 0).
  std::map<uint64_t, Times> segs_;
};

}  // namespace kiln::sim

#endif  // KILN_SIMULATOR_RANGE_TIMES_H_

// A tiny error type for the simulator and runtime, which stay free of Abseil and libtorch so they
// can be linked into embedded programs. The compiler uses absl::Status instead.
#ifndef KILN_SIMULATOR_STATUS_H_
#define KILN_SIMULATOR_STATUS_H_

#include <string>
#include <utility>

namespace kiln {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
  bool failed_ = false;
  std::string message_;
};

}  // namespace kiln

#define KILN_RETURN_IF_ERROR(expr)        \
  do {                                    \
    ::kiln::Status _kiln_status = (expr); \
    if (!_kiln_status.ok()) return _kiln_status; \
  } while (0)

#endif  // KILN_SIMULATOR_STATUS_H_

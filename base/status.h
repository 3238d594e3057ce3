// The error type of everything that links into an embedded program (runtime, simulator, target, ops
// and the tools around them): a code a caller can branch on, and Kiln's message, which names what is
// wrong and where, as the payload. No Abseil or libtorch here; the compiler uses absl::Status with the
// macros in compiler/status_macros.h.
#ifndef KILN_BASE_STATUS_H_
#define KILN_BASE_STATUS_H_

#include <cstdint>
#include <string>
#include <utility>

#include "base/macros.h"

namespace kiln {

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidProgram,   // a .kiln file (or a chip description) that is malformed or inconsistent
  kInvalidArgument,  // a caller's input: wrong shape or dtype, a bad .npy file, a bad path
  kOutOfMemory,      // device or host memory, or a caller's resource limit, is too small
  kUnsupported,      // well-formed, but beyond what this runtime or device does
  kInternal,         // a broken invariant inside Kiln: a bug, reported rather than crashing
};
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }
  static Status InvalidProgram(std::string m) { return {StatusCode::kInvalidProgram, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status OutOfMemory(std::string m) { return {StatusCode::kOutOfMemory, std::move(m)}; }
  static Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The same code with `prefix` before the message ("model.kiln: ...").
  Status WithPrefix(const std::string& prefix) const {
    return ok() ? *this : Status(code_, prefix + message_);
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidProgram: return "invalid program";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kOutOfMemory: return "out of memory";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kInternal: return "internal error";
  }
  return "unknown";
}

}  // namespace kiln

#endif  // KILN_BASE_STATUS_H_

// The project's two error-propagation macros, for kiln::Status (runtime, simulator, target) and
// absl::Status / absl::StatusOr (compiler) alike: they need only ok(), status() and operator*.
#ifndef KILN_BASE_MACROS_H_
#define KILN_BASE_MACROS_H_

#include <utility>

// Returns the status of `expr` from the enclosing function when it is not OK.
#define KILN_RETURN_IF_ERROR(expr)                 \
  do {                                             \
    auto _kiln_status = (expr);                    \
    if (!_kiln_status.ok()) return _kiln_status;   \
  } while (0)

// Evaluates a StatusOr-like `expr`; returns its status when not OK, else assigns the value to `lhs`,
// which may be a declaration ("auto x", "const Foo* p") or an lvalue.
#define KILN_ASSIGN_OR_RETURN(lhs, expr) \
  KILN_ASSIGN_OR_RETURN_IMPL(KILN_MACRO_CONCAT(_kiln_or_, __LINE__), lhs, expr)
#define KILN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = *std::move(tmp)
#define KILN_MACRO_CONCAT_INNER(a, b) a##b
#define KILN_MACRO_CONCAT(a, b) KILN_MACRO_CONCAT_INNER(a, b)

#endif  // KILN_BASE_MACROS_H_

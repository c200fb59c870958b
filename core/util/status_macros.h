// Status propagation helpers (absl 20220623 ships none publicly).
#ifndef D2X_CORE_UTIL_STATUS_MACROS_H_
#define D2X_CORE_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define D2X_STATUS_CONCAT_INNER_(a, b) a##b
#define D2X_STATUS_CONCAT_(a, b) D2X_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define D2X_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    ::absl::Status d2x_status_ = (expr);           \
    if (!d2x_status_.ok()) return d2x_status_;     \
  } while (0)

// `D2X_ASSIGN_OR_RETURN(auto x, StatusOrExpr());` assigns the value or returns the error.
#define D2X_ASSIGN_OR_RETURN(lhs, rexpr) \
  D2X_ASSIGN_OR_RETURN_IMPL_(D2X_STATUS_CONCAT_(d2x_statusor_, __LINE__), lhs, rexpr)

#define D2X_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                               \
  if (!statusor.ok()) return statusor.status();          \
  lhs = std::move(statusor).value()

#endif  // D2X_CORE_UTIL_STATUS_MACROS_H_

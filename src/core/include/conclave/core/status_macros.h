// Status propagation macros for absl::Status / absl::StatusOr.
//
// Debian's Abseil (20220623) predates absl's own status macros, so conclave keeps these two.
// Header-only, no state; safe anywhere.
#ifndef CONCLAVE_CORE_STATUS_MACROS_H_
#define CONCLAVE_CORE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CONCLAVE_STATUS_CONCAT_INNER_(a, b) a##b
#define CONCLAVE_STATUS_CONCAT_(a, b) CONCLAVE_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if not OK.
#define CONCLAVE_RETURN_IF_ERROR(expr)                                   \
  do {                                                                   \
    ::absl::Status conclave_status_ = (expr);                            \
    if (!conclave_status_.ok()) return conclave_status_;                 \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status, else move-assigns the
// value to `lhs` (which may be a declaration, e.g. `auto x`).
#define CONCLAVE_ASSIGN_OR_RETURN(lhs, rexpr)                                          \
  CONCLAVE_ASSIGN_OR_RETURN_IMPL_(CONCLAVE_STATUS_CONCAT_(conclave_statusor_, __LINE__), \
                                  lhs, rexpr)

#define CONCLAVE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                    \
  if (!statusor.ok()) return std::move(statusor).status();    \
  lhs = std::move(statusor).value()

#endif  // CONCLAVE_CORE_STATUS_MACROS_H_

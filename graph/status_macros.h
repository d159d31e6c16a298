// Local RETURN_IF_ERROR / ASSIGN_OR_RETURN for Abseil 20220623, which does not ship them.
// Named as in Abseil's internal status_macros so code reads the same as XLA's.
#ifndef PERFGRAPH_GRAPH_STATUS_MACROS_H_
#define PERFGRAPH_GRAPH_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define PERFGRAPH_CONCAT_INNER_(a, b) a##b
#define PERFGRAPH_CONCAT_(a, b) PERFGRAPH_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if not OK.
#define RETURN_IF_ERROR(expr)                         \
  do {                                                \
    ::absl::Status _perfgraph_status = (expr);        \
    if (!_perfgraph_status.ok()) return _perfgraph_status; \
  } while (0)

#define PERFGRAPH_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                     \
  if (!statusor.ok()) return statusor.status();                \
  lhs = std::move(statusor).value()

// `ASSIGN_OR_RETURN(auto x, F())`: evaluates F() (an absl::StatusOr<T>); on error returns its status,
// otherwise move-assigns the value to `lhs`.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  PERFGRAPH_ASSIGN_OR_RETURN_IMPL_(PERFGRAPH_CONCAT_(_perfgraph_statusor_, __LINE__), lhs, rexpr)

#endif  // PERFGRAPH_GRAPH_STATUS_MACROS_H_

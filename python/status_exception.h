// absl::Status -> Python exception, for the perfgraph module (python/module.cc).
//
// Every fallible perfgraph API returns absl::Status / StatusOr; the bindings turn a non-OK status
// into a C++ StatusError, which the translator registered by RegisterStatusTranslator raises in
// Python as (README "Python"):
//   kInvalidArgument, kOutOfRange  -> ValueError
//   kNotFound                      -> FileNotFoundError
//   kUnimplemented                 -> NotImplementedError (a subclass of RuntimeError)
//   every other code               -> RuntimeError (kFailedPrecondition, kDataLoss, kInternal, ...)
// The exception's message is the status message unchanged (it names the file and the offending
// value), and its `status_code` attribute holds the canonical code name ("INVALID_ARGUMENT").
// StatusError may be thrown with the GIL released: the translator runs after it is re-acquired.
#ifndef PERFGRAPH_PYTHON_STATUS_EXCEPTION_H_
#define PERFGRAPH_PYTHON_STATUS_EXCEPTION_H_

#include <exception>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace perfgraph::python {

class StatusError : public std::exception {
 public:
  // `status` must not be OK.
  explicit StatusError(absl::Status status)
      : status_(std::move(status)), what_(status_.message()) {}
  const char* what() const noexcept override { return what_.c_str(); }
  const absl::Status& status() const { return status_; }

 private:
  absl::Status status_;
  std::string what_;
};

// Throws StatusError(status) unless it is OK.
inline void ThrowIfError(const absl::Status& status) {
  if (!status.ok()) throw StatusError(status);
}

// The value of `result`, or throws StatusError with its status.
template <typename T>
T ValueOrThrow(absl::StatusOr<T> result) {
  if (!result.ok()) throw StatusError(result.status());
  return *std::move(result);
}

// Installs the pybind11 exception translator for StatusError (once per module import).
void RegisterStatusTranslator();

}  // namespace perfgraph::python

#endif  // PERFGRAPH_PYTHON_STATUS_EXCEPTION_H_

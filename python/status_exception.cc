#include "python/status_exception.h"

#include <Python.h>

#include <string>

#include "pybind11/pybind11.h"

namespace perfgraph::python {
namespace {

namespace py = pybind11;

PyObject* ExceptionTypeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return PyExc_ValueError;
    case absl::StatusCode::kNotFound:
      return PyExc_FileNotFoundError;
    case absl::StatusCode::kUnimplemented:
      return PyExc_NotImplementedError;
    default:
      return PyExc_RuntimeError;
  }
}

}  // namespace

void RegisterStatusTranslator() {
  py::register_exception_translator([](std::exception_ptr pointer) {
    if (!pointer) return;
    try {
      std::rethrow_exception(pointer);
    } catch (const StatusError& error) {
      PyObject* type = ExceptionTypeFor(error.status().code());
      // Build the exception object ourselves so that it can carry the status code.
      py::object exception =
          py::reinterpret_borrow<py::object>(type)(std::string(error.status().message()));
      exception.attr("status_code") = absl::StatusCodeToString(error.status().code());
      PyErr_SetObject(type, exception.ptr());
    }
  });
}

}  // namespace perfgraph::python

// ONNX's backend node tests (Debian's libonnx-testdata: one model.onnx per case with its inputs and
// expected outputs as TensorProtos) run through perfgraph: import, fusion::DefaultFusion, every
// kernel compiled and run with Halide (target/program_evaluator.h), outputs compared with ONNX's
// expected values. Shared by tests/graph/onnx_node_test.cc and the sweep program onnx_conformance.
#ifndef PERFGRAPH_TESTS_GRAPH_ONNX_NODE_CASES_H_
#define PERFGRAPH_TESTS_GRAPH_ONNX_NODE_CASES_H_

#include <string>
#include <vector>

#include "target/halide_cpu_target.h"

namespace perfgraph::test {

// Where Debian's libonnx-testdata installs the node cases.
inline constexpr char kOnnxNodeTestDir[] = "/usr/share/libonnx-testdata/data/node";

// Tolerance of the comparison: |actual - expected| <= kAbsTolerance + kRelTolerance * |expected|
// (ONNX's backend tests use rtol 1e-3; the absolute term absorbs f32 rounding around 0). NaN matches
// NaN, and infinities must match exactly.
inline constexpr double kRelTolerance = 1e-3;
inline constexpr double kAbsTolerance = 1e-4;

enum class NodeCaseStatus {
  kPass,          // every output within tolerance
  kMismatch,      // ran, but an output differs (detail: first differing element)
  kNotImported,   // the importer rejects the model (unsupported op, dynamic shape, type, ...)
  kNotEvaluable,  // imported, but a kernel reads a constant whose data the IR does not keep
  kNotCompiled,   // a kernel has no Halide lowering or failed to compile or run
  kBadCase,       // the case's files could not be read or use types this harness does not read
};
const char* NodeCaseStatusName(NodeCaseStatus status);  // "pass", "mismatch", ...

struct NodeCaseResult {
  std::string name;  // directory name, e.g. "test_abs"
  NodeCaseStatus status = NodeCaseStatus::kBadCase;
  std::string detail;  // why, for every status but kPass
};

// Runs the case in `case_dir` (model.onnx, test_data_set_0/input_K.pb, output_K.pb). The model is
// imported as is; when that fails and it has integer inputs, again with those inputs bound as
// initializers (the importer folds shape, axes and index tensors only when they are constant, as
// XLA's front ends need static shapes). Never fails: problems become a status and a detail.
NodeCaseResult RunNodeCase(const target::HalideCpuTarget& target, const std::string& case_dir);

// The case directories under `root`, sorted by name; empty when `root` does not exist.
std::vector<std::string> ListNodeCases(const std::string& root = kOnnxNodeTestDir);

}  // namespace perfgraph::test

#endif  // PERFGRAPH_TESTS_GRAPH_ONNX_NODE_CASES_H_

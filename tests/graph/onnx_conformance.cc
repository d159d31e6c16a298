// `build/tests/onnx_conformance [FILTER]`: every ONNX backend node test of Debian's libonnx-testdata
// (or those whose name contains FILTER) through perfgraph's import, default fusion and Halide
// execution (tests/graph/onnx_node_cases.h). Prints one line per case (name, status, detail) and a
// summary by status; the README's ONNX conformance figure comes from it. Exit 0 when it ran (a
// failing case is a figure, not an error), 2 when the test data is not installed.
#include <iostream>
#include <map>
#include <string>

#include "target/halide_cpu_target.h"
#include "tests/graph/onnx_node_cases.h"

int main(int argc, char** argv) {
  using namespace perfgraph;
  const std::string filter = argc > 1 ? argv[1] : "";
  const std::vector<std::string> cases = test::ListNodeCases();
  if (cases.empty()) {
    std::cerr << "onnx_conformance: no cases in " << test::kOnnxNodeTestDir
              << " (install libonnx-testdata)\n";
    return 2;
  }
  absl::StatusOr<target::HalideCpuTarget> target = target::HalideCpuTarget::Create({1, 1});
  if (!target.ok()) {
    std::cerr << "onnx_conformance: " << target.status() << "\n";
    return 1;
  }
  std::map<std::string, int> counts;
  int run = 0;
  for (const std::string& dir : cases) {
    if (!filter.empty() && dir.find(filter) == std::string::npos) continue;
    test::NodeCaseResult r = test::RunNodeCase(*target, dir);
    ++run;
    ++counts[test::NodeCaseStatusName(r.status)];
    std::string detail = r.detail.substr(0, 300);
    for (char& c : detail) c = c == '\n' ? ' ' : c;
    std::cout << r.name << "\t" << test::NodeCaseStatusName(r.status) << "\t" << detail << "\n";
    std::cerr << "\r" << run << " cases" << std::flush;
  }
  std::cerr << "\n";
  std::cout << "summary: " << run << " cases";
  for (const auto& [status, n] : counts) std::cout << ", " << status << " " << n;
  std::cout << "\n";
  return 0;
}

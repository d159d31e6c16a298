// libFuzzer target: ONNX ModelProto bytes -> graph::ImportOnnxBytes (what ImportModelFile runs for a
// ".onnx" path) -> fusion::DefaultFusion of the main graph and of every subgraph -> graph::Featurize
// of every kernel, as `perfgraph inspect` / `predict` do. Any non-OK status is an expected outcome;
// the sanitizers and libFuzzer report crashes, leaks, UB, OOM and timeouts.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "fusion/default_fusion.h"
#include "graph/featurize.h"
#include "graph/import.h"
#include "graph/onnx_import.h"

namespace {

void FuseAndFeaturize(const perfgraph::graph::ImportedModel& model) {
  std::vector<const perfgraph::graph::Program*> programs = {&model.program};
  for (const auto& [name, program] : model.called_programs) programs.push_back(&program);
  for (const perfgraph::graph::Program* program : programs) {
    auto kernels = perfgraph::fusion::DefaultFusion(*program);
    if (!kernels.ok()) continue;
    for (const perfgraph::graph::Kernel& kernel : *kernels) {
      perfgraph::graph::KernelTensors tensors = perfgraph::graph::Featurize(kernel);
      (void)tensors;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  // Once as the CLI imports by default, once keeping unsupported ops (more of the graph survives).
  for (bool allow_unsupported : {false, true}) {
    perfgraph::graph::ImportOptions options;
    options.allow_unsupported = allow_unsupported;
    // Symbolic dims get a value, as `--dim batch=2` would give them.
    options.dim_params = {{"batch", 2}, {"N", 2}, {"seq", 4}};
    auto model = perfgraph::graph::ImportOnnxBytes(bytes, "fuzz.onnx", options);
    if (model.ok()) FuseAndFeaturize(*model);
  }
  return 0;
}

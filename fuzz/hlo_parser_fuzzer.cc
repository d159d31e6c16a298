// libFuzzer target: HLO text -> graph::ParseHloModules (parse + import, batch-norm expansion on, as
// ImportModelFile does for ".hlo") -> for each module, its prefused kernels or fusion::DefaultFusion
// of the entry and called programs (as `perfgraph inspect`) -> graph::Featurize of every kernel.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "fusion/default_fusion.h"
#include "graph/featurize.h"
#include "graph/hlo_parser.h"
#include "graph/import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  perfgraph::graph::ImportOptions options;
  auto modules = perfgraph::graph::ParseHloModules(text, "fuzz.hlo", options);
  if (!modules.ok()) return 0;
  for (const perfgraph::graph::ParsedHloModule& module : *modules) {
    const perfgraph::graph::ImportedModel& model = module.model;
    std::vector<perfgraph::graph::Kernel> kernels = model.prefused_kernels;
    if (kernels.empty()) {
      std::vector<const perfgraph::graph::Program*> programs = {&model.program};
      for (const auto& [name, program] : model.called_programs) programs.push_back(&program);
      for (const perfgraph::graph::Program* program : programs) {
        auto fused = perfgraph::fusion::DefaultFusion(*program);
        if (!fused.ok()) continue;
        for (perfgraph::graph::Kernel& kernel : *fused) kernels.push_back(std::move(kernel));
      }
    }
    for (const perfgraph::graph::Kernel& kernel : kernels) {
      perfgraph::graph::KernelTensors tensors = perfgraph::graph::Featurize(kernel);
      (void)tensors;
    }
  }
  return 0;
}

// The README's C++ example as an out-of-tree program: plan an ONNX model with the shipped learned
// cost model through the library API, then run the passes directly with the analytical model.
// Usage: plan_pass MODEL.onnx INPUT_NAME=d0,d1,...
#include <iostream>
#include <string>

#include "cost/analytical_model.h"
#include "cost/shipped_files.h"
#include "fusion/fusion_pass.h"
#include "graph/import.h"
#include "pipeline/cost_models.h"
#include "pipeline/plan.h"
#include "tiling/tiling_pass.h"

namespace pg = perfgraph;

int Fail(const absl::Status& status) {
  std::cerr << "plan_pass: " << status << "\n";
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: plan_pass MODEL.onnx INPUT_NAME=d0,d1,...\n";
    return 2;
  }
  std::cout << "data_dir " << pg::cost::DataDir() << " (" << pg::cost::DataDirSource() << ")\n";
  pg::graph::ImportOptions import_options;
  absl::StatusOr<std::pair<std::string, std::vector<int64_t>>> shape =
      pg::graph::ParseInputShapeFlag(argv[2]);
  if (!shape.ok()) return Fail(shape.status());
  import_options.input_shapes[shape->first] = shape->second;
  absl::StatusOr<pg::graph::ImportedModel> model = pg::graph::ImportModelFile(argv[1], import_options);
  if (!model.ok()) return Fail(model.status());

  // 1. The pipeline: the shipped learned model, cost-driven fusion, then tiling.
  pg::pipeline::CostModelOptions options;
  options.kind = pg::pipeline::CostModelKind::kLearned;
  absl::StatusOr<std::unique_ptr<pg::cost::CostModel>> learned = pg::pipeline::MakeCostModel(options);
  if (!learned.ok()) return Fail(learned.status());
  absl::StatusOr<pg::pipeline::ProgramPlan> plan =
      pg::pipeline::PlanProgram(argv[1], *model, **learned, pg::pipeline::PlanOptions{});
  if (!plan.ok()) return Fail(plan.status());
  for (const pg::pipeline::KernelPlan& k : plan->kernels) {
    if (!k.tiling.ok()) return Fail(k.tiling.status());
    std::cout << "planned " << k.kernel.name << " " << k.tiling->config.ToString() << " "
              << k.tiling->predicted_ns << " ns\n";
  }
  std::cout << "total " << plan->total_predicted_ns << " ns (" << plan->cost_model << ")\n";

  // 2. The passes directly, with any cost::CostModel.
  absl::StatusOr<pg::cost::AnalyticalModel> analytical = pg::cost::AnalyticalModel::CreateDefault();
  if (!analytical.ok()) return Fail(analytical.status());
  pg::fusion::FusionPass fusion_pass(*analytical);
  absl::StatusOr<pg::fusion::FusionPassResult> fused = fusion_pass.Run(model->program);
  if (!fused.ok()) return Fail(fused.status());
  pg::tiling::TilingPass tiling_pass(*analytical);
  for (const pg::graph::Kernel& kernel : fused->kernels) {
    absl::StatusOr<pg::tiling::KernelTiling> best = tiling_pass.Run(kernel);
    if (!best.ok()) return Fail(best.status());
    std::cout << "analytical " << kernel.name << " " << best->config.ToString() << " "
              << best->predicted_ns << " ns\n";
  }
  return 0;
}

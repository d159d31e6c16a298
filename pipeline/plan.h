// The compiler pipeline on one imported program (DESIGN.md "Data flow"): fuse, then pick every
// kernel's tile config with a cost model. Typed results; `perfgraph plan` only prints them.
//
//   ASSIGN_OR_RETURN(auto model, pipeline::MakeCostModel({pipeline::CostModelKind::kLearned}));
//   ASSIGN_OR_RETURN(graph::ImportedModel imported, graph::ImportModelFile(path, {}));
//   ASSIGN_OR_RETURN(pipeline::ProgramPlan plan,
//                    pipeline::PlanProgram(path, imported, *model, pipeline::PlanOptions{}));
//   for (const pipeline::KernelPlan& k : plan.kernels) use(k.kernel, k.tiling->config);
//
// Nothing here links LibTorch or Halide; measuring a plan on this CPU is pipeline/plan_measure.h.
#ifndef PERFGRAPH_PIPELINE_PLAN_H_
#define PERFGRAPH_PIPELINE_PLAN_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cost/cost_model.h"
#include "fusion/fusion_pass.h"
#include "graph/import.h"
#include "graph/ir.h"
#include "pipeline/program_total.h"
#include "tiling/tile_config.h"
#include "tiling/tiling_pass.h"

namespace perfgraph::pipeline {

// How a program's instructions are grouped into kernels.
enum class FusionMode {
  kDefault,  // fusion::DefaultFusion (XLA-like heuristic; what `measure` and `inspect` see)
  kCost,     // fusion::FusionPass over a cost model
};
// "default", "cost" (the --fusion values).
absl::string_view FusionModeName(FusionMode mode);
// Inverse of FusionModeName. Error: kInvalidArgument naming `name`.
absl::StatusOr<FusionMode> ParseFusionMode(absl::string_view name);

// The kernels of an imported model.
struct FusedModel {
  std::vector<graph::Kernel> kernels;
  // FusionMode::kCost only: every producer/consumer decision of all programs, in fusion order, the
  // producer named "<computation>/<instruction>" for called computations.
  std::vector<fusion::FusionDecision> decisions;
  std::string fusion;  // "default", "cost", or "file" (the file's own fusions)
};

// The file's own fusions when it has them (optimised HLO: ImportedModel::prefused_kernels, fusion
// "file"); otherwise the entry program and then every called computation (HLO while bodies, ...)
// fused on its own with `mode`. Called computations' kernels are named "<computation>/<kernel>", as
// `perfgraph inspect` names them. `cost_model` is borrowed for kCost (must be non-null then) and
// unused otherwise. Errors name `path` (the file the model came from): a program that fails to fuse
// (the pass's error), kInvalidArgument for kCost without a cost model.
absl::StatusOr<FusedModel> FuseModel(const std::string& path, const graph::ImportedModel& model,
                                     FusionMode mode, cost::CostModel* cost_model);

struct PlanOptions {
  FusionMode fusion = FusionMode::kCost;
  // Target threads the predictions are for (reported in ProgramPlan; the cost model itself was built
  // for a thread count by MakeCostModel). >= 1.
  int num_threads = 1;
  tiling::TilingPassOptions tiling;  // default: the whole ConfigSpace of every kernel
};

// One kernel of a plan.
struct KernelPlan {
  graph::Kernel kernel;
  // The chosen config and its estimate (tiling::TilingPass), or why no config could be estimated
  // (the kernel is then left out of the totals).
  absl::StatusOr<tiling::KernelTiling> tiling = absl::UnknownError("not planned");
  tiling::TileConfig default_config;         // tiling::Default(kernel)
  std::optional<double> default_predicted_ns;  // its estimate, when both it and `tiling` exist
  // Non-empty when the cost model was not trained on kernels like this one
  // (cost::CostModel::OutOfDistribution): the reason.
  std::string out_of_distribution;
  // How often the kernel runs per program run (while trip counts; KernelRunsOf).
  KernelRuns runs;
};

struct FusionDecisionCounts {
  int fused = 0;
  int declined_cost = 0;
  int declined_no_estimate = 0;
  int declined_legality = 0;
};

struct ProgramPlan {
  std::string program;     // graph::Program::name of the entry program
  std::string model_file;  // the `path` given to PlanProgram
  std::string cost_model;  // cost::CostModel::name()
  std::string fusion;      // "default", "cost" or "file"
  int num_threads = 1;
  // The tiling pass's default guard the plan was made with (PlanOptions::tiling.min_predicted_gain).
  double min_predicted_gain = 0;
  std::vector<KernelPlan> kernels;  // in fusion order
  std::vector<fusion::FusionDecision> decisions;  // fusion "cost" only
  FusionDecisionCounts decision_counts;           // fusion "cost" only
  // Sum of the chosen configs' estimates x executions (ProgramTotal: once when a trip count is
  // unknown; a conditional's costliest branch), and the same for tiling::Default's, over the same
  // kernels; total_notes says how control flow entered them (ProgramTotal::Notes).
  double total_predicted_ns = 0;
  double total_default_predicted_ns = 0;
  std::vector<std::string> total_notes;
  int kernels_without_estimate = 0;
  int kernels_out_of_distribution = 0;
  // Kernels whose argmin lost to tiling::Default under the default guard
  // (tiling::TilingPassOptions::min_predicted_gain, tiling::KernelTiling::kept_default).
  int kernels_kept_default = 0;
};

// Fuses `model` (FuseModel with options.fusion) and tiles every kernel over its ConfigSpace with
// tiling::TilingPass over `cost_model` (borrowed; one batch per kernel), taking tiling::Default's
// estimate for comparison from the pass (one more batch for any default the pass did not score). A kernel without any estimate is kept with its error
// (ProgramPlan::kernels_without_estimate), never dropped. Errors: FuseModel's.
absl::StatusOr<ProgramPlan> PlanProgram(const std::string& path, const graph::ImportedModel& model,
                                        cost::CostModel& cost_model, const PlanOptions& options);

}  // namespace perfgraph::pipeline

#endif  // PERFGRAPH_PIPELINE_PLAN_H_

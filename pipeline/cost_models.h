// The cost-model factory of the pipeline: builds one of perfgraph's cost models by name, with the
// shipped model files found from any working directory (cost/shipped_files.h).
//
// A compiler pass that links perfgraph calls MakeCostModel once per thread (cost models are not
// thread-safe) and hands the model to fusion::FusionPass and tiling::TilingPass, or to
// pipeline::PlanProgram (pipeline/plan.h). Nothing here links LibTorch or Halide.
#ifndef PERFGRAPH_PIPELINE_COST_MODELS_H_
#define PERFGRAPH_PIPELINE_COST_MODELS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cost/cost_model.h"

namespace perfgraph::pipeline {

enum class CostModelKind {
  kLearned,     // cost::LearnedModel: the GraphSAGE + LSTM model served by kernels::Predictor
  kXgboost,     // cost::XgboostModel: the gradient-boosted baseline
  kAnalytical,  // cost::AnalyticalModel: the calibrated roofline over the reference target
};

// "learned", "xgboost", "analytical" (the --cost-model values).
absl::string_view CostModelKindName(CostModelKind kind);
// Inverse of CostModelKindName. Error: kInvalidArgument naming `name` and the accepted names.
absl::StatusOr<CostModelKind> ParseCostModelKind(absl::string_view name);

// File name of the exported inference weights inside a learned model directory (written by
// `perfgraph train`, read by cost::LearnedModel).
inline constexpr char kLearnedWeightsFile[] = "weights.pgw";

// The shipped model directory of `kind`: cost::ShippedPath("models/default") for kLearned,
// cost::ShippedPath("models/xgboost") for kXgboost, "" for kAnalytical (it has no model files; its
// target description is cost::DefaultTargetDescriptionPath()).
std::string ShippedModelDir(CostModelKind kind);

// The default guard band of the shipped model of `kind` (tiling::TilingPassOptions::
// min_predicted_gain): the smallest predicted gain over tiling::Default the tiling pass trusts.
// Chosen by replaying the guard on the validation programs of data/reference/split.txt (`perfgraph
// eval --split data/reference/split.txt --split-part validation --guard-sweep`): the band with the
// lowest geometric mean of measured(choice) / measured(default); the table is in the README
// ("The default guard"). A model trained elsewhere should be swept the same way.
double DefaultGuardBand(CostModelKind kind);

struct CostModelOptions {
  CostModelKind kind = CostModelKind::kLearned;
  // Model directory (kLearned: the output of `perfgraph train`; kXgboost: of `perfgraph train
  // --model-kind xgboost`). Empty: ShippedModelDir(kind). Ignored by kAnalytical.
  std::string model_dir;
  // Threads of the kernels whose runtime is predicted (kAnalytical scales its peak compute and
  // bandwidth with it, cost::AnalyticalModelOptions::num_threads) and threads XGBoost predicts with
  // (kXgboost). >= 1; values < 1 are taken as 1.
  int num_threads = 1;
};

// The weights file of the learned model in `model_dir` (`model_dir`/kLearnedWeightsFile). Error:
// kFailedPrecondition "no learned model in DIR (FILE is missing): train one with `perfgraph train
// --out DIR`" when the file does not exist.
absl::StatusOr<std::string> LearnedWeightsPath(const std::string& model_dir);

// Builds the cost model. Errors: kLearned: LearnedWeightsPath's, then cost::LearnedModel::Load's
// (corrupt or incompatible weights: kDataLoss / kFailedPrecondition naming the file); kXgboost:
// kFailedPrecondition "no XGBoost model in DIR ..." when the directory holds none, otherwise
// cost::XgboostModel::Load's; kAnalytical: cost::AnalyticalModel::CreateDefault's (the reference
// target description missing or malformed, named).
absl::StatusOr<std::unique_ptr<cost::CostModel>> MakeCostModel(const CostModelOptions& options);

}  // namespace perfgraph::pipeline

#endif  // PERFGRAPH_PIPELINE_COST_MODELS_H_

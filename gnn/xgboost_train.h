// Training of the gradient-boosted baseline (cost::XgboostModel, cost/xgboost_model.h) on the same
// examples, split and metrics as the GNN (gnn/train.h), so that `eval` can put the two side by side.
//
// Tile booster (TaskSelection kTile or kBoth): one row per (tile kernel, measured config)
// (cost::AppendTabularRows), one query group per kernel.
//  * rank:pairwise: label -log(runtime_ns) for OK configs (faster = higher); a TIMEOUT config gets
//    the kernel's lowest OK label minus 1, i.e. "slower than every OK config of its kernel", as the
//    GNN's ranking loss treats it (censored, never dropped).
//  * reg:squarederror: label log(runtime_ns / runtime_ns of the kernel's reference), the reference
//    being the default config (tiling::Default) when it was measured OK, else the geometric mean of
//    the kernel's OK configs; TIMEOUT configs have no value to regress and are left out.
//  Kernels with fewer than two configs carry no ranking information and are left out.
// Level booster: reg:squarederror on log(runtime_ns) of the fusion examples' configs and of the
// default config of every tile kernel that measured it OK; base_score is the label mean.
// Early stopping: every `eval_every` rounds the validation programs are scored (tile: mean Kendall's
// tau per kernel; level: RMSE of log runtime) and the best round count is kept (XGBoost's slicing);
// without validation programs every round is kept.
// Score scale (cost/xgboost_model.h): least squares over the training kernels' OK configs of
// log(ns / reference ns) on (s - s(reference)).
#ifndef PERFGRAPH_GNN_XGBOOST_TRAIN_H_
#define PERFGRAPH_GNN_XGBOOST_TRAIN_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cost/cost_model.h"
#include "cost/xgboost_model.h"
#include "gnn/batch.h"
#include "gnn/train.h"

namespace perfgraph::gnn {

// Progress of one validation check.
struct XgboostRoundReport {
  std::string booster;   // "tile" or "level"
  int round = 0;         // boosting rounds so far
  int max_rounds = 0;
  // Validation figure at this round: mean Kendall's tau (tile, higher is better) or RMSE of log ns
  // (level, lower is better); nullopt without validation data.
  std::optional<double> validation;
  bool improved = false;  // best so far (kept)
};

struct XgboostTrainOptions {
  std::vector<std::string> datasets;  // record files (TrainXgboost only)
  std::string out_dir;                // model directory; "" = write nothing
  TaskSelection tasks = TaskSelection::kBoth;
  std::optional<std::string> split_file;
  // Tile booster objective: cost::kXgbRankPairwise or cost::kXgbSquaredError. The default was chosen
  // on the validation programs of the v1 reference data (README, "The gradient-boosted baseline":
  // Kendall's tau 0.566 with regression vs 0.513 with rank:pairwise).
  std::string tile_objective = cost::kXgbSquaredError;
  int max_rounds = 500;           // boosting rounds per booster, >= 1
  int max_depth = 6;              // XGBoost max_depth, in [1, 16]
  double eta = 0.1;               // XGBoost learning rate, in (0, 1]
  int eval_every = 10;            // validation check period in rounds, >= 1
  int early_stopping_rounds = 60; // stop after this many rounds without a better check, >= 1
  // The roofline's breakdown as features (the hybrid block of cost/tabular_features.h); false
  // leaves that block missing (NaN), the ablation of the hybrid features.
  bool analytical_features = true;
  int analytical_threads = 1;     // threads the records were measured with (XgboostModelInfo)
  uint64_t seed = 1;
  int threads = 2;                // XGBoost nthread
  std::function<void(const XgboostRoundReport&)> on_round;  // progress (may be empty)
};

struct XgboostTrainResult {
  cost::XgboostModelInfo info;
  std::unique_ptr<cost::XgboostModel> model;
  TaskMetrics validation;  // of the kept model, through XgboostModel::EstimateNs
  TaskMetrics test;
  int train_examples = 0;
  std::vector<KernelExample> test_examples;  // TrainXgboost only (for side-by-side scoring)
};

// Loads and splits the datasets (LoadSplitExamples, writing out_dir/split.txt) and trains.
// Errors: those of LoadSplitExamples and TrainXgboostOnExamples; kFailedPrecondition for datasets
// of a foreign feature schema (no kernels to compute the tabular features from).
absl::StatusOr<XgboostTrainResult> TrainXgboost(const XgboostTrainOptions& options);

// Trains on given examples and, when out_dir is not empty, saves the model there
// (XgboostModel::Save, with the training kernels' cost::TrainingDistribution). Errors: kInvalidArgument for options out of range (naming the option and
// value) or when neither booster has training rows; XGBoost's errors; I/O errors.
absl::StatusOr<XgboostTrainResult> TrainXgboostOnExamples(const std::vector<KernelExample>& train,
                                                          const std::vector<KernelExample>& validation,
                                                          const std::vector<KernelExample>& test,
                                                          const XgboostTrainOptions& options);

// Predictions in ns of `model` for every config of every example ([e][c], the shape
// ComputeTaskMetrics takes), one EstimateNs batch per example; NaN where the model returns an error
// or the config text does not parse. `failures` (optional) counts the NaNs of configs that did not
// time out.
std::vector<std::vector<double>> PredictExamplesNs(cost::CostModel& model,
                                                   const std::vector<KernelExample>& examples,
                                                   int* failures = nullptr);

}  // namespace perfgraph::gnn

#endif  // PERFGRAPH_GNN_XGBOOST_TRAIN_H_

// The learned and the analytical model scored on the same held-out kernels and configs (DESIGN.md
// "Metrics"): shared by `perfgraph eval` and by `perfgraph train`, which writes the figures of the
// model it just trained into the model directory's metrics.json.
#ifndef PERFGRAPH_TOOLS_SIDE_BY_SIDE_H_
#define PERFGRAPH_TOOLS_SIDE_BY_SIDE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gnn/batch.h"
#include "gnn/train.h"

namespace perfgraph::tools {

// Threads the kernels of the dataset at `path` ran with (the analytical model needs it): from its
// machine fingerprint, else this machine's logical cores (with a note on stderr). Errors: those of
// data::RecordReader::Open.
absl::StatusOr<int> MeasuredThreads(const std::string& path);

// cost::AnalyticalModel (committed target description, `threads` threads) estimates in ns for every
// config of every example: [examples.size()][num_configs], NaN where the config text does not parse
// or the model returns an error. `failures` (if not null) counts those NaNs on configs that did not
// time out. Errors: the analytical model cannot be created (target description missing or invalid).
absl::StatusOr<std::vector<std::vector<double>>> AnalyticalPredictions(
    const std::vector<gnn::KernelExample>& examples, int threads, int* failures);

struct SideBySide {
  gnn::TaskMetrics learned;
  gnn::TaskMetrics xgboost;  // only when xgboost predictions were given (has_xgboost)
  gnn::TaskMetrics analytical;
  bool has_xgboost = false;
  int analytical_failures = 0;  // OK configs the analytical model could not estimate (dropped)
  int xgboost_failures = 0;     // OK configs the XGBoost model could not estimate (dropped)
  // The scored predictions in ns, [examples][num_configs]: AnalyticalPredictions, and the learned
  // (and XGBoost) ones, each with NaN wherever the analytical or the XGBoost model has none.
  std::vector<std::vector<double>> learned_ns, xgboost_ns, analytical_ns;
};

// Scores `learned_ns` (e.g. LearnedPredictor::PredictNs of `examples`; NaN = no prediction), the
// XGBoost baseline's `xgboost_ns` when not null (gnn::PredictExamplesNs of a cost::XgboostModel) and
// the analytical model on the same configs: a config the analytical or the XGBoost model cannot
// estimate is dropped for every column. Errors: those of AnalyticalPredictions and
// gnn::ComputeTaskMetrics (shape mismatch).
absl::StatusOr<SideBySide> ScoreSideBySide(
    const std::vector<gnn::KernelExample>& examples, std::vector<std::vector<double>> learned_ns,
    int threads, const std::vector<std::vector<double>>* xgboost_ns = nullptr);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_SIDE_BY_SIDE_H_

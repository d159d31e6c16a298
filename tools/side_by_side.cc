#include "tools/side_by_side.h"

#include <cmath>
#include <iostream>
#include <limits>

#include "absl/strings/str_cat.h"
#include "cost/analytical_model.h"
#include "data/record_file.h"
#include "gnn/xgboost_train.h"
#include "graph/status_macros.h"
#include "tiling/tile_config.h"
#include "tools/cli.h"

namespace perfgraph::tools {

absl::StatusOr<int> MeasuredThreads(const std::string& path) {
  ASSIGN_OR_RETURN(data::RecordReader reader, data::RecordReader::Open(path));
  if (reader.header().machine && reader.header().machine->num_threads >= 1) {
    return reader.header().machine->num_threads;
  }
  const int threads = LogicalCores();
  std::cerr << "perfgraph: " << path << " records no machine; the analytical model assumes "
            << threads << " threads (this machine's)\n";
  return threads;
}

absl::StatusOr<std::vector<std::vector<double>>> AnalyticalPredictions(
    const std::vector<gnn::KernelExample>& examples, int threads, int* failures) {
  cost::AnalyticalModelOptions options;
  options.num_threads = threads;
  ASSIGN_OR_RETURN(cost::AnalyticalModel analytical, cost::AnalyticalModel::CreateDefault(options));
  return gnn::PredictExamplesNs(analytical, examples, failures);
}

absl::StatusOr<SideBySide> ScoreSideBySide(const std::vector<gnn::KernelExample>& examples,
                                           std::vector<std::vector<double>> learned_ns,
                                           int threads,
                                           const std::vector<std::vector<double>>* xgboost_ns) {
  SideBySide result;
  ASSIGN_OR_RETURN(result.analytical_ns,
                   AnalyticalPredictions(examples, threads, &result.analytical_failures));
  result.has_xgboost = xgboost_ns != nullptr;
  if (result.has_xgboost) result.xgboost_ns = *xgboost_ns;
  if (result.has_xgboost && result.xgboost_ns.size() != examples.size()) {
    return absl::InvalidArgumentError(absl::StrCat("ScoreSideBySide: XGBoost predictions for ",
                                                   result.xgboost_ns.size(), " examples, ",
                                                   examples.size(), " expected"));
  }
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  for (size_t e = 0; e < examples.size(); ++e) {
    for (int c = 0; c < examples[e].num_configs; ++c) {
      const bool no_analytical =
          c >= static_cast<int>(result.analytical_ns[e].size()) ||
          std::isnan(result.analytical_ns[e][c]);
      const bool no_xgboost = result.has_xgboost &&
                              (c >= static_cast<int>(result.xgboost_ns[e].size()) ||
                               std::isnan(result.xgboost_ns[e][c]));
      if (no_xgboost && !no_analytical && !examples[e].timed_out[c]) ++result.xgboost_failures;
      if (!no_analytical && !no_xgboost) continue;
      if (e < learned_ns.size() && c < static_cast<int>(learned_ns[e].size())) {
        learned_ns[e][c] = kNaN;
      }
      if (c < static_cast<int>(result.analytical_ns[e].size())) result.analytical_ns[e][c] = kNaN;
      if (result.has_xgboost && c < static_cast<int>(result.xgboost_ns[e].size())) {
        result.xgboost_ns[e][c] = kNaN;
      }
    }
  }
  ASSIGN_OR_RETURN(result.learned, gnn::ComputeTaskMetrics(examples, learned_ns));
  ASSIGN_OR_RETURN(result.analytical, gnn::ComputeTaskMetrics(examples, result.analytical_ns));
  if (result.has_xgboost) {
    ASSIGN_OR_RETURN(result.xgboost, gnn::ComputeTaskMetrics(examples, result.xgboost_ns));
  }
  result.learned_ns = std::move(learned_ns);
  return result;
}

}  // namespace perfgraph::tools

#include "pipeline/cost_models.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cost/analytical_model.h"
#include "cost/learned_model.h"
#include "cost/shipped_files.h"
#include "cost/xgboost_model.h"
#include "graph/status_macros.h"

namespace perfgraph::pipeline {

absl::string_view CostModelKindName(CostModelKind kind) {
  switch (kind) {
    case CostModelKind::kLearned: return "learned";
    case CostModelKind::kXgboost: return "xgboost";
    case CostModelKind::kAnalytical: return "analytical";
  }
  return "unknown";
}

absl::StatusOr<CostModelKind> ParseCostModelKind(absl::string_view name) {
  for (CostModelKind kind :
       {CostModelKind::kLearned, CostModelKind::kXgboost, CostModelKind::kAnalytical}) {
    if (name == CostModelKindName(kind)) return kind;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown cost model '", name, "' (expected learned, xgboost or analytical)"));
}

std::string ShippedModelDir(CostModelKind kind) {
  switch (kind) {
    case CostModelKind::kLearned: return cost::ShippedPath(cost::kShippedLearnedModelDir);
    case CostModelKind::kXgboost: return cost::ShippedPath(cost::kShippedXgboostModelDir);
    case CostModelKind::kAnalytical: return "";
  }
  return "";
}

double DefaultGuardBand(CostModelKind kind) {
  // README "The default guard": validation programs of data/reference/split.txt, v2 tile labels.
  switch (kind) {
    case CostModelKind::kLearned: return 0.2;
    case CostModelKind::kXgboost: return 0.05;
    case CostModelKind::kAnalytical: return 0.1;
  }
  return 0;
}

absl::StatusOr<std::string> LearnedWeightsPath(const std::string& model_dir) {
  const std::string weights = absl::StrCat(model_dir, "/", kLearnedWeightsFile);
  std::error_code error;
  if (!std::filesystem::exists(weights, error)) {
    return absl::FailedPreconditionError(
        absl::StrCat("no learned model in ", model_dir, " (", weights,
                     " is missing): train one with `perfgraph train --out DIR`"));
  }
  return weights;
}

absl::StatusOr<std::unique_ptr<cost::CostModel>> MakeCostModel(const CostModelOptions& options) {
  const int threads = std::max(1, options.num_threads);
  const std::string dir =
      options.model_dir.empty() ? ShippedModelDir(options.kind) : options.model_dir;
  switch (options.kind) {
    case CostModelKind::kLearned: {
      ASSIGN_OR_RETURN(const std::string weights, LearnedWeightsPath(dir));
      ASSIGN_OR_RETURN(cost::LearnedModel model, cost::LearnedModel::Load(weights));
      return std::unique_ptr<cost::CostModel>(
          std::make_unique<cost::LearnedModel>(std::move(model)));
    }
    case CostModelKind::kXgboost: {
      absl::StatusOr<std::unique_ptr<cost::XgboostModel>> model =
          cost::XgboostModel::Load(dir, threads);
      if (model.status().code() == absl::StatusCode::kNotFound) {
        // A missing model is a usage error (nothing trained there), not a missing input file.
        return absl::FailedPreconditionError(absl::StrCat(
            model.status().message(),
            "; train one with `perfgraph train --model-kind xgboost --out DIR`"));
      }
      if (!model.ok()) return model.status();
      return std::unique_ptr<cost::CostModel>(std::move(*model));
    }
    case CostModelKind::kAnalytical: {
      cost::AnalyticalModelOptions analytical;
      analytical.num_threads = threads;
      ASSIGN_OR_RETURN(cost::AnalyticalModel model, cost::AnalyticalModel::CreateDefault(analytical));
      return std::unique_ptr<cost::CostModel>(
          std::make_unique<cost::AnalyticalModel>(std::move(model)));
    }
  }
  return absl::InvalidArgumentError("MakeCostModel: unknown CostModelKind");
}

}  // namespace perfgraph::pipeline

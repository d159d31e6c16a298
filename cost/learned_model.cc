#include "cost/learned_model.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cost/roofline_bound.h"
#include "graph/featurize.h"
#include "graph/status_macros.h"
#include "tiling/tile_config.h"

namespace perfgraph::cost {

static_assert(kernels::kNumConfigFeatures == tiling::kNumConfigFeatures,
              "kernels::kNumConfigFeatures must mirror tiling::kNumConfigFeatures");
static_assert(kernels::kConfigFeatureSchemaVersion == tiling::kConfigFeatureSchemaVersion,
              "kernels::kConfigFeatureSchemaVersion must mirror tiling::kConfigFeatureSchemaVersion");

absl::StatusOr<LearnedModel> LearnedModel::Load(absl::string_view weights_path) {
  ASSIGN_OR_RETURN(kernels::Predictor predictor, kernels::Predictor::Load(weights_path));
  ASSIGN_OR_RETURN(TargetDescription target, LoadTargetDescription(DefaultTargetDescriptionPath()));
  ASSIGN_OR_RETURN(
      std::optional<TrainingDistribution> distribution,
      ReadTrainingDistribution(std::filesystem::path(std::string(weights_path)).parent_path().string()));
  LearnedModel model(std::move(predictor), std::move(target));
  model.set_distribution(std::move(distribution));
  return model;
}

std::string LearnedModel::name() const { return "learned"; }

std::string LearnedModel::OutOfDistribution(const graph::Kernel& kernel) const {
  return distribution_ ? distribution_->OutOfDistribution(kernel) : std::string();
}

std::vector<absl::StatusOr<double>> LearnedModel::EstimateNs(absl::Span<const CostQuery> queries) {
  std::vector<absl::StatusOr<double>> results(queries.size(), absl::UnknownError("not evaluated"));
  const std::vector<KernelQueries> groups =
      GroupValidQueries(queries, "LearnedModel::EstimateNs", nullptr, results);
  std::vector<float> config_feat;
  std::vector<float> out_ns;
  for (const KernelQueries& group : groups) {
    const graph::Kernel* kernel = group.kernel;
    const std::vector<size_t>& rows = group.rows;
    const graph::KernelTensors tensors = graph::Featurize(*kernel);
    config_feat.assign(rows.size() * tiling::kNumConfigFeatures, 0.0f);
    out_ns.assign(rows.size(), 0.0f);
    for (size_t r = 0; r < rows.size(); ++r) {
      tiling::ConfigFeatures(*kernel, queries[rows[r]].config,
                             config_feat.data() + r * tiling::kNumConfigFeatures);
    }
    absl::Status status = predictor_.Predict(tensors, config_feat.data(),
                                             static_cast<int>(rows.size()), out_ns.data());
    const double bound_ns =
        bound_target_ ? RooflineLowerBound(*bound_target_, *kernel).bound_ns() : 0.0;
    for (size_t r = 0; r < rows.size(); ++r) {
      if (status.ok()) {
        results[rows[r]] = std::max(static_cast<double>(out_ns[r]), bound_ns);
      } else {
        results[rows[r]] = absl::Status(
            status.code(), absl::StrCat("LearnedModel: kernel '", kernel->name, "', config ",
                                        queries[rows[r]].config.ToString(), ": ", status.message()));
      }
    }
  }
  return results;
}

}  // namespace perfgraph::cost

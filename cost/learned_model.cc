#include "cost/learned_model.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cost/library_cost.h"
#include "cost/roofline_bound.h"
#include "cost/tabular_features.h"
#include "graph/featurize.h"
#include "graph/library_ops.h"
#include "graph/status_macros.h"
#include "tiling/tile_config.h"

namespace perfgraph::cost {

static_assert(kernels::kNumConfigFeatures == tiling::kNumConfigFeatures,
              "kernels::kNumConfigFeatures must mirror tiling::kNumConfigFeatures");
static_assert(kernels::kConfigFeatureSchemaVersion == tiling::kConfigFeatureSchemaVersion,
              "kernels::kConfigFeatureSchemaVersion must mirror tiling::kConfigFeatureSchemaVersion");
static_assert(kernels::kNumHybridConfigFeatures == kNumHybridConfigFeatures,
              "kernels::kNumHybridConfigFeatures must mirror cost::kNumHybridConfigFeatures");

LearnedModel::LearnedModel(kernels::Predictor predictor) : predictor_(std::move(predictor)) {}
LearnedModel::LearnedModel(kernels::Predictor predictor, TargetDescription bound_target)
    : predictor_(std::move(predictor)), bound_target_(std::move(bound_target)) {}

absl::Status LearnedModel::InitHybrid() {
  if (predictor_.architecture().hybrid_threads == 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(TargetDescription reference, LoadTargetDescription(DefaultTargetDescriptionPath()));
  return InitHybrid(reference);
}

absl::Status LearnedModel::InitHybrid(const TargetDescription& reference) {
  const int threads = predictor_.architecture().hybrid_threads;
  if (threads == 0) return absl::OkStatus();
  AnalyticalModelOptions options;
  options.num_threads = threads;
  ASSIGN_OR_RETURN(AnalyticalModel analytical, AnalyticalModel::Create(reference, options));
  hybrid_ = std::make_shared<const AnalyticalModel>(std::move(analytical));
  return absl::OkStatus();
}

absl::StatusOr<LearnedModel> LearnedModel::Load(absl::string_view weights_path) {
  ASSIGN_OR_RETURN(kernels::Predictor predictor, kernels::Predictor::Load(weights_path));
  if (predictor.architecture().foreign_schema()) {
    // Such a model reads features given with its data (e.g. TpuGraphs tiles), not those of
    // perfgraph kernels (graph::Featurize): `perfgraph eval` scores it on datasets of its schema.
    return absl::FailedPreconditionError(absl::StrCat(
        "LearnedModel: weights '", weights_path, "' were trained on feature schema '",
        predictor.architecture().feature_schema,
        "', not perfgraph's; it cannot estimate perfgraph kernels (evaluate it with `perfgraph "
        "eval --dataset` on a dataset of that schema)"));
  }
  ASSIGN_OR_RETURN(TargetDescription target, LoadTargetDescription(DefaultTargetDescriptionPath()));
  ASSIGN_OR_RETURN(
      std::optional<TrainingDistribution> distribution,
      ReadTrainingDistribution(std::filesystem::path(std::string(weights_path)).parent_path().string()));
  LearnedModel model(std::move(predictor), std::move(target));
  // The reference description is both the lower-bound target and the hybrid features' source.
  RETURN_IF_ERROR(model.InitHybrid(*model.bound_target()));
  if (model.predictor_.architecture().hybrid_threads > 0) {
    WarnIfStaleAnalyticalFeatures(
        distribution, std::filesystem::path(std::string(weights_path)).parent_path().string(),
        *model.bound_target());
  }
  model.set_distribution(std::move(distribution));
  // Ensemble members (file comment of learned_model.h).
  const std::filesystem::path dir = std::filesystem::path(std::string(weights_path)).parent_path();
  const std::filesystem::path ensemble = dir / kEnsembleFile;
  std::error_code ec;
  if (std::filesystem::exists(ensemble, ec)) {
    std::ifstream in(ensemble);
    if (!in) {
      return absl::PermissionDeniedError(absl::StrCat("cannot read ", ensemble.string()));
    }
    std::string line;
    int members = 0;
    for (int line_number = 1; std::getline(in, line); ++line_number) {
      const absl::string_view entry = absl::StripAsciiWhitespace(
          absl::string_view(line).substr(0, std::min(line.size(), line.find('#'))));
      if (entry.empty()) continue;
      const std::string member_path = (dir / std::string(entry)).string();
      const std::string source = absl::StrCat(ensemble.string(), ":", line_number, " ('", entry, "')");
      absl::StatusOr<kernels::Predictor> member = kernels::Predictor::Load(member_path);
      if (!member.ok()) {
        return absl::Status(member.status().code(),
                            absl::StrCat("ensemble member ", source, ": ", member.status().message()));
      }
      RETURN_IF_ERROR(model.AddEnsembleMember(*std::move(member), source));
      ++members;
    }
    if (members == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(ensemble.string(), " names no ensemble member (one weights file per line)"));
    }
  }
  return model;
}

absl::Status LearnedModel::AddEnsembleMember(kernels::Predictor member, absl::string_view source) {
  const auto& first = predictor_.architecture();
  const auto& other = member.architecture();
  if (other.foreign_schema() || other.feature_schema != first.feature_schema ||
      other.config_width() != first.config_width() || other.node_width() != first.node_width() ||
      other.hybrid_threads != first.hybrid_threads) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ensemble member ", source, " reads other features than the first model (feature schema '",
        other.feature_schema, "' vs '", first.feature_schema, "', config width ",
        other.config_width(), " vs ", first.config_width(), ", node width ", other.node_width(),
        " vs ", first.node_width(), ", hybrid threads ", other.hybrid_threads, " vs ",
        first.hybrid_threads, ")"));
  }
  members_.push_back(std::move(member));
  return absl::OkStatus();
}

std::string LearnedModel::name() const { return "learned"; }

std::string LearnedModel::OutOfDistribution(const graph::Kernel& kernel) const {
  if (IsCollectiveKernel(kernel)) return std::string(kDeferredCollective);
  if (graph::IsLibraryKernel(kernel)) return std::string(kDeferredLibrary);
  return distribution_ ? distribution_->OutOfDistribution(kernel) : std::string();
}

std::vector<absl::StatusOr<double>> LearnedModel::EstimateNs(absl::Span<const CostQuery> queries) {
  if (auto multi = EstimateMultiOutput(queries, *this)) return *std::move(multi);
  std::vector<absl::StatusOr<double>> results(queries.size(), absl::UnknownError("not evaluated"));
  const std::vector<KernelQueries> groups =
      GroupValidQueries(queries, "LearnedModel::EstimateNs", nullptr, results);
  std::vector<float> config_feat;
  std::vector<float> hybrid_feat;
  std::vector<tiling::TileConfig> configs;
  std::vector<float> out_ns;
  std::vector<float> member_ns;
  std::vector<double> log_sum;
  const int width = predictor_.architecture().config_width();
  // Collectives are communication, which the network never saw: the alpha-beta model of the
  // reference target's interconnect costs them (cost/collective_cost.h).
  const InterconnectDescription interconnect =
      bound_target_ ? bound_target_->interconnect : DefaultInterconnect();
  std::vector<KernelQueries> compute_groups;
  for (const KernelQueries& group : groups) {
    if (!IsCollectiveKernel(*group.kernel)) {
      compute_groups.push_back(group);
      continue;
    }
    const absl::StatusOr<CollectiveCost> cost = EstimateCollective(*group.kernel, interconnect);
    for (size_t row : group.rows) {
      results[row] = cost.ok() ? absl::StatusOr<double>(cost->total_ns) : cost.status();
    }
  }
  // Library ops (sort, scatter, fused attention, ...) neither: the analytical library-op formulas
  // on the reference target cost them (cost/library_cost.h).
  std::vector<KernelQueries> network_groups;
  for (KernelQueries& group : compute_groups) {
    if (!graph::IsLibraryKernel(*group.kernel)) {
      network_groups.push_back(std::move(group));
      continue;
    }
    const absl::StatusOr<LibraryCost> cost =
        bound_target_ ? EstimateLibraryKernel(*bound_target_, *group.kernel)
                      : absl::StatusOr<LibraryCost>(absl::FailedPreconditionError(absl::StrCat(
                            "LearnedModel: library kernel '", group.kernel->name,
                            "' needs the reference target description to be costed")));
    for (size_t row : group.rows) {
      results[row] = cost.ok() ? absl::StatusOr<double>(cost->total_ns) : cost.status();
    }
  }
  compute_groups = std::move(network_groups);
  if (predictor_.architecture().hybrid_threads > 0 && hybrid_ == nullptr) {
    for (const KernelQueries& group : compute_groups) {
      for (size_t row : group.rows) {
        results[row] = absl::InvalidArgumentError(
            "LearnedModel: the predictor reads hybrid config features but InitHybrid() was not "
            "called (no analytical model to compute them)");
      }
    }
    return results;
  }
  for (const KernelQueries& group : compute_groups) {
    const graph::Kernel* kernel = group.kernel;
    const std::vector<size_t>& rows = group.rows;
    const graph::KernelTensors tensors = graph::Featurize(*kernel);
    config_feat.assign(rows.size() * width, 0.0f);
    out_ns.assign(rows.size(), 0.0f);
    for (size_t r = 0; r < rows.size(); ++r) {
      tiling::ConfigFeatures(*kernel, queries[rows[r]].config, config_feat.data() + r * width);
    }
    if (hybrid_ != nullptr) {
      configs.clear();
      for (size_t r = 0; r < rows.size(); ++r) configs.push_back(queries[rows[r]].config);
      hybrid_feat.clear();
      AppendHybridConfigFeatures(*kernel, configs, *hybrid_, &hybrid_feat);
      for (size_t r = 0; r < rows.size(); ++r) {
        std::copy(hybrid_feat.begin() + r * kNumHybridConfigFeatures,
                  hybrid_feat.begin() + (r + 1) * kNumHybridConfigFeatures,
                  config_feat.begin() + r * width + tiling::kNumConfigFeatures);
      }
    }
    absl::Status status = predictor_.Predict(tensors, config_feat.data(),
                                             static_cast<int>(rows.size()), out_ns.data());
    if (status.ok() && !members_.empty()) {
      // The ensemble's estimate: the geometric mean of its members' predictions.
      log_sum.resize(rows.size());
      for (size_t r = 0; r < rows.size(); ++r) log_sum[r] = std::log(static_cast<double>(out_ns[r]));
      for (const kernels::Predictor& member : members_) {
        member_ns.assign(rows.size(), 0.0f);
        status = member.Predict(tensors, config_feat.data(), static_cast<int>(rows.size()),
                                member_ns.data());
        if (!status.ok()) break;
        for (size_t r = 0; r < rows.size(); ++r) log_sum[r] += std::log(static_cast<double>(member_ns[r]));
      }
      for (size_t r = 0; r < rows.size(); ++r) {
        out_ns[r] = static_cast<float>(std::exp(log_sum[r] / ensemble_size()));
      }
    }
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

#include "cost/xgboost_model.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cost/library_cost.h"
#include "cost/roofline_bound.h"
#include "cost/tabular_features.h"
#include "graph/atomic_file.h"
#include "graph/featurize.h"
#include "graph/library_ops.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"
#include "tiling/tile_config.h"

namespace perfgraph::cost {
namespace {

using Json = nlohmann::ordered_json;

std::string InfoPath(const std::string& model_dir) {
  return (std::filesystem::path(model_dir) / kXgboostInfoFile).string();
}

absl::StatusOr<std::unique_ptr<AnalyticalModel>> MakeAnalytical(int threads) {
  AnalyticalModelOptions options;
  options.num_threads = threads;
  ASSIGN_OR_RETURN(AnalyticalModel model, AnalyticalModel::CreateDefault(options));
  return std::make_unique<AnalyticalModel>(std::move(model));
}

}  // namespace

absl::Status WriteXgboostModelInfo(const std::string& model_dir, const XgboostModelInfo& info) {
  Json j;
  j["format_version"] = info.format_version;
  j["feature_schema_version"] = info.feature_schema_version;
  j["config_feature_schema_version"] = info.config_feature_schema_version;
  j["tabular_feature_schema_version"] = info.tabular_feature_schema_version;
  j["num_tabular_features"] = info.num_tabular_features;
  j["tile_objective"] = info.tile_objective;
  j["tile_score_scale"] = info.tile_score_scale;
  j["has_level"] = info.has_level;
  j["analytical_features"] = info.analytical_features;
  j["analytical_threads"] = info.analytical_threads;
  j["tile_rounds"] = info.tile_rounds;
  j["level_rounds"] = info.level_rounds;
  j["train_programs"] = info.train_programs;
  j["validation_programs"] = info.validation_programs;
  j["test_programs"] = info.test_programs;
  std::error_code error;
  std::filesystem::create_directories(model_dir, error);
  return graph::WriteFileAtomically(InfoPath(model_dir), j.dump(2) + "\n", "WriteXgboostModelInfo");
}

absl::StatusOr<XgboostModelInfo> ReadXgboostModelInfo(const std::string& model_dir) {
  const std::string path = InfoPath(model_dir);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("no XGBoost model in '", model_dir, "' (", path,
                                            " is missing; train one with perfgraph train "
                                            "--model-kind xgboost)"));
  }
  std::stringstream text;
  text << in.rdbuf();
  const Json j = Json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat("'", path, "' is not JSON"));
  }
  auto missing = [&](const char* key) {
    return absl::DataLossError(
        absl::StrCat("'", path, "' lacks '", key, "' or it has the wrong type"));
  };
  XgboostModelInfo info;
  auto get_int = [&](const char* key, int* out) -> absl::Status {
    if (!j.contains(key) || !j[key].is_number_integer()) return missing(key);
    *out = j[key].get<int>();
    return absl::OkStatus();
  };
  auto get_programs = [&](const char* key, std::vector<std::string>* out) -> absl::Status {
    if (!j.contains(key) || !j[key].is_array()) return missing(key);
    for (const Json& p : j[key]) {
      if (!p.is_string()) return missing(key);
      out->push_back(p.get<std::string>());
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(get_int("format_version", &info.format_version));
  auto check = [&](const char* key, int value, int build) -> absl::Status {
    if (value == build) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "XGBoost model '", path, "' was written with ", key, " ", value, " but this build uses ",
        build, "; retrain it with this build (perfgraph train --model-kind xgboost)"));
  };
  RETURN_IF_ERROR(check("format_version", info.format_version, kXgboostModelFormatVersion));
  RETURN_IF_ERROR(get_int("feature_schema_version", &info.feature_schema_version));
  RETURN_IF_ERROR(get_int("config_feature_schema_version", &info.config_feature_schema_version));
  RETURN_IF_ERROR(get_int("tabular_feature_schema_version", &info.tabular_feature_schema_version));
  RETURN_IF_ERROR(get_int("num_tabular_features", &info.num_tabular_features));
  RETURN_IF_ERROR(check("feature_schema_version", info.feature_schema_version,
                        graph::kFeatureSchemaVersion));
  RETURN_IF_ERROR(check("config_feature_schema_version", info.config_feature_schema_version,
                        tiling::kConfigFeatureSchemaVersion));
  RETURN_IF_ERROR(check("tabular_feature_schema_version", info.tabular_feature_schema_version,
                        kTabularFeatureSchemaVersion));
  RETURN_IF_ERROR(check("num_tabular_features", info.num_tabular_features, kNumTabularFeatures));
  if (!j.contains("tile_objective") || !j["tile_objective"].is_string()) {
    return missing("tile_objective");
  }
  info.tile_objective = j["tile_objective"].get<std::string>();
  if (!info.tile_objective.empty() && info.tile_objective != kXgbRankPairwise &&
      info.tile_objective != kXgbSquaredError) {
    return absl::DataLossError(absl::StrCat("'", path, "': unknown tile_objective '",
                                            info.tile_objective, "'"));
  }
  if (!j.contains("tile_score_scale") || !j["tile_score_scale"].is_number() ||
      !std::isfinite(j["tile_score_scale"].get<double>())) {
    return missing("tile_score_scale");
  }
  info.tile_score_scale = j["tile_score_scale"].get<double>();
  if (!j.contains("has_level") || !j["has_level"].is_boolean()) return missing("has_level");
  info.has_level = j["has_level"].get<bool>();
  if (!j.contains("analytical_features") || !j["analytical_features"].is_boolean()) {
    return missing("analytical_features");
  }
  info.analytical_features = j["analytical_features"].get<bool>();
  RETURN_IF_ERROR(get_int("analytical_threads", &info.analytical_threads));
  if (info.analytical_threads < 1 || info.analytical_threads > 256) {
    return absl::DataLossError(absl::StrCat("'", path, "': analytical_threads ",
                                            info.analytical_threads, " is not in [1, 256]"));
  }
  RETURN_IF_ERROR(get_int("tile_rounds", &info.tile_rounds));
  RETURN_IF_ERROR(get_int("level_rounds", &info.level_rounds));
  RETURN_IF_ERROR(get_programs("train_programs", &info.train_programs));
  RETURN_IF_ERROR(get_programs("validation_programs", &info.validation_programs));
  RETURN_IF_ERROR(get_programs("test_programs", &info.test_programs));
  return info;
}

absl::StatusOr<std::unique_ptr<XgboostModel>> XgboostModel::Load(const std::string& model_dir,
                                                                 int num_threads) {
  if (num_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("XgboostModel::Load: num_threads must be >= 1, got ", num_threads));
  }
  ASSIGN_OR_RETURN(XgboostModelInfo info, ReadXgboostModelInfo(model_dir));
  std::optional<XgbBooster> tile, level;
  const std::filesystem::path dir(model_dir);
  auto load = [&](const char* file) -> absl::StatusOr<XgbBooster> {
    const std::string path = (dir / file).string();
    ASSIGN_OR_RETURN(XgbBooster booster, XgbBooster::Load(path));
    ASSIGN_OR_RETURN(const int features, booster.NumFeatures());
    if (features != kNumTabularFeatures) {
      return absl::DataLossError(absl::StrCat("XGBoost model '", path, "' takes ", features,
                                              " features, this build computes ",
                                              kNumTabularFeatures));
    }
    RETURN_IF_ERROR(booster.SetParam("nthread", std::to_string(num_threads)));
    return booster;
  };
  if (!info.tile_objective.empty()) {
    ASSIGN_OR_RETURN(XgbBooster booster, load(kXgboostTileBoosterFile));
    tile = std::move(booster);
  }
  if (info.has_level) {
    ASSIGN_OR_RETURN(XgbBooster booster, load(kXgboostLevelBoosterFile));
    level = std::move(booster);
  }
  if (!tile && !level) {
    return absl::DataLossError(
        absl::StrCat("'", InfoPath(model_dir), "' names neither a tile nor a level booster"));
  }
  ASSIGN_OR_RETURN(std::optional<TrainingDistribution> distribution,
                   ReadTrainingDistribution(model_dir));
  ASSIGN_OR_RETURN(std::unique_ptr<XgboostModel> model,
                   Create(std::move(info), std::move(tile), std::move(level)));
  // Rows of the boosters hold the analytical block (cost/tabular_features.h) unless trained without.
  if (model->info().analytical_features) {
    WarnIfStaleAnalyticalFeatures(distribution, model_dir, model->analytical().target());
  }
  model->set_distribution(std::move(distribution));
  return model;
}

absl::StatusOr<std::unique_ptr<XgboostModel>> XgboostModel::Create(XgboostModelInfo info,
                                                                   std::optional<XgbBooster> tile,
                                                                   std::optional<XgbBooster> level) {
  if (info.tile_objective.empty() != !tile.has_value() || info.has_level != level.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "XgboostModel::Create: the info names ", info.tile_objective.empty() ? "no" : "a",
        " tile booster and ", info.has_level ? "a" : "no", " level booster, but ",
        tile ? "a" : "no", " tile and ", level ? "a" : "no", " level booster are given"));
  }
  if (!tile && !level) {
    return absl::InvalidArgumentError("XgboostModel::Create: no booster");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<AnalyticalModel> analytical,
                   MakeAnalytical(info.analytical_threads));
  return std::unique_ptr<XgboostModel>(new XgboostModel(std::move(info), std::move(tile),
                                                        std::move(level), std::move(analytical)));
}

std::string XgboostModel::name() const { return "xgboost"; }

std::string XgboostModel::OutOfDistribution(const graph::Kernel& kernel) const {
  if (IsCollectiveKernel(kernel)) return std::string(kDeferredCollective);
  if (graph::IsLibraryKernel(kernel)) return std::string(kDeferredLibrary);
  return distribution_ ? distribution_->OutOfDistribution(kernel) : std::string();
}

absl::Status XgboostModel::Save(const std::string& model_dir) const {
  std::error_code error;
  std::filesystem::create_directories(model_dir, error);
  const std::filesystem::path dir(model_dir);
  if (tile_) RETURN_IF_ERROR(tile_->Save((dir / kXgboostTileBoosterFile).string()));
  if (level_) RETURN_IF_ERROR(level_->Save((dir / kXgboostLevelBoosterFile).string()));
  if (distribution_) RETURN_IF_ERROR(WriteTrainingDistribution(model_dir, *distribution_));
  return WriteXgboostModelInfo(model_dir, info_);
}

std::vector<absl::StatusOr<double>> XgboostModel::EstimateNs(absl::Span<const CostQuery> queries) {
  if (auto multi = EstimateMultiOutput(queries, *this)) return *std::move(multi);
  std::vector<absl::StatusOr<double>> results(queries.size(), absl::UnknownError("not evaluated"));
  const std::vector<KernelQueries> groups = GroupValidQueries(
      queries, "XgboostModel::EstimateNs",
      [](const graph::Kernel& kernel) {
        return kernel.root_instruction().shape.IsTuple() && !graph::IsLibraryKernel(kernel)
                   ? absl::InvalidArgumentError("its root is a tuple (no config space)")
                   : absl::OkStatus();
      },
      results);
  std::vector<tiling::TileConfig> configs;
  std::vector<float> features;
  for (const KernelQueries& group : groups) {
    const graph::Kernel* kernel = group.kernel;
    const std::vector<size_t>& rows = group.rows;
    auto fail = [&](const absl::Status& status) {
      for (size_t r : rows) {
        results[r] = absl::Status(status.code(),
                                  absl::StrCat("XgboostModel: kernel '", kernel->name, "', config ",
                                               queries[r].config.ToString(), ": ",
                                               status.message()));
      }
    };
    // Communication and library ops: the analytical alpha-beta and library-op models decide.
    if (IsCollectiveKernel(*kernel) || graph::IsLibraryKernel(*kernel)) {
      for (size_t r : rows) {
        absl::StatusOr<CostBreakdown> b = analytical_->Explain(*kernel, queries[r].config);
        results[r] = b.ok() ? absl::StatusOr<double>(b->total_ns) : b.status();
      }
      continue;
    }
    // Row 0: the default config (level and tile reference); rows 1..: the queries.
    configs.assign(1, tiling::Default(*kernel));
    for (size_t r : rows) configs.push_back(queries[r].config);
    features.clear();
    AppendTabularRows(*kernel, configs, info_.analytical_features ? analytical_.get() : nullptr,
                      &features);
    double level = 0;
    if (level_) {
      absl::StatusOr<std::vector<float>> predicted =
          level_->PredictRows(absl::MakeConstSpan(features).subspan(0, kNumTabularFeatures),
                              kNumTabularFeatures);
      if (!predicted.ok()) {
        fail(predicted.status());
        continue;
      }
      level = (*predicted)[0];
    } else {
      absl::StatusOr<CostBreakdown> b = analytical_->Explain(*kernel, configs[0]);
      if (!b.ok() || !(b->total_ns > 0)) {
        fail(absl::FailedPreconditionError(absl::StrCat(
            "the model has no level booster and the analytical model cannot estimate the default "
            "config: ",
            b.ok() ? "a non-positive estimate" : b.status().message())));
        continue;
      }
      level = std::log(b->total_ns);
    }
    std::vector<float> scores(configs.size(), 0.0f);
    if (tile_) {
      absl::StatusOr<std::vector<float>> predicted =
          tile_->PredictRows(features, kNumTabularFeatures);
      if (!predicted.ok()) {
        fail(predicted.status());
        continue;
      }
      scores = std::move(*predicted);
    }
    const double bound_ns = RooflineLowerBound(analytical_->target(), *kernel).bound_ns();
    for (size_t r = 0; r < rows.size(); ++r) {
      const double log_ns =
          level + info_.tile_score_scale * (static_cast<double>(scores[r + 1]) - scores[0]);
      results[rows[r]] = std::max(std::exp(log_ns), bound_ns);
    }
  }
  return results;
}

}  // namespace perfgraph::cost

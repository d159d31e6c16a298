#include "gnn/xgboost_train.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cost/analytical_model.h"
#include "cost/tabular_features.h"
#include "cost/xgboost_booster.h"
#include "graph/featurize.h"
#include "graph/status_macros.h"
#include "tiling/tile_config.h"

namespace perfgraph::gnn {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kF = cost::kNumTabularFeatures;

// The tabular rows of every config of one example, with its parsed configs.
struct ExampleRows {
  std::vector<float> features;  // [num_configs, kF]
  int reference = -1;           // index of the OK default config, -1 when not measured OK
  std::vector<double> log_ns;   // [num_configs] log(runtime_ns), NaN for TIMEOUT configs
};

absl::StatusOr<std::vector<ExampleRows>> FeaturizeExamples(const std::vector<KernelExample>& examples,
                                                   const cost::AnalyticalModel* analytical) {
  std::vector<ExampleRows> out(examples.size());
  std::vector<tiling::TileConfig> configs;
  for (size_t e = 0; e < examples.size(); ++e) {
    const KernelExample& ex = examples[e];
    if (ex.kernel == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("TrainXgboost: example '", ex.kernel_name, "' has no kernel"));
    }
    configs.clear();
    const tiling::TileConfig default_config = tiling::Default(*ex.kernel);
    ExampleRows& rows = out[e];
    for (int c = 0; c < ex.num_configs; ++c) {
      ASSIGN_OR_RETURN(tiling::TileConfig config, tiling::TileConfig::Parse(ex.config_text[c]));
      const bool ok = !ex.timed_out[c] && ex.runtime_ns[c] > 0 && std::isfinite(ex.runtime_ns[c]);
      rows.log_ns.push_back(ok ? std::log(ex.runtime_ns[c]) : kNaN);
      if (ok && config == default_config && rows.reference < 0) rows.reference = c;
      configs.push_back(config);
    }
    cost::AppendTabularRows(*ex.kernel, configs, analytical, &rows.features);
  }
  return out;
}

// log(ns) of the kernel's reference: the OK default config, else the mean over OK configs (the log
// of their geometric mean); NaN without OK configs.
double ReferenceLogNs(const ExampleRows& rows) {
  if (rows.reference >= 0) return rows.log_ns[rows.reference];
  double sum = 0;
  int n = 0;
  for (double v : rows.log_ns) {
    if (!std::isnan(v)) {
      sum += v;
      ++n;
    }
  }
  return n > 0 ? sum / n : kNaN;
}

// Same reference over predicted scores `s` (the reference's score, or the mean over OK configs).
double ReferenceScore(const ExampleRows& rows, const float* s) {
  if (rows.reference >= 0) return s[rows.reference];
  double sum = 0;
  int n = 0;
  for (size_t c = 0; c < rows.log_ns.size(); ++c) {
    if (!std::isnan(rows.log_ns[c])) {
      sum += s[c];
      ++n;
    }
  }
  return n > 0 ? sum / n : kNaN;
}

struct Table {
  std::vector<float> rows;
  std::vector<float> labels;
  std::vector<unsigned> groups;
  // For tile tables: the example and config of each row.
  std::vector<std::pair<int, int>> origin;
  size_t size() const { return labels.size(); }
  void Add(const float* row, float label, int example, int config) {
    rows.insert(rows.end(), row, row + kF);
    labels.push_back(label);
    origin.push_back({example, config});
  }
};

bool UsableTileExample(const KernelExample& ex, const ExampleRows& rows) {
  if (ex.task != Task::kTile || ex.num_configs < 2) return false;
  return std::any_of(rows.log_ns.begin(), rows.log_ns.end(),
                     [](double v) { return !std::isnan(v); });
}

// The tile booster's rows of `examples` (file comment of xgboost_train.h).
Table TileTable(const std::vector<KernelExample>& examples, const std::vector<ExampleRows>& rows,
                bool rank) {
  Table t;
  for (size_t e = 0; e < examples.size(); ++e) {
    const KernelExample& ex = examples[e];
    const ExampleRows& r = rows[e];
    if (!UsableTileExample(ex, r)) continue;
    if (rank) {
      double lowest = std::numeric_limits<double>::infinity();
      for (double v : r.log_ns) {
        if (!std::isnan(v)) lowest = std::min(lowest, -v);
      }
      for (int c = 0; c < ex.num_configs; ++c) {
        const double label = std::isnan(r.log_ns[c]) ? lowest - 1.0 : -r.log_ns[c];
        t.Add(r.features.data() + static_cast<size_t>(c) * kF, static_cast<float>(label),
              static_cast<int>(e), c);
      }
      t.groups.push_back(static_cast<unsigned>(ex.num_configs));
    } else {
      const double reference = ReferenceLogNs(r);
      for (int c = 0; c < ex.num_configs; ++c) {
        if (std::isnan(r.log_ns[c])) continue;
        t.Add(r.features.data() + static_cast<size_t>(c) * kF,
              static_cast<float>(r.log_ns[c] - reference), static_cast<int>(e), c);
      }
    }
  }
  return t;
}

// The level booster's rows: OK configs of fusion examples and OK default configs of tile examples.
Table LevelTable(const std::vector<KernelExample>& examples, const std::vector<ExampleRows>& rows) {
  Table t;
  for (size_t e = 0; e < examples.size(); ++e) {
    const KernelExample& ex = examples[e];
    const ExampleRows& r = rows[e];
    for (int c = 0; c < ex.num_configs; ++c) {
      if (std::isnan(r.log_ns[c])) continue;
      if (ex.task == Task::kTile && c != r.reference) continue;
      t.Add(r.features.data() + static_cast<size_t>(c) * kF, static_cast<float>(r.log_ns[c]),
            static_cast<int>(e), c);
    }
  }
  return t;
}

float MeanLabel(const Table& t) {
  if (t.labels.empty()) return 0.0f;
  return static_cast<float>(std::accumulate(t.labels.begin(), t.labels.end(), 0.0) /
                            static_cast<double>(t.labels.size()));
}

struct BoostResult {
  std::optional<cost::XgbBooster> booster;
  int rounds = 0;
};

// Boosts up to max_rounds with early stopping on `validate` (nullopt = no validation figure).
absl::StatusOr<BoostResult> Boost(
    const std::string& name, const Table& train,
    const std::vector<std::pair<std::string, std::string>>& params,
    const XgboostTrainOptions& options, bool higher_is_better,
    const std::function<absl::StatusOr<std::optional<double>>(const cost::XgbBooster&, int)>&
        validate) {
  ASSIGN_OR_RETURN(cost::XgbMatrix matrix,
                   cost::XgbMatrix::Create(train.rows, kF, train.labels, train.groups));
  ASSIGN_OR_RETURN(cost::XgbBooster booster, cost::XgbBooster::Create(matrix, params));
  std::optional<double> best;
  int best_rounds = 0;
  int rounds = 0;
  for (int round = 0; round < options.max_rounds; ++round) {
    RETURN_IF_ERROR(booster.UpdateOneIter(round, matrix));
    rounds = round + 1;
    if (rounds % options.eval_every != 0 && rounds != options.max_rounds) continue;
    ASSIGN_OR_RETURN(std::optional<double> figure, validate(booster, rounds));
    XgboostRoundReport report;
    report.booster = name;
    report.round = rounds;
    report.max_rounds = options.max_rounds;
    report.validation = figure;
    if (figure && (!best || (higher_is_better ? *figure > *best : *figure < *best))) {
      best = figure;
      best_rounds = rounds;
      report.improved = true;
    }
    if (options.on_round) options.on_round(report);
    if (best && rounds - best_rounds >= options.early_stopping_rounds) break;
  }
  if (!best) best_rounds = rounds;  // no validation: keep every round
  BoostResult result;
  ASSIGN_OR_RETURN(const int boosted, booster.BoostedRounds());
  if (best_rounds < boosted) {
    ASSIGN_OR_RETURN(cost::XgbBooster sliced, booster.Slice(best_rounds));
    result.booster = std::move(sliced);
  } else {
    result.booster = std::move(booster);
  }
  result.rounds = best_rounds;
  return result;
}

absl::Status CheckOptions(const XgboostTrainOptions& o) {
  auto bad = [](const char* name, auto value, const char* range) {
    return absl::InvalidArgumentError(
        absl::StrCat("TrainXgboost: ", name, " must be ", range, ", got ", value));
  };
  if (o.tile_objective != cost::kXgbRankPairwise && o.tile_objective != cost::kXgbSquaredError) {
    return absl::InvalidArgumentError(absl::StrCat("TrainXgboost: the tile objective must be ",
                                                   cost::kXgbRankPairwise, " or ",
                                                   cost::kXgbSquaredError, ", got '",
                                                   o.tile_objective, "'"));
  }
  if (o.max_rounds < 1 || o.max_rounds > 100000) return bad("max_rounds", o.max_rounds, "in [1, 100000]");
  if (o.max_depth < 1 || o.max_depth > 16) return bad("max_depth", o.max_depth, "in [1, 16]");
  if (!(o.eta > 0 && o.eta <= 1)) return bad("eta", o.eta, "in (0, 1]");
  if (o.eval_every < 1) return bad("eval_every", o.eval_every, ">= 1");
  if (o.early_stopping_rounds < 1) {
    return bad("early_stopping_rounds", o.early_stopping_rounds, ">= 1");
  }
  if (o.threads < 1) return bad("threads", o.threads, ">= 1");
  if (o.analytical_threads < 1 || o.analytical_threads > 256) {
    return bad("analytical_threads", o.analytical_threads, "in [1, 256]");
  }
  return absl::OkStatus();
}

std::vector<std::string> Programs(const std::vector<KernelExample>& examples) {
  std::vector<std::string> programs;
  for (const KernelExample& e : examples) programs.push_back(e.program);
  std::sort(programs.begin(), programs.end());
  programs.erase(std::unique(programs.begin(), programs.end()), programs.end());
  return programs;
}

}  // namespace

std::vector<std::vector<double>> PredictExamplesNs(cost::CostModel& model,
                                                   const std::vector<KernelExample>& examples,
                                                   int* failures) {
  std::vector<std::vector<double>> ns(examples.size());
  int failed = 0;
  std::vector<cost::CostQuery> queries;
  std::vector<int> query_config;
  for (size_t e = 0; e < examples.size(); ++e) {
    const KernelExample& ex = examples[e];
    ns[e].assign(ex.num_configs, kNaN);
    queries.clear();
    query_config.clear();
    for (int c = 0; c < ex.num_configs; ++c) {
      absl::StatusOr<tiling::TileConfig> config = tiling::TileConfig::Parse(ex.config_text[c]);
      if (!config.ok()) {
        failed += ex.timed_out[c] ? 0 : 1;
        continue;
      }
      queries.push_back({ex.kernel.get(), *config});
      query_config.push_back(c);
    }
    std::vector<absl::StatusOr<double>> estimates = model.EstimateNs(queries);
    for (size_t q = 0; q < estimates.size(); ++q) {
      if (estimates[q].ok()) {
        ns[e][query_config[q]] = *estimates[q];
      } else if (!ex.timed_out[query_config[q]]) {
        ++failed;
      }
    }
  }
  if (failures != nullptr) *failures = failed;
  return ns;
}

absl::StatusOr<XgboostTrainResult> TrainXgboost(const XgboostTrainOptions& options) {
  RETURN_IF_ERROR(CheckOptions(options));
  ASSIGN_OR_RETURN(SplitExamples split, LoadSplitExamples(options.datasets, options.split_file,
                                                          options.tasks, options.out_dir));
  if (split.summary.foreign_features.has_value()) {
    // The baseline's rows (cost/tabular_features.h) are computed from the kernel IR and the
    // analytical model; records of a foreign schema carry features but no kernel.
    return absl::FailedPreconditionError(absl::StrCat(
        "TrainXgboost: the datasets hold ", split.summary.foreign_features->ToString(),
        " features and no perfgraph kernels, from which the XGBoost baseline computes its tabular "
        "features (cost/tabular_features.h); train the GNN (--model-kind gnn) on them"));
  }
  ASSIGN_OR_RETURN(XgboostTrainResult result,
                   TrainXgboostOnExamples(split.train, split.validation, split.test, options));
  result.test_examples = std::move(split.test);
  return result;
}

absl::StatusOr<XgboostTrainResult> TrainXgboostOnExamples(
    const std::vector<KernelExample>& train, const std::vector<KernelExample>& validation,
    const std::vector<KernelExample>& test, const XgboostTrainOptions& options) {
  RETURN_IF_ERROR(CheckOptions(options));
  if (train.empty()) return absl::InvalidArgumentError("TrainXgboost: no training example");
  cost::AnalyticalModelOptions analytical_options;
  analytical_options.num_threads = options.analytical_threads;
  ASSIGN_OR_RETURN(cost::AnalyticalModel analytical,
                   cost::AnalyticalModel::CreateDefault(analytical_options));
  const cost::AnalyticalModel* features_from = options.analytical_features ? &analytical : nullptr;
  ASSIGN_OR_RETURN(std::vector<ExampleRows> train_rows, FeaturizeExamples(train, features_from));
  ASSIGN_OR_RETURN(std::vector<ExampleRows> validation_rows, FeaturizeExamples(validation, features_from));

  const bool want_tile = options.tasks != TaskSelection::kFusion;
  const bool rank = options.tile_objective == cost::kXgbRankPairwise;
  const std::string threads = std::to_string(options.threads);
  const std::string seed = std::to_string(options.seed % 2147483647);
  auto params = [&](const std::string& objective, float base_score) {
    std::vector<std::pair<std::string, std::string>> p = {
        {"objective", objective},
        {"tree_method", "hist"},
        {"max_depth", std::to_string(options.max_depth)},
        {"eta", absl::StrCat(options.eta)},
        {"seed", seed},
        {"nthread", threads},
    };
    if (objective == cost::kXgbSquaredError) p.push_back({"base_score", absl::StrCat(base_score)});
    return p;
  };

  cost::XgboostModelInfo info;
  info.feature_schema_version = graph::kFeatureSchemaVersion;
  info.config_feature_schema_version = tiling::kConfigFeatureSchemaVersion;
  info.tabular_feature_schema_version = cost::kTabularFeatureSchemaVersion;
  info.num_tabular_features = kF;
  info.analytical_features = options.analytical_features;
  info.analytical_threads = options.analytical_threads;
  info.train_programs = Programs(train);
  info.validation_programs = Programs(validation);
  info.test_programs = Programs(test);

  // Tile booster.
  std::optional<cost::XgbBooster> tile;
  const Table tile_train = want_tile ? TileTable(train, train_rows, rank) : Table();
  if (!tile_train.labels.empty()) {
    const Table tile_validation = TileTable(validation, validation_rows, rank);
    std::optional<cost::XgbMatrix> validation_matrix;
    if (!tile_validation.labels.empty()) {
      ASSIGN_OR_RETURN(cost::XgbMatrix m, cost::XgbMatrix::Create(tile_validation.rows, kF));
      validation_matrix = std::move(m);
    }
    auto validate = [&](const cost::XgbBooster& booster,
                        int rounds) -> absl::StatusOr<std::optional<double>> {
      if (!validation_matrix) return std::optional<double>();
      ASSIGN_OR_RETURN(std::vector<float> s, booster.Predict(*validation_matrix, rounds));
      std::vector<std::vector<double>> ns(validation.size());
      for (size_t e = 0; e < validation.size(); ++e) ns[e].assign(validation[e].num_configs, kNaN);
      for (size_t i = 0; i < s.size(); ++i) {
        const auto [e, c] = tile_validation.origin[i];
        // Any decreasing (rank) or increasing (regression) map of the score ranks the same.
        ns[e][c] = std::exp(rank ? -static_cast<double>(s[i]) : static_cast<double>(s[i]));
      }
      ASSIGN_OR_RETURN(TaskMetrics m, ComputeTaskMetrics(validation, ns));
      return m.tile_kendall_tau;
    };
    ASSIGN_OR_RETURN(BoostResult boosted,
                     Boost("tile", tile_train, params(options.tile_objective, MeanLabel(tile_train)),
                           options, /*higher_is_better=*/true, validate));
    info.tile_objective = options.tile_objective;
    info.tile_rounds = boosted.rounds;
    // The score scale (least squares through the origin, file comment of cost/xgboost_model.h).
    if (rank) {
      ASSIGN_OR_RETURN(std::vector<float> s, boosted.booster->PredictRows(tile_train.rows, kF));
      double sxy = 0, sxx = 0;
      size_t i = 0;
      while (i < s.size()) {
        const int e = tile_train.origin[i].first;
        const KernelExample& ex = train[e];
        const ExampleRows& r = train_rows[e];
        const float* scores = s.data() + i;  // rank tables hold every config of the kernel
        const double y_ref = ReferenceLogNs(r);
        const double s_ref = ReferenceScore(r, scores);
        for (int c = 0; c < ex.num_configs; ++c) {
          if (std::isnan(r.log_ns[c])) continue;
          const double x = scores[c] - s_ref;
          sxy += x * (r.log_ns[c] - y_ref);
          sxx += x * x;
        }
        i += static_cast<size_t>(ex.num_configs);
      }
      info.tile_score_scale = sxx > 0 ? sxy / sxx : 0.0;
    } else {
      info.tile_score_scale = 1.0;
    }
    tile = std::move(*boosted.booster);
  }

  // Level booster.
  std::optional<cost::XgbBooster> level;
  const Table level_train = LevelTable(train, train_rows);
  if (level_train.size() >= 2) {
    const Table level_validation = LevelTable(validation, validation_rows);
    std::optional<cost::XgbMatrix> validation_matrix;
    if (!level_validation.labels.empty()) {
      ASSIGN_OR_RETURN(cost::XgbMatrix m, cost::XgbMatrix::Create(level_validation.rows, kF));
      validation_matrix = std::move(m);
    }
    auto validate = [&](const cost::XgbBooster& booster,
                        int rounds) -> absl::StatusOr<std::optional<double>> {
      if (!validation_matrix) return std::optional<double>();
      ASSIGN_OR_RETURN(std::vector<float> p, booster.Predict(*validation_matrix, rounds));
      double se = 0;
      for (size_t i = 0; i < p.size(); ++i) {
        const double d = static_cast<double>(p[i]) - level_validation.labels[i];
        se += d * d;
      }
      return std::optional<double>(std::sqrt(se / static_cast<double>(p.size())));
    };
    ASSIGN_OR_RETURN(BoostResult boosted,
                     Boost("level", level_train, params(cost::kXgbSquaredError, MeanLabel(level_train)),
                           options, /*higher_is_better=*/false, validate));
    info.has_level = true;
    info.level_rounds = boosted.rounds;
    level = std::move(*boosted.booster);
  }
  if (!tile && !level) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TrainXgboost: no training rows: ", train.size(),
        " training kernels hold no tile kernel with two configs and an OK one, and fewer than two "
        "OK fusion or default-config runtimes"));
  }

  XgboostTrainResult result;
  result.info = info;
  result.train_examples = static_cast<int>(train.size());
  ASSIGN_OR_RETURN(result.model,
                   cost::XgboostModel::Create(info, std::move(tile), std::move(level)));
  if (!validation.empty()) {
    ASSIGN_OR_RETURN(result.validation,
                     ComputeTaskMetrics(validation, PredictExamplesNs(*result.model, validation)));
  }
  if (!test.empty()) {
    ASSIGN_OR_RETURN(result.test, ComputeTaskMetrics(test, PredictExamplesNs(*result.model, test)));
  }
  cost::TrainingDistribution distribution;
  for (const KernelExample& e : train) distribution.Add(*e.kernel);
  if (options.analytical_features) {  // rows hold the analytical block (cost/tabular_features.h)
    distribution.analytical_model_version = cost::kAnalyticalModelVersion;
    distribution.analytical_target = cost::TargetDescriptionFingerprint(analytical.target());
  }
  result.model->set_distribution(std::move(distribution));
  if (!options.out_dir.empty()) RETURN_IF_ERROR(result.model->Save(options.out_dir));
  return result;
}

}  // namespace perfgraph::gnn

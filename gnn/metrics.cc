// The torch-free half of gnn/train.h: metrics, the program split of the examples and the model
// directory's metadata. Linked by perfgraph_gnn_data, which eval and the XGBoost baseline use without
// LibTorch.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "cost/tabular_features.h"
#include "data/metrics.h"
#include "gnn/train.h"
#include "graph/atomic_file.h"
#include "graph/featurize.h"
#include "graph/hlo_opcode.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"
#include "tiling/tile_config.h"
#include "tiling/tiling_pass.h"

namespace perfgraph::gnn {
namespace {

using Json = nlohmann::ordered_json;

Json OptionalJson(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

}  // namespace

std::string TaskSelectionName(TaskSelection t) {
  return t == TaskSelection::kTile ? "tile" : t == TaskSelection::kFusion ? "fusion" : "both";
}

absl::string_view ReductionName(Reduction reduction) {
  return reduction == Reduction::kLstm ? "lstm" : "mean";
}

absl::StatusOr<Reduction> ParseReduction(absl::string_view value) {
  if (value == "lstm") return Reduction::kLstm;
  if (value == "mean") return Reduction::kMean;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown reduction '", value, "' (expected lstm or mean)"));
}

int ModelOptions::node_width() const {
  return foreign_schema() ? num_node_features : graph::kNumNodeFeatures;
}

int ModelOptions::config_width() const {
  if (foreign_schema()) return num_config_features;
  return tiling::kNumConfigFeatures + (hybrid_threads > 0 ? cost::kNumHybridConfigFeatures : 0);
}

absl::Status ValidateModelOptions(const ModelOptions& o) {
  auto check = [](absl::string_view name, int value, int lo, int hi) -> absl::Status {
    if (value < lo || value > hi) {
      return absl::InvalidArgumentError(absl::StrCat("model option ", name, " = ", value,
                                                     " is outside [", lo, ", ", hi, "]"));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(check("hidden", o.hidden, 4, 1024));
  RETURN_IF_ERROR(check("opcode_embedding", o.opcode_embedding, 1, 1024));
  RETURN_IF_ERROR(check("sage_layers", o.sage_layers, 1, 16));
  RETURN_IF_ERROR(check("head_hidden", o.head_hidden, 4, 1024));
  RETURN_IF_ERROR(check("hybrid_threads", o.hybrid_threads, 0, kMaxHybridThreads));
  if (o.foreign_schema()) {
    if (o.feature_schema == "perfgraph") {
      return absl::InvalidArgumentError(
          "model option feature_schema 'perfgraph' names the built-in schema (leave it empty)");
    }
    RETURN_IF_ERROR(check("num_node_features", o.num_node_features, 1, kMaxForeignFeatureWidth));
    RETURN_IF_ERROR(
        check("num_config_features", o.num_config_features, 1, kMaxForeignFeatureWidth));
    if (o.hybrid_threads != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model option hybrid_threads = ", o.hybrid_threads, " with feature schema '",
          o.feature_schema, "': hybrid features need perfgraph kernels (the analytical model)"));
    }
  } else if (o.num_node_features != 0 || o.num_config_features != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model options give feature widths ", o.num_node_features, " / ", o.num_config_features,
        " without a foreign feature_schema"));
  }
  return absl::OkStatus();
}

std::string ModelOptionsToJson(const ModelOptions& o) {
  nlohmann::ordered_json j;
  j["join"] = std::string(JoinName(o.join));
  j["reduction"] = std::string(ReductionName(o.reduction));
  j["hidden"] = o.hidden;
  j["opcode_embedding"] = o.opcode_embedding;
  j["sage_layers"] = o.sage_layers;
  j["head_hidden"] = o.head_hidden;
  j["hybrid_threads"] = o.hybrid_threads;
  if (o.foreign_schema()) {
    j["feature_schema"] = o.feature_schema;
    j["num_node_features"] = o.num_node_features;
    j["num_config_features"] = o.num_config_features;
  }
  return j.dump();
}

absl::StatusOr<ModelOptions> ModelOptionsFromJson(absl::string_view json, absl::string_view context) {
  nlohmann::json j = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": model options are not a JSON object"));
  }
  ModelOptions o;
  if (!j.contains("join") || !j["join"].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": model options lack 'join'"));
  }
  const std::string join = j["join"];
  if (join == "early") {
    o.join = Join::kEarly;
  } else if (join == "late") {
    o.join = Join::kLate;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": unknown join '", join, "' (expected early or late)"));
  }
  // Absent in files written before the key existed, when every model used the LSTM reduction.
  if (j.contains("reduction")) {
    if (!j["reduction"].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": model option 'reduction' is not a string"));
    }
    absl::StatusOr<Reduction> reduction = ParseReduction(j["reduction"].get<std::string>());
    if (!reduction.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(context, ": ", reduction.status().message()));
    }
    o.reduction = *reduction;
  }
  for (auto [name, field] : {std::pair<const char*, int*>{"hidden", &o.hidden},
                             {"opcode_embedding", &o.opcode_embedding},
                             {"sage_layers", &o.sage_layers},
                             {"head_hidden", &o.head_hidden}}) {
    if (!j.contains(name) || !j[name].is_number_integer()) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": model options lack integer '", name, "'"));
    }
    *field = j[name].get<int>();
  }
  // Absent in files written before hybrid config features existed: 0, no hybrid block.
  if (j.contains("hybrid_threads")) {
    if (!j["hybrid_threads"].is_number_integer()) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": model option 'hybrid_threads' is not an integer"));
    }
    o.hybrid_threads = j["hybrid_threads"].get<int>();
  }
  if (j.contains("feature_schema")) {
    if (!j["feature_schema"].is_string() || !j.contains("num_node_features") ||
        !j["num_node_features"].is_number_integer() || !j.contains("num_config_features") ||
        !j["num_config_features"].is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(
          context, ": model option 'feature_schema' needs a string name and integer "
                   "'num_node_features' and 'num_config_features'"));
    }
    o.feature_schema = j["feature_schema"].get<std::string>();
    if (o.feature_schema.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": model option 'feature_schema' is empty"));
    }
    o.num_node_features = j["num_node_features"].get<int>();
    o.num_config_features = j["num_config_features"].get<int>();
  }
  absl::Status valid = ValidateModelOptions(o);
  if (!valid.ok()) return absl::InvalidArgumentError(absl::StrCat(context, ": ", valid.message()));
  return o;
}

absl::StatusOr<TaskMetrics> ComputeTaskMetrics(const std::vector<KernelExample>& examples,
                                               const std::vector<std::vector<double>>& predicted_ns) {
  if (predicted_ns.size() != examples.size()) {
    return absl::InvalidArgumentError(absl::StrCat("ComputeTaskMetrics: ", predicted_ns.size(),
                                                   " prediction rows for ", examples.size(),
                                                   " examples"));
  }
  TaskMetrics m;
  std::vector<data::MetricGroup> tile;
  std::map<std::string, std::map<uint64_t, std::pair<double, double>>> fusion;  // program -> hash
  for (size_t e = 0; e < examples.size(); ++e) {
    const KernelExample& ex = examples[e];
    if (static_cast<int>(predicted_ns[e].size()) != ex.num_configs) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ComputeTaskMetrics: example ", e, " (", ex.kernel_name, ") has ", ex.num_configs,
          " configs but ", predicted_ns[e].size(), " predictions"));
    }
    data::MetricGroup group;
    for (int c = 0; c < ex.num_configs; ++c) {
      if (ex.timed_out[c] || std::isnan(predicted_ns[e][c])) continue;
      group.predicted.push_back(predicted_ns[e][c]);
      group.measured.push_back(ex.runtime_ns[c]);
    }
    if (group.predicted.empty()) continue;
    if (ex.task == Task::kTile) {
      m.tile_configs += static_cast<int>(group.predicted.size());
      tile.push_back(std::move(group));
    } else {
      fusion[ex.program].emplace(ex.kernel_hash,
                                 std::make_pair(group.predicted[0], group.measured[0]));
    }
  }
  m.tile_kernels = static_cast<int>(tile.size());
  if (!tile.empty()) {
    ASSIGN_OR_RETURN(data::MeanMetric top1, data::MeanTopKSlowdown(tile, 1));
    ASSIGN_OR_RETURN(data::MeanMetric top5, data::MeanTopKSlowdown(tile, 5));
    ASSIGN_OR_RETURN(data::MeanMetric tau, data::MeanKendallTau(tile));
    m.tile_top1_slowdown = top1.mean;
    m.tile_top5_slowdown = top5.mean;
    m.tile_kendall_tau = tau.mean;
  }
  if (!fusion.empty()) {
    std::vector<data::MetricGroup> programs;
    data::MetricGroup all;
    for (const auto& [program, kernels] : fusion) {
      data::MetricGroup g;
      for (const auto& [hash, pm] : kernels) {
        g.predicted.push_back(pm.first);
        g.measured.push_back(pm.second);
        all.predicted.push_back(pm.first);
        all.measured.push_back(pm.second);
      }
      programs.push_back(std::move(g));
    }
    m.fusion_kernels = static_cast<int>(all.predicted.size());
    m.fusion_programs = static_cast<int>(programs.size());
    ASSIGN_OR_RETURN(m.fusion_mape, data::Mape(all.predicted, all.measured));
    // Kaufman et al.'s convention: MAPE over the kernels measured at >= 5 us.
    data::MetricGroup long_kernels;
    for (size_t i = 0; i < all.measured.size(); ++i) {
      if (all.measured[i] < kLongKernelNs) continue;
      long_kernels.predicted.push_back(all.predicted[i]);
      long_kernels.measured.push_back(all.measured[i]);
    }
    m.fusion_kernels_5us = static_cast<int>(long_kernels.measured.size());
    if (!long_kernels.measured.empty()) {
      ASSIGN_OR_RETURN(m.fusion_mape_5us, data::Mape(long_kernels.predicted, long_kernels.measured));
    }
    ASSIGN_OR_RETURN(data::MeanMetric tau, data::MeanKendallTau(programs));
    m.fusion_kendall_tau = tau.mean;
  }
  return m;
}

absl::StatusOr<DefaultGuardFigures> ReplayDefaultGuard(const std::vector<KernelExample>& examples,
                                                       const std::vector<std::vector<double>>& predicted_ns,
                                                       double band) {
  if (!(band >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("ReplayDefaultGuard: band must be >= 0, got ", band));
  }
  if (predicted_ns.size() != examples.size()) {
    return absl::InvalidArgumentError(absl::StrCat("ReplayDefaultGuard: ", predicted_ns.size(),
                                                   " prediction rows for ", examples.size(), " examples"));
  }
  DefaultGuardFigures f;
  f.band = band;
  double log_sum = 0, slowdown_sum = 0;
  for (size_t e = 0; e < examples.size(); ++e) {
    const KernelExample& ex = examples[e];
    if (ex.task != Task::kTile || ex.kernel == nullptr) continue;
    if (static_cast<int>(predicted_ns[e].size()) != ex.num_configs) {
      return absl::InvalidArgumentError(absl::StrCat("ReplayDefaultGuard: example ", e, " has ",
                                                     ex.num_configs, " configs but ",
                                                     predicted_ns[e].size(), " predictions"));
    }
    const std::string default_text = tiling::Default(*ex.kernel).ToString();
    auto usable = [&](int c) {
      return !ex.timed_out[c] && std::isfinite(ex.runtime_ns[c]) && std::isfinite(predicted_ns[e][c]);
    };
    int def = -1, argmin = -1, best = -1;
    for (int c = 0; c < ex.num_configs; ++c) {
      if (!usable(c)) continue;
      if (ex.config_text[c] == default_text) def = c;
      if (argmin < 0 || predicted_ns[e][c] < predicted_ns[e][argmin]) argmin = c;
      if (best < 0 || ex.runtime_ns[c] < ex.runtime_ns[best]) best = c;
    }
    if (def < 0) continue;
    int choice = argmin;
    if (argmin != def && tiling::GuardKeepsDefault(predicted_ns[e][def], predicted_ns[e][argmin], band)) {
      choice = def;
      ++f.kept_default;
    }
    ++f.kernels;
    const double ratio = ex.runtime_ns[choice] / ex.runtime_ns[def];
    if (ratio > 1) ++f.slower_than_default;
    log_sum += std::log(ratio);
    f.worst_vs_default = std::max(f.worst_vs_default, ratio);
    slowdown_sum += ex.runtime_ns[choice] / ex.runtime_ns[best] - 1;
  }
  if (f.kernels > 0) {
    f.geomean_vs_default = std::exp(log_sum / f.kernels);
    f.mean_top1_slowdown = slowdown_sum / f.kernels;
  }
  return f;
}

std::string TileMetricsJson(const TaskMetrics& m) {
  Json j;
  j["top1_slowdown"] = OptionalJson(m.tile_top1_slowdown);
  j["top5_slowdown"] = OptionalJson(m.tile_top5_slowdown);
  j["kendall_tau"] = OptionalJson(m.tile_kendall_tau);
  return j.dump();
}

std::string FusionMetricsJson(const TaskMetrics& m) {
  Json j;
  j["mape"] = OptionalJson(m.fusion_mape);
  j["mape_5us"] = OptionalJson(m.fusion_mape_5us);
  j["kendall_tau"] = OptionalJson(m.fusion_kendall_tau);
  return j.dump();
}

absl::StatusOr<SplitExamples> LoadSplitExamples(const std::vector<std::string>& datasets,
                                                const std::optional<std::string>& split_file,
                                                TaskSelection tasks, const std::string& out_dir) {
  if (datasets.empty()) return absl::InvalidArgumentError("Train: no --dataset given");
  SplitExamples result;
  ASSIGN_OR_RETURN(std::vector<KernelExample> examples, LoadExamples(datasets, &result.summary));
  data::Split split;
  if (split_file) {
    ASSIGN_OR_RETURN(split, data::ReadSplitFile(*split_file));
  } else {
    split = data::DefaultSplit(result.summary.programs);
  }
  std::set<std::string> unlisted;
  for (KernelExample& e : examples) {
    const bool wanted = tasks == TaskSelection::kBoth ||
                        (tasks == TaskSelection::kTile) == (e.task == Task::kTile);
    if (!wanted) continue;
    std::optional<data::SplitPart> part = split.PartOf(e.program);
    if (!part) {
      unlisted.insert(e.program);
      continue;
    }
    (*part == data::SplitPart::kTrain        ? result.train
     : *part == data::SplitPart::kValidation ? result.validation
                                             : result.test)
        .push_back(std::move(e));
  }
  result.unlisted_programs.assign(unlisted.begin(), unlisted.end());
  if (!unlisted.empty()) {
    std::cerr << "perfgraph train: " << unlisted.size()
              << " programs are not in the split file and are not used:";
    for (const std::string& p : unlisted) std::cerr << " " << p;
    std::cerr << "\n";
  }
  if (result.train.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Train: no training kernel of task '", TaskSelectionName(tasks), "' in ", datasets.size(),
        " dataset(s) (", result.summary.records, " records, ", result.summary.invalid_records,
        " invalid, ", result.summary.examples_without_ok, " kernels without an OK config)"));
  }
  if (!out_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(out_dir, error);
    data::Split used;
    for (const auto& [program, part] : split.part_of) {
      if (!unlisted.count(program)) used.part_of[program] = part;
    }
    RETURN_IF_ERROR(graph::WriteFileAtomically(
        (std::filesystem::path(out_dir) / "split.txt").string(),
        "# program split used by perfgraph train\n" + data::SplitToText(used), "train"));
  }
  return result;
}

absl::StatusOr<ModelInfo> ReadModelInfo(const std::string& model_dir) {
  const std::filesystem::path path = std::filesystem::path(model_dir) / "model.json";
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path.string(), "'"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("model")) {
    return absl::DataLossError(absl::StrCat("'", path.string(), "' is not a perfgraph model.json"));
  }
  auto check = [&](const char* key, int build) -> absl::Status {
    if (!j.contains(key) || !j[key].is_number_integer()) {
      return absl::DataLossError(absl::StrCat("'", path.string(), "' lacks '", key, "'"));
    }
    if (j[key].get<int>() != build) {
      return absl::FailedPreconditionError(absl::StrCat(
          "model '", path.string(), "' was written with ", key, " ", j[key].get<int>(),
          " but this build uses ", build, "; retrain the model with this build (perfgraph train)"));
    }
    return absl::OkStatus();
  };
  ModelInfo info;
  ASSIGN_OR_RETURN(info.model, ModelOptionsFromJson(j["model"].dump(), path.string()));
  if (info.model.foreign_schema()) {
    // A foreign schema's features come as given: its widths must be those the model was built
    // with; the perfgraph featurization versions do not apply (written as 0).
    RETURN_IF_ERROR(check("num_opcode_ids", graph::kNumOpcodeIds));
    RETURN_IF_ERROR(check("num_node_features", info.model.num_node_features));
    RETURN_IF_ERROR(check("num_config_features", info.model.num_config_features));
    info.feature_schema_version = j.value("feature_schema_version", 0);
    info.num_config_features = info.model.num_config_features;
    info.config_feature_schema_version = j.value("config_feature_schema_version", 0);
  } else {
    RETURN_IF_ERROR(check("feature_schema_version", graph::kFeatureSchemaVersion));
    RETURN_IF_ERROR(check("num_node_features", graph::kNumNodeFeatures));
    RETURN_IF_ERROR(check("num_opcode_ids", graph::kNumOpcodeIds));
    RETURN_IF_ERROR(check("num_config_features", tiling::kNumConfigFeatures));
    // Absent in model directories written before the key existed: their config features were
    // those of config schema 1.
    if (!j.contains("config_feature_schema_version")) j["config_feature_schema_version"] = 1;
    RETURN_IF_ERROR(check("config_feature_schema_version", tiling::kConfigFeatureSchemaVersion));
    info.feature_schema_version = j["feature_schema_version"];
    info.num_config_features = j["num_config_features"];
    info.config_feature_schema_version = j["config_feature_schema_version"];
  }
  if (j.contains("split") && j["split"].is_object()) {
    info.train_programs = j["split"].value("train", std::vector<std::string>{});
    info.validation_programs = j["split"].value("validation", std::vector<std::string>{});
    info.test_programs = j["split"].value("test", std::vector<std::string>{});
  }
  info.best_epoch = j.value("best_epoch", 0);
  return info;
}

}  // namespace perfgraph::gnn

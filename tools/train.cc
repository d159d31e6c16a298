// `perfgraph train --dataset DATASET... --out MODEL_DIR [--task tile|fusion|both] [--epochs N]
//  [--seed S] [--split FILE] [--join early|late] [--reduction lstm|mean] [--sage-layers L]
//  [--rank-weight W] [--rank-loss pairwise|listmle] [--tile-mse-weight W] [--fusion-mse-weight W]
//  [--[no]hybrid-features] [--patience N] [--select-by loss|tile-tau]
//  [--resume] [--max-epochs-this-run N] [--threads T] [--distributed [--distributed-timeout-s S]]`
//
// Trains the learned cost model (gnn/train.h) on measured records and writes MODEL_DIR (model.pgm,
// model.json, metrics.json, split.txt and the --resume state), then weights.pgw (the inference
// weights plan and predict serve), command.txt (this exact command) and, when there are test
// programs, metrics.json's "test_side_by_side": the learned (served weights) and analytical models
// on the same test kernels and configs, as `perfgraph eval` reports them. Progress: one line per epoch with the
// training loss, the validation loss and metrics, the learning rate and the ETA.
// --model-kind xgboost trains the gradient-boosted baseline instead (gnn/xgboost_train.h) into the
// directory of its own: xgboost.json, xgboost_tile.ubj, xgboost_level.ubj, distribution.json,
// split.txt, command.txt and metrics.json (validation, test and test_side_by_side figures);
// --xgb-* flags set its objective and trees.
// --distributed trains data-parallel (gnn/train.h DistributedOptions): start the same command once
// per rank with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set (torchrun's variables); rank 0
// prints the progress and writes MODEL_DIR, the other ranks only a closing line.
// Datasets of a foreign feature schema (TpuGraphs tiles) train without hybrid features and, unless
// --rank-loss says otherwise, with ListMLE.
// Ablations of the default model: --reduction mean (no LSTM), --join early, --sage-layers 1|2, and
// MSE-only training with --rank-weight 0 --tile-mse-weight 1.
// One trainer per MODEL_DIR: train (rank 0) holds graph::OutputLock on it ("MODEL_DIR.lock", with
// its pid) until the model is written, so a second train on the same --out fails at once with
// "... is in use by pid N" (exit status 1) instead of overwriting the first one's files.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <system_error>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "data/record_file.h"
#include "gnn/export.h"
#include "gnn/train.h"
#include "gnn/xgboost_train.h"
#include "graph/atomic_file.h"
#include "graph/output_lock.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"
#include "pipeline/cost_models.h"
#include "tools/cli.h"
#include "tools/flags.h"
#include "tools/side_by_side.h"
#include "tools/progress.h"


namespace perfgraph::tools {
namespace {

std::string Percent(const std::optional<double>& v) {
  return v ? absl::StrFormat("%.1f%%", 100 * *v) : "n/a";
}
std::string Number(const std::optional<double>& v) {
  return v ? absl::StrFormat("%.3f", *v) : "n/a";
}

std::string MetricsLine(const gnn::TaskMetrics& m) {
  std::string line;
  if (m.tile_kernels > 0) {
    absl::StrAppend(&line, " tile top1 ", Percent(m.tile_top1_slowdown), " top5 ",
                    Percent(m.tile_top5_slowdown), " tau ", Number(m.tile_kendall_tau));
  }
  if (m.fusion_kernels > 0) {
    absl::StrAppend(&line, " fusion mape ", Percent(m.fusion_mape), " (>= 5 us ",
                    Percent(m.fusion_mape_5us), ") tau ", Number(m.fusion_kendall_tau));
  }
  return line;
}

absl::StatusOr<gnn::TrainOptions> OptionsFromFlags(const std::vector<std::string>& args,
                                                   const CommandLine& command_line) {
  gnn::TrainOptions o;
  o.datasets = absl::GetFlag(FLAGS_dataset);
  o.datasets.insert(o.datasets.end(), command_line.positional.begin(),
                    command_line.positional.end());
  if (o.datasets.empty()) return absl::InvalidArgumentError("--dataset DATASET... is required");
  o.out_dir = absl::GetFlag(FLAGS_out);
  if (o.out_dir.empty()) return absl::InvalidArgumentError("--out MODEL_DIR is required");
  // --task is shared with `measure` (default "tile" there); train's default is both tasks.
  const bool task_given = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a == "--task" || absl::StartsWith(a, "--task=");
  });
  const std::string task = task_given ? absl::GetFlag(FLAGS_task) : "both";
  if (task == "tile") {
    o.tasks = gnn::TaskSelection::kTile;
  } else if (task == "fusion") {
    o.tasks = gnn::TaskSelection::kFusion;
  } else if (task == "both") {
    o.tasks = gnn::TaskSelection::kBoth;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--task must be tile, fusion or both, got '", task, "'"));
  }
  const std::string join = absl::GetFlag(FLAGS_join);
  if (join == "early") {
    o.model.join = gnn::Join::kEarly;
  } else if (join == "late") {
    o.model.join = gnn::Join::kLate;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--join must be early or late, got '", join, "'"));
  }
  const std::string reduction = absl::GetFlag(FLAGS_reduction);
  absl::StatusOr<gnn::Reduction> parsed_reduction = gnn::ParseReduction(reduction);
  if (!parsed_reduction.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--reduction must be lstm or mean, got '", reduction, "'"));
  }
  o.model.reduction = *parsed_reduction;
  // Datasets of a foreign feature schema (e.g. TpuGraphs tiles, `dataset import --tpugraphs-tile`).
  bool foreign_data = false;
  if (absl::StatusOr<data::RecordReader> reader = data::RecordReader::Open(o.datasets[0]);
      reader.ok()) {
    foreign_data = reader->header().foreign_features.has_value();
  }
  o.rank_weight = absl::GetFlag(FLAGS_rank_weight);
  // Such data (TpuGraphs tiles: many configs per kernel) defaults to ListMLE, linear in a kernel's
  // configs and TpuGraphs' own baseline loss; pairwise ranking is quadratic in them.
  const bool rank_loss_given = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a == "--rank-loss" || a == "--rank_loss" || absl::StartsWith(a, "--rank-loss=") ||
           absl::StartsWith(a, "--rank_loss=");
  });
  absl::StatusOr<gnn::RankLoss> rank_loss =
      foreign_data && !rank_loss_given ? gnn::RankLoss::kListMle
                                       : gnn::ParseRankLoss(absl::GetFlag(FLAGS_rank_loss));
  if (!rank_loss.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--rank-loss must be pairwise or listmle, got '",
                                                   absl::GetFlag(FLAGS_rank_loss), "'"));
  }
  o.rank_loss = *rank_loss;
  o.tile_mse_weight = absl::GetFlag(FLAGS_tile_mse_weight);
  o.fusion_mse_weight = absl::GetFlag(FLAGS_fusion_mse_weight);
  for (auto [flag, value] : {std::pair<const char*, double>{"--rank-weight", o.rank_weight},
                             {"--tile-mse-weight", o.tile_mse_weight},
                             {"--fusion-mse-weight", o.fusion_mse_weight}}) {
    if (!(value >= 0) || !std::isfinite(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " must be a finite number >= 0, got ", value));
    }
  }
  o.epochs = absl::GetFlag(FLAGS_epochs);
  o.seed = absl::GetFlag(FLAGS_seed);
  if (!absl::GetFlag(FLAGS_split).empty()) o.split_file = absl::GetFlag(FLAGS_split);
  o.resume = absl::GetFlag(FLAGS_resume);
  o.threads = ThreadsFlag();
  o.model.hidden = absl::GetFlag(FLAGS_hidden);
  o.model.opcode_embedding = absl::GetFlag(FLAGS_opcode_embedding);
  o.model.sage_layers = absl::GetFlag(FLAGS_sage_layers);
  o.batch_kernels = absl::GetFlag(FLAGS_batch_kernels);
  o.learning_rate = absl::GetFlag(FLAGS_learning_rate);
  o.patience = absl::GetFlag(FLAGS_patience);
  absl::StatusOr<gnn::SelectBy> select_by = gnn::ParseSelectBy(absl::GetFlag(FLAGS_select_by));
  if (!select_by.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--select-by: ", select_by.status().message()));
  }
  o.select_by = *select_by;
  // Hybrid features (on by default) need perfgraph kernels: datasets of a foreign feature schema
  // (e.g. TpuGraphs tiles) train without them unless --hybrid-features is given explicitly (an
  // error then, from gnn::Train).
  const bool hybrid_given = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a == "--hybrid-features" || a == "--hybrid_features" ||
           absl::StartsWith(a, "--hybrid-features=") || absl::StartsWith(a, "--hybrid_features=");
  });
  if (foreign_data && !hybrid_given) {
    // No hybrid block: the model reads the records' features alone.
  } else if (absl::GetFlag(FLAGS_hybrid_features)) {
    ASSIGN_OR_RETURN(o.model.hybrid_threads, MeasuredThreads(o.datasets[0]));
  }
  o.max_epochs_this_run = absl::GetFlag(FLAGS_max_epochs_this_run);
  if (o.max_epochs_this_run < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-epochs-this-run must be >= 0, got ", o.max_epochs_this_run));
  }
  const double timeout_s = absl::GetFlag(FLAGS_distributed_timeout_s);
  if (!(timeout_s > 0) || !std::isfinite(timeout_s)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--distributed-timeout-s must be a number of seconds > 0, got ", timeout_s));
  }
  if (absl::GetFlag(FLAGS_distributed)) {
    ASSIGN_OR_RETURN(o.distributed, gnn::DistributedOptionsFromEnvironment(absl::Seconds(timeout_s)));
  }
  return o;
}

// Adds "test_side_by_side" to OUT/metrics.json: the trained model (through its exported weights,
// as plan and predict serve it) and the analytical model on the same test kernels and configs,
// exactly as `perfgraph eval --split` reports them.
absl::Status WriteSideBySide(const gnn::TrainOptions& options, const gnn::TrainResult& result) {
  const std::vector<gnn::KernelExample>& examples = result.test_examples;
  if (examples.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::unique_ptr<gnn::LearnedPredictor> predictor,
                   gnn::LearnedPredictor::Load(options.out_dir));
  ASSIGN_OR_RETURN(std::vector<std::vector<double>> learned, predictor->PredictNs(examples));
  if (examples[0].foreign_features.has_value()) {
    // Features of a foreign schema (e.g. TpuGraphs tiles) come without kernels: there is no
    // analytical (or XGBoost) column to put beside the learned one.
    ASSIGN_OR_RETURN(gnn::TaskMetrics m, gnn::ComputeTaskMetrics(examples, learned));
    const std::filesystem::path path = std::filesystem::path(options.out_dir) / "metrics.json";
    std::ifstream in(path);
    nlohmann::ordered_json metrics = nlohmann::ordered_json::parse(in, nullptr, false);
    if (metrics.is_discarded()) {
      return absl::DataLossError(absl::StrCat(path.string(), " is not JSON"));
    }
    nlohmann::ordered_json& j = metrics["test_side_by_side"];
    j["feature_schema"] = examples[0].foreign_features->name;
    j["tile"]["learned"] = nlohmann::ordered_json::parse(gnn::TileMetricsJson(m));
    j["tile_kernels"] = m.tile_kernels;
    RETURN_IF_ERROR(graph::WriteFileAtomically(path.string(), metrics.dump(2) + "\n", "train"));
    std::cout << "test (" << examples[0].foreign_features->name << " features):" << MetricsLine(m)
              << "\n";
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(const int threads, MeasuredThreads(options.datasets[0]));
  ASSIGN_OR_RETURN(SideBySide scores, ScoreSideBySide(examples, std::move(learned), threads));
  const std::filesystem::path path = std::filesystem::path(options.out_dir) / "metrics.json";
  std::ifstream in(path);
  nlohmann::ordered_json metrics = nlohmann::ordered_json::parse(in, nullptr, false);
  if (metrics.is_discarded()) {
    return absl::DataLossError(absl::StrCat(path.string(), " is not JSON"));
  }
  nlohmann::ordered_json& j = metrics["test_side_by_side"];
  j["tile"]["learned"] = nlohmann::ordered_json::parse(gnn::TileMetricsJson(scores.learned));
  j["tile"]["analytical"] = nlohmann::ordered_json::parse(gnn::TileMetricsJson(scores.analytical));
  j["fusion"]["learned"] = nlohmann::ordered_json::parse(gnn::FusionMetricsJson(scores.learned));
  j["fusion"]["analytical"] = nlohmann::ordered_json::parse(gnn::FusionMetricsJson(scores.analytical));
  j["tile_kernels"] = scores.learned.tile_kernels;
  j["fusion_kernels"] = scores.learned.fusion_kernels;
  j["analytical_failures"] = scores.analytical_failures;
  RETURN_IF_ERROR(graph::WriteFileAtomically(path.string(), metrics.dump(2) + "\n", "train"));
  std::cout << "test (same configs):" << MetricsLine(scores.learned) << "   analytical:"
            << MetricsLine(scores.analytical) << "\n";
  return absl::OkStatus();
}

// `train --model-kind xgboost`: the gradient-boosted baseline on the same split, then the same
// side-by-side test figures (the XGBoost model and the analytical one on the same configs).
absl::Status TrainXgboostModel(const std::vector<std::string>& args, const gnn::TrainOptions& gnn) {
  gnn::XgboostTrainOptions o;
  o.datasets = gnn.datasets;
  o.out_dir = gnn.out_dir;
  o.tasks = gnn.tasks;
  o.split_file = gnn.split_file;
  o.seed = gnn.seed;
  o.threads = gnn.threads;
  o.tile_objective = absl::GetFlag(FLAGS_xgb_tile_objective);
  o.max_rounds = absl::GetFlag(FLAGS_xgb_rounds);
  o.max_depth = absl::GetFlag(FLAGS_xgb_max_depth);
  o.eta = absl::GetFlag(FLAGS_xgb_eta);
  o.analytical_features = absl::GetFlag(FLAGS_xgb_analytical_features);
  ASSIGN_OR_RETURN(o.analytical_threads, MeasuredThreads(o.datasets[0]));
  o.on_round = [](const gnn::XgboostRoundReport& r) {
    std::cerr << absl::StrFormat(
        "%s booster: round %d/%d  validation %s%s\n", r.booster, r.round, r.max_rounds,
        !r.validation            ? std::string("n/a")
        : r.booster == "tile"    ? absl::StrFormat("tau %.4f", *r.validation)
                                 : absl::StrFormat("log-ns RMSE %.4f", *r.validation),
        r.improved ? "  (best)" : "");
  };
  ASSIGN_OR_RETURN(gnn::XgboostTrainResult result, gnn::TrainXgboost(o));
  std::cout << absl::StrFormat(
      "perfgraph train --model-kind xgboost: %d training kernels from %d programs (validation %d, "
      "test %d programs); tile booster %s, %d rounds (score scale %.4f); level booster %s, %d "
      "rounds\n",
      result.train_examples, result.info.train_programs.size(),
      result.info.validation_programs.size(), result.info.test_programs.size(),
      result.info.tile_objective.empty() ? "none" : result.info.tile_objective,
      result.info.tile_rounds, result.info.tile_score_scale,
      result.info.has_level ? "reg:squarederror" : "none", result.info.level_rounds);
  if (!result.info.validation_programs.empty()) {
    std::cout << "validation:" << MetricsLine(result.validation) << "\n";
  }
  if (!result.info.test_programs.empty()) std::cout << "test:" << MetricsLine(result.test) << "\n";
  const std::filesystem::path dir(o.out_dir);
  RETURN_IF_ERROR(graph::WriteFileAtomically(
      (dir / "command.txt").string(),
      absl::StrCat("perfgraph train ", absl::StrJoin(args, " "), "\n"), "train"));
  nlohmann::ordered_json metrics;
  metrics["model_kind"] = "xgboost";
  metrics["validation"]["tile"] = nlohmann::ordered_json::parse(gnn::TileMetricsJson(result.validation));
  metrics["validation"]["fusion"] =
      nlohmann::ordered_json::parse(gnn::FusionMetricsJson(result.validation));
  metrics["test"]["tile"] = nlohmann::ordered_json::parse(gnn::TileMetricsJson(result.test));
  metrics["test"]["fusion"] = nlohmann::ordered_json::parse(gnn::FusionMetricsJson(result.test));
  if (!result.test_examples.empty()) {
    const std::vector<std::vector<double>> predicted =
        gnn::PredictExamplesNs(*result.model, result.test_examples);
    ASSIGN_OR_RETURN(SideBySide scores,
                     ScoreSideBySide(result.test_examples, predicted, o.analytical_threads));
    nlohmann::ordered_json& j = metrics["test_side_by_side"];
    j["tile"]["xgboost"] = nlohmann::ordered_json::parse(gnn::TileMetricsJson(scores.learned));
    j["tile"]["analytical"] = nlohmann::ordered_json::parse(gnn::TileMetricsJson(scores.analytical));
    j["fusion"]["xgboost"] = nlohmann::ordered_json::parse(gnn::FusionMetricsJson(scores.learned));
    j["fusion"]["analytical"] =
        nlohmann::ordered_json::parse(gnn::FusionMetricsJson(scores.analytical));
    j["tile_kernels"] = scores.learned.tile_kernels;
    j["fusion_kernels"] = scores.learned.fusion_kernels;
    j["analytical_failures"] = scores.analytical_failures;
    std::cout << "test (same configs):" << MetricsLine(scores.learned) << "   analytical:"
              << MetricsLine(scores.analytical) << "\n";
  }
  RETURN_IF_ERROR(graph::WriteFileAtomically((dir / "metrics.json").string(),
                                             metrics.dump(2) + "\n", "train"));
  std::cout << "XGBoost model written to " << o.out_dir << "\n";
  return absl::OkStatus();
}

absl::Status Train(const std::vector<std::string>& args) {
  ASSIGN_OR_RETURN(CommandLine command_line, ParseCommandLine("train", args));
  // One trainer per model directory (graph/output_lock.h), taken before anything is read and held
  // until the model is written. Ranks above 0 of a distributed run write nothing, so they may share
  // rank 0's --out (a bad distributed environment is reported by OptionsFromFlags below).
  std::optional<graph::OutputLock> lock;
  if (const std::string out_dir = absl::GetFlag(FLAGS_out); !out_dir.empty()) {
    int rank = 0;
    if (absl::GetFlag(FLAGS_distributed)) {
      absl::StatusOr<gnn::DistributedOptions> distributed =
          gnn::DistributedOptionsFromEnvironment(absl::Seconds(1));
      rank = distributed.ok() ? distributed->rank : -1;
    }
    if (rank == 0) {
      const std::filesystem::path parent =
          std::filesystem::path(graph::OutputLockPath(out_dir)).parent_path();
      std::error_code error;
      if (!parent.empty()) std::filesystem::create_directories(parent, error);
      ASSIGN_OR_RETURN(graph::OutputLock acquired,
                       graph::OutputLock::Acquire(out_dir, "--out MODEL_DIR"));
      lock.emplace(std::move(acquired));
    }
  }
  ASSIGN_OR_RETURN(gnn::TrainOptions options, OptionsFromFlags(args, command_line));
  const std::string kind = absl::GetFlag(FLAGS_model_kind);
  if (kind == "xgboost") {
    if (options.distributed.world_size > 1) {
      return absl::InvalidArgumentError(
          "--distributed trains the GNN; the XGBoost baseline trains in one process "
          "(drop --model-kind xgboost or --distributed)");
    }
    return TrainXgboostModel(args, options);
  }
  if (kind != "gnn") {
    return absl::InvalidArgumentError(
        absl::StrCat("--model-kind must be gnn or xgboost, got '", kind, "'"));
  }
  absl::Duration elapsed;
  int epochs_this_run = 0;
  options.on_epoch = [&](const gnn::EpochReport& r) {
    elapsed += absl::Seconds(r.seconds);
    ++epochs_this_run;
    const absl::Duration eta = elapsed / epochs_this_run * (r.epochs - r.epoch);
    const std::string communication =
        options.distributed.world_size > 1
            ? absl::StrFormat(" (all-reduce %.2fs, %.1f ms/step)", r.allreduce_seconds,
                              1e3 * r.allreduce_seconds / std::max(1, r.steps))
            : "";
    std::cerr << absl::StrFormat(
        "epoch %d/%d  loss %.4f  val loss %s%s  lr %.2g  %.1fs%s  ETA %s%s\n", r.epoch, r.epochs,
        r.train_loss, r.validation_loss ? absl::StrFormat("%.4f", *r.validation_loss) : "n/a",
        MetricsLine(r.validation), r.learning_rate, r.seconds, communication, FormatEta(eta),
        r.improved ? "  (best, saved)" : "");
  };
  const int rank = options.distributed.rank;
  if (rank > 0) options.on_epoch = nullptr;  // rank 0 reports for the run
  if (options.distributed.world_size > 1) {
    std::cerr << absl::StrFormat("perfgraph train: rank %d of %d, rendezvous at %s:%d\n", rank,
                                 options.distributed.world_size, options.distributed.master_addr,
                                 options.distributed.master_port);
  }
  ASSIGN_OR_RETURN(gnn::TrainResult result, gnn::Train(options));
  if (rank > 0) {
    std::cout << absl::StrFormat("perfgraph train: rank %d of %d done (%d epochs); rank 0 wrote the "
                                 "model to its own --out\n",
                                 rank, options.distributed.world_size, result.history.size());
    return absl::OkStatus();
  }
  std::cout << absl::StrFormat(
      "perfgraph train: %d training kernels from %d programs (validation %d, test %d programs); "
      "best epoch %d of %d%s\n",
      result.train_examples, result.train_programs.size(), result.validation_programs.size(),
      result.test_programs.size(), result.best_epoch, result.history.size(),
      result.early_stopped ? " (early stopping)" : "");
  if (!result.validation_programs.empty()) {
    std::cout << "validation:" << MetricsLine(result.validation) << "\n";
  }
  if (!result.test_programs.empty()) std::cout << "test:" << MetricsLine(result.test) << "\n";
  // The weights file served by kernels::Predictor (cost::LearnedModel), next to the checkpoint.
  RETURN_IF_ERROR(gnn::ExportModelFile(absl::StrCat(options.out_dir, "/model.pgm"),
                                       absl::StrCat(options.out_dir, "/", pipeline::kLearnedWeightsFile)));
  // The exact command, and the learned and analytical figures on the same test kernels.
  RETURN_IF_ERROR(graph::WriteFileAtomically(
      (std::filesystem::path(options.out_dir) / "command.txt").string(),
      absl::StrCat("perfgraph train ", absl::StrJoin(args, " "), "\n"), "train"));
  RETURN_IF_ERROR(WriteSideBySide(options, result));
  std::cout << "model written to " << options.out_dir << "\n";
  return absl::OkStatus();
}

}  // namespace

int RunTrain(const std::vector<std::string>& args) {
  absl::Status status = Train(args);
  if (!status.ok()) return ReportError("train", status);
  return kExitOk;
}

}  // namespace perfgraph::tools

// Training, evaluation metrics and inference of the learned cost model. No LibTorch in this header
// (tools/ include it); the implementation uses gnn/model.h.
//
// Losses (per batch of kernels; predictions s = predicted log(runtime_ns)):
//  - tile task: rank_weight x a ranking loss over configs of the same kernel (skipped entirely when
//    rank_weight is 0 or the batch has no pair / list), either (TrainOptions::rank_loss)
//      kPairwise: the pairwise logistic loss, mean over pairs (i faster than j) of
//        softplus(-kRankScale (s_j - s_i)) / kRankScale, pairs those of HostBatch (TIMEOUT configs
//        count as slower than every OK config of their kernel, ties within kRankTieTolerance form
//        no pair); or
//      kListMle: ListMLE (Xia et al., ICML 2008; a winning loss of the TpuGraphs competition), the
//        Plackett-Luce negative log-likelihood of the measured order with scores t = -kRankScale s,
//        per kernel the mean over its OK positions i of log(sum_{j at or below i} exp t_j) - t_i,
//        TIMEOUT configs below every OK one and never a position of their own, then the mean
//        over kernels, / kRankScale;
//    plus tile_mse_weight x the mean squared error of s on OK configs, in units of the label
//    standard deviation;
//  - fusion task: fusion_mse_weight x the same standardised squared error.
// Multi-task training mixes kernels of both tasks in every batch.
//
// Model directory (TrainOptions::out_dir) contents:
//   model.pgm          the best model (lowest validation loss; the last epoch without validation
//                      programs), gnn/checkpoint.h format
//   model.json         hyper-parameters, schema versions, training options, split, best epoch
//   metrics.json       validation and test figures of model.pgm (ComputeTaskMetrics)
//   last.pgm, train_state.pt, train_state.json   the latest epoch, optimizer and history for --resume
//   checkpoint_N.pgm, checkpoint_N.pt  while a run goes on: epoch N's weights and optimizer, which
//                      train_state.json ("epochs_done": N) commits before last.pgm and
//                      train_state.pt are replaced, so a kill at any point resumes consistently;
//                      removed when the run ends
//   split.txt          the program split used (data/split.h format)
//   distribution.json  what the training kernels span (cost/training_distribution.h; Train only)
#ifndef PERFGRAPH_GNN_TRAIN_H_
#define PERFGRAPH_GNN_TRAIN_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "data/split.h"
#include "gnn/batch.h"
#include "gnn/checkpoint.h"

namespace perfgraph::gnn {

// Temperature of the logistic ranking loss, per log-runtime unit: a predicted gap of 0.1 (10 %)
// gives a logit of 1.
inline constexpr double kRankScale = 10.0;

// Figures of one model on a set of examples (DESIGN.md "Metrics"). nullopt when not computable
// (no kernel of that task, or tau-b undefined for every group).
struct TaskMetrics {
  std::optional<double> tile_top1_slowdown;
  std::optional<double> tile_top5_slowdown;
  std::optional<double> tile_kendall_tau;  // mean over kernels of tau-b over their OK configs
  std::optional<double> fusion_mape;       // mean over fusion kernels
  std::optional<double> fusion_mape_5us;   // mean over fusion kernels measured >= kLongKernelNs
  std::optional<double> fusion_kendall_tau;  // mean over programs of tau-b over their kernels
  int tile_kernels = 0;   // tile kernels with at least one OK config that has a prediction
  int tile_configs = 0;   // OK tile configs with a prediction
  int fusion_kernels = 0; // distinct (program, kernel hash) fusion kernels with a prediction
  int fusion_programs = 0;
  int fusion_kernels_5us = 0;  // of fusion_kernels, those measured >= kLongKernelNs
};

// Kaufman et al. report fusion MAPE over kernels of at least 5 us; TaskMetrics gives both.
inline constexpr double kLongKernelNs = 5000.0;

// Computes TaskMetrics from predictions: predicted_ns[e][c] for config c of examples[e] (same shape
// as the examples; a NaN prediction excludes that config, e.g. where another model failed, so two
// models can be compared on exactly the same configs). Only OK configs are scored (a TIMEOUT config
// has no measured runtime). Fusion kernels are deduplicated per program by kernel hash (the same
// kernel in several fusion variants counts once). Errors: kInvalidArgument when the shapes differ;
// the errors of data/metrics.h.
absl::StatusOr<TaskMetrics> ComputeTaskMetrics(const std::vector<KernelExample>& examples,
                                               const std::vector<std::vector<double>>& predicted_ns);
// JSON object: {"top1_slowdown", "top5_slowdown", "kendall_tau"} for the tile part or {"mape",
// "mape_5us", "kendall_tau"} for the fusion part; null for nullopt values.
std::string TileMetricsJson(const TaskMetrics& m);
std::string FusionMetricsJson(const TaskMetrics& m);

// The default guard of the tiling pass (tiling::TilingPassOptions::min_predicted_gain) replayed on
// measured tile kernels. For every tile example whose tiling::Default config is OK and predicted,
// the model's choice among its OK, predicted configs is its argmin, kept only when
// predicted(Default) >= (1 + band) * predicted(argmin), else the default; the choice's measured
// runtime is compared with the default's and the kernel's best.
struct DefaultGuardFigures {
  double band = 0;
  int kernels = 0;              // tile examples with an OK, predicted default config
  int kept_default = 0;         // of them, where the guard kept the default over the argmin
  int slower_than_default = 0;  // where the choice measured slower than the default
  // Geometric mean and maximum over the kernels of measured(choice) / measured(default).
  double geomean_vs_default = 1;
  double worst_vs_default = 1;
  double mean_top1_slowdown = 0;  // mean of measured(choice) / measured(best OK config) - 1
};
// Errors: kInvalidArgument when the shapes of `predicted_ns` and `examples` differ or band < 0.
absl::StatusOr<DefaultGuardFigures> ReplayDefaultGuard(const std::vector<KernelExample>& examples,
                                                       const std::vector<std::vector<double>>& predicted_ns,
                                                       double band);

enum class TaskSelection { kTile, kFusion, kBoth };
// "tile", "fusion", "both".
std::string TaskSelectionName(TaskSelection tasks);

// One epoch's progress.
struct EpochReport {
  int epoch = 0;        // 1-based
  int epochs = 0;       // planned
  double train_loss = 0;
  std::optional<double> validation_loss;
  TaskMetrics validation;
  double learning_rate = 0;
  double seconds = 0;   // wall-clock time of this epoch (progress display only)
  int steps = 0;        // optimizer steps (batches) of this epoch
  // Distributed runs: wall-clock seconds this rank spent in the per-step all-reduces (batch counts
  // and gradients), waiting for slower ranks included; 0 in one process (progress display only).
  double allreduce_seconds = 0;
  // The selection metric of this epoch, lower is better (TrainOptions::select_by: the validation
  // loss, or minus the validation tile tau); nullopt without validation programs.
  std::optional<double> selection_score;
  bool improved = false;  // best selection score so far (saved as model.pgm)
};

// How the best epoch is chosen (it is saved as model.pgm, and early stopping counts the epochs since
// it): the lowest validation loss (the weighted sum of the training losses on the validation
// programs, kLoss), or the highest validation tile Kendall's tau per kernel (kTileTau), the tile
// task's headline metric. The validation loss is mostly the fusion task's MSE (2212 fusion against
// 208 tile kernels in the v2 validation programs), so loss-based stopping can end a run while the
// tile tau still rises (README, "The v2 model"). kTileTau needs the tile task and validation
// programs with tile kernels; without them it falls back to the loss.
enum class SelectBy { kLoss, kTileTau };
absl::string_view SelectByName(SelectBy select);  // "loss", "tile-tau"
// Inverse of SelectByName. Error: kInvalidArgument naming `value` and the accepted names.
absl::StatusOr<SelectBy> ParseSelectBy(absl::string_view value);

// The tile task's ranking loss (file comment).
enum class RankLoss { kPairwise, kListMle };
absl::string_view RankLossName(RankLoss loss);  // "pairwise", "listmle"
// Inverse of RankLossName. Error: kInvalidArgument naming `value` and the accepted names.
absl::StatusOr<RankLoss> ParseRankLoss(absl::string_view value);

// Data-parallel training over processes and hosts (LibTorch's c10d with Gloo; gnn/collective.h).
// Every rank loads the same datasets and walks the same shuffled batches; of each batch of
// TrainOptions::batch_kernels kernels, rank r trains on kernels r, r + W, r + 2W, ... (W =
// world_size). Each rank's loss uses the whole batch's denominators (OK configs, pairs, lists: one
// all-reduce of three counts), so the all-reduced sum of the ranks' gradients is the gradient of the
// single-process batch loss, and every rank takes the same Adam step. Rank 0 starts everyone from
// its weights, runs validation, writes every file of the model directory and, with --resume, sends
// the training state it reads to the others (other hosts need no copy of the directory); the other
// ranks write nothing.
struct DistributedOptions {
  int rank = 0;
  int world_size = 1;  // 1: not distributed
  std::string master_addr = "127.0.0.1";  // the host of rank 0 (its TCPStore rendezvous)
  int master_port = 29500;
  // How long a rank waits for the others, at the rendezvous and in every collective. Rank 0
  // validates while the others wait, so it must exceed a validation pass.
  absl::Duration timeout = absl::Minutes(30);
  std::string interface;  // network interface for Gloo ("" = the one of MASTER_ADDR's route)
};
inline constexpr int kMaxWorldSize = 1024;

// From the environment torchrun sets: RANK, WORLD_SIZE (1 .. kMaxWorldSize), MASTER_ADDR,
// MASTER_PORT, and optionally GLOO_SOCKET_IFNAME. Errors: kInvalidArgument naming a missing or
// malformed variable and its value.
absl::StatusOr<DistributedOptions> DistributedOptionsFromEnvironment(absl::Duration timeout);

struct TrainOptions {
  std::vector<std::string> datasets;  // record files (Train only)
  std::string out_dir;                // model directory; created if missing; "" = write nothing
  TaskSelection tasks = TaskSelection::kBoth;
  std::optional<std::string> split_file;  // data/split.h; nullopt = data::DefaultSplit
  ModelOptions model;
  int epochs = 40;
  uint64_t seed = 1;
  bool resume = false;  // continue from out_dir's train_state (same options required)
  // Stop after this many epochs in this call (0 = no limit), leaving a state --resume continues
  // exactly as if the run had not stopped (time-sliced training; tests of --resume).
  int max_epochs_this_run = 0;
  int threads = 2;      // at::set_num_threads; fixed so runs are reproducible on one machine
  int batch_kernels = 16;        // kernels per batch
  double learning_rate = 1e-3;   // Adam; cosine decay to learning_rate * kMinLearningRateFraction
  double weight_decay = 0;
  int patience = 10;             // early stopping: epochs without a better selection metric
  SelectBy select_by = SelectBy::kLoss;  // what "better" means (SelectBy)
  // Loss weights (file comment): each finite and >= 0; the tile task (selected by kTile / kBoth)
  // needs rank_weight or tile_mse_weight > 0, the fusion task fusion_mse_weight > 0. rank_weight = 0
  // drops the ranking term: MSE-only training (the ranking-loss ablation) is rank_weight 0 with
  // tile_mse_weight 1.
  double tile_mse_weight = 0.1;
  double fusion_mse_weight = 1.0;
  double rank_weight = 1.0;
  RankLoss rank_loss = RankLoss::kPairwise;
  std::function<void(const EpochReport&)> on_epoch;  // progress callback (may be empty)
  // world_size > 1: data-parallel training (DistributedOptions). Not part of the --resume
  // fingerprint, but every rank must be given the same other options (checked at the start).
  DistributedOptions distributed;
};
inline constexpr double kMinLearningRateFraction = 0.05;

struct TrainResult {
  std::vector<EpochReport> history;  // every epoch, including those before a --resume
  int best_epoch = 0;
  bool early_stopped = false;
  TaskMetrics validation;  // of the best model
  TaskMetrics test;        // of the best model on the test programs
  std::vector<std::string> train_programs, validation_programs, test_programs;
  int train_examples = 0;
  // Train only: the test-split kernels of the selected tasks, as loaded (for scoring the trained
  // model against other cost models on exactly these kernels without loading the datasets again).
  std::vector<KernelExample> test_examples;
};

// Examples of the selected tasks, split by program.
struct SplitExamples {
  std::vector<KernelExample> train, validation, test;
  LoadSummary summary;
  std::vector<std::string> unlisted_programs;  // programs the split file does not name (unused)
};

// Loads `datasets` (LoadExamples), keeps the examples of `tasks` and splits them by program with
// `split_file` (data/split.h) or data::DefaultSplit over the loaded programs; programs the split file
// does not name are not used and are listed on stderr. When `out_dir` is not empty it is created
// and the split actually used is written to out_dir/split.txt. Shared by the GNN (Train) and the
// XGBoost baseline (gnn/xgboost_train.h). Errors: kInvalidArgument for no dataset or no training
// kernel of the selected tasks (with the load counts); those of LoadExamples, ReadSplitFile and the
// write.
absl::StatusOr<SplitExamples> LoadSplitExamples(const std::vector<std::string>& datasets,
                                                const std::optional<std::string>& split_file,
                                                TaskSelection tasks, const std::string& out_dir);

// Loads the datasets, splits by program (TrainOptions::split_file or DefaultSplit; programs a split
// file does not name are not used and are listed on stderr), keeps the selected tasks and trains.
// The model reads the feature schema of the datasets: for a foreign one (LoadSummary::
// foreign_features) options.model's feature_schema and widths are set from it (hybrid features
// are then an error).
// Errors: those of LoadExamples / ReadSplitFile; kInvalidArgument for bad options or no training
// kernel of the selected tasks; those of TrainOnExamples.
absl::StatusOr<TrainResult> Train(const TrainOptions& options);

// The training loop on given examples (Train's core; tests use it with synthetic examples):
// seeds torch::manual_seed(seed), at::set_num_threads(threads), shuffles batches with
// std::mt19937_64(seed + epoch) so an epoch is reproducible and --resume continues the same sequence,
// standardises with ComputeNormalization(train), trains with Adam for options.epochs epochs (fewer on
// early stopping), and writes out_dir (unless empty) after every epoch. Errors: kInvalidArgument for
// empty `train`, bad options, or an example whose feature schema (KernelExample::foreign_features)
// is not the one options.model names; kFailedPrecondition when --resume finds no state or a state of other
// options; I/O errors; LibTorch errors as kInternal.
absl::StatusOr<TrainResult> TrainOnExamples(const std::vector<KernelExample>& train,
                                            const std::vector<KernelExample>& validation,
                                            const std::vector<KernelExample>& test,
                                            const TrainOptions& options);

// The metadata of a model directory (model.json).
struct ModelInfo {
  ModelOptions model;
  int feature_schema_version = 0;
  int num_config_features = 0;
  int config_feature_schema_version = 0;  // 1 when model.json predates the key
  std::vector<std::string> train_programs, validation_programs, test_programs;
  int best_epoch = 0;
};

// Inference with a trained model directory.
class LearnedPredictor {
 public:
  // Reads out_dir/model.json and out_dir/model.pgm. Errors: kNotFound for missing files;
  // kFailedPrecondition when either was written with another feature schema version, another config
  // feature schema version (tiling::kConfigFeatureSchemaVersion; files without one are version 1) or
  // another kNumNodeFeatures / kNumOpcodeIds / kNumConfigFeatures (naming the file and both values);
  // kDataLoss for corrupt files.
  static absl::StatusOr<std::unique_ptr<LearnedPredictor>> Load(const std::string& model_dir);
  ~LearnedPredictor();

  // Predicted runtime in ns of every config of every example ([e][c]), in batches of
  // `batch_kernels`. Error: LibTorch failures as kInternal.
  absl::StatusOr<std::vector<std::vector<double>>> PredictNs(
      const std::vector<KernelExample>& examples, int batch_kernels = 64);

  const ModelInfo& info() const { return info_; }

 private:
  LearnedPredictor() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ModelInfo info_;
};

// Reads model_dir/model.json (errors as LearnedPredictor::Load).
absl::StatusOr<ModelInfo> ReadModelInfo(const std::string& model_dir);

}  // namespace perfgraph::gnn

#endif  // PERFGRAPH_GNN_TRAIN_H_

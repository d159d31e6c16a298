#include "gnn/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "cost/tabular_features.h"
#include "cost/training_distribution.h"
#include "data/metrics.h"
#include "gnn/collective.h"
#include "gnn/model.h"
#include "graph/atomic_file.h"
#include "graph/featurize.h"
#include "graph/hlo_opcode.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"
#include "tiling/tile_config.h"

namespace perfgraph::gnn {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Gradients are clipped to this global L2 norm: a safety net against the rare huge step when a
// batch holds a kernel far outside the label range; typical norms are < 1.
constexpr double kMaxGradNorm = 5.0;

using Json = nlohmann::ordered_json;

Json OptionalJson(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

absl::Status WriteText(const std::filesystem::path& path, const std::string& text) {
  return graph::WriteFileAtomically(path.string(), text, "train");
}

// An epoch's checkpoint: weights and optimizer under epoch-numbered names, committed by the
// train_state.json whose epochs_done is that epoch (written after them), then published as
// last.pgm and train_state.pt. Each file is atomic but the three are not one write: overwriting last.pgm before
// the state named its epoch let a run SIGKILLed between the two resume from epoch N+1's weights
// with epoch N's history (DistributedTrainTest.ASingleProcessKilledMidRunResumesToTheUninterrupted-
// Result failed 1 in 9 runs on a loaded machine).
std::filesystem::path CheckpointWeights(const std::filesystem::path& dir, int epoch) {
  return dir / absl::StrCat("checkpoint_", epoch, ".pgm");
}
std::filesystem::path CheckpointOptimizer(const std::filesystem::path& dir, int epoch) {
  return dir / absl::StrCat("checkpoint_", epoch, ".pt");
}

absl::StatusOr<std::string> ReadText(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path.string(), "'"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The options that must match for --resume to continue the same run.
Json RunFingerprint(const TrainOptions& o) {
  Json j;
  j["model"] = Json::parse(ModelOptionsToJson(o.model));
  j["epochs"] = o.epochs;
  j["seed"] = o.seed;
  j["batch_kernels"] = o.batch_kernels;
  j["learning_rate"] = o.learning_rate;
  j["weight_decay"] = o.weight_decay;
  j["patience"] = o.patience;
  j["tile_mse_weight"] = o.tile_mse_weight;
  j["fusion_mse_weight"] = o.fusion_mse_weight;
  j["rank_weight"] = o.rank_weight;
  j["rank_loss"] = std::string(RankLossName(o.rank_loss));
  j["tasks"] = TaskSelectionName(o.tasks);
  // Only when not the default, so that states written before the option existed still resume.
  if (o.select_by != SelectBy::kLoss) j["select_by"] = std::string(SelectByName(o.select_by));
  return j;
}

Json MetricsJson(const TaskMetrics& m) {
  Json j;
  j["tile"] = Json::parse(TileMetricsJson(m));
  j["fusion"] = Json::parse(FusionMetricsJson(m));
  j["tile_kernels"] = m.tile_kernels;
  j["tile_configs"] = m.tile_configs;
  j["fusion_kernels"] = m.fusion_kernels;
  j["fusion_programs"] = m.fusion_programs;
  return j;
}

Json EpochJson(const EpochReport& r) {
  Json j;
  j["epoch"] = r.epoch;
  j["train_loss"] = r.train_loss;
  j["validation_loss"] = OptionalJson(r.validation_loss);
  j["selection_score"] = OptionalJson(r.selection_score);
  j["learning_rate"] = r.learning_rate;
  j["improved"] = r.improved;
  j["validation"] = MetricsJson(r.validation);
  return j;
}

std::optional<double> JsonOptional(const Json& j) {
  if (j.is_number()) return j.get<double>();
  return std::nullopt;
}

TaskMetrics MetricsFromJson(const Json& j) {
  TaskMetrics m;
  m.tile_top1_slowdown = JsonOptional(j["tile"]["top1_slowdown"]);
  m.tile_top5_slowdown = JsonOptional(j["tile"]["top5_slowdown"]);
  m.tile_kendall_tau = JsonOptional(j["tile"]["kendall_tau"]);
  m.fusion_mape = JsonOptional(j["fusion"]["mape"]);
  m.fusion_kendall_tau = JsonOptional(j["fusion"]["kendall_tau"]);
  m.tile_kernels = j.value("tile_kernels", 0);
  m.tile_configs = j.value("tile_configs", 0);
  m.fusion_kernels = j.value("fusion_kernels", 0);
  m.fusion_programs = j.value("fusion_programs", 0);
  return m;
}

EpochReport EpochFromJson(const Json& j) {
  EpochReport r;
  r.epoch = j["epoch"];
  r.train_loss = j["train_loss"];
  r.validation_loss = JsonOptional(j["validation_loss"]);
  r.selection_score = JsonOptional(j.value("selection_score", Json()));
  r.learning_rate = j["learning_rate"];
  r.improved = j["improved"];
  r.validation = MetricsFromJson(j["validation"]);
  return r;
}

// The loss of a batch as sums and the counts they are averaged over (train.h): the mean squared
// error over OK configs, the pairwise loss over pairs, ListMLE over lists. Data-parallel ranks
// combine their own sums with the counts of the whole batch.
struct LossTerms {
  torch::Tensor mse_sum, pair_sum, list_sum;  // scalars; pair_sum / list_sum 0 when not used
  double ok = 0, pairs = 0, lists = 0;
};

LossTerms BatchLossTerms(ModelImpl& model, const TensorBatch& batch, const TrainOptions& o,
                         torch::Tensor* predicted) {
  torch::Tensor s = model.forward(batch);
  if (predicted != nullptr) *predicted = s;
  LossTerms t;
  torch::Tensor std = model.label_std_;
  torch::Tensor err = (s - batch.label_log_ns) / std;
  torch::Tensor weight = batch.label_ok * (batch.row_task_fusion * o.fusion_mse_weight +
                                           (1 - batch.row_task_fusion) * o.tile_mse_weight);
  t.mse_sum = (weight * err * err).sum();
  t.ok = batch.label_ok.sum().item<double>();
  t.pair_sum = torch::zeros({}, s.options());
  t.list_sum = torch::zeros({}, s.options());
  if (o.rank_loss == RankLoss::kPairwise && batch.pair_faster.size(0) > 0 && o.rank_weight > 0) {
    torch::Tensor gap = s.index_select(0, batch.pair_slower) - s.index_select(0, batch.pair_faster);
    t.pair_sum = torch::softplus(-kRankScale * gap).sum();
    t.pairs = static_cast<double>(batch.pair_faster.size(0));
  }
  if (o.rank_loss == RankLoss::kListMle && batch.list_rows.size(0) > 0 && o.rank_weight > 0) {
    // Scores: faster = higher. Padding gets a score whose exp vanishes beside any real one.
    torch::Tensor t_scores = (-kRankScale * s.index_select(0, batch.list_rows.flatten()))
                                 .view_as(batch.list_valid)
                                 .masked_fill(batch.list_valid == 0, -1e9);
    // log sum_{j >= i} exp(t_j): the Plackett-Luce normaliser of position i.
    torch::Tensor suffix = t_scores.flip(1).logcumsumexp(1).flip(1);
    torch::Tensor per_list =
        ((suffix - t_scores) * batch.list_scored).sum(1) / batch.list_scored.sum(1).clamp_min(1);
    t.list_sum = per_list.sum();
    t.lists = static_cast<double>(batch.list_rows.size(0));
  }
  return t;
}

// The batch loss from `t`'s sums over the counts of the whole batch (`ok`, `pairs`, `lists`).
torch::Tensor CombineLoss(const LossTerms& t, const TrainOptions& o, double ok, double pairs,
                          double lists) {
  torch::Tensor loss = t.mse_sum / std::max(ok, 1.0);
  if (pairs > 0) loss = loss + o.rank_weight * t.pair_sum / pairs / kRankScale;
  if (lists > 0) loss = loss + o.rank_weight * t.list_sum / lists / kRankScale;
  return loss;
}

// Loss of one batch (see train.h). `predicted` receives the predictions.
torch::Tensor BatchLoss(ModelImpl& model, const TensorBatch& batch, const TrainOptions& o,
                        torch::Tensor* predicted) {
  const LossTerms t = BatchLossTerms(model, batch, o, predicted);
  return CombineLoss(t, o, t.ok, t.pairs, t.lists);
}

std::vector<std::vector<const KernelExample*>> Batches(const std::vector<const KernelExample*>& all,
                                                       int batch_kernels) {
  std::vector<std::vector<const KernelExample*>> batches;
  for (size_t i = 0; i < all.size(); i += batch_kernels) {
    batches.emplace_back(all.begin() + i,
                         all.begin() + std::min(all.size(), i + static_cast<size_t>(batch_kernels)));
  }
  return batches;
}

std::vector<const KernelExample*> Pointers(const std::vector<KernelExample>& examples) {
  std::vector<const KernelExample*> p;
  for (const KernelExample& e : examples) p.push_back(&e);
  return p;
}

// Predictions (ns) and, optionally, the mean loss of `examples` with `model` in eval mode.
std::vector<std::vector<double>> Predict(ModelImpl& model, const std::vector<KernelExample>& examples,
                                         int batch_kernels, const TrainOptions* loss_options,
                                         double* mean_loss) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<std::vector<double>> result(examples.size());
  double loss_sum = 0;
  int batches = 0;
  for (const auto& chunk : Batches(Pointers(examples), batch_kernels)) {
    HostBatch host =
        MakeHostBatch(chunk, model.options().join, model.options().hybrid_threads > 0);
    TensorBatch batch = ToTensors(host);
    torch::Tensor s;
    if (loss_options != nullptr) {
      loss_sum += BatchLoss(model, batch, *loss_options, &s).item<double>();
      ++batches;
    } else {
      s = model.forward(batch);
    }
    auto acc = s.accessor<float, 1>();
    const size_t base = chunk[0] - examples.data();
    for (int64_t r = 0; r < host.num_rows; ++r) {
      std::vector<double>& row = result[base + host.row_example[r]];
      if (row.empty()) row.assign(chunk[host.row_example[r]]->num_configs, kNaN);
      row[host.row_config[r]] = std::exp(static_cast<double>(acc[r]));
    }
  }
  if (mean_loss != nullptr) *mean_loss = batches > 0 ? loss_sum / batches : kNaN;
  model.train(was_training);
  return result;
}

Json SplitJson(const std::vector<std::string>& train, const std::vector<std::string>& validation,
               const std::vector<std::string>& test) {
  Json j;
  j["train"] = train;
  j["validation"] = validation;
  j["test"] = test;
  return j;
}

std::vector<std::string> ProgramsOf(const std::vector<KernelExample>& examples) {
  std::set<std::string> s;
  for (const KernelExample& e : examples) s.insert(e.program);
  return {s.begin(), s.end()};
}

absl::Status WriteModelJson(const std::filesystem::path& dir, const TrainOptions& o,
                            const TrainResult& r) {
  Json j;
  j["format"] = "perfgraph gnn model directory";
  j["model_file"] = "model.pgm";
  j["model_file_format_version"] = kModelFileFormatVersion;
  // A foreign-schema model (ModelOptions::feature_schema) reads features as given: versions 0, its
  // own widths (a build before foreign schemas refuses it on the version).
  const bool foreign = o.model.foreign_schema();
  if (foreign) j["feature_schema"] = o.model.feature_schema;
  j["feature_schema_version"] = foreign ? 0 : graph::kFeatureSchemaVersion;
  j["num_node_features"] = o.model.node_width();
  j["num_opcode_ids"] = graph::kNumOpcodeIds;
  j["num_config_features"] = foreign ? o.model.num_config_features : tiling::kNumConfigFeatures;
  j["config_feature_schema_version"] = foreign ? 0 : tiling::kConfigFeatureSchemaVersion;
  j["model"] = Json::parse(ModelOptionsToJson(o.model));
  Json t = RunFingerprint(o);
  t.erase("model");
  t["threads"] = o.threads;
  t["datasets"] = o.datasets;
  t["rank_scale"] = kRankScale;
  t["rank_tie_tolerance"] = kRankTieTolerance;
  t["select_by"] = std::string(SelectByName(o.select_by));
  j["training"] = t;
  j["split"] = SplitJson(r.train_programs, r.validation_programs, r.test_programs);
  j["train_examples"] = r.train_examples;
  j["best_epoch"] = r.best_epoch;
  j["epochs_run"] = static_cast<int>(r.history.size());
  j["early_stopped"] = r.early_stopped;
  return WriteText(dir / "model.json", j.dump(2) + "\n");
}

absl::Status CheckTrainOptions(const TrainOptions& o) {
  if (o.rank_loss != RankLoss::kPairwise && o.rank_loss != RankLoss::kListMle) {
    return absl::InvalidArgumentError("rank_loss is neither pairwise nor listmle");
  }
  RETURN_IF_ERROR(ValidateModelOptions(o.model));
  if (o.epochs < 1) return absl::InvalidArgumentError(absl::StrCat("epochs = ", o.epochs, " < 1"));
  if (o.threads < 1 || o.threads > 256) {
    return absl::InvalidArgumentError(absl::StrCat("threads = ", o.threads, " is outside [1, 256]"));
  }
  if (o.batch_kernels < 1) {
    return absl::InvalidArgumentError(absl::StrCat("batch_kernels = ", o.batch_kernels, " < 1"));
  }
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate)) {
    return absl::InvalidArgumentError(absl::StrCat("learning_rate = ", o.learning_rate));
  }
  if (o.patience < 1) return absl::InvalidArgumentError(absl::StrCat("patience = ", o.patience));
  for (auto [name, value] : {std::pair<const char*, double>{"rank_weight", o.rank_weight},
                             {"tile_mse_weight", o.tile_mse_weight},
                             {"fusion_mse_weight", o.fusion_mse_weight}}) {
    if (!(value >= 0) || !std::isfinite(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("loss weight ", name, " = ", value, " must be finite and >= 0"));
    }
  }
  // Every selected task needs a loss term, or its kernels would train nothing.
  if (o.tasks != TaskSelection::kFusion && o.rank_weight == 0 && o.tile_mse_weight == 0) {
    return absl::InvalidArgumentError(
        "loss weights rank_weight and tile_mse_weight are both 0: the tile task would have no loss "
        "(MSE-only training is rank_weight 0 with tile_mse_weight > 0)");
  }
  if (o.tasks != TaskSelection::kTile && o.fusion_mse_weight == 0) {
    return absl::InvalidArgumentError(
        "loss weight fusion_mse_weight is 0: the fusion task would have no loss (train with "
        "--task tile instead)");
  }
  if (o.resume && o.out_dir.empty()) {
    return absl::InvalidArgumentError("--resume needs the model directory (--out) of the run");
  }
  const DistributedOptions& d = o.distributed;
  if (d.world_size < 1 || d.world_size > kMaxWorldSize || d.rank < 0 || d.rank >= d.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("distributed rank ", d.rank, " of world size ",
                                                   d.world_size, " (need 0 <= rank < size <= ",
                                                   kMaxWorldSize, ")"));
  }
  if (d.world_size > 1 && (d.master_port < 1 || d.master_port > 65535 || d.master_addr.empty() ||
                           d.timeout <= absl::ZeroDuration())) {
    return absl::InvalidArgumentError(absl::StrCat("distributed rendezvous '", d.master_addr, ":",
                                                   d.master_port, "' with timeout ",
                                                   absl::FormatDuration(d.timeout)));
  }
  return absl::OkStatus();
}

// FNV-1a, 64 bits: a digest that is the same in every process and on every host (std::hash and
// absl::Hash need not be), for checking that the ranks were given the same options and data.
uint64_t Fnv1a(absl::string_view bytes, uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

// What every rank must agree on: the run's options and the training kernels with their labels.
uint64_t RunDigest(const Json& fingerprint, const std::vector<KernelExample>& train,
                   const TrainOptions& o) {
  uint64_t h = Fnv1a(fingerprint.dump());
  h = Fnv1a(absl::StrCat(o.epochs, "/", o.max_epochs_this_run, "/", o.resume), h);
  for (const KernelExample& e : train) {
    h = Fnv1a(absl::StrCat(e.program, "/", e.kernel_name, "/", e.num_configs, "/"), h);
    for (double v : e.runtime_ns) h = Fnv1a(absl::StrCat(v, ","), h);
  }
  return h;
}

// Rank 0's parameters and buffers on every rank.
absl::Status BroadcastModel(Collective& collective, ModelImpl& model) {
  torch::NoGradGuard no_grad;
  for (torch::Tensor& p : model.parameters()) {
    RETURN_IF_ERROR(collective.Broadcast(p, "broadcast of the weights"));
  }
  for (torch::Tensor& b : model.buffers()) {
    RETURN_IF_ERROR(collective.Broadcast(b, "broadcast of the normalisation"));
  }
  return absl::OkStatus();
}

// Sums every rank's gradients (and `loss`, appended) in one all-reduce; parameters without a
// gradient on this rank (no kernel in its share of the batch) contribute zeros.
absl::Status AllReduceGradients(Collective& collective, ModelImpl& model, double* loss) {
  std::vector<torch::Tensor> parts;
  std::vector<torch::Tensor> params = model.parameters();
  for (const torch::Tensor& p : params) {
    parts.push_back(p.grad().defined() ? p.grad().flatten() : torch::zeros({p.numel()}, p.options()));
  }
  parts.push_back(torch::full({1}, *loss, params[0].options()));
  torch::Tensor flat = torch::cat(parts);
  RETURN_IF_ERROR(collective.AllReduceSum(flat, "all-reduce of the gradients"));
  int64_t offset = 0;
  for (torch::Tensor& p : params) {
    torch::Tensor g = flat.slice(0, offset, offset + p.numel()).view_as(p);
    if (p.grad().defined()) {
      p.mutable_grad().copy_(g);
    } else {
      p.mutable_grad() = g.clone();
    }
    offset += p.numel();
  }
  *loss = flat[offset].item<double>();
  return absl::OkStatus();
}

absl::StatusOr<TrainResult> TrainLoop(const std::vector<KernelExample>& train,
                                      const std::vector<KernelExample>& validation,
                                      const std::vector<KernelExample>& test,
                                      const TrainOptions& o) {
  torch::manual_seed(o.seed);
  at::set_num_threads(o.threads);
  const std::filesystem::path dir(o.out_dir);
  // Data-parallel: rank 0 writes, validates and reads the --resume state (DistributedOptions).
  std::unique_ptr<Collective> collective;
  if (o.distributed.world_size > 1) {
    ASSIGN_OR_RETURN(collective, Collective::Connect(o.distributed));
  }
  const bool rank0 = o.distributed.rank == 0;
  const int world = o.distributed.world_size;
  const bool write = !o.out_dir.empty() && rank0;
  if (write) {
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    if (error) {
      return absl::UnavailableError(
          absl::StrCat("cannot create model directory '", o.out_dir, "': ", error.message()));
    }
  }
  Model model(o.model);
  model->SetNormalization(ComputeNormalization(Pointers(train), o.model.hybrid_threads > 0));

  TrainResult result;
  result.train_programs = ProgramsOf(train);
  result.validation_programs = ProgramsOf(validation);
  result.test_programs = ProgramsOf(test);
  result.train_examples = static_cast<int>(train.size());
  double best_loss = std::numeric_limits<double>::infinity();
  int since_best = 0;
  int start_epoch = 0;

  const Json fingerprint = RunFingerprint(o);
  if (collective != nullptr) {
    // Every rank must train the same run on the same data, or the gradients mean nothing.
    const uint64_t digest = RunDigest(fingerprint, train, o);
    torch::Tensor theirs = torch::tensor({static_cast<int64_t>(digest)}, torch::kInt64);
    RETURN_IF_ERROR(collective->Broadcast(theirs, "check of the options and data"));
    torch::Tensor differ =
        torch::tensor({theirs.item<int64_t>() != static_cast<int64_t>(digest) ? 1.0 : 0.0});
    RETURN_IF_ERROR(collective->AllReduceSum(differ, "check of the options and data"));
    if (differ.item<double>() > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "distributed training: ", differ.item<double>(), " of ", world,
          " ranks were given other options or other training data than rank 0 (this is rank ",
          o.distributed.rank, "); give every rank the same command and dataset files"));
    }
  }
  std::string state_text, optimizer_bytes;  // the --resume state (rank 0 reads, then sends)
  std::filesystem::path resume_weights = dir / "last.pgm";
  if (o.resume && rank0) {
    ASSIGN_OR_RETURN(state_text, ReadText(dir / "train_state.json"));
    // The committed epoch's checkpoint files while they exist (the run was killed before
    // publishing or removing them); otherwise the published last.pgm and train_state.pt (a run
    // that ended, or a state written before checkpoint files existed).
    const Json named = Json::parse(state_text, nullptr, false);
    std::filesystem::path optimizer_file = dir / "train_state.pt";
    if (!named.is_discarded() && named.is_object() && named.contains("epochs_done") &&
        named["epochs_done"].is_number_integer()) {
      const int epoch = named["epochs_done"].get<int>();
      std::error_code ec;
      if (std::filesystem::exists(CheckpointWeights(dir, epoch), ec)) {
        resume_weights = CheckpointWeights(dir, epoch);
        optimizer_file = CheckpointOptimizer(dir, epoch);
      }
    }
    ASSIGN_OR_RETURN(optimizer_bytes, ReadText(optimizer_file));
  }
  if (o.resume && collective != nullptr) {
    RETURN_IF_ERROR(collective->BroadcastBytes(state_text, "broadcast of the --resume state"));
    RETURN_IF_ERROR(
        collective->BroadcastBytes(optimizer_bytes, "broadcast of the --resume optimizer state"));
  }
  if (o.resume) {
    Json state = Json::parse(state_text, nullptr, false);
    if (state.is_discarded() || !state.contains("options")) {
      return absl::DataLossError(absl::StrCat("'", (dir / "train_state.json").string(),
                                              "' is not a training state"));
    }
    // A state written before ModelOptions had "reduction" (every model was lstm) names no
    // reduction: read its model options as LoadModelFile does before comparing.
    if (state["options"].is_object() && state["options"].contains("model")) {
      absl::StatusOr<ModelOptions> stored =
          ModelOptionsFromJson(state["options"]["model"].dump(), (dir / "train_state.json").string());
      if (stored.ok()) state["options"]["model"] = Json::parse(ModelOptionsToJson(*stored));
    }
    // A state written before the ranking loss was an option used the pairwise loss.
    Json expected = fingerprint;
    if (state["options"].is_object() && !state["options"].contains("rank_loss") &&
        expected["rank_loss"] == "pairwise") {
      expected.erase("rank_loss");
    }
    if (state["options"] != expected) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--resume: the run in '", o.out_dir, "' used other options (", state["options"].dump(),
          ") than this command (", fingerprint.dump(), "); repeat the original options"));
    }
    if (rank0) {  // the others receive the weights below
      ASSIGN_OR_RETURN(std::shared_ptr<ModelImpl> last, LoadModelFile(resume_weights.string()));
      model = Model(last);
    }
    model->train();
    for (const Json& e : state["history"]) result.history.push_back(EpochFromJson(e));
    start_epoch = state["epochs_done"];
    best_loss = state["best_loss"].is_number() ? state["best_loss"].get<double>()
                                               : std::numeric_limits<double>::infinity();
    result.best_epoch = state["best_epoch"];
    since_best = state["since_best"];
    result.early_stopped = state["early_stopped"];
  }

  if (collective != nullptr) RETURN_IF_ERROR(BroadcastModel(*collective, *model));
  torch::optim::Adam optimizer(
      model->parameters(), torch::optim::AdamOptions(o.learning_rate).weight_decay(o.weight_decay));
  if (o.resume) {
    torch::serialize::InputArchive archive;
    std::istringstream optimizer_in(optimizer_bytes);
    archive.load_from(optimizer_in);
    optimizer.load(archive);
  }
  const auto train_pointers = Pointers(train);
  const int end_epoch = o.max_epochs_this_run > 0
                            ? std::min(o.epochs, start_epoch + o.max_epochs_this_run)
                            : o.epochs;
  for (int epoch = start_epoch; epoch < end_epoch && !result.early_stopped; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    const double progress = static_cast<double>(epoch) / o.epochs;
    const double lr = o.learning_rate * (kMinLearningRateFraction +
                                         (1 - kMinLearningRateFraction) * 0.5 *
                                             (1 + std::cos(M_PI * progress)));
    for (auto& group : optimizer.param_groups()) {
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    }
    std::vector<const KernelExample*> order = train_pointers;
    std::mt19937_64 rng(o.seed + static_cast<uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), rng);
    model->train();
    double loss_sum = 0;
    int batches = 0;
    double allreduce_seconds = 0;  // in this epoch's all-reduces (EpochReport)
    auto timed_allreduce = [&allreduce_seconds](const std::function<absl::Status()>& allreduce) {
      const auto begin = std::chrono::steady_clock::now();
      absl::Status status = allreduce();
      allreduce_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
      return status;
    };
    for (const auto& chunk : Batches(order, o.batch_kernels)) {
      optimizer.zero_grad();
      if (collective == nullptr) {
        TensorBatch batch =
            ToTensors(MakeHostBatch(chunk, o.model.join, o.model.hybrid_threads > 0));
        torch::Tensor loss = BatchLoss(*model, batch, o, nullptr);
        loss.backward();
        loss_sum += loss.item<double>();
      } else {
        // This rank's share of the batch: kernels rank, rank + W, ... (possibly none).
        std::vector<const KernelExample*> share;
        for (size_t i = o.distributed.rank; i < chunk.size(); i += world) share.push_back(chunk[i]);
        std::optional<LossTerms> terms;
        if (!share.empty()) {
          TensorBatch batch =
              ToTensors(MakeHostBatch(share, o.model.join, o.model.hybrid_threads > 0));
          terms = BatchLossTerms(*model, batch, o, nullptr);
        }
        torch::Tensor counts = terms ? torch::tensor({terms->ok, terms->pairs, terms->lists},
                                                     torch::kFloat64)
                                     : torch::zeros({3}, torch::kFloat64);
        RETURN_IF_ERROR(timed_allreduce(
            [&] { return collective->AllReduceSum(counts, "all-reduce of the batch counts"); }));
        double loss_value = 0;
        if (terms) {
          torch::Tensor loss = CombineLoss(*terms, o, counts[0].item<double>(),
                                           counts[1].item<double>(), counts[2].item<double>());
          loss.backward();
          loss_value = loss.item<double>();
        }
        RETURN_IF_ERROR(
            timed_allreduce([&] { return AllReduceGradients(*collective, *model, &loss_value); }));
        loss_sum += loss_value;
      }
      torch::nn::utils::clip_grad_norm_(model->parameters(), kMaxGradNorm);
      optimizer.step();
      ++batches;
    }
    EpochReport report;
    report.epoch = epoch + 1;
    report.epochs = o.epochs;
    report.train_loss = loss_sum / std::max(1, batches);
    report.learning_rate = lr;
    report.steps = batches;
    report.allreduce_seconds = allreduce_seconds;
    if (rank0) {  // rank 0 validates and decides; other ranks learn below whether to stop
      if (!validation.empty()) {
        double val_loss = 0;
        auto predictions = Predict(*model, validation, 64, &o, &val_loss);
        report.validation_loss = val_loss;
        ASSIGN_OR_RETURN(report.validation, ComputeTaskMetrics(validation, predictions));
        // The selection score, lower is better (best_loss holds the best score so far).
        double score = val_loss;
        if (o.select_by == SelectBy::kTileTau && report.validation.tile_kendall_tau) {
          score = -*report.validation.tile_kendall_tau;
        }
        report.selection_score = score;
        report.improved = score < best_loss;
      } else {
        report.improved = true;  // no validation programs: the latest model is the best we know
      }
      if (report.improved) {
        // selection_score is set whenever there are validation programs.
        best_loss = report.selection_score.value_or(report.train_loss);
        result.best_epoch = report.epoch;
        since_best = 0;
        if (write) RETURN_IF_ERROR(SaveModelFile((dir / "model.pgm").string(), *model));
      } else if (++since_best >= o.patience) {
        result.early_stopped = true;
      }
    }
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.history.push_back(report);
    if (write) {
      // CheckpointWeights: this epoch's files first, then the state that commits them, then the
      // published copies; the previous epoch's files go once this one is committed.
      RETURN_IF_ERROR(SaveModelFile(CheckpointWeights(dir, epoch + 1).string(), *model));
      torch::serialize::OutputArchive archive;
      optimizer.save(archive);
      std::ostringstream optimizer_out;
      archive.save_to(optimizer_out);
      RETURN_IF_ERROR(graph::WriteFileAtomically(CheckpointOptimizer(dir, epoch + 1).string(),
                                                 optimizer_out.str(), "train"));
      Json state;
      state["options"] = fingerprint;
      state["epochs_done"] = epoch + 1;
      state["best_loss"] = std::isfinite(best_loss) ? Json(best_loss) : Json(nullptr);
      state["best_epoch"] = result.best_epoch;
      state["since_best"] = since_best;
      state["early_stopped"] = result.early_stopped;
      state["history"] = Json::array();
      for (const EpochReport& r : result.history) state["history"].push_back(EpochJson(r));
      RETURN_IF_ERROR(WriteText(dir / "train_state.json", state.dump(1) + "\n"));
      RETURN_IF_ERROR(SaveModelFile((dir / "last.pgm").string(), *model));
      RETURN_IF_ERROR(graph::WriteFileAtomically((dir / "train_state.pt").string(),
                                                 optimizer_out.str(), "train"));
      std::error_code ec;
      // The previous epochs' files; this epoch's too when the run ends here (the published copies
      // hold it, and a state whose checkpoint files are gone reads them).
      const int last_run_epoch = epoch + 1 >= end_epoch || result.early_stopped ? epoch + 1 : epoch;
      for (int old = last_run_epoch; old >= 1 && old >= epoch - 1; --old) {
        std::filesystem::remove(CheckpointWeights(dir, old), ec);
        std::filesystem::remove(CheckpointOptimizer(dir, old), ec);
      }
      RETURN_IF_ERROR(WriteModelJson(dir, o, result));
    }
    if (collective != nullptr) {
      torch::Tensor stop = torch::full({1}, result.early_stopped ? 1.0f : 0.0f);
      RETURN_IF_ERROR(collective->Broadcast(stop, "broadcast of the epoch's outcome"));
      result.early_stopped = stop.item<float>() > 0;
    }
    if (o.on_epoch) o.on_epoch(report);
  }
  if (!rank0) return result;  // rank 0 reports the figures and writes the files

  // Final figures with the best model.
  std::shared_ptr<ModelImpl> best = model.ptr();
  if (write) {
    ASSIGN_OR_RETURN(best, LoadModelFile((dir / "model.pgm").string()));
  }
  if (!validation.empty()) {
    ASSIGN_OR_RETURN(result.validation,
                     ComputeTaskMetrics(validation, Predict(*best, validation, 64, nullptr, nullptr)));
  }
  if (!test.empty()) {
    ASSIGN_OR_RETURN(result.test,
                     ComputeTaskMetrics(test, Predict(*best, test, 64, nullptr, nullptr)));
  }
  if (write) {
    RETURN_IF_ERROR(WriteModelJson(dir, o, result));
    Json metrics;
    metrics["best_epoch"] = result.best_epoch;
    metrics["validation"] = MetricsJson(result.validation);
    metrics["test"] = MetricsJson(result.test);
    metrics["validation_programs"] = result.validation_programs;
    metrics["test_programs"] = result.test_programs;
    RETURN_IF_ERROR(WriteText(dir / "metrics.json", metrics.dump(2) + "\n"));
  }
  return result;
}

}  // namespace

absl::string_view SelectByName(SelectBy select) {
  return select == SelectBy::kTileTau ? "tile-tau" : "loss";
}

absl::StatusOr<SelectBy> ParseSelectBy(absl::string_view value) {
  if (value == "loss") return SelectBy::kLoss;
  if (value == "tile-tau") return SelectBy::kTileTau;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown selection metric '", value, "' (expected loss or tile-tau)"));
}

absl::string_view RankLossName(RankLoss loss) {
  return loss == RankLoss::kListMle ? "listmle" : "pairwise";
}

absl::StatusOr<RankLoss> ParseRankLoss(absl::string_view value) {
  if (value == "pairwise") return RankLoss::kPairwise;
  if (value == "listmle") return RankLoss::kListMle;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown ranking loss '", value, "' (expected pairwise or listmle)"));
}

absl::StatusOr<TrainResult> TrainOnExamples(const std::vector<KernelExample>& train,
                                            const std::vector<KernelExample>& validation,
                                            const std::vector<KernelExample>& test,
                                            const TrainOptions& options) {
  RETURN_IF_ERROR(CheckTrainOptions(options));
  if (train.empty()) return absl::InvalidArgumentError("TrainOnExamples: no training examples");
  // The model reads exactly one feature schema, the one its options name.
  const ModelOptions& m = options.model;
  for (const std::vector<KernelExample>* part : {&train, &validation, &test}) {
    for (const KernelExample& e : *part) {
      const bool same = e.foreign_features.has_value()
                            ? m.feature_schema == e.foreign_features->name &&
                                  m.num_node_features == e.foreign_features->num_node_features &&
                                  m.num_config_features == e.foreign_features->num_config_features
                            : !m.foreign_schema();
      if (!same) {
        return absl::InvalidArgumentError(absl::StrCat(
            "TrainOnExamples: kernel '", e.kernel_name, "' of ", e.program, " has features of schema ",
            data::FeatureSchemaText(e.foreign_features), " but the model options name schema '",
            m.foreign_schema() ? m.feature_schema : "perfgraph", "' (", m.node_width(), " node, ",
            m.config_width(), " config features)"));
      }
    }
  }
  if (options.model.hybrid_threads > 0) {
    for (const std::vector<KernelExample>* part : {&train, &validation, &test}) {
      for (const KernelExample& e : *part) {
        if (!HasHybridFeatures(e)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "TrainOnExamples: a hybrid model (hybrid_threads ", options.model.hybrid_threads,
              ") needs the hybrid features of every example (AddHybridFeatures); kernel '",
              e.kernel_name, "' of ", e.program, " has ", e.hybrid_feat.size(), " values for ",
              e.num_configs, " configs"));
        }
      }
    }
  }
  absl::StatusOr<TrainResult> result;
  RETURN_IF_ERROR(CatchTorch("gnn::TrainOnExamples", [&] {
    result = TrainLoop(train, validation, test, options);
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<TrainResult> Train(const TrainOptions& given_options) {
  RETURN_IF_ERROR(CheckTrainOptions(given_options));
  // Only rank 0 of a distributed run writes into the model directory.
  const std::string out_dir = given_options.distributed.rank == 0 ? given_options.out_dir : "";
  ASSIGN_OR_RETURN(SplitExamples split, LoadSplitExamples(given_options.datasets,
                                                          given_options.split_file,
                                                          given_options.tasks, out_dir));
  // The model's input widths come from the data: a foreign feature schema sets them.
  TrainOptions options = given_options;
  if (const auto& schema = split.summary.foreign_features; schema.has_value()) {
    if (options.model.hybrid_threads > 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Train: hybrid features need perfgraph kernels (the analytical model); the datasets hold ",
          schema->ToString(), " features: train without --hybrid-features"));
    }
    options.model.feature_schema = schema->name;
    options.model.num_node_features = schema->num_node_features;
    options.model.num_config_features = schema->num_config_features;
    RETURN_IF_ERROR(ValidateModelOptions(options.model));
  }
  if (options.model.hybrid_threads > 0) {
    for (std::vector<KernelExample>* part : {&split.train, &split.validation, &split.test}) {
      RETURN_IF_ERROR(AddHybridFeatures(*part, options.model.hybrid_threads));
    }
  }
  ASSIGN_OR_RETURN(TrainResult result,
                   TrainOnExamples(split.train, split.validation, split.test, options));
  if (!out_dir.empty()) {
    // What the model saw, for out-of-distribution flags in plan and predict.
    cost::TrainingDistribution distribution;
    for (const KernelExample& e : split.train) {
      if (e.kernel != nullptr) distribution.Add(*e.kernel);
    }
    if (options.model.hybrid_threads > 0) {
      // AddHybridFeatures computed them with the reference description.
      ASSIGN_OR_RETURN(cost::TargetDescription reference,
                       cost::LoadTargetDescription(cost::DefaultTargetDescriptionPath()));
      distribution.analytical_model_version = cost::kAnalyticalModelVersion;
      distribution.analytical_target = cost::TargetDescriptionFingerprint(reference);
    }
    RETURN_IF_ERROR(cost::WriteTrainingDistribution(options.out_dir, distribution));
  }
  result.test_examples = std::move(split.test);
  return result;
}

struct LearnedPredictor::Impl {
  std::shared_ptr<ModelImpl> model;
};

LearnedPredictor::~LearnedPredictor() = default;

absl::StatusOr<std::unique_ptr<LearnedPredictor>> LearnedPredictor::Load(
    const std::string& model_dir) {
  ASSIGN_OR_RETURN(ModelInfo info, ReadModelInfo(model_dir));
  ASSIGN_OR_RETURN(std::shared_ptr<ModelImpl> model,
                   LoadModelFile((std::filesystem::path(model_dir) / "model.pgm").string()));
  if (!(model->options() == info.model)) {
    return absl::DataLossError(absl::StrCat("model directory '", model_dir,
                                            "': model.json and model.pgm disagree on the options"));
  }
  std::unique_ptr<LearnedPredictor> predictor(new LearnedPredictor());
  predictor->impl_ = std::make_unique<Impl>();
  predictor->impl_->model = std::move(model);
  predictor->info_ = std::move(info);
  return predictor;
}

absl::StatusOr<std::vector<std::vector<double>>> LearnedPredictor::PredictNs(
    const std::vector<KernelExample>& examples, int batch_kernels) {
  std::vector<std::vector<double>> result;
  // A hybrid model reads the analytical block: computed here on a copy for examples without it.
  const int hybrid_threads = impl_->model->options().hybrid_threads;
  std::vector<KernelExample> with_hybrid;
  const std::vector<KernelExample>* input = &examples;
  if (hybrid_threads > 0) {
    if (!std::all_of(examples.begin(), examples.end(), HasHybridFeatures)) {
      with_hybrid = examples;
      RETURN_IF_ERROR(AddHybridFeatures(with_hybrid, hybrid_threads));
      input = &with_hybrid;
    }
  }
  RETURN_IF_ERROR(CatchTorch("LearnedPredictor::PredictNs", [&] {
    result = Predict(*impl_->model, *input, std::max(1, batch_kernels), nullptr, nullptr);
    return absl::OkStatus();
  }));
  return result;
}

}  // namespace perfgraph::gnn

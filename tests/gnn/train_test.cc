// gnn::Train: the optimiser on fixed synthetic labels (not measurements: these tests check the
// training machinery, not the data), reproducibility, --resume, the model directory, and the
// `perfgraph train` / `perfgraph eval` subcommands end to end on a synthetic record file.
#include "gnn/train.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "cost/tabular_features.h"
#include "cost/training_distribution.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/weights.h"
#include "nlohmann/json.hpp"
#include "tests/gnn/gnn_test_util.h"
#include "tests/status_matchers.h"
#include "tests/tools/cli_runner.h"
#include "tests/temp_dir.h"

namespace perfgraph::gnn {
namespace {

using ::perfgraph::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

std::string TempDir(const std::string& name) {
  auto dir = perfgraph::testing::ProcessTempDir() / "perfgraph_gnn_train_test" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir.parent_path());
  return dir.string();
}

TrainOptions SmallRun(Join join, int epochs) {
  TrainOptions o;
  o.model.join = join;
  o.model.hidden = 24;
  o.model.opcode_embedding = 8;
  o.model.head_hidden = 24;
  o.epochs = epochs;
  o.batch_kernels = 4;
  o.learning_rate = 3e-3;
  o.threads = 2;
  o.seed = 11;
  return o;
}

std::vector<double> LossCurve(const TrainResult& r) {
  std::vector<double> curve;
  for (const EpochReport& e : r.history) curve.push_back(e.train_loss);
  return curve;
}

TEST(TrainTest, OverfitsFiveKernelsWithFixedSyntheticLabels) {
  // Five kernels, up to 6 configs each, labels a fixed function of the config features: the
  // optimiser must drive the loss close to zero and reproduce the labels. The loss here is the
  // squared error alone: the logistic ranking term cannot reach zero by design (a pair 1 % apart
  // keeps a loss of ~0.06).
  std::vector<KernelExample> train = test::SyntheticExamples(5, 6);
  TrainOptions o = SmallRun(Join::kLate, 150);
  o.batch_kernels = 5;
  o.learning_rate = 5e-3;
  o.rank_weight = 0;
  o.tile_mse_weight = 1;
  o.out_dir = TempDir("overfit");
  auto result = TrainOnExamples(train, {}, {}, o);
  ASSERT_OK(result);
  ASSERT_EQ(result->history.size(), 150u);
  const double first = result->history.front().train_loss;
  const double last = result->history.back().train_loss;
  // Loss in units of the label variance: 5e-3 = an RMS error of 7 % of the label std.
  EXPECT_LT(last, 5e-3) << "first epoch loss " << first;
  EXPECT_LT(last, first / 50);
  // The saved model reproduces the training labels: mean relative error below 5 %, and its top-1
  // config of every kernel is within 2 % of the best (near-equal synthetic labels may swap).
  auto predictor = LearnedPredictor::Load(o.out_dir);
  ASSERT_OK(predictor);
  auto predicted = (*predictor)->PredictNs(train);
  ASSERT_OK(predicted);
  double sum = 0;
  int count = 0;
  for (size_t e = 0; e < train.size(); ++e) {
    for (int c = 0; c < train[e].num_configs; ++c, ++count) {
      sum += std::abs((*predicted)[e][c] - train[e].runtime_ns[c]) / train[e].runtime_ns[c];
    }
  }
  EXPECT_LT(sum / count, 0.05);
  auto metrics = ComputeTaskMetrics(train, *predicted);
  ASSERT_OK(metrics);
  EXPECT_LT(metrics->tile_top1_slowdown.value(), 0.02);
}

TEST(TrainTest, SameSeedGivesTheSameLossCurveAndBothJoinsLearn) {
  std::vector<KernelExample> train = test::SyntheticExamples(8, 5, 2);
  for (Join join : {Join::kLate, Join::kEarly}) {
    SCOPED_TRACE(std::string(JoinName(join)));
    const TrainOptions o = SmallRun(join, 12);
    auto a = TrainOnExamples(train, {}, {}, o);
    auto b = TrainOnExamples(train, {}, {}, o);
    ASSERT_OK(a);
    ASSERT_OK(b);
    EXPECT_EQ(LossCurve(*a), LossCurve(*b));  // bit-identical on one machine, fixed threads
    EXPECT_LT(a->history.back().train_loss, a->history.front().train_loss * 0.7);
    TrainOptions other = o;
    other.seed = 12;
    auto c = TrainOnExamples(train, {}, {}, other);
    ASSERT_OK(c);
    EXPECT_NE(LossCurve(*a), LossCurve(*c));
  }
}

TEST(TrainTest, ResumeContinuesExactlyWhereTheRunStopped) {
  std::vector<KernelExample> train = test::SyntheticExamples(6, 4, 2);
  std::vector<KernelExample> validation = test::SyntheticExamples(3, 4, 1);
  for (auto& e : validation) e.program = "v";
  TrainOptions o = SmallRun(Join::kLate, 6);
  o.out_dir = TempDir("full");
  auto full = TrainOnExamples(train, validation, {}, o);
  ASSERT_OK(full);

  o.out_dir = TempDir("sliced");
  o.max_epochs_this_run = 2;
  auto part = TrainOnExamples(train, validation, {}, o);
  ASSERT_OK(part);
  EXPECT_EQ(part->history.size(), 2u);
  // A state written before ModelOptions had a reduction names none; it is an lstm run and resumes.
  {
    const std::string state_path = o.out_dir + "/train_state.json";
    nlohmann::ordered_json state = nlohmann::ordered_json::parse(test::ReadText(state_path));
    ASSERT_EQ(state["options"]["model"]["reduction"], "lstm");
    state["options"]["model"].erase("reduction");
    std::ofstream(state_path, std::ios::trunc) << state.dump(1);
  }
  o.resume = true;
  o.max_epochs_this_run = 0;
  auto rest = TrainOnExamples(train, validation, {}, o);
  ASSERT_OK(rest);
  EXPECT_EQ(LossCurve(*rest), LossCurve(*full));
  EXPECT_EQ(rest->best_epoch, full->best_epoch);

  // Resuming with other options is refused instead of silently mixing two runs.
  TrainOptions changed = o;
  changed.learning_rate = 1e-2;
  EXPECT_THAT(TrainOnExamples(train, validation, {}, changed),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("other options")));
  TrainOptions nothing = o;
  nothing.out_dir = TempDir("never_trained");
  EXPECT_THAT(TrainOnExamples(train, validation, {}, nothing),
              StatusIs(absl::StatusCode::kNotFound));
}

// --select-by: the saved model is the epoch with the best selection metric, the validation loss
// or the validation tile tau, and each epoch's report holds its score (lower is better).
TEST(TrainTest, SelectionKeepsTheEpochWithTheBestValidationLossOrTileTau) {
  std::vector<KernelExample> train = test::SyntheticExamples(6, 4, 2);
  std::vector<KernelExample> validation = test::SyntheticExamples(4, 5, 1);
  for (auto& e : validation) e.program = "v";
  for (SelectBy select : {SelectBy::kLoss, SelectBy::kTileTau}) {
    SCOPED_TRACE(std::string(SelectByName(select)));
    TrainOptions o = SmallRun(Join::kLate, 8);
    o.patience = 100;
    o.select_by = select;
    o.out_dir = TempDir(absl::StrCat("select_", SelectByName(select)));
    auto result = TrainOnExamples(train, validation, {}, o);
    ASSERT_OK(result);
    ASSERT_EQ(result->history.size(), 8u);
    int best = 0;
    double best_score = std::numeric_limits<double>::infinity();
    for (const EpochReport& e : result->history) {
      ASSERT_TRUE(e.selection_score.has_value());
      ASSERT_TRUE(e.validation_loss.has_value());
      ASSERT_TRUE(e.validation.tile_kendall_tau.has_value());
      const double expected =
          select == SelectBy::kLoss ? *e.validation_loss : -*e.validation.tile_kendall_tau;
      EXPECT_EQ(*e.selection_score, expected);
      if (expected < best_score) {
        best_score = expected;
        best = e.epoch;
      }
      EXPECT_EQ(e.improved, e.epoch == best);
    }
    EXPECT_EQ(result->best_epoch, best);
    const nlohmann::json model =
        nlohmann::json::parse(test::ReadText(o.out_dir + "/model.json"), nullptr, false);
    EXPECT_EQ(model["training"]["select_by"], std::string(SelectByName(select)));
  }
  EXPECT_THAT(ParseSelectBy("median"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'median'")));
}

TEST(TrainTest, LossWeightsMustBeNonNegativeAndGiveEverySelectedTaskALoss) {
  std::vector<KernelExample> train = test::SyntheticExamples(2, 3);
  TrainOptions o = SmallRun(Join::kLate, 1);
  o.rank_weight = -1;
  EXPECT_THAT(TrainOnExamples(train, {}, {}, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rank_weight = -1")));
  o = SmallRun(Join::kLate, 1);
  o.tile_mse_weight = std::nan("");
  EXPECT_THAT(TrainOnExamples(train, {}, {}, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tile_mse_weight = nan")));
  o = SmallRun(Join::kLate, 1);
  o.fusion_mse_weight = -0.5;
  EXPECT_THAT(TrainOnExamples(train, {}, {}, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fusion_mse_weight = -0.5")));
  o = SmallRun(Join::kLate, 1);
  o.rank_weight = 0;
  o.tile_mse_weight = 0;
  EXPECT_THAT(TrainOnExamples(train, {}, {}, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("both 0")));
  o = SmallRun(Join::kLate, 1);
  o.fusion_mse_weight = 0;
  EXPECT_THAT(TrainOnExamples(train, {}, {}, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fusion_mse_weight is 0")));
  o.tasks = TaskSelection::kTile;  // no fusion kernels trained: a zero fusion weight is fine
  EXPECT_OK(TrainOnExamples(train, {}, {}, o));
}

TEST(TrainTest, MseOnlyTrainingOfTheMeanReductionLossIsTheStandardisedSquaredError) {
  // The two ablations together: no LSTM (Reduction::kMean) and no ranking term (rank_weight 0).
  std::vector<KernelExample> train = test::SyntheticExamples(4, 4, 2);
  std::vector<KernelExample> validation = test::SyntheticExamples(2, 4, 1);
  for (auto& e : validation) e.program = "v";
  TrainOptions o = SmallRun(Join::kLate, 3);
  o.model.reduction = Reduction::kMean;
  o.rank_weight = 0;
  o.tile_mse_weight = 1;
  o.out_dir = TempDir("mse_only_mean");
  auto result = TrainOnExamples(train, validation, {}, o);
  ASSERT_OK(result);
  ASSERT_EQ(result->history.size(), 3u);
  for (const EpochReport& r : result->history) {
    EXPECT_TRUE(std::isfinite(r.train_loss)) << "epoch " << r.epoch;
    ASSERT_TRUE(r.validation_loss.has_value());
    EXPECT_TRUE(std::isfinite(*r.validation_loss)) << "epoch " << r.epoch;
  }
  EXPECT_LT(result->history.back().train_loss, result->history.front().train_loss);

  auto predictor = LearnedPredictor::Load(o.out_dir);
  ASSERT_OK(predictor);
  EXPECT_EQ((*predictor)->info().model.reduction, Reduction::kMean);
  EXPECT_EQ((*predictor)->info().model, o.model);
  // With rank_weight 0 the validation loss of the saved (best) model is exactly the mean squared
  // error of its log-runtime predictions, in units of the training labels' standard deviation.
  double sum = 0, sum_sq = 0;
  int count = 0;
  for (const KernelExample& e : train) {
    for (double ns : e.runtime_ns) {
      sum += std::log(ns);
      sum_sq += std::log(ns) * std::log(ns);
      ++count;
    }
  }
  const double mean = sum / count;
  const double label_std = static_cast<float>(std::sqrt(sum_sq / count - mean * mean));
  auto predicted = (*predictor)->PredictNs(validation);
  ASSERT_OK(predicted);
  double squared = 0;
  int rows = 0;
  for (size_t e = 0; e < validation.size(); ++e) {
    for (int c = 0; c < validation[e].num_configs; ++c, ++rows) {
      const double err =
          (std::log((*predicted)[e][c]) - std::log(validation[e].runtime_ns[c])) / label_std;
      squared += err * err;
    }
  }
  const double best_validation_loss = *result->history[result->best_epoch - 1].validation_loss;
  EXPECT_NEAR(squared / rows, best_validation_loss, 1e-4 * best_validation_loss + 1e-6);
}

TEST(TrainTest, ModelDirectoryLoadsForPredictionAndRefusesOtherSchemas) {
  std::vector<KernelExample> train = test::SyntheticExamples(6, 4, 2);
  std::vector<KernelExample> test_set = test::SyntheticExamples(3, 4, 1);
  for (auto& e : test_set) e.program = "t";
  TrainOptions o = SmallRun(Join::kEarly, 3);
  o.out_dir = TempDir("model_dir");
  auto result = TrainOnExamples(train, {}, test_set, o);
  ASSERT_OK(result);
  for (const char* file : {"model.pgm", "model.json", "metrics.json", "last.pgm",
                           "train_state.pt", "train_state.json"}) {
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(o.out_dir) / file)) << file;
  }
  auto predictor = LearnedPredictor::Load(o.out_dir);
  ASSERT_OK(predictor);
  EXPECT_EQ((*predictor)->info().model, o.model);
  EXPECT_EQ((*predictor)->info().test_programs, std::vector<std::string>{"t"});
  auto predictions = (*predictor)->PredictNs(test_set, /*batch_kernels=*/2);
  ASSERT_OK(predictions);
  ASSERT_EQ(predictions->size(), test_set.size());
  for (size_t e = 0; e < test_set.size(); ++e) {
    ASSERT_EQ((*predictions)[e].size(), static_cast<size_t>(test_set[e].num_configs));
    for (double ns : (*predictions)[e]) EXPECT_TRUE(std::isfinite(ns) && ns > 0);
  }
  // metrics.json holds the test figures of exactly this model.
  auto metrics = ComputeTaskMetrics(test_set, *predictions);
  ASSERT_OK(metrics);
  nlohmann::json written = nlohmann::json::parse(test::ReadText(o.out_dir + "/metrics.json"));
  EXPECT_NEAR(written["test"]["tile"]["kendall_tau"].get<double>(), metrics->tile_kendall_tau.value(),
              1e-6);

  // model.json records the config feature schema; a model.json written before the key existed is
  // config schema 1 and loads; another config schema is refused, naming the file and both versions.
  const nlohmann::json original = nlohmann::json::parse(test::ReadText(o.out_dir + "/model.json"));
  EXPECT_EQ(original["config_feature_schema_version"], tiling::kConfigFeatureSchemaVersion);
  EXPECT_EQ((*predictor)->info().config_feature_schema_version, tiling::kConfigFeatureSchemaVersion);
  nlohmann::json model_json = original;
  model_json.erase("config_feature_schema_version");
  std::ofstream(o.out_dir + "/model.json") << model_json.dump();
  auto info = ReadModelInfo(o.out_dir);
  ASSERT_OK(info);
  EXPECT_EQ(info->config_feature_schema_version, 1);
  EXPECT_OK(LearnedPredictor::Load(o.out_dir));
  model_json["config_feature_schema_version"] = tiling::kConfigFeatureSchemaVersion + 1;
  std::ofstream(o.out_dir + "/model.json") << model_json.dump();
  EXPECT_THAT(LearnedPredictor::Load(o.out_dir),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(
                           HasSubstr(o.out_dir + "/model.json"),
                           HasSubstr("config_feature_schema_version " +
                                     std::to_string(tiling::kConfigFeatureSchemaVersion + 1) +
                                     " but this build uses " +
                                     std::to_string(tiling::kConfigFeatureSchemaVersion)))));

  // A model.json of another feature schema version is refused.
  model_json = original;
  model_json["feature_schema_version"] = 999;
  std::ofstream(o.out_dir + "/model.json") << model_json.dump();
  EXPECT_THAT(LearnedPredictor::Load(o.out_dir),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("feature_schema_version 999")));
  EXPECT_THAT(LearnedPredictor::Load(TempDir("no_model")), StatusIs(absl::StatusCode::kNotFound));
}

TEST(TrainTest, ComputeTaskMetricsScoresOnlyOkConfigsWithPredictions) {
  std::vector<KernelExample> examples = test::SyntheticExamples(2, 3);
  examples[0].timed_out[2] = 1;
  examples[0].runtime_ns[2] = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> predicted;
  for (const auto& e : examples) predicted.push_back(e.runtime_ns);  // perfect on OK configs
  predicted[0][2] = 1.0;  // a TIMEOUT config predicted fastest: not scored
  predicted[1][1] = std::nan("");  // excluded
  auto m = ComputeTaskMetrics(examples, predicted);
  ASSERT_OK(m);
  EXPECT_EQ(m->tile_kernels, 2);
  EXPECT_EQ(m->tile_configs, 2 + 2);
  EXPECT_DOUBLE_EQ(m->tile_top1_slowdown.value(), 0.0);
  EXPECT_DOUBLE_EQ(m->tile_kendall_tau.value(), 1.0);
  EXPECT_FALSE(m->fusion_mape.has_value());

  // Fusion MAPE over all kernels and over those measured at >= 5 us (Kaufman et al.'s convention):
  // a 1 us kernel predicted 3x too slow counts only in the first.
  const std::vector<graph::Kernel> kernels = test::SmallKernels();
  std::vector<KernelExample> fusion = {
      test::MakeExample(kernels[0], "p", 1, Task::kFusion),
      test::MakeExample(kernels[1], "p", 1, Task::kFusion)};
  fusion[0].runtime_ns = {1000.0};
  fusion[1].runtime_ns = {10000.0};
  auto f = ComputeTaskMetrics(fusion, {{3000.0}, {11000.0}});
  ASSERT_OK(f);
  EXPECT_EQ(f->fusion_kernels, 2);
  EXPECT_EQ(f->fusion_kernels_5us, 1);
  EXPECT_NEAR(f->fusion_mape.value(), (2.0 + 0.1) / 2, 1e-12);
  EXPECT_NEAR(f->fusion_mape_5us.value(), 0.1, 1e-12);
  predicted.pop_back();
  EXPECT_THAT(ComputeTaskMetrics(examples, predicted), StatusIs(absl::StatusCode::kInvalidArgument));
}

// ------------------------------------------------------------ command line

// The JSON document of `perfgraph ... --json` output: the runner merges stderr, where eval prints
// notes (a synthetic file records no machine) before the document. Discarded when there is none.
nlohmann::json JsonAfterNotes(const std::string& out) {
  const size_t start = out.find("{\n");
  if (start == std::string::npos) return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(out.substr(start), nullptr, false);
}

// Creates `dir` with `examples` as DIR/synthetic.pgd and `split` as DIR/split.txt.
void WriteDatasetAndSplit(const std::string& dir, const std::vector<KernelExample>& examples,
                          const std::string& split) {
  std::filesystem::create_directories(dir);
  ASSERT_OK(test::WriteDataset(dir + "/synthetic.pgd", examples));
  std::ofstream(dir + "/split.txt") << split;
}

TEST(TrainCliTest, TrainThenEvalPrintsTheContractKeys) {
  // Tile and fusion kernels of four programs, synthetic labels.
  std::vector<KernelExample> examples;
  const std::vector<graph::Kernel> kernels = test::SmallKernels();
  for (size_t i = 0; i < kernels.size(); ++i) {
    examples.push_back(test::MakeExample(kernels[i], "prog" + std::to_string(i % 4), 5, Task::kTile,
                                         /*with_timeout=*/i % 2 == 0));
    examples.push_back(test::MakeExample(kernels[i], "prog" + std::to_string(i % 4), 1,
                                         Task::kFusion));
  }
  const std::string dir = TempDir("cli");
  const std::string dataset = dir + "/synthetic.pgd";
  ASSERT_NO_FATAL_FAILURE(WriteDatasetAndSplit(
      dir, examples, "train prog0\ntrain prog1\nvalidation prog2\ntest prog3\n"));
  using tools::test::RunPerfgraph;
  const std::string model = dir + "/model";
  auto train = RunPerfgraph("train --dataset " + dataset + " --out " + model + " --split " + dir +
                            "/split.txt --epochs 3 --hidden 16 --seed 3 --threads 2");
  ASSERT_EQ(train.exit_code, 0) << train.out;
  EXPECT_THAT(train.out, HasSubstr("epoch 3/3"));
  EXPECT_THAT(train.out, HasSubstr("model written to"));
  // What the model was trained on, for out-of-distribution flags in plan and predict.
  EXPECT_TRUE(std::filesystem::exists(model + "/distribution.json"));
  {
    // A hybrid model (the default for perfgraph datasets) records the analytical model's version.
    std::ifstream model_json(model + "/model.json");
    nlohmann::json info = nlohmann::json::parse(model_json, nullptr, false);
    ASSERT_FALSE(info.is_discarded());
    absl::StatusOr<std::optional<cost::TrainingDistribution>> d = cost::ReadTrainingDistribution(model);
    ASSERT_TRUE(d.ok() && d->has_value());
    EXPECT_EQ((*d)->analytical_model_version,
              info["model"]["hybrid_threads"].get<int>() > 0 ? cost::kAnalyticalModelVersion : 0)
        << info.dump();
  }
  // The exact command and the side-by-side test figures are written next to the model.
  {
    std::ifstream command(model + "/command.txt");
    std::string line;
    std::getline(command, line);
    EXPECT_THAT(line, HasSubstr("perfgraph train --dataset " + dataset));
    EXPECT_THAT(line, HasSubstr("--epochs 3"));
    std::ifstream metrics_file(model + "/metrics.json");
    nlohmann::json metrics = nlohmann::json::parse(metrics_file, nullptr, false);
    ASSERT_FALSE(metrics.is_discarded());
    const nlohmann::json& side = metrics["test_side_by_side"];
    EXPECT_TRUE(side["tile"]["learned"]["kendall_tau"].is_number()) << side.dump();
    EXPECT_TRUE(side["tile"]["analytical"]["kendall_tau"].is_number()) << side.dump();
    EXPECT_TRUE(side["fusion"]["analytical"]["mape"].is_number()) << side.dump();
    EXPECT_GT(side["tile_kernels"].get<int>(), 0);
  }

  auto eval = RunPerfgraph("eval --dataset " + dataset + " --model " + model + " --split " + dir +
                           "/split.txt --json");
  ASSERT_EQ(eval.exit_code, 0) << eval.out;
  EXPECT_THAT(eval.out, Not(HasSubstr("degraded until it is retrained")));
  nlohmann::json j = JsonAfterNotes(eval.out);
  ASSERT_FALSE(j.is_discarded()) << eval.out;
  for (const char* model_name : {"learned", "analytical"}) {
    for (const char* key : {"top1_slowdown", "top5_slowdown", "kendall_tau"}) {
      EXPECT_TRUE(j["tile"][model_name].contains(key)) << model_name << " " << key;
    }
    for (const char* key : {"mape", "kendall_tau"}) {
      EXPECT_TRUE(j["fusion"][model_name].contains(key)) << model_name << " " << key;
    }
  }
  EXPECT_TRUE(j["tile"]["learned"]["top1_slowdown"].is_number());
  EXPECT_TRUE(j["fusion"]["learned"]["mape"].is_number());
  EXPECT_TRUE(j["fusion"]["analytical"]["mape"].is_number());
  EXPECT_GT(j["kernels"].get<int>(), 0);
  EXPECT_GT(j["configs"].get<int>(), j["kernels"].get<int>());
  EXPECT_EQ(j["programs"], nlohmann::json::array({"prog3"}));
  EXPECT_EQ(j["learned_model"], model);

  // --per-kernel: one entry per held-out kernel with both models' figures.
  auto per_kernel = RunPerfgraph("eval --dataset " + dataset + " --model " + model + " --split " +
                                 dir + "/split.txt --json --per-kernel");
  ASSERT_EQ(per_kernel.exit_code, 0) << per_kernel.out;
  nlohmann::json pk = JsonAfterNotes(per_kernel.out);
  ASSERT_FALSE(pk.is_discarded()) << per_kernel.out;
  ASSERT_TRUE(pk["per_kernel"].is_array());
  EXPECT_EQ(pk["per_kernel"].size(), static_cast<size_t>(j["tile_kernels"].get<int>() +
                                                         j["fusion_kernels"].get<int>()));
  std::string tile_kernel;
  for (const auto& k : pk["per_kernel"]) {
    EXPECT_EQ(k["program"], "prog3");
    EXPECT_TRUE(k["analytical"].contains("kendall_tau") || k["analytical"].contains("mape"));
    if (k["task"] == "tile" && tile_kernel.empty()) tile_kernel = k["kernel"];
  }
  ASSERT_FALSE(tile_kernel.empty()) << per_kernel.out;
  // --explain PROGRAM/KERNEL: every config of that kernel with the analytical breakdown.
  auto explain = RunPerfgraph("eval --dataset " + dataset + " --model " + model + " --split " + dir +
                              "/split.txt --explain prog3/" + tile_kernel);
  ASSERT_EQ(explain.exit_code, 0) << explain.out;
  EXPECT_THAT(explain.out, HasSubstr("measured_ns"));
  EXPECT_THAT(explain.out, HasSubstr("total "));
  EXPECT_THAT(explain.out, HasSubstr("vector efficiency"));
  auto unknown = RunPerfgraph("eval --dataset " + dataset + " --model " + model + " --split " + dir +
                              "/split.txt --explain prog3/no_such_kernel");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.out, HasSubstr("prog3/no_such_kernel"));

  // Usage errors exit with 2 and name the problem.
  auto bad_task = RunPerfgraph("train --dataset " + dataset + " --out " + model + " --task tiles");
  EXPECT_EQ(bad_task.exit_code, 2);
  EXPECT_THAT(bad_task.out, HasSubstr("--task must be tile, fusion or both"));
  auto no_model = RunPerfgraph("eval --dataset " + dataset + " --model " + dir + "/nothing");
  EXPECT_EQ(no_model.exit_code, 2);
  EXPECT_THAT(no_model.out, HasSubstr("model.json"));

  // A data directory without models/default: the analytical column alone, every learned figure
  // null (the fusion MAPE over kernels >= 5 us once carried the analytical model's value).
  const std::string data_dir = dir + "/data_without_models";
  std::filesystem::create_directories(data_dir + "/cost/targets");
  std::filesystem::copy_file(std::string(PERFGRAPH_SOURCE_DIR) + "/cost/targets/reference_cpu.textproto",
                             data_dir + "/cost/targets/reference_cpu.textproto");
  auto analytical_only = RunPerfgraph("eval --dataset " + dataset + " --split " + dir +
                                      "/split.txt --json --data-dir " + data_dir);
  ASSERT_EQ(analytical_only.exit_code, 0) << analytical_only.out;
  EXPECT_THAT(analytical_only.out, HasSubstr("reporting the analytical model alone"));
  nlohmann::json alone = JsonAfterNotes(analytical_only.out);
  ASSERT_FALSE(alone.is_discarded()) << analytical_only.out;
  for (const char* key : {"mape", "mape_5us", "kendall_tau"}) {
    EXPECT_TRUE(alone["fusion"]["learned"][key].is_null()) << key << " " << alone["fusion"].dump();
  }
  EXPECT_TRUE(alone["fusion"]["analytical"]["mape"].is_number()) << alone["fusion"].dump();
  EXPECT_TRUE(alone["tile"]["learned"]["kendall_tau"].is_null()) << alone["tile"].dump();
}

TEST(TrainCliTest, AblationFlagsReachTheModelFilesAndBadValuesAreUsageErrors) {
  std::vector<KernelExample> examples = test::SyntheticExamples(4, 4, 2);
  const std::string dir = TempDir("cli_ablation");
  const std::string dataset = dir + "/synthetic.pgd";
  ASSERT_NO_FATAL_FAILURE(WriteDatasetAndSplit(dir, examples, "train p0\ntrain p1\n"));
  using tools::test::RunPerfgraph;
  const std::string model = dir + "/model";
  const std::string common = "train --dataset " + dataset + " --out " + model + " --split " + dir +
                             "/split.txt --task tile --epochs 1 --hidden 8 --threads 2";

  auto bad_reduction = RunPerfgraph(common + " --reduction median");
  EXPECT_EQ(bad_reduction.exit_code, 2) << bad_reduction.out;
  EXPECT_THAT(bad_reduction.out, HasSubstr("--reduction must be lstm or mean, got 'median'"));
  auto negative = RunPerfgraph(common + " --rank-weight -1");
  EXPECT_EQ(negative.exit_code, 2) << negative.out;
  EXPECT_THAT(negative.out, HasSubstr("--rank-weight must be a finite number >= 0, got -1"));
  auto bad_select = RunPerfgraph(common + " --select-by median");
  EXPECT_EQ(bad_select.exit_code, 2) << bad_select.out;
  EXPECT_THAT(bad_select.out, HasSubstr("--select-by: unknown selection metric 'median'"));
  auto all_zero = RunPerfgraph(common + " --rank-weight 0 --tile-mse-weight 0");
  EXPECT_EQ(all_zero.exit_code, 2) << all_zero.out;
  EXPECT_THAT(all_zero.out, HasSubstr("both 0"));
  EXPECT_FALSE(std::filesystem::exists(model + "/model.pgm"));

  // The MSE-only, no-LSTM ablation end to end: the options land in model.json and the exported
  // weights file serves the mean reduction.
  auto ok = RunPerfgraph(common + " --reduction mean --rank-weight 0 --tile-mse-weight 1");
  ASSERT_EQ(ok.exit_code, 0) << ok.out;
  nlohmann::json j = nlohmann::json::parse(test::ReadText(model + "/model.json"), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["model"]["reduction"], "mean");
  EXPECT_EQ(j["training"]["rank_weight"].get<double>(), 0.0);
  EXPECT_EQ(j["training"]["tile_mse_weight"].get<double>(), 1.0);
  auto weights = kernels::ReadWeightsFile(model + "/weights.pgw");
  ASSERT_OK(weights);
  EXPECT_EQ(weights->architecture.reduction, kernels::WeightsReduction::kMean);
  EXPECT_EQ(weights->Find("lstm.weight_ih_l0"), nullptr);
  // Hybrid features are on by default, at the threads the dataset was measured with.
  ASSERT_TRUE(j["model"]["hybrid_threads"].is_number_integer());
  EXPECT_GE(j["model"]["hybrid_threads"].get<int>(), 1);
  EXPECT_EQ(weights->architecture.hybrid_threads, j["model"]["hybrid_threads"].get<int>());

  auto plain = RunPerfgraph(common + " --nohybrid-features");
  ASSERT_EQ(plain.exit_code, 0) << plain.out;
  j = nlohmann::json::parse(test::ReadText(model + "/model.json"), nullptr, false);
  EXPECT_EQ(j["model"]["hybrid_threads"], 0);
  weights = kernels::ReadWeightsFile(model + "/weights.pgw");
  ASSERT_OK(weights);
  EXPECT_EQ(weights->architecture.hybrid_threads, 0);
}

TEST(TrainTest, ListMleAloneLearnsEachKernelsOrder) {
  // Ranking loss only (no squared error): the predicted order of the training configs must come
  // to agree with the synthetic labels' order, and the loss must fall.
  std::vector<KernelExample> train = test::SyntheticExamples(8, 6, 2);
  TrainOptions o = SmallRun(Join::kLate, 60);
  o.rank_loss = RankLoss::kListMle;
  o.tile_mse_weight = 0;
  o.out_dir = TempDir("listmle");
  auto result = TrainOnExamples(train, {}, {}, o);
  ASSERT_OK(result);
  EXPECT_LT(result->history.back().train_loss, result->history.front().train_loss * 0.5);
  auto predictor = LearnedPredictor::Load(o.out_dir);
  ASSERT_OK(predictor);
  auto predicted = (*predictor)->PredictNs(train);
  ASSERT_OK(predicted);
  auto metrics = ComputeTaskMetrics(train, *predicted);
  ASSERT_OK(metrics);
  EXPECT_GT(metrics->tile_kendall_tau.value(), 0.8);
  // The loss choice is part of the run: --resume refuses another one.
  TrainOptions pairwise = o;
  pairwise.rank_loss = RankLoss::kPairwise;
  pairwise.resume = true;
  EXPECT_THAT(TrainOnExamples(train, {}, {}, pairwise).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(RankLossName(RankLoss::kListMle), "listmle");
  EXPECT_THAT(ParseRankLoss("softmax"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pairwise or listmle")));
}

TEST(TrainTest, HybridModelsNeedAndUseTheAnalyticalBlock) {
  std::vector<KernelExample> train = test::SyntheticExamples(6, 4, 2);
  TrainOptions o = SmallRun(Join::kLate, 3);
  o.model.hybrid_threads = 1;
  // Without the block: a clear error naming the kernel, not a model trained on garbage.
  EXPECT_THAT(TrainOnExamples(train, {}, {}, o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("AddHybridFeatures")));
  ASSERT_OK(AddHybridFeatures(train, 1));
  for (const KernelExample& e : train) {
    ASSERT_EQ(e.hybrid_feat.size(),
              static_cast<size_t>(e.num_configs) * cost::kNumHybridConfigFeatures);
    for (float v : e.hybrid_feat) ASSERT_TRUE(std::isfinite(v));
  }
  // The roofline estimated every pair (flag 0), and its kernel-centred estimate differs between
  // the configs of some kernel.
  constexpr int W = cost::kNumHybridConfigFeatures;
  const int centred = cost::kNumAnalyticalTabularFeatures - 1;
  bool varies = false;
  for (const KernelExample& e : train) {
    for (int c = 0; c < e.num_configs; ++c) {
      EXPECT_EQ(e.hybrid_feat[c * W + W - 1], 0.0f) << e.kernel_name << " " << e.config_text[c];
      varies = varies || e.hybrid_feat[c * W + centred] != e.hybrid_feat[centred];
    }
  }
  EXPECT_TRUE(varies);
  EXPECT_THAT(AddHybridFeatures(train, 0), StatusIs(absl::StatusCode::kInvalidArgument));

  o.out_dir = TempDir("hybrid");
  ASSERT_OK(TrainOnExamples(train, {}, {}, o));
  auto predictor = LearnedPredictor::Load(o.out_dir);
  ASSERT_OK(predictor);
  EXPECT_EQ((*predictor)->info().model.hybrid_threads, 1);
  // Examples without the block get it computed: the same predictions.
  std::vector<KernelExample> bare = train;
  for (KernelExample& e : bare) e.hybrid_feat.clear();
  auto with = (*predictor)->PredictNs(train);
  auto without = (*predictor)->PredictNs(bare);
  ASSERT_OK(with);
  ASSERT_OK(without);
  EXPECT_EQ(*with, *without);
}

}  // namespace
}  // namespace perfgraph::gnn

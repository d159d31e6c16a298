// gnn::TrainXgboost and cost::XgboostModel: the boosting machinery on fixed synthetic labels (not
// measurements: a deterministic function of the config features, tests/gnn/gnn_test_util.h), the
// model directory round trip and its refusals, and `perfgraph train --model-kind xgboost`, `eval`'s
// xgboost column and `plan --cost-model xgboost` end to end.
#include "gnn/xgboost_train.h"
#include "gnn/train.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "cost/tabular_features.h"
#include "cost/xgboost_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/gnn/gnn_test_util.h"
#include "tests/status_matchers.h"
#include "tiling/tile_config.h"
#include "tests/tools/cli_runner.h"
#include "tests/temp_dir.h"

namespace perfgraph::gnn {
namespace {

using ::perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

std::string TempDir(const std::string& name) {
  auto dir = perfgraph::testing::ProcessTempDir() / "perfgraph_xgboost_train_test" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir.parent_path());
  return dir.string();
}

XgboostTrainOptions SmallRun() {
  XgboostTrainOptions o;
  o.max_rounds = 60;
  o.eval_every = 5;
  o.early_stopping_rounds = 30;
  o.threads = 1;
  o.seed = 7;
  return o;
}

// Tile examples of the small kernels with up to 12 configs in `programs` programs, plus one fusion
// example per kernel and program.
std::vector<KernelExample> Examples(const std::string& prefix, int programs, bool with_timeout) {
  std::vector<KernelExample> examples;
  const std::vector<graph::Kernel> kernels = test::SmallKernels();
  for (int p = 0; p < programs; ++p) {
    for (size_t k = 0; k < kernels.size(); ++k) {
      const std::string program = prefix + std::to_string(p);
      examples.push_back(test::MakeExample(kernels[k], program, 12, Task::kTile, with_timeout));
      examples.push_back(test::MakeExample(kernels[k], program, 1, Task::kFusion));
    }
  }
  return examples;
}

TEST(XgboostTrainTest, BothObjectivesLearnTheSyntheticRankingAndTheLevel) {
  const std::vector<KernelExample> train = Examples("train", 3, /*with_timeout=*/true);
  const std::vector<KernelExample> validation = Examples("validation", 1, false);
  const std::vector<KernelExample> test = Examples("test", 1, false);
  for (const char* objective : {cost::kXgbRankPairwise, cost::kXgbSquaredError}) {
    SCOPED_TRACE(objective);
    XgboostTrainOptions o = SmallRun();
    o.tile_objective = objective;
    std::vector<XgboostRoundReport> reports;
    o.on_round = [&](const XgboostRoundReport& r) { reports.push_back(r); };
    absl::StatusOr<XgboostTrainResult> result = TrainXgboostOnExamples(train, validation, test, o);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->info.tile_objective, objective);
    EXPECT_TRUE(result->info.has_level);
    EXPECT_GT(result->info.tile_rounds, 0);
    EXPECT_LE(result->info.tile_rounds, 60);
    EXPECT_GT(result->info.level_rounds, 0);
    EXPECT_EQ(result->info.train_programs.size(), 3u);
    EXPECT_EQ(result->info.test_programs, std::vector<std::string>{"test0"});
    ASSERT_FALSE(reports.empty());
    EXPECT_EQ(reports.front().round, 5);
    // The synthetic label is a smooth function of the config features: the held-out ranking and
    // the absolute level are learned.
    ASSERT_TRUE(result->test.tile_kendall_tau.has_value());
    EXPECT_GT(*result->test.tile_kendall_tau, 0.6);
    ASSERT_TRUE(result->test.fusion_mape.has_value());
    EXPECT_LT(*result->test.fusion_mape, 0.5);
    // rank:pairwise scores grow with speed, so the fitted scale is negative; regression keeps 1.
    if (std::string(objective) == cost::kXgbRankPairwise) {
      EXPECT_LT(result->info.tile_score_scale, 0);
    } else {
      EXPECT_EQ(result->info.tile_score_scale, 1.0);
    }
  }
}

TEST(XgboostTrainTest, ModelDirectoryRoundTripsAndRefusesOtherSchemasAndCorruptFiles) {
  const std::string dir = TempDir("round_trip");
  XgboostTrainOptions o = SmallRun();
  o.out_dir = dir;
  const std::vector<KernelExample> train = Examples("train", 2, false);
  absl::StatusOr<XgboostTrainResult> result = TrainXgboostOnExamples(train, {}, {}, o);
  ASSERT_TRUE(result.ok()) << result.status();
  // Without validation programs every round is kept.
  EXPECT_EQ(result->info.tile_rounds, 60);
  for (const char* file :
       {cost::kXgboostInfoFile, cost::kXgboostTileBoosterFile, cost::kXgboostLevelBoosterFile}) {
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(dir) / file)) << file;
  }
  absl::StatusOr<std::unique_ptr<cost::XgboostModel>> loaded = cost::XgboostModel::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->name(), "xgboost");
  // The loaded model predicts what the trained one predicts.
  const std::vector<std::vector<double>> before = PredictExamplesNs(*result->model, train);
  const std::vector<std::vector<double>> after = PredictExamplesNs(**loaded, train);
  ASSERT_EQ(before.size(), after.size());
  for (size_t e = 0; e < before.size(); ++e) {
    for (size_t c = 0; c < before[e].size(); ++c) {
      EXPECT_TRUE(std::isfinite(after[e][c]) && after[e][c] > 0);
      EXPECT_DOUBLE_EQ(before[e][c], after[e][c]);
    }
  }
  // ns = exp(level) at the default config: the tile term vanishes there.
  const KernelExample& ex = train.front();
  const tiling::TileConfig d = tiling::Default(*ex.kernel);
  std::vector<absl::StatusOr<double>> ns = (*loaded)->EstimateNs({{ex.kernel.get(), d}});
  ASSERT_TRUE(ns[0].ok()) << ns[0].status();
  std::vector<float> row;
  cost::AppendTabularRows(*ex.kernel, {d}, &(*loaded)->analytical(), &row);
  absl::StatusOr<cost::XgbBooster> level =
      cost::XgbBooster::Load(dir + "/" + cost::kXgboostLevelBoosterFile);
  ASSERT_TRUE(level.ok());
  absl::StatusOr<std::vector<float>> log_ns = level->PredictRows(row, cost::kNumTabularFeatures);
  ASSERT_TRUE(log_ns.ok());
  EXPECT_NEAR(*ns[0], std::exp((*log_ns)[0]), 1e-6 * *ns[0]);

  // The model carries its training distribution: a training kernel is inside, a far larger one is
  // flagged with the reason.
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(dir) / cost::kTrainingDistributionFile));
  EXPECT_EQ((*loaded)->OutOfDistribution(*ex.kernel), "");
  // ... and the version of the analytical model its features came from (this build's).
  absl::StatusOr<std::optional<cost::TrainingDistribution>> written =
      cost::ReadTrainingDistribution(dir);
  ASSERT_TRUE(written.ok() && written->has_value());
  EXPECT_EQ((*written)->analytical_model_version, cost::kAnalyticalModelVersion);
  EXPECT_EQ((*written)->analytical_target,
            cost::TargetDescriptionFingerprint((*loaded)->analytical().target()));
  EXPECT_EQ(cost::StaleAnalyticalFeatures(*written, dir, (*loaded)->analytical().target()), "");
  graph::Program big = test::DotProgram(2048, 2048, 2048);
  absl::StatusOr<std::vector<graph::Kernel>> big_kernels = fusion::DefaultFusion(big);
  ASSERT_TRUE(big_kernels.ok());
  EXPECT_THAT((*loaded)->OutOfDistribution(big_kernels->front()), HasSubstr("trained maximum"));

  // Per-query errors: a null kernel and an invalid config fail alone.
  tiling::TileConfig bad = d;
  bad.vector_width = 3;
  std::vector<absl::StatusOr<double>> mixed =
      (*loaded)->EstimateNs({{nullptr, d}, {ex.kernel.get(), bad}, {ex.kernel.get(), d}});
  EXPECT_THAT(mixed[0].status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(mixed[1].status(), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_TRUE(mixed[2].ok());
  EXPECT_DOUBLE_EQ(*mixed[2], *ns[0]);

  // Another schema version: refused with both values named.
  auto rewrite = [&](const std::string& key, const nlohmann::json& value) {
    std::ifstream in(dir + "/" + cost::kXgboostInfoFile);
    nlohmann::json j = nlohmann::json::parse(in);
    j[key] = value;
    std::ofstream(dir + "/" + cost::kXgboostInfoFile) << j.dump(2);
  };
  rewrite("tabular_feature_schema_version", cost::kTabularFeatureSchemaVersion + 1);
  EXPECT_THAT(cost::XgboostModel::Load(dir).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("tabular_feature_schema_version")));
  rewrite("tabular_feature_schema_version", cost::kTabularFeatureSchemaVersion);
  rewrite("tile_objective", "rank:made_up");
  EXPECT_THAT(cost::XgboostModel::Load(dir).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("rank:made_up")));
  rewrite("tile_objective", cost::kXgbRankPairwise);
  ASSERT_TRUE(cost::XgboostModel::Load(dir).ok());
  // A corrupt booster file and a corrupt info file.
  std::ofstream(dir + "/" + cost::kXgboostTileBoosterFile, std::ios::binary) << "garbage";
  EXPECT_THAT(cost::XgboostModel::Load(dir).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(cost::kXgboostTileBoosterFile)));
  std::ofstream(dir + "/" + cost::kXgboostInfoFile) << "{ not json";
  EXPECT_THAT(cost::XgboostModel::Load(dir).status(), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(cost::XgboostModel::Load(dir + "/nothing").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("xgboost.json")));
}

TEST(XgboostTrainTest, AblationWithoutAnalyticalFeaturesAndBadOptions) {
  const std::vector<KernelExample> train = Examples("train", 2, false);
  XgboostTrainOptions o = SmallRun();
  o.analytical_features = false;
  absl::StatusOr<XgboostTrainResult> result = TrainXgboostOnExamples(train, {}, {}, o);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->info.analytical_features);
  const std::vector<std::vector<double>> ns = PredictExamplesNs(*result->model, train);
  EXPECT_TRUE(std::isfinite(ns[0][0]));

  // Tile-only training: the level booster learns from the kernels' default configs when they were
  // measured, else the level comes from the roofline; either way every config gets an estimate.
  std::vector<KernelExample> tile_only;
  int default_rows = 0;
  for (const KernelExample& e : train) {
    if (e.task != Task::kTile) continue;
    tile_only.push_back(e);
    const std::string d = tiling::Default(*e.kernel).ToString();
    for (const std::string& c : e.config_text) default_rows += c == d;
  }
  XgboostTrainOptions tile = SmallRun();
  tile.tasks = TaskSelection::kTile;
  absl::StatusOr<XgboostTrainResult> tile_result = TrainXgboostOnExamples(tile_only, {}, {}, tile);
  ASSERT_TRUE(tile_result.ok()) << tile_result.status();
  EXPECT_EQ(tile_result->info.has_level, default_rows >= 2);
  for (const std::vector<double>& kernel_ns : PredictExamplesNs(*tile_result->model, tile_only)) {
    for (double v : kernel_ns) EXPECT_TRUE(std::isfinite(v) && v > 0);
  }

  auto bad = [&](auto mutate, const char* what) {
    XgboostTrainOptions b = SmallRun();
    mutate(b);
    EXPECT_THAT(TrainXgboostOnExamples(train, {}, {}, b).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(what)));
  };
  bad([](XgboostTrainOptions& b) { b.tile_objective = "rank:ndcg"; }, "rank:ndcg");
  bad([](XgboostTrainOptions& b) { b.max_rounds = 0; }, "max_rounds");
  bad([](XgboostTrainOptions& b) { b.max_depth = 40; }, "max_depth");
  bad([](XgboostTrainOptions& b) { b.eta = 0; }, "eta");
  bad([](XgboostTrainOptions& b) { b.analytical_threads = 0; }, "analytical_threads");
  EXPECT_THAT(TrainXgboostOnExamples({}, {}, {}, SmallRun()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(XgboostCliTest, TrainEvalAndPlanWithTheXgboostModel) {
  // Tile records are grouped by kernel over all programs, so each kernel belongs to one program.
  std::vector<KernelExample> examples;
  const std::vector<graph::Kernel> kernels = test::SmallKernels();
  for (size_t k = 0; k < kernels.size(); ++k) {
    const std::string program = "prog" + std::to_string(k % 4);
    examples.push_back(test::MakeExample(kernels[k], program, 12, Task::kTile, k % 2 == 0));
    examples.push_back(test::MakeExample(kernels[k], program, 1, Task::kFusion));
  }
  const std::string dir = TempDir("cli");
  std::filesystem::create_directories(dir);
  const std::string dataset = dir + "/synthetic.pgd";
  ASSERT_TRUE(test::WriteDataset(dataset, examples).ok());
  std::ofstream(dir + "/split.txt") << "train prog0\ntrain prog1\nvalidation prog2\ntest prog3\n";
  using tools::test::RunPerfgraph;
  const std::string model = dir + "/model";
  auto train = RunPerfgraph("train --model-kind xgboost --dataset " + dataset + " --out " + model +
                            " --split " + dir + "/split.txt --xgb-rounds 40 --threads 1");
  ASSERT_EQ(train.exit_code, 0) << train.out;
  EXPECT_THAT(train.out, HasSubstr("tile booster: round 10/40"));
  EXPECT_THAT(train.out, HasSubstr("XGBoost model written to"));
  {
    std::ifstream metrics_file(model + "/metrics.json");
    nlohmann::json metrics = nlohmann::json::parse(metrics_file, nullptr, false);
    ASSERT_FALSE(metrics.is_discarded());
    const nlohmann::json& side = metrics["test_side_by_side"];
    EXPECT_TRUE(side["tile"]["xgboost"]["kendall_tau"].is_number()) << side.dump();
    EXPECT_TRUE(side["tile"]["analytical"]["kendall_tau"].is_number()) << side.dump();
    std::ifstream command(model + "/command.txt");
    std::string line;
    std::getline(command, line);
    EXPECT_THAT(line, HasSubstr("--model-kind xgboost"));
  }
  // eval: the xgboost column beside the analytical one (no GNN in this directory).
  auto eval = RunPerfgraph("eval --dataset " + dataset + " --model " + dir + "/no_gnn --split " +
                           dir + "/split.txt --xgboost-model " + model + " --json");
  // --model names a missing GNN: an explicit --model must load.
  EXPECT_EQ(eval.exit_code, 2) << eval.out;
  auto eval_xgb = RunPerfgraph("eval --dataset " + dataset + " --split " + dir +
                               "/split.txt --xgboost-model " + model + " --json");
  ASSERT_EQ(eval_xgb.exit_code, 0) << eval_xgb.out;
  const size_t start = eval_xgb.out.find("{\n");
  ASSERT_NE(start, std::string::npos) << eval_xgb.out;
  nlohmann::json j = nlohmann::json::parse(eval_xgb.out.substr(start), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << eval_xgb.out;
  EXPECT_TRUE(j["tile"]["xgboost"]["kendall_tau"].is_number()) << j.dump();
  EXPECT_TRUE(j["fusion"]["xgboost"]["mape"].is_number()) << j.dump();
  EXPECT_EQ(j["xgboost_model"], model);
  auto table = RunPerfgraph("eval --dataset " + dataset + " --split " + dir +
                            "/split.txt --xgboost-model " + model);
  ASSERT_EQ(table.exit_code, 0) << table.out;
  EXPECT_THAT(table.out, HasSubstr("xgboost"));
  EXPECT_THAT(table.out, HasSubstr("analytical"));

  // plan with the XGBoost model; a missing one is a usage error naming the flag.
  auto plan = RunPerfgraph("plan tests/testdata/onnx/conv_bias.onnx --cost-model xgboost "
                           "--xgboost-model " + model + " --threads 1 --json");
  ASSERT_EQ(plan.exit_code, 0) << plan.out;
  EXPECT_THAT(plan.out, HasSubstr("\"cost_model\": \"xgboost\""));
  {
    nlohmann::json p = nlohmann::json::parse(plan.out.substr(plan.out.find("{\n")), nullptr, false);
    ASSERT_FALSE(p.is_discarded()) << plan.out;
    int flagged = 0;
    for (const auto& k : p["kernels"]) {
      ASSERT_TRUE(k["out_of_distribution"].is_boolean()) << k.dump();
      if (k["out_of_distribution"].get<bool>()) {
        ++flagged;
        EXPECT_TRUE(k["out_of_distribution_reason"].is_string());
      }
    }
    EXPECT_EQ(p["kernels_out_of_distribution"].get<int>(), flagged);
  }
  auto missing = RunPerfgraph("plan tests/testdata/onnx/conv_bias.onnx --cost-model xgboost "
                              "--xgboost-model " + dir + "/nothing");
  EXPECT_EQ(missing.exit_code, 2) << missing.out;
  EXPECT_THAT(missing.out, HasSubstr("--xgboost-model"));
  auto bad_kind = RunPerfgraph("train --model-kind forest --dataset " + dataset + " --out " + model);
  EXPECT_EQ(bad_kind.exit_code, 2);
  EXPECT_THAT(bad_kind.out, HasSubstr("--model-kind must be gnn or xgboost"));
}

// gnn::ReplayDefaultGuard (gnn/train.h; perfgraph_gnn_data, tested here with the other
// LibTorch-free gnn code).
TEST(DefaultGuardTest, ReplaysTheTilingPassesGuardOnMeasuredConfigs) {
  const std::vector<graph::Kernel> kernels = test::SmallKernels();
  KernelExample ex = test::MakeExample(kernels[0], "p", 4);
  ASSERT_GE(ex.num_configs, 3);
  // Config 0 is the kernel's default (measured 100 ns); config 1 measures 80 ns, config 2 150 ns.
  ex.config_text[0] = tiling::Default(*ex.kernel).ToString();
  ex.runtime_ns = {100, 80, 150};
  ex.timed_out = {0, 0, 0};
  ex.num_configs = 3;
  ex.config_text.resize(3);
  const std::vector<KernelExample> examples = {ex};
  // The model predicts config 2 fastest, 10 % ahead of the default: a wrong pick without a guard.
  const std::vector<std::vector<double>> predicted = {{110, 120, 100}};
  absl::StatusOr<DefaultGuardFigures> none = ReplayDefaultGuard(examples, predicted, 0.0);
  ASSERT_OK(none);
  EXPECT_EQ(none->kernels, 1);
  EXPECT_EQ(none->kept_default, 0);
  EXPECT_EQ(none->slower_than_default, 1);
  EXPECT_DOUBLE_EQ(none->geomean_vs_default, 1.5);
  EXPECT_DOUBLE_EQ(none->worst_vs_default, 1.5);
  EXPECT_DOUBLE_EQ(none->mean_top1_slowdown, 150.0 / 80 - 1);
  absl::StatusOr<DefaultGuardFigures> guarded = ReplayDefaultGuard(examples, predicted, 0.2);
  ASSERT_OK(guarded);
  EXPECT_EQ(guarded->kept_default, 1);
  EXPECT_EQ(guarded->slower_than_default, 0);
  EXPECT_DOUBLE_EQ(guarded->geomean_vs_default, 1.0);
  EXPECT_DOUBLE_EQ(guarded->mean_top1_slowdown, 100.0 / 80 - 1);
  // A kernel whose default was not measured OK is not counted; bad shapes and bands are errors.
  std::vector<KernelExample> timed_out = examples;
  timed_out[0].timed_out[0] = 1;
  timed_out[0].runtime_ns[0] = std::numeric_limits<double>::infinity();
  absl::StatusOr<DefaultGuardFigures> skipped = ReplayDefaultGuard(timed_out, predicted, 0.0);
  ASSERT_OK(skipped);
  EXPECT_EQ(skipped->kernels, 0);
  EXPECT_THAT(ReplayDefaultGuard(examples, {}, 0.0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReplayDefaultGuard(examples, predicted, -1), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace perfgraph::gnn

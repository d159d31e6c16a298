// cost::LearnedModel over kernels::Predictor: a CostModel with per-query errors, one Predict per kernel.
#include "cost/learned_model.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "cost/roofline_bound.h"
#include "cost/tabular_features.h"
#include "kernels/weights.h"
#include "tests/cost/cost_test_util.h"
#include "tests/status_matchers.h"

namespace perfgraph::cost {
namespace {

using perfgraph::testing::IsOk;
using perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

// Random weights (seed `seed`) at `path` (default: a file of the test's temp dir).
std::string WriteRandomWeights(int hybrid_threads = 0, unsigned seed = 5, std::string path = "") {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.3f, 0.3f);
  kernels::WeightsFile w;
  w.architecture.hybrid_threads = hybrid_threads;
  for (const auto& [name, dims] : kernels::ExpectedTensorShapes(w.architecture)) {
    kernels::NamedTensor t{name, dims, {}};
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      t.values.push_back(name.find("_std") != std::string::npos ? 1.0f : u(rng));
    }
    if (name == "label_mean") t.values = {8.0f};
    w.tensors.push_back(std::move(t));
  }
  if (path.empty()) {
    path = ::testing::TempDir() + "/learned_model_test" + std::to_string(hybrid_threads) + ".pgw";
  }
  EXPECT_THAT(kernels::WriteWeightsFile(w, path), IsOk());
  return path;
}

TEST(LearnedModelTest, EstimatesArePositiveMatchThePredictorAndBadQueriesGetErrors) {
  absl::StatusOr<LearnedModel> model = LearnedModel::Load(WriteRandomWeights());
  ASSERT_THAT(model, IsOk());
  EXPECT_EQ(model->name(), "learned");
  const graph::Kernel add = test::Add({4, 16});
  const graph::Kernel dot = test::Dot(32, 64, 48);
  tiling::TileConfig bad = tiling::Default(add);
  bad.vector_width = 64;
  CostBatch batch;
  batch.Enqueue(add, tiling::Default(add));
  batch.Enqueue(dot, tiling::Default(dot));
  batch.Enqueue(add, bad);
  std::vector<CostQuery> queries = batch.queries();
  queries.push_back(CostQuery{nullptr, tiling::Default(add)});
  std::vector<absl::StatusOr<double>> ns = model->EstimateNs(queries);
  ASSERT_EQ(ns.size(), 4u);
  ASSERT_THAT(ns[0], IsOk());
  ASSERT_THAT(ns[1], IsOk());
  EXPECT_GT(*ns[0], 0);
  EXPECT_TRUE(std::isfinite(*ns[1]));
  EXPECT_THAT(ns[2], StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("query 2")));
  EXPECT_THAT(ns[3], StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no kernel")));

  // The same numbers as the Predictor on the featurized kernel.
  const graph::KernelTensors tensors = graph::Featurize(dot);
  float features[tiling::kNumConfigFeatures];
  tiling::ConfigFeatures(dot, tiling::Default(dot), features);
  float direct = 0;
  ASSERT_THAT(model->predictor().Predict(tensors, features, 1, &direct), IsOk());
  EXPECT_NEAR(*ns[1] / direct, 1.0, 1e-6);
}

TEST(LearnedModelTest, HybridModelsReadTheAnalyticalBreakdownAfterTheConfigFeatures) {
  // Without the roofline clamp (random weights predict below it), so estimates are the network's.
  absl::StatusOr<kernels::Predictor> predictor =
      kernels::Predictor::Load(WriteRandomWeights(/*hybrid_threads=*/1));
  ASSERT_THAT(predictor, IsOk());
  std::optional<LearnedModel> model;
  model.emplace(*std::move(predictor));
  ASSERT_THAT(model->InitHybrid(), IsOk());
  ASSERT_EQ(model->predictor().architecture().config_width(),
            tiling::kNumConfigFeatures + kNumHybridConfigFeatures);
  const graph::Kernel dot = test::Dot(32, 64, 48);
  tiling::TileConfig other = tiling::Default(dot);
  other.parallel_loop = -1;
  other.vector_width = 1;
  CostBatch batch;
  batch.Enqueue(dot, tiling::Default(dot));
  batch.Enqueue(dot, other);
  std::vector<absl::StatusOr<double>> ns = model->EstimateNs(batch.queries());
  ASSERT_THAT(ns[0], IsOk());
  ASSERT_THAT(ns[1], IsOk());

  // The rows the model must have built: config features, then the hybrid block of the committed
  // reference description's analytical model at 1 thread.
  absl::StatusOr<AnalyticalModel> analytical = AnalyticalModel::CreateDefault();
  ASSERT_THAT(analytical, IsOk());
  const std::vector<tiling::TileConfig> configs = {tiling::Default(dot), other};
  std::vector<float> hybrid;
  AppendHybridConfigFeatures(dot, configs, *analytical, &hybrid);
  ASSERT_EQ(hybrid.size(), 2u * kNumHybridConfigFeatures);
  EXPECT_EQ(hybrid[kNumHybridConfigFeatures - 1], 0.0f);  // the analytical model estimated it
  const int width = model->predictor().architecture().config_width();
  std::vector<float> rows(2 * width);
  for (int c = 0; c < 2; ++c) {
    tiling::ConfigFeatures(dot, configs[c], rows.data() + c * width);
    std::copy(hybrid.begin() + c * kNumHybridConfigFeatures,
              hybrid.begin() + (c + 1) * kNumHybridConfigFeatures,
              rows.begin() + c * width + tiling::kNumConfigFeatures);
  }
  float direct[2];
  ASSERT_THAT(model->predictor().Predict(graph::Featurize(dot), rows.data(), 2, direct), IsOk());
  EXPECT_NEAR(*ns[0] / direct[0], 1.0, 1e-6);
  EXPECT_NEAR(*ns[1] / direct[1], 1.0, 1e-6);
  // Zeroing the hybrid block changes the prediction: the block is read.
  std::fill(rows.begin() + tiling::kNumConfigFeatures, rows.begin() + width, 0.0f);
  float zeroed = 0;
  ASSERT_THAT(model->predictor().Predict(graph::Featurize(dot), rows.data(), 1, &zeroed), IsOk());
  EXPECT_GT(std::abs(zeroed / direct[0] - 1.0), 1e-4);

  // Without InitHybrid there is nothing to compute the block with: an error, not zeros.
  absl::StatusOr<kernels::Predictor> bare =
      kernels::Predictor::Load(WriteRandomWeights(/*hybrid_threads=*/1));
  ASSERT_THAT(bare, IsOk());
  LearnedModel uninitialised(*std::move(bare));
  EXPECT_THAT(uninitialised.EstimateNs(batch.queries())[0],
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("InitHybrid")));
}

std::string EmptyDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/learned_model_test_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// An ensemble.txt beside the weights adds members; an estimate is the geometric mean of the
// members' predictions, and a member that cannot be loaded or reads other features is an error
// naming the ensemble file and the member.
TEST(LearnedModelTest, AnEnsembleFileAveragesItsMembersInLogSpace) {
  const std::string a = WriteRandomWeights(0, 5, EmptyDir("member_a") + "/weights.pgw");
  const std::string b = WriteRandomWeights(0, 6, EmptyDir("member_b") + "/weights.pgw");
  const std::string dir = EmptyDir("ensemble");
  WriteRandomWeights(0, 5, dir + "/weights.pgw");
  std::filesystem::create_directories(dir + "/members");
  WriteRandomWeights(0, 6, dir + "/members/seed6.pgw");
  WriteText(dir + "/ensemble.txt", "# seeds 5 and 6\n\n  members/seed6.pgw  # the second seed\n");

  absl::StatusOr<LearnedModel> one = LearnedModel::Load(a);
  absl::StatusOr<LearnedModel> two = LearnedModel::Load(b);
  absl::StatusOr<LearnedModel> both = LearnedModel::Load(dir + "/weights.pgw");
  ASSERT_THAT(one, IsOk());
  ASSERT_THAT(two, IsOk());
  ASSERT_THAT(both, IsOk());
  EXPECT_EQ(one->ensemble_size(), 1);
  EXPECT_EQ(both->ensemble_size(), 2);
  const graph::Kernel dot = test::Dot(8, 16, 8);  // a roofline bound far below the predictions
  std::vector<CostQuery> queries;
  const std::vector<tiling::TileConfig> space = tiling::ConfigSpace(dot).value();
  for (const tiling::TileConfig& c : space) queries.push_back({&dot, c});
  queries.resize(std::min<size_t>(queries.size(), 40));
  const std::vector<absl::StatusOr<double>> x = one->EstimateNs(queries);
  const std::vector<absl::StatusOr<double>> y = two->EstimateNs(queries);
  const std::vector<absl::StatusOr<double>> z = both->EstimateNs(queries);
  const double bound = RooflineLowerBound(*both->bound_target(), dot).bound_ns();
  int differ = 0;
  for (size_t q = 0; q < queries.size(); ++q) {
    ASSERT_THAT(x[q], IsOk());
    ASSERT_THAT(y[q], IsOk());
    ASSERT_THAT(z[q], IsOk());
    ASSERT_GT(std::min(*x[q], *y[q]), bound);  // no clamping: the mean is visible as such
    EXPECT_NEAR(*z[q], std::sqrt(*x[q] * *y[q]), 1e-5 * *z[q]);
    differ += std::abs(*x[q] - *y[q]) > 1e-3 * *x[q];
  }
  EXPECT_GT(differ, 0) << "the two members must predict differently for the test to mean anything";

  // A missing member, a member of other features, an ensemble file without members.
  WriteText(dir + "/ensemble.txt", "members/seed6.pgw\nmembers/missing.pgw\n");
  EXPECT_THAT(LearnedModel::Load(dir + "/weights.pgw"),
              StatusIs(absl::StatusCode::kNotFound,
                       ::testing::AllOf(HasSubstr("ensemble.txt:2"), HasSubstr("missing.pgw"))));
  WriteRandomWeights(/*hybrid_threads=*/1, 7, dir + "/members/hybrid.pgw");
  WriteText(dir + "/ensemble.txt", "members/hybrid.pgw\n");
  EXPECT_THAT(LearnedModel::Load(dir + "/weights.pgw"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(HasSubstr("hybrid.pgw"), HasSubstr("other features"))));
  WriteText(dir + "/ensemble.txt", "# nothing\n");
  EXPECT_THAT(LearnedModel::Load(dir + "/weights.pgw"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("names no ensemble member")));
}

TEST(LearnedModelTest, LoadOfAMissingFileFails) {
  EXPECT_THAT(LearnedModel::Load("/nonexistent.pgw"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace perfgraph::cost

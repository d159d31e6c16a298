// cost::LearnedModel over kernels::Predictor: a CostModel with per-query errors, one Predict per kernel.
#include "cost/learned_model.h"

#include <cmath>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/weights.h"
#include "tests/cost/cost_test_util.h"
#include "tests/status_matchers.h"

namespace perfgraph::cost {
namespace {

using perfgraph::testing::IsOk;
using perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

std::string WriteRandomWeights() {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-0.3f, 0.3f);
  kernels::WeightsFile w;
  for (const auto& [name, dims] : kernels::ExpectedTensorShapes(w.architecture)) {
    kernels::NamedTensor t{name, dims, {}};
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      t.values.push_back(name.find("_std") != std::string::npos ? 1.0f : u(rng));
    }
    if (name == "label_mean") t.values = {8.0f};
    w.tensors.push_back(std::move(t));
  }
  const std::string path = ::testing::TempDir() + "/learned_model_test.pgw";
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

TEST(LearnedModelTest, LoadOfAMissingFileFails) {
  EXPECT_THAT(LearnedModel::Load("/nonexistent.pgw"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace perfgraph::cost

#include "cost/measured_model.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cost/cost_test_util.h"
#include "tests/status_matchers.h"

namespace perfgraph::cost {
namespace {

using perfgraph::testing::IsOk;
using perfgraph::testing::StatusIs;

TEST(MeasuredModelTest, TinyKernelGetsAPositiveTimeAndBadQueriesGetErrors) {
  absl::StatusOr<MeasuredModel> model = MeasuredModel::Create();
  ASSERT_THAT(model, IsOk());
  EXPECT_EQ(model->name(), "measured");
  const graph::Kernel add = test::Add({4, 16});
  tiling::TileConfig bad = tiling::Default(add);
  bad.vector_width = 64;
  CostBatch batch;
  batch.Enqueue(add, tiling::Default(add));
  batch.Enqueue(add, bad);
  std::vector<absl::StatusOr<double>> ns = batch.Evaluate(*model);
  ASSERT_EQ(ns.size(), 2u);
  ASSERT_THAT(ns[0], IsOk());
  EXPECT_GT(*ns[0], 0);
  EXPECT_THAT(ns[1], StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(MeasuredModelTest, CreateRejectsBadThreadCount) {
  MeasuredModelOptions options;
  options.target.num_threads = 0;
  EXPECT_THAT(MeasuredModel::Create(options), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace perfgraph::cost

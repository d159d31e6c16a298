#include "tiling/tiling_pass.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "cost/analytical_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cost/cost_test_util.h"
#include "tests/status_matchers.h"

namespace perfgraph::tiling {
namespace {

using ::perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

// A cost model with known answers: `cost(config)` per query, and a count of EstimateNs calls (a
// batch) and queries.
class FakeModel : public cost::CostModel {
 public:
  explicit FakeModel(std::function<absl::StatusOr<double>(const TileConfig&)> cost)
      : cost_(std::move(cost)) {}
  std::string name() const override { return "fake"; }
  std::vector<absl::StatusOr<double>> EstimateNs(
      absl::Span<const cost::CostQuery> queries) override {
    ++batches;
    num_queries += static_cast<int>(queries.size());
    std::vector<absl::StatusOr<double>> result;
    for (const cost::CostQuery& q : queries) result.push_back(cost_(q.config));
    return result;
  }
  int batches = 0;
  int num_queries = 0;

 private:
  std::function<absl::StatusOr<double>(const TileConfig&)> cost_;
};

// Position of `config` in `space` (the fake's costs are defined by it).
int IndexOf(const std::vector<TileConfig>& space, const TileConfig& config) {
  for (size_t i = 0; i < space.size(); ++i) {
    if (space[i] == config) return static_cast<int>(i);
  }
  return -1;
}

class TilingPassTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kernel_ = cost::test::Dot(64, 32, 48);
    auto space = ConfigSpace(kernel_);
    ASSERT_OK(space);
    space_ = *space;
    ASSERT_GT(space_.size(), 100u);
  }
  graph::Kernel kernel_;
  std::vector<TileConfig> space_;
};

TEST_F(TilingPassTest, PicksTheArgminOfTheModelOverTheWholeSpaceInOneBatch) {
  // Cost: a bowl around a config in the middle of the space, so the argmin is neither the first
  // config nor the default.
  const int target = static_cast<int>(space_.size()) / 2 + 7;
  FakeModel model([&](const TileConfig& c) -> absl::StatusOr<double> {
    return 1000.0 + std::abs(IndexOf(space_, c) - target);
  });
  TilingPass pass(model);
  auto best = pass.Run(kernel_);
  ASSERT_OK(best);
  EXPECT_EQ(best->config, space_[target]);
  EXPECT_DOUBLE_EQ(best->predicted_ns, 1000.0);
  EXPECT_EQ(best->configs_scored, static_cast<int>(space_.size()));
  EXPECT_EQ(best->configs_failed, 0);
  EXPECT_EQ(best->configs_in_space, static_cast<int>(space_.size()));
  EXPECT_EQ(model.batches, 1);
  EXPECT_EQ(model.num_queries, static_cast<int>(space_.size()));
  EXPECT_EQ(pass.queries(), static_cast<int64_t>(space_.size()));
}

TEST_F(TilingPassTest, DefaultGuardKeepsTheDefaultUnlessTheGainClearsTheBand) {
  const TileConfig def = Default(kernel_);
  ASSERT_GE(IndexOf(space_, def), 0);
  const int target = static_cast<int>(space_.size()) / 3;
  ASSERT_NE(space_[target], def);
  // The default at 1100 ns, the argmin at 1000 ns (10 % faster), everything else at 2000 ns.
  FakeModel model([&](const TileConfig& c) -> absl::StatusOr<double> {
    if (c == def) return 1100.0;
    return IndexOf(space_, c) == target ? 1000.0 : 2000.0;
  });
  TilingPassOptions options;
  options.reuse_identical_kernels = false;
  options.min_predicted_gain = 0.2;  // 10 % predicted: inside the band
  auto kept = TilingPass(model, options).Run(kernel_);
  ASSERT_OK(kept);
  EXPECT_EQ(kept->config, def);
  EXPECT_TRUE(kept->kept_default);
  EXPECT_DOUBLE_EQ(kept->predicted_ns, 1100.0);
  EXPECT_DOUBLE_EQ(kept->default_predicted_ns, 1100.0);
  options.min_predicted_gain = 0.05;  // 10 % predicted: beyond the band
  auto taken = TilingPass(model, options).Run(kernel_);
  ASSERT_OK(taken);
  EXPECT_EQ(taken->config, space_[target]);
  EXPECT_FALSE(taken->kept_default);
  EXPECT_DOUBLE_EQ(taken->default_predicted_ns, 1100.0);
  options.min_predicted_gain = 0;  // no guard: the argmin
  auto argmin = TilingPass(model, options).Run(kernel_);
  ASSERT_OK(argmin);
  EXPECT_EQ(argmin->config, space_[target]);
}

TEST_F(TilingPassTest, DefaultGuardTakesTheArgminWhenTheDefaultHasNoEstimate) {
  const TileConfig def = Default(kernel_);
  FakeModel model([&](const TileConfig& c) -> absl::StatusOr<double> {
    if (c == def) return absl::UnimplementedError("fake: no estimate for the default");
    return 1000.0 + IndexOf(space_, c);
  });
  TilingPassOptions options;
  options.min_predicted_gain = 10;
  auto best = TilingPass(model, options).Run(kernel_);
  ASSERT_OK(best);
  EXPECT_EQ(best->config, space_.front() == def ? space_[1] : space_.front());
  EXPECT_FALSE(best->kept_default);
  EXPECT_EQ(best->default_predicted_ns, 0);
}

TEST_F(TilingPassTest, NegativeOrNonFiniteGuardBandIsInvalidArgument) {
  FakeModel model([](const TileConfig&) -> absl::StatusOr<double> { return 1.0; });
  for (double band : {-0.1, std::numeric_limits<double>::quiet_NaN(),
                      std::numeric_limits<double>::infinity()}) {
    TilingPassOptions options;
    options.min_predicted_gain = band;
    EXPECT_THAT(TilingPass(model, options).Run(kernel_),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_predicted_gain")));
  }
}

TEST_F(TilingPassTest, TiesGoToTheFirstConfigInSpaceOrder) {
  FakeModel model([](const TileConfig&) -> absl::StatusOr<double> { return 5.0; });
  TilingPass pass(model);
  auto best = pass.Run(kernel_);
  ASSERT_OK(best);
  EXPECT_EQ(best->config, space_.front());
}

TEST_F(TilingPassTest, FailedQueriesAreSkippedAndCounted) {
  // The would-be best half of the space (even indices, lower costs) fails; the pass picks the best
  // of the rest.
  FakeModel model([&](const TileConfig& c) -> absl::StatusOr<double> {
    const int i = IndexOf(space_, c);
    if (i % 2 == 0) return absl::UnimplementedError("fake: even config");
    return 100.0 + i;
  });
  TilingPass pass(model);
  auto best = pass.Run(kernel_);
  ASSERT_OK(best);
  EXPECT_EQ(best->config, space_[1]);
  EXPECT_DOUBLE_EQ(best->predicted_ns, 101.0);
  EXPECT_EQ(best->configs_failed, static_cast<int>((space_.size() + 1) / 2));
  EXPECT_EQ(best->configs_scored + best->configs_failed, static_cast<int>(space_.size()));
}

TEST_F(TilingPassTest, NonFiniteOrNonPositiveEstimatesCountAsFailures) {
  FakeModel model([&](const TileConfig& c) -> absl::StatusOr<double> {
    const int i = IndexOf(space_, c);
    if (i == 0) return std::numeric_limits<double>::quiet_NaN();
    if (i == 1) return -5.0;
    if (i == 2) return 0.0;
    return 10.0 + i;
  });
  TilingPass pass(model);
  auto best = pass.Run(kernel_);
  ASSERT_OK(best);
  EXPECT_EQ(best->config, space_[3]);
  EXPECT_EQ(best->configs_failed, 3);
}

TEST_F(TilingPassTest, EveryQueryFailingIsAnErrorNamingKernelAndCause) {
  FakeModel model([](const TileConfig&) -> absl::StatusOr<double> {
    return absl::UnimplementedError("fake: op not supported");
  });
  TilingPass pass(model);
  EXPECT_THAT(pass.Run(kernel_),
              StatusIs(absl::StatusCode::kUnimplemented,
                       ::testing::AllOf(HasSubstr("kernel dot"), HasSubstr("no config of"),
                                        HasSubstr("fake: op not supported"))));
  // The cached failure is reported again, for the kernel asked about.
  graph::Kernel renamed = kernel_;
  renamed.name = "other";
  EXPECT_THAT(pass.Run(renamed), StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("other")));
  EXPECT_EQ(model.batches, 1);
}

TEST_F(TilingPassTest, InvalidKernelIsInvalidArgument) {
  graph::Kernel broken = kernel_;
  broken.root = 42;
  FakeModel model([](const TileConfig&) -> absl::StatusOr<double> { return 1.0; });
  TilingPass pass(model);
  EXPECT_THAT(pass.Run(broken), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dot")));
  EXPECT_EQ(model.batches, 0);
}

TEST_F(TilingPassTest, NegativeCapIsInvalidArgument) {
  FakeModel model([](const TileConfig&) -> absl::StatusOr<double> { return 1.0; });
  TilingPassOptions options;
  options.max_configs_per_kernel = -1;
  TilingPass pass(model, options);
  EXPECT_THAT(pass.Run(kernel_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_configs_per_kernel")));
}

TEST_F(TilingPassTest, IdenticalKernelsAreAnsweredFromTheCache) {
  FakeModel model([&](const TileConfig& c) -> absl::StatusOr<double> {
    return 1.0 + IndexOf(space_, c);
  });
  TilingPass pass(model);
  graph::Kernel copy = kernel_;
  copy.name = "same_structure";
  std::vector<graph::Kernel> kernels = {kernel_, copy, cost::test::Add({16, 16})};
  auto results = pass.RunAll(kernels);
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) ASSERT_OK(r);
  EXPECT_FALSE(results[0]->from_cache);
  EXPECT_TRUE(results[1]->from_cache);
  EXPECT_EQ(results[1]->config, results[0]->config);
  EXPECT_EQ(model.batches, 2);  // the dot once, the add once
  EXPECT_EQ(pass.cache_hits(), 1);

  TilingPassOptions no_cache;
  no_cache.reuse_identical_kernels = false;
  TilingPass uncached(model, no_cache);
  uncached.RunAll(kernels);
  EXPECT_EQ(model.batches, 5);
}

TEST_F(TilingPassTest, CappedSearchScoresDefaultPlusASeededSample) {
  FakeModel model([&](const TileConfig& c) -> absl::StatusOr<double> {
    return 1.0 + IndexOf(space_, c);
  });
  TilingPassOptions options;
  options.max_configs_per_kernel = 10;
  options.reuse_identical_kernels = false;
  TilingPass pass(model, options);
  auto first = pass.Run(kernel_);
  ASSERT_OK(first);
  EXPECT_EQ(first->configs_scored, 10);
  EXPECT_EQ(first->configs_in_space, static_cast<int>(space_.size()));
  EXPECT_EQ(model.num_queries, 10);
  // Never worse than the default by the model's own estimate, and deterministic.
  EXPECT_LE(first->predicted_ns, 1.0 + IndexOf(space_, Default(kernel_)));
  auto second = pass.Run(kernel_);
  ASSERT_OK(second);
  EXPECT_EQ(second->config, first->config);
}

TEST(TilingPassAnalyticalTest, BestConfigIsNoWorseThanDefaultOnADot) {
  auto model = cost::AnalyticalModel::Create(cost::test::SyntheticTarget());
  ASSERT_OK(model);
  const graph::Kernel kernel = cost::test::Dot(128, 128, 128);
  TilingPass pass(*model);
  auto best = pass.Run(kernel);
  ASSERT_OK(best);
  EXPECT_OK(Validate(kernel, best->config));
  std::vector<cost::CostQuery> query = {{&kernel, Default(kernel)}};
  auto default_ns = model->EstimateNs(query);
  ASSERT_OK(default_ns[0]);
  EXPECT_LE(best->predicted_ns, *default_ns[0]);
  EXPECT_EQ(best->configs_failed, 0);
}

}  // namespace
}  // namespace perfgraph::tiling

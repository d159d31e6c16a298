// data/metrics.h with hand-computed values.
#include "data/metrics.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace perfgraph::data {
namespace {

using ::perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

TEST(KendallTauTest, PerfectAgreementAndReversal) {
  auto same = KendallTauB({1, 2, 3, 4}, {10, 20, 30, 40});
  ASSERT_OK(same);
  EXPECT_DOUBLE_EQ(same->value(), 1.0);
  auto reversed = KendallTauB({4, 3, 2, 1}, {10, 20, 30, 40});
  ASSERT_OK(reversed);
  EXPECT_DOUBLE_EQ(reversed->value(), -1.0);
}

TEST(KendallTauTest, OneSwapWithoutTies) {
  // Pairs of (1,2,3,4) vs (1,3,2,4): 6 pairs, one discordant (items 2,3): (5 - 1) / 6.
  auto tau = KendallTauB({1, 2, 3, 4}, {1, 3, 2, 4});
  ASSERT_OK(tau);
  EXPECT_DOUBLE_EQ(tau->value(), 4.0 / 6.0);
}

TEST(KendallTauTest, TauBCorrectsForTiesOnBothSides) {
  // x = (1, 1, 2, 3), y = (1, 2, 2, 3). Pairs:
  //  (0,1): x tied, y differs -> T_x;   (0,2): concordant;  (0,3): concordant;
  //  (1,2): x 1<2, y tied -> T_y;        (1,3): concordant;  (2,3): concordant.
  // P = 4, Q = 0, T_x = 1, T_y = 1: tau_b = 4 / sqrt(5 * 5) = 0.8 (scipy.stats.kendalltau agrees).
  auto tau = KendallTauB({1, 1, 2, 3}, {1, 2, 2, 3});
  ASSERT_OK(tau);
  EXPECT_DOUBLE_EQ(tau->value(), 0.8);
  // A pair tied on both sides counts in neither: x = (1,1,2), y = (5,5,7): P = 2, ties-in-both 1.
  auto both = KendallTauB({1, 1, 2}, {5, 5, 7});
  ASSERT_OK(both);
  EXPECT_DOUBLE_EQ(both->value(), 1.0);
  // x = (1, 2, 3), y = (2, 1, 1): (0,1) Q, (0,2) Q, (1,2) T_y. tau_b = -2 / sqrt(3 * 2).
  auto mixed = KendallTauB({1, 2, 3}, {2, 1, 1});
  ASSERT_OK(mixed);
  EXPECT_DOUBLE_EQ(mixed->value(), -2.0 / std::sqrt(6.0));
}

TEST(KendallTauTest, UndefinedForConstantSidesOrSingleItems) {
  auto constant = KendallTauB({1, 2, 3}, {5, 5, 5});
  ASSERT_OK(constant);
  EXPECT_FALSE(constant->has_value());
  auto single = KendallTauB({1}, {2});
  ASSERT_OK(single);
  EXPECT_FALSE(single->has_value());
  EXPECT_THAT(KendallTauB({1, 2}, {1}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(KendallTauB({1, std::nan("")}, {1, 2}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NaN")));
}

TEST(TopKSlowdownTest, HandComputedValues) {
  // Measured best is 100 (item 2). The model ranks item 0 (150) first, then item 2, then item 1.
  const std::vector<double> predicted = {1, 3, 2, 4};
  const std::vector<double> measured = {150, 300, 100, 120};
  auto top1 = TopKSlowdown(predicted, measured, 1);
  ASSERT_OK(top1);
  EXPECT_DOUBLE_EQ(*top1, 0.5);  // 150 / 100 - 1
  auto top2 = TopKSlowdown(predicted, measured, 2);
  ASSERT_OK(top2);
  EXPECT_DOUBLE_EQ(*top2, 0.0);  // item 2 is in the top 2
  auto all = TopKSlowdown(predicted, measured, 10);
  ASSERT_OK(all);
  EXPECT_DOUBLE_EQ(*all, 0.0);
}

TEST(TopKSlowdownTest, TiedPredictionsRankByPosition) {
  // Both predicted equal: the earlier item (measured 200) is the model's top-1.
  auto top1 = TopKSlowdown({5, 5}, {200, 100}, 1);
  ASSERT_OK(top1);
  EXPECT_DOUBLE_EQ(*top1, 1.0);
}

TEST(TopKSlowdownTest, RejectsBadInput) {
  EXPECT_THAT(TopKSlowdown({}, {}, 1), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(TopKSlowdown({1}, {1}, 0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("k = 0")));
  EXPECT_THAT(TopKSlowdown({1, 2}, {1, 0}, 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("measured value 0")));
  EXPECT_THAT(TopKSlowdown({1, 2}, {1, std::numeric_limits<double>::infinity()}, 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(MapeTest, HandComputedValue) {
  // |110-100|/100 = 0.1, |40-50|/50 = 0.2, |300-300|/300 = 0: mean 0.1.
  auto mape = Mape({110, 40, 300}, {100, 50, 300});
  ASSERT_OK(mape);
  EXPECT_NEAR(*mape, 0.1, 1e-15);
  EXPECT_THAT(Mape({}, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Mape({1}, {-1}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Mape({std::nan("")}, {1}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(GroupedMetricsTest, MeansSkipGroupsWhereTauIsUndefined) {
  std::vector<MetricGroup> groups = {
      {{1, 2, 3}, {10, 20, 30}},  // tau 1, top-1 slowdown 0
      {{3, 2, 1}, {10, 20, 30}},  // tau -1, top-1 picks 30: slowdown 2
      {{1, 2}, {7, 7}},           // tau undefined (measured constant), slowdown 0
  };
  auto tau = MeanKendallTau(groups);
  ASSERT_OK(tau);
  EXPECT_EQ(tau->groups, 2);
  EXPECT_DOUBLE_EQ(tau->mean.value(), 0.0);
  auto top1 = MeanTopKSlowdown(groups, 1);
  ASSERT_OK(top1);
  EXPECT_EQ(top1->groups, 3);
  EXPECT_DOUBLE_EQ(top1->mean.value(), 2.0 / 3.0);
  auto none = MeanKendallTau({});
  ASSERT_OK(none);
  EXPECT_FALSE(none->mean.has_value());
  groups.push_back({{}, {}});
  EXPECT_THAT(MeanTopKSlowdown(groups, 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("group 3")));
}

}  // namespace
}  // namespace perfgraph::data

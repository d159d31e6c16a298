// The tabular features of the gradient-boosted baseline (cost/tabular_features.h) and the XGBoost
// wrappers (cost/xgboost_booster.h): feature values against their definitions, and a booster that
// learns, saves, loads, slices and refuses bad input with the documented status codes.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cost/analytical_model.h"
#include "cost/tabular_features.h"
#include "cost/xgboost_booster.h"
#include "cost/xgboost_model.h"
#include "gmock/gmock.h"
#include "graph/analysis.h"
#include "gtest/gtest.h"
#include "tests/cost/cost_test_util.h"
#include "tests/status_matchers.h"
#include "tiling/tile_config.h"
#include "tests/temp_dir.h"

namespace perfgraph::cost {
namespace {

using ::perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

std::string TempDir(const std::string& name) {
  auto dir = perfgraph::testing::ProcessTempDir() / "perfgraph_xgboost_model_test" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

TEST(TabularFeaturesTest, NamesAreDistinctAndCoverEveryColumn) {
  const std::vector<std::string> names = TabularFeatureNames();
  ASSERT_EQ(names.size(), static_cast<size_t>(kNumTabularFeatures));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  EXPECT_EQ(names[0], "log_flops");
  EXPECT_EQ(names[kTabularConfigBegin], tiling::ConfigFeatureNames()[0]);
  EXPECT_EQ(names[kTabularAnalyticalBegin], "log_total_ns");
  EXPECT_EQ(names.back(), "log_total_vs_default");
}

TEST(TabularFeaturesTest, KernelConfigAndAnalyticalBlocksFollowTheirDefinitions) {
  const graph::Kernel kernel = test::Dot(64, 128, 32);
  ASSERT_TRUE(kernel.Validate().ok());
  absl::StatusOr<std::vector<tiling::TileConfig>> space = tiling::ConfigSpace(kernel);
  ASSERT_TRUE(space.ok()) << space.status();
  const tiling::TileConfig default_config = tiling::Default(kernel);
  const std::vector<tiling::TileConfig> configs = {default_config, space->front(), space->back()};
  absl::StatusOr<AnalyticalModel> analytical = AnalyticalModel::CreateDefault();
  ASSERT_TRUE(analytical.ok()) << analytical.status();

  std::vector<float> rows = {42.0f};  // rows are appended after existing content
  AppendTabularRows(kernel, configs, &*analytical, &rows);
  ASSERT_EQ(rows.size(), 1 + configs.size() * kNumTabularFeatures);
  EXPECT_EQ(rows[0], 42.0f);
  const graph::OpCost cost = graph::KernelCost(kernel);
  for (size_t c = 0; c < configs.size(); ++c) {
    const float* row = rows.data() + 1 + c * kNumTabularFeatures;
    // Kernel block: identical for every config.
    EXPECT_FLOAT_EQ(row[0], std::log1p(cost.flops));                      // log_flops
    EXPECT_FLOAT_EQ(row[7], static_cast<float>(graph::HloOpcode::kDot));  // root_opcode
    EXPECT_FLOAT_EQ(row[8], static_cast<float>(graph::FusionKind::kOutput));
    EXPECT_FLOAT_EQ(row[9], 2.0f);                   // root_rank
    EXPECT_FLOAT_EQ(row[10], std::log1p(32.0f));     // innermost output dim first
    EXPECT_FLOAT_EQ(row[11], std::log1p(64.0f));
    EXPECT_FLOAT_EQ(row[12], 0.0f);                  // past the rank
    EXPECT_FLOAT_EQ(row[18], 1.0f);                  // one dot
    EXPECT_FLOAT_EQ(row[22], std::log1p(128.0f));    // the dot's contracting extent
    // Config block: tiling::ConfigFeatures verbatim.
    std::vector<float> expected(tiling::kNumConfigFeatures);
    tiling::ConfigFeatures(kernel, configs[c], expected.data());
    for (int f = 0; f < tiling::kNumConfigFeatures; ++f) {
      EXPECT_EQ(row[kTabularConfigBegin + f], expected[f]) << "config " << c << " feature " << f;
    }
    // Analytical block: the roofline's breakdown of this config.
    absl::StatusOr<CostBreakdown> b = analytical->Explain(kernel, configs[c]);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_FLOAT_EQ(row[kTabularAnalyticalBegin], std::log1p(b->total_ns));
    EXPECT_FLOAT_EQ(row[kTabularAnalyticalBegin + 6], b->vector_efficiency);
  }
  // The kernel-centred estimate is 0 for the default config, and the difference of logs otherwise.
  absl::StatusOr<CostBreakdown> d = analytical->Explain(kernel, default_config);
  absl::StatusOr<CostBreakdown> last = analytical->Explain(kernel, configs[2]);
  ASSERT_TRUE(d.ok() && last.ok());
  const int centred = kNumTabularFeatures - 1;
  EXPECT_FLOAT_EQ(rows[1 + centred], 0.0f);
  EXPECT_NEAR(rows[1 + 2 * kNumTabularFeatures + centred],
              std::log(last->total_ns) - std::log(d->total_ns), 1e-4);

  // Without an analytical model the analytical block is missing (NaN), the rest unchanged.
  std::vector<float> plain;
  AppendTabularRows(kernel, configs, nullptr, &plain);
  ASSERT_EQ(plain.size(), configs.size() * kNumTabularFeatures);
  for (int f = 0; f < kNumTabularFeatures; ++f) {
    if (f >= kTabularAnalyticalBegin) {
      EXPECT_TRUE(std::isnan(plain[f])) << f;
    } else {
      EXPECT_EQ(plain[f], rows[1 + f]) << f;
    }
  }
}

// y = 3 x0 - 2 x1 on a grid: a booster must fit it closely.
struct Regression {
  std::vector<float> rows, labels;
};
Regression MakeRegression(int n, int features) {
  Regression r;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int i = 0; i < n; ++i) {
    for (int f = 0; f < features; ++f) r.rows.push_back(u(rng));
    const float* row = r.rows.data() + static_cast<size_t>(i) * features;
    r.labels.push_back(3 * row[0] - 2 * row[1]);
  }
  return r;
}

TEST(XgbBoosterTest, LearnsSavesLoadsAndSlices) {
  const Regression data = MakeRegression(400, 4);
  absl::StatusOr<XgbMatrix> matrix = XgbMatrix::Create(data.rows, 4, data.labels);
  ASSERT_TRUE(matrix.ok()) << matrix.status();
  absl::StatusOr<XgbBooster> booster = XgbBooster::Create(
      *matrix, {{"objective", kXgbSquaredError}, {"max_depth", "4"}, {"eta", "0.3"},
                {"nthread", "1"}, {"base_score", "0"}});
  ASSERT_TRUE(booster.ok()) << booster.status();
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(booster->UpdateOneIter(i, *matrix).ok());
  EXPECT_EQ(*booster->BoostedRounds(), 60);
  EXPECT_EQ(*booster->NumFeatures(), 4);
  absl::StatusOr<std::vector<float>> predicted = booster->PredictRows(data.rows, 4);
  ASSERT_TRUE(predicted.ok()) << predicted.status();
  double se = 0, variance = 0;
  for (size_t i = 0; i < data.labels.size(); ++i) {
    se += std::pow((*predicted)[i] - data.labels[i], 2);
    variance += std::pow(data.labels[i], 2);
  }
  EXPECT_LT(se, 0.1 * variance);  // explains > 90 % of the variance

  // Fewer rounds predict differently (and worse); a slice predicts as the prefix of rounds.
  absl::StatusOr<std::vector<float>> first10 = booster->PredictRows(data.rows, 4, 10);
  absl::StatusOr<XgbBooster> sliced = booster->Slice(10);
  ASSERT_TRUE(first10.ok() && sliced.ok());
  EXPECT_EQ(*sliced->BoostedRounds(), 10);
  absl::StatusOr<std::vector<float>> sliced_predicted = sliced->PredictRows(data.rows, 4);
  ASSERT_TRUE(sliced_predicted.ok());
  EXPECT_EQ(*sliced_predicted, *first10);
  EXPECT_NE(*first10, *predicted);
  EXPECT_THAT(booster->Slice(0).status(), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(booster->Slice(61).status(), StatusIs(absl::StatusCode::kOutOfRange));

  // Save and load: the same predictions, bit for bit.
  const std::string dir = TempDir("save");
  ASSERT_TRUE(booster->Save(dir + "/model.ubj").ok());
  EXPECT_FALSE(std::filesystem::exists(dir + "/model.ubj.tmp.ubj"));
  absl::StatusOr<XgbBooster> loaded = XgbBooster::Load(dir + "/model.ubj");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*loaded->PredictRows(data.rows, 4), *predicted);
  EXPECT_THAT(booster->Save(dir + "/model.bin"), StatusIs(absl::StatusCode::kInvalidArgument));

  // Bad input.
  EXPECT_THAT(loaded->PredictRows(std::vector<float>(6, 0.0f), 3).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3 features")));
  EXPECT_THAT(XgbMatrix::Create(std::vector<float>(7, 0.0f), 4).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(XgbMatrix::Create(std::vector<float>(8, 0.0f), 4, {1.0f}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1 labels for 2 rows")));
  EXPECT_THAT(XgbMatrix::Create(std::vector<float>(8, 0.0f), 4, {}, {3}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(XgbBooster::Load(dir + "/missing.ubj").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.ubj")));
  {
    std::ofstream garbage(dir + "/garbage.ubj", std::ios::binary);
    garbage << "this is not an XGBoost model";
  }
  EXPECT_THAT(XgbBooster::Load(dir + "/garbage.ubj").status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("garbage.ubj")));
  {
    // A truncated real model.
    std::ifstream in(dir + "/model.ubj", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out(dir + "/truncated.ubj", std::ios::binary);
    out << bytes.substr(0, bytes.size() / 2);
  }
  EXPECT_THAT(XgbBooster::Load(dir + "/truncated.ubj").status(),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(XgbBoosterTest, PairwiseRankingOrdersEachGroup) {
  // Groups of 8 rows; within a group the label (relevance) is -x0: the booster must rank by -x0.
  std::vector<float> rows, labels;
  std::vector<unsigned> groups;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0, 1);
  for (int g = 0; g < 30; ++g) {
    for (int i = 0; i < 8; ++i) {
      const float x0 = u(rng), x1 = u(rng);
      rows.push_back(x0);
      rows.push_back(x1);
      labels.push_back(-x0);
    }
    groups.push_back(8);
  }
  absl::StatusOr<XgbMatrix> matrix = XgbMatrix::Create(rows, 2, labels, groups);
  ASSERT_TRUE(matrix.ok()) << matrix.status();
  absl::StatusOr<XgbBooster> booster =
      XgbBooster::Create(*matrix, {{"objective", kXgbRankPairwise}, {"nthread", "1"}});
  ASSERT_TRUE(booster.ok()) << booster.status();
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(booster->UpdateOneIter(i, *matrix).ok());
  absl::StatusOr<std::vector<float>> s =
      booster->PredictRows(std::vector<float>{0.1f, 0.5f, 0.9f, 0.5f}, 2);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GT((*s)[0], (*s)[1]);  // smaller x0 = more relevant = higher score
}

}  // namespace
}  // namespace perfgraph::cost

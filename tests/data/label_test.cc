// Labels computed from raw samples at load time: every statistic on hand-checked inputs, the v1/v2
// record rule, and malformed samples as errors.
#include "data/label.h"

#include <vector>

#include "data/perfgraph.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace perfgraph::data {
namespace {

using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Three rounds: round 0 {10, 12}, round 1 {11, 30}, round 2 {14}: minima 10, 11, 14; medians 11,
// 20.5, 14.
const std::vector<double> kSamples = {10, 12, 11, 30, 14};
const std::vector<int> kRounds = {0, 0, 1, 1, 2};

TEST(LabelTest, RoundMinimaTakeTheFastestRunOfEachRound) {
  auto minima = RoundMinima(kSamples, kRounds);
  ASSERT_TRUE(minima.ok()) << minima.status();
  EXPECT_THAT(*minima, ElementsAre(10, 11, 14));
}

TEST(LabelTest, EveryStatisticOnRoundSamples) {
  EXPECT_THAT(*LabelNs(kSamples, kRounds, LabelStatistic::kMinimum), DoubleEq(10));
  EXPECT_THAT(*LabelNs(kSamples, kRounds, LabelStatistic::kMedianOfRoundMinima), DoubleEq(11));
  EXPECT_THAT(*LabelNs(kSamples, kRounds, LabelStatistic::kMeanOfRoundMinima), DoubleEq(35.0 / 3));
  EXPECT_THAT(*LabelNs(kSamples, kRounds, LabelStatistic::kMinimumOfRoundMedians), DoubleEq(11));
  // Three minima: a quarter of 3 rounds down is 0, so nothing is trimmed.
  EXPECT_THAT(*LabelNs(kSamples, kRounds, LabelStatistic::kTrimmedMeanOfRoundMinima),
              DoubleEq(35.0 / 3));
}

TEST(LabelTest, TrimmedMeanDropsTheOuterQuarters) {
  // Eight rounds, one sample each: minima 1..7 and 100; trimming 2 each side leaves 3, 4, 5, 6.
  std::vector<double> samples = {100, 1, 2, 3, 4, 5, 6, 7};
  std::vector<int> rounds = {0, 1, 2, 3, 4, 5, 6, 7};
  EXPECT_THAT(*LabelNs(samples, rounds, LabelStatistic::kTrimmedMeanOfRoundMinima), DoubleEq(4.5));
  EXPECT_THAT(*LabelNs(samples, rounds, LabelStatistic::kMedianOfRoundMinima), DoubleEq(4.5));
}

TEST(LabelTest, CanaryNormalizedMedianDividesEachRoundByItsCanary) {
  // Round minima 10, 11, 14 against canaries 100, 110, 100: ratios 0.10, 0.10, 0.14; median 0.10,
  // times the reference 200 ns.
  const std::vector<double> canary = {100, 110, 100};
  EXPECT_THAT(*LabelNs(kSamples, kRounds, LabelStatistic::kCanaryNormalizedMedian, canary, 200),
              DoubleEq(20));
  EXPECT_THAT(LabelNs(kSamples, kRounds, LabelStatistic::kCanaryNormalizedMedian, canary, 0)
                  .status()
                  .message(),
              HasSubstr("reference"));
  EXPECT_THAT(LabelNs(kSamples, kRounds, LabelStatistic::kCanaryNormalizedMedian, {100, 110}, 200)
                  .status()
                  .message(),
              HasSubstr("round 2 has no canary"));
}

TEST(LabelTest, SamplesWithoutRoundsAreV1AndGiveTheMinimum) {
  for (LabelStatistic s : AllLabelStatistics()) {
    EXPECT_THAT(*LabelNs(kSamples, {}, s), DoubleEq(10)) << LabelStatisticName(s);
  }
}

TEST(LabelTest, MalformedSamplesAreErrors) {
  EXPECT_THAT(LabelNs({}, {}).status().message(), HasSubstr("no samples"));
  EXPECT_THAT(LabelNs({5, -1}, {0, 1}).status().message(), HasSubstr("-1"));
  EXPECT_THAT(LabelNs({5, 6}, {0}).status().message(), HasSubstr("2 samples but 1"));
  EXPECT_THAT(LabelNs({5, 6}, {0, -3}).status().message(), HasSubstr("round -3"));
}

TEST(LabelTest, NamesRoundTrip) {
  for (LabelStatistic s : AllLabelStatistics()) {
    auto parsed = ParseLabelStatistic(LabelStatisticName(s));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_THAT(ParseLabelStatistic("fastest").status().message(),
              HasSubstr("median-of-round-minima"));
}

TEST(LabelTest, RecordLabelUsesRoundsOnlyForProtocolTwo) {
  Record record;
  record.set_status(Record::MEASURE_STATUS_OK);
  for (size_t i = 0; i < kSamples.size(); ++i) {
    record.add_runtime_ns(kSamples[i]);
    record.add_sample_round(kRounds[i]);
  }
  record.set_protocol_version(1);
  EXPECT_THAT(*RecordLabelNs(record, "r", LabelStatistic::kMedianOfRoundMinima), DoubleEq(10));
  record.set_protocol_version(2);
  EXPECT_THAT(*RecordLabelNs(record, "r", LabelStatistic::kMedianOfRoundMinima), DoubleEq(11));
  EXPECT_THAT(*RecordLabelNs(record, "r"), DoubleEq(10));  // the default: the minimum
  record.set_status(Record::MEASURE_STATUS_TIMEOUT);
  EXPECT_THAT(RecordLabelNs(record, "file.pgd record 3").status().message(),
              HasSubstr("file.pgd record 3"));
}

TEST(LabelTest, MedianOfEvenCountAveragesTheMiddle) {
  EXPECT_THAT(Median({4, 1, 3, 2}), DoubleEq(2.5));
  EXPECT_THAT(Median({}), DoubleEq(0));
}

}  // namespace
}  // namespace perfgraph::data

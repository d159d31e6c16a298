#include "data/label.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "data/perfgraph.pb.h"

namespace perfgraph::data {

absl::string_view LabelStatisticName(LabelStatistic statistic) {
  switch (statistic) {
    case LabelStatistic::kMinimum: return "min";
    case LabelStatistic::kMedianOfRoundMinima: return "median-of-round-minima";
    case LabelStatistic::kMeanOfRoundMinima: return "mean-of-round-minima";
    case LabelStatistic::kMinimumOfRoundMedians: return "min-of-round-medians";
    case LabelStatistic::kTrimmedMeanOfRoundMinima: return "trimmed-mean-of-round-minima";
    case LabelStatistic::kCanaryNormalizedMedian: return "canary-normalized-median";
  }
  return "min";
}

std::vector<LabelStatistic> AllLabelStatistics() {
  return {LabelStatistic::kMinimum, LabelStatistic::kMedianOfRoundMinima,
          LabelStatistic::kMeanOfRoundMinima, LabelStatistic::kMinimumOfRoundMedians,
          LabelStatistic::kTrimmedMeanOfRoundMinima, LabelStatistic::kCanaryNormalizedMedian};
}

absl::StatusOr<LabelStatistic> ParseLabelStatistic(absl::string_view name) {
  std::string names;
  for (LabelStatistic s : AllLabelStatistics()) {
    if (LabelStatisticName(s) == name) return s;
    absl::StrAppend(&names, names.empty() ? "" : ", ", LabelStatisticName(s));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown label statistic '", name, "'; expected one of ", names));
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

namespace {

absl::StatusOr<std::map<int, std::vector<double>>> ByRound(absl::Span<const double> samples_ns,
                                                           absl::Span<const int> rounds) {
  if (samples_ns.size() != rounds.size()) {
    return absl::InvalidArgumentError(absl::StrCat("LabelNs: ", samples_ns.size(), " samples but ",
                                                   rounds.size(), " sample rounds"));
  }
  std::map<int, std::vector<double>> by_round;
  for (size_t i = 0; i < samples_ns.size(); ++i) {
    if (rounds[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("LabelNs: sample ", i, " has round ", rounds[i]));
    }
    by_round[rounds[i]].push_back(samples_ns[i]);
  }
  return by_round;
}

}  // namespace

absl::StatusOr<std::vector<double>> RoundMinima(absl::Span<const double> samples_ns,
                                                absl::Span<const int> rounds) {
  auto by_round = ByRound(samples_ns, rounds);
  if (!by_round.ok()) return by_round.status();
  std::vector<double> minima;
  for (const auto& [round, values] : *by_round) {
    minima.push_back(*std::min_element(values.begin(), values.end()));
  }
  return minima;
}

absl::StatusOr<double> LabelNs(absl::Span<const double> samples_ns, absl::Span<const int> rounds,
                               LabelStatistic statistic, absl::Span<const double> canary_ns,
                               double canary_reference_ns) {
  if (samples_ns.empty()) return absl::InvalidArgumentError("LabelNs: no samples");
  for (double s : samples_ns) {
    if (!std::isfinite(s) || s <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("LabelNs: a runtime sample of ", s, " ns"));
    }
  }
  const double minimum = *std::min_element(samples_ns.begin(), samples_ns.end());
  if (rounds.empty()) return minimum;
  // Rounds are validated whatever the statistic: malformed samples are an error, never a label.
  auto by_round = ByRound(samples_ns, rounds);
  if (!by_round.ok()) return by_round.status();
  if (statistic == LabelStatistic::kMinimum) return minimum;
  std::vector<double> minima;
  std::vector<double> medians;
  std::vector<double> normalized;  // round minimum / canary of the round
  for (const auto& [round, values] : *by_round) {
    minima.push_back(*std::min_element(values.begin(), values.end()));
    medians.push_back(Median(values));
    if (statistic == LabelStatistic::kCanaryNormalizedMedian) {
      if (!(canary_reference_ns > 0)) {
        return absl::InvalidArgumentError("LabelNs: canary-normalized label without a reference");
      }
      if (round >= static_cast<int>(canary_ns.size()) || !(canary_ns[round] > 0)) {
        return absl::InvalidArgumentError(absl::StrCat("LabelNs: round ", round, " has no canary value (",
                                                       canary_ns.size(), " rounds with a canary)"));
      }
      normalized.push_back(minima.back() / canary_ns[round]);
    }
  }
  switch (statistic) {
    case LabelStatistic::kMinimum: return minimum;
    case LabelStatistic::kMedianOfRoundMinima: return Median(minima);
    case LabelStatistic::kMeanOfRoundMinima:
      return std::accumulate(minima.begin(), minima.end(), 0.0) / minima.size();
    case LabelStatistic::kMinimumOfRoundMedians:
      return *std::min_element(medians.begin(), medians.end());
    case LabelStatistic::kCanaryNormalizedMedian:
      return Median(normalized) * canary_reference_ns;
    case LabelStatistic::kTrimmedMeanOfRoundMinima: {
      std::sort(minima.begin(), minima.end());
      const size_t cut = minima.size() / 4;
      double sum = 0;
      for (size_t i = cut; i < minima.size() - cut; ++i) sum += minima[i];
      return sum / (minima.size() - 2 * cut);
    }
  }
  return minimum;
}

absl::StatusOr<double> RecordLabelNs(const Record& record, absl::string_view context,
                                     LabelStatistic statistic, double canary_reference_ns) {
  if (record.status() != Record::MEASURE_STATUS_OK) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": the record is not OK, it has no label"));
  }
  const absl::Span<const double> samples(record.runtime_ns().data(), record.runtime_ns_size());
  absl::Span<const int> rounds;
  if (record.protocol_version() >= 2) {
    rounds = absl::Span<const int>(record.sample_round().data(), record.sample_round_size());
  }
  const absl::Span<const double> canary(record.canary_ns().data(), record.canary_ns_size());
  auto label = LabelNs(samples, rounds, statistic, canary, canary_reference_ns);
  if (!label.ok()) return absl::InvalidArgumentError(absl::StrCat(context, ": ", label.status().message()));
  return *label;
}

}  // namespace perfgraph::data

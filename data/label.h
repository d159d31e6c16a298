// The label of a measured record: one runtime in ns computed from its raw samples when a dataset is
// loaded (like the node and config features), so the statistic can change without re-measuring.
//
// Protocol v1 records (Record.protocol_version 0 or 1) ran their samples back to back: the label is
// their minimum, whatever statistic is asked for. Protocol v2 records (target/measurement.h) took
// their samples in interleaved rounds (Record.sample_round): each round gives a per-round statistic
// of the config (its minimum, since the first runs of a round pay for the caches the other configs
// evicted), and the label is a statistic over rounds or over all samples. The default was chosen by measuring the
// repeatability of each variant on the same re-measured pairs (`perfgraph dataset repeat`, README
// "Protocol v2": the table of variants).
#ifndef PERFGRAPH_DATA_LABEL_H_
#define PERFGRAPH_DATA_LABEL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace perfgraph::data {

class Record;  // data/perfgraph.proto

enum class LabelStatistic {
  kMinimum,                // min over every sample (the v1 label, and the default)
  kMedianOfRoundMinima,    // median over rounds of the round's minimum
  kMeanOfRoundMinima,      // mean over rounds of the round's minimum
  kMinimumOfRoundMedians,  // min over rounds of the round's median
  kTrimmedMeanOfRoundMinima,  // mean of the round minima without the lowest and highest quarter
  // The median over rounds of (round minimum / the drift canary of the same round), times a
  // reference canary runtime: removes the part of the machine's drift the canary saw (a slower
  // minute slows the canary and the kernel alike). Needs the record's canary_ns and a reference.
  kCanaryNormalizedMedian,
};
// Chosen on 313 re-measured pairs of 32 kernels of data/reference/tile.pgd (README, "Protocol v2:
// variants tried"): the minimum repeats with Kendall's tau 0.959 per kernel and a median relative
// difference of 1.28 % (median of round minima: 0.940, 3.12 %); min-of-round-medians was level
// (0.963, 1.47 %) there but last in the 10-kernel pilot, the minimum second in both.
inline constexpr LabelStatistic kDefaultLabelStatistic = LabelStatistic::kMinimum;

// "min", "median-of-round-minima", "mean-of-round-minima", "min-of-round-medians",
// "trimmed-mean-of-round-minima", "canary-normalized-median".
absl::string_view LabelStatisticName(LabelStatistic statistic);
// Inverse of LabelStatisticName. Error: kInvalidArgument naming the text and the valid names.
absl::StatusOr<LabelStatistic> ParseLabelStatistic(absl::string_view name);
// Every statistic, in enum order (for `dataset repeat`'s table of variants).
std::vector<LabelStatistic> AllLabelStatistics();

// Median of `values` (the mean of the two middle values for an even count); 0 for an empty span.
double Median(std::vector<double> values);

// The per-round minima of v2 samples: rounds[i] is the round of samples_ns[i]; the result has one
// entry per round that holds a sample, in round order. Error: kInvalidArgument when the two spans
// differ in length or a round is negative.
absl::StatusOr<std::vector<double>> RoundMinima(absl::Span<const double> samples_ns,
                                                absl::Span<const int> rounds);

// The label of samples taken in rounds (see the file comment), ns. An empty `rounds` means v1
// samples (the minimum). kCanaryNormalizedMedian also reads `canary_ns` (the canary of round r is
// canary_ns[r]) and `canary_reference_ns` (> 0; e.g. the dataset's median canary). Error:
// kInvalidArgument for no samples, a non-finite or non-positive sample, the RoundMinima errors, or
// (canary-normalised) a round without a canary value or no reference.
absl::StatusOr<double> LabelNs(absl::Span<const double> samples_ns, absl::Span<const int> rounds,
                               LabelStatistic statistic = kDefaultLabelStatistic,
                               absl::Span<const double> canary_ns = {},
                               double canary_reference_ns = 0);

// LabelNs of an OK record (protocol version decides whether sample_round is used; the record's own
// canary_ns). Error: kInvalidArgument naming `context` for a record that is not OK or whose samples
// are malformed.
absl::StatusOr<double> RecordLabelNs(const Record& record, absl::string_view context,
                                     LabelStatistic statistic = kDefaultLabelStatistic,
                                     double canary_reference_ns = 0);

}  // namespace perfgraph::data

#endif  // PERFGRAPH_DATA_LABEL_H_

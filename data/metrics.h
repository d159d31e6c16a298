// Accuracy metrics of cost models, defined once (DESIGN.md "Metrics") and used by `perfgraph eval`,
// `perfgraph train` (metrics.json), the benchmarks and the tests. Pure C++: no LibTorch.
//
// A "group" is the set of items a ranking metric compares: the configs of one kernel (tile task) or
// the kernels of one program (fusion task). Runtimes are in any positive unit (ns in perfgraph), the
// same unit for predicted and measured values.
#ifndef PERFGRAPH_DATA_METRICS_H_
#define PERFGRAPH_DATA_METRICS_H_

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace perfgraph::data {

// Kendall's rank correlation tau-b between `predicted` and `measured` (same length n):
//   tau_b = (P - Q) / sqrt((P + Q + T_x) * (P + Q + T_y))
// over all n(n-1)/2 pairs, where P / Q count concordant / discordant pairs, T_x pairs tied only in
// `predicted` and T_y pairs tied only in `measured` (pairs tied in both count in neither), as in
// Kendall, "The treatment of ties in ranking problems", Biometrika 33 (1945) and
// scipy.stats.kendalltau's default variant. Values are compared exactly (no tolerance).
// Returns nullopt when tau-b is undefined: n < 2, or every value of either side is equal.
// Errors (kInvalidArgument): different lengths; a NaN value.
absl::StatusOr<std::optional<double>> KendallTauB(absl::Span<const double> predicted,
                                                  absl::Span<const double> measured);

// TpuGraphs top-k slowdown of one group: (the best measured runtime among the k items with the
// smallest predicted runtime) / (the best measured runtime of the group) - 1. 0 means the model's
// top-k contains the true best. k larger than the group means the whole group (slowdown 0). Ties
// in `predicted` are broken by position (the earlier item ranks first), so the result is
// deterministic. Kaufman et al. call the top-1 figure "APE".
// Errors (kInvalidArgument): empty group, different lengths, k < 1, a measured value that is not
// finite and > 0, a NaN prediction.
absl::StatusOr<double> TopKSlowdown(absl::Span<const double> predicted,
                                    absl::Span<const double> measured, int k);

// Mean absolute percentage error as a fraction: mean over items of |predicted - measured| / measured
// (0.05 = 5 %). Errors (kInvalidArgument): empty input, different lengths, a measured value that is
// not finite and > 0, a non-finite prediction.
absl::StatusOr<double> Mape(absl::Span<const double> predicted, absl::Span<const double> measured);

// One group of a grouped metric: predicted[i] and measured[i] belong to the same item.
struct MetricGroup {
  std::vector<double> predicted;
  std::vector<double> measured;
};

// Mean of a per-group metric and how many groups it averages.
struct MeanMetric {
  // Mean over the groups where the metric is defined; nullopt when it is defined for none.
  std::optional<double> mean;
  int groups = 0;  // groups that contributed to the mean
};

// Mean over groups of KendallTauB; groups where tau-b is undefined (fewer than 2 items, all values
// of one side equal) are skipped and not counted. Errors: those of KendallTauB, prefixed with the
// group index.
absl::StatusOr<MeanMetric> MeanKendallTau(absl::Span<const MetricGroup> groups);

// Mean over groups of TopKSlowdown. Every group contributes. Errors: those of TopKSlowdown
// (including an empty group), prefixed with the group index.
absl::StatusOr<MeanMetric> MeanTopKSlowdown(absl::Span<const MetricGroup> groups, int k);

}  // namespace perfgraph::data

#endif  // PERFGRAPH_DATA_METRICS_H_

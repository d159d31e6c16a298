#include "data/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace perfgraph::data {
namespace {

absl::Status CheckSameLength(absl::string_view function, size_t predicted, size_t measured) {
  if (predicted != measured) {
    return absl::InvalidArgumentError(absl::StrCat(function, ": ", predicted, " predictions but ",
                                                   measured, " measurements"));
  }
  return absl::OkStatus();
}

absl::Status CheckMeasured(absl::string_view function, absl::Span<const double> measured) {
  for (size_t i = 0; i < measured.size(); ++i) {
    if (!std::isfinite(measured[i]) || measured[i] <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          function, ": measured value ", measured[i], " at index ", i, " is not finite and > 0"));
    }
  }
  return absl::OkStatus();
}

absl::Status WithGroup(const absl::Status& status, size_t group) {
  return absl::Status(status.code(), absl::StrCat("group ", group, ": ", status.message()));
}

int Sign(double x) { return (x > 0) - (x < 0); }

}  // namespace

absl::StatusOr<std::optional<double>> KendallTauB(absl::Span<const double> predicted,
                                                  absl::Span<const double> measured) {
  if (absl::Status s = CheckSameLength("KendallTauB", predicted.size(), measured.size()); !s.ok()) {
    return s;
  }
  for (size_t i = 0; i < predicted.size(); ++i) {
    if (std::isnan(predicted[i]) || std::isnan(measured[i])) {
      return absl::InvalidArgumentError(absl::StrCat("KendallTauB: NaN at index ", i));
    }
  }
  // O(n^2) pair count: groups are the configs of one kernel or the kernels of one program (at most
  // a few thousand items), where this costs well under a millisecond.
  int64_t concordant = 0, discordant = 0, tied_x = 0, tied_y = 0;
  const size_t n = predicted.size();
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const int sx = Sign(predicted[i] - predicted[j]);
      const int sy = Sign(measured[i] - measured[j]);
      if (sx == 0 && sy == 0) continue;
      if (sx == 0) {
        ++tied_x;
      } else if (sy == 0) {
        ++tied_y;
      } else if (sx == sy) {
        ++concordant;
      } else {
        ++discordant;
      }
    }
  }
  const double denominator = std::sqrt(static_cast<double>(concordant + discordant + tied_x) *
                                       static_cast<double>(concordant + discordant + tied_y));
  if (denominator == 0) return std::optional<double>();
  return std::optional<double>(static_cast<double>(concordant - discordant) / denominator);
}

absl::StatusOr<double> TopKSlowdown(absl::Span<const double> predicted,
                                    absl::Span<const double> measured, int k) {
  if (absl::Status s = CheckSameLength("TopKSlowdown", predicted.size(), measured.size()); !s.ok()) {
    return s;
  }
  if (predicted.empty()) return absl::InvalidArgumentError("TopKSlowdown: empty group");
  if (k < 1) return absl::InvalidArgumentError(absl::StrCat("TopKSlowdown: k = ", k, " < 1"));
  if (absl::Status s = CheckMeasured("TopKSlowdown", measured); !s.ok()) return s;
  for (size_t i = 0; i < predicted.size(); ++i) {
    if (std::isnan(predicted[i])) {
      return absl::InvalidArgumentError(absl::StrCat("TopKSlowdown: NaN prediction at index ", i));
    }
  }
  std::vector<size_t> order(predicted.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return predicted[a] < predicted[b]; });
  const size_t top = std::min<size_t>(static_cast<size_t>(k), order.size());
  double best_of_top = measured[order[0]];
  for (size_t i = 1; i < top; ++i) best_of_top = std::min(best_of_top, measured[order[i]]);
  const double best = *std::min_element(measured.begin(), measured.end());
  return best_of_top / best - 1.0;
}

absl::StatusOr<double> Mape(absl::Span<const double> predicted, absl::Span<const double> measured) {
  if (absl::Status s = CheckSameLength("Mape", predicted.size(), measured.size()); !s.ok()) return s;
  if (predicted.empty()) return absl::InvalidArgumentError("Mape: no items");
  if (absl::Status s = CheckMeasured("Mape", measured); !s.ok()) return s;
  double sum = 0;
  for (size_t i = 0; i < predicted.size(); ++i) {
    if (!std::isfinite(predicted[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("Mape: prediction ", predicted[i], " at index ", i, " is not finite"));
    }
    sum += std::abs(predicted[i] - measured[i]) / measured[i];
  }
  return sum / static_cast<double>(predicted.size());
}

absl::StatusOr<MeanMetric> MeanKendallTau(absl::Span<const MetricGroup> groups) {
  MeanMetric result;
  double sum = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    absl::StatusOr<std::optional<double>> tau = KendallTauB(groups[g].predicted, groups[g].measured);
    if (!tau.ok()) return WithGroup(tau.status(), g);
    if (!tau->has_value()) continue;
    sum += **tau;
    ++result.groups;
  }
  if (result.groups > 0) result.mean = sum / result.groups;
  return result;
}

absl::StatusOr<MeanMetric> MeanTopKSlowdown(absl::Span<const MetricGroup> groups, int k) {
  MeanMetric result;
  double sum = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    absl::StatusOr<double> slowdown = TopKSlowdown(groups[g].predicted, groups[g].measured, k);
    if (!slowdown.ok()) return WithGroup(slowdown.status(), g);
    sum += *slowdown;
    ++result.groups;
  }
  if (result.groups > 0) result.mean = sum / result.groups;
  return result;
}

}  // namespace perfgraph::data

// Repeatability of measurements (the noise floor no cost model can beat):
// `perfgraph dataset repeat DATASET [--sample N] [--seed S] [--json]` re-measures a random sample of
// the dataset's OK (kernel, config) pairs with the same protocol and thread count, and compares the two
// passes.
//
// Sampling is by kernel: kernels are drawn at random (seeded), round-robin over the dataset's programs
// so that many programs are covered, and every OK config of a drawn kernel (or a seeded subset of
// `configs_per_kernel` of them) is re-measured, until at least `sample` pairs and `kernels` kernels
// are covered, so per-kernel rankings can be compared.
//
// The second pass uses protocol v2 (target/isolated_measurement.h) unless `protocol` is 1. Both
// passes are reduced to labels with every data::LabelStatistic, so one re-measurement gives the
// repeatability of each label statistic (`variants`); the headline figures use the default one.
#ifndef PERFGRAPH_TOOLS_DATASET_REPEAT_H_
#define PERFGRAPH_TOOLS_DATASET_REPEAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "target/measurement.h"

namespace perfgraph::tools {

struct RepeatOptions {
  std::string dataset;
  int sample = 200;            // pairs at least
  int kernels = 0;             // kernels at least (0 = as many as `sample` needs)
  int configs_per_kernel = 0;  // OK configs re-measured per drawn kernel (0 = all)
  uint64_t seed = 1;
  int protocol = 2;            // protocol of the second pass: 2 (default) or 1
  target::InterleavedOptions interleaved;  // protocol 2 options
};

// Repeatability under one label statistic (data/label.h).
struct RepeatVariant {
  std::string statistic;
  double median_relative_difference = 0;
  double p90_relative_difference = 0;
  std::optional<double> kendall_tau_per_kernel;
};

struct RepeatResult {
  int pairs = 0;           // re-measured pairs whose second pass was OK as well
  int kernels = 0;
  int failed = 0;          // pairs whose second pass was INVALID or TIMEOUT
  double median_relative_difference = 0;  // median of |second - first| / first
  double p90_relative_difference = 0;
  // Mean per-kernel Kendall's tau-b between the passes over the kernel's configs (kernels with >= 2
  // configs); nullopt when no kernel qualifies.
  std::optional<double> kendall_tau_per_kernel;
  std::optional<double> kendall_tau_overall;  // tau-b over all pairs together
  int threads = 0;
  int programs = 0;        // distinct programs of the re-measured kernels
  int protocol = 0;        // protocol of the second pass
  std::string statistic;   // label statistic of the figures above
  std::vector<RepeatVariant> variants;  // every label statistic, the default included
  double seconds = 0;      // wall-clock time of the second pass
};

// Errors: those of data::RecordReader; kInvalidArgument when the dataset has no OK record or was
// measured on another machine (its fingerprint's CPU model differs: re-measuring elsewhere would not
// measure noise).
absl::StatusOr<RepeatResult> MeasureRepeatability(const RepeatOptions& options);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_DATASET_REPEAT_H_

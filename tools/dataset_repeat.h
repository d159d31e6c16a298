// Repeatability of measurements (the noise floor no cost model can beat):
// `perfgraph dataset repeat DATASET [--sample N] [--seed S] [--json]` re-measures a random sample of
// the dataset's OK (kernel, config) pairs with the same protocol and thread count, and compares the two
// passes.
//
// Sampling is by kernel: kernels are drawn at random (seeded) and every OK config of a drawn kernel is
// re-measured, until at least N pairs are covered, so per-kernel rankings can be compared.
#ifndef PERFGRAPH_TOOLS_DATASET_REPEAT_H_
#define PERFGRAPH_TOOLS_DATASET_REPEAT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace perfgraph::tools {

struct RepeatOptions {
  std::string dataset;
  int sample = 200;   // pairs at least
  uint64_t seed = 1;
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
};

// Errors: those of data::RecordReader; kInvalidArgument when the dataset has no OK record or was
// measured on another machine (its fingerprint's CPU model differs: re-measuring elsewhere would not
// measure noise).
absl::StatusOr<RepeatResult> MeasureRepeatability(const RepeatOptions& options);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_DATASET_REPEAT_H_

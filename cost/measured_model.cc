#include "cost/measured_model.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace perfgraph::cost {

absl::StatusOr<MeasuredModel> MeasuredModel::Create(const MeasuredModelOptions& options) {
  absl::StatusOr<target::HalideCpuTarget> target = target::HalideCpuTarget::Create(options.target);
  if (!target.ok()) return target.status();
  return MeasuredModel(std::move(target).value(), options.measure);
}

std::vector<absl::StatusOr<double>> MeasuredModel::EstimateNs(absl::Span<const CostQuery> queries) {
  std::vector<absl::StatusOr<double>> results;
  results.reserve(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    if (queries[i].kernel == nullptr) {
      results.push_back(absl::InvalidArgumentError(
          absl::StrCat("MeasuredModel::EstimateNs: query ", i, " has no kernel")));
      continue;
    }
    absl::StatusOr<target::CompiledKernel> compiled =
        target_.Compile(*queries[i].kernel, queries[i].config);
    if (!compiled.ok()) {
      results.push_back(compiled.status());
      continue;
    }
    absl::StatusOr<target::TimingResult> timing = target_.Time(*compiled, measure_);
    if (!timing.ok()) {
      results.push_back(timing.status());
      continue;
    }
    results.push_back(timing->min_ns);
  }
  return results;
}

}  // namespace perfgraph::cost

#include "pipeline/tune_measure.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "graph/status_macros.h"

namespace perfgraph::pipeline {

void FillMeasuredRecord(const target::ConfigMeasurement& m, const target::GroupResult& group,
                        data::Record* record) {
  for (size_t k = 0; k < m.samples_ns.size(); ++k) {
    record->add_runtime_ns(m.samples_ns[k]);
    record->add_sample_round(m.sample_round[k]);
  }
  record->set_compile_time_ns(absl::ToInt64Nanoseconds(m.compile_time));
  record->set_error_message(m.error);
  record->set_status(m.status == target::MeasureStatus::kOk ? data::Record::MEASURE_STATUS_OK
                     : m.status == target::MeasureStatus::kTimeout
                         ? data::Record::MEASURE_STATUS_TIMEOUT
                         : data::Record::MEASURE_STATUS_INVALID);
  record->set_runtime_lower_bound_ns(m.lower_bound_ns);
  record->set_stable(m.stable);
  record->set_protocol_version(target::kProtocolVersion);
  for (double canary : group.measurement.canary_ns) record->add_canary_ns(canary);
  record->set_repeated_rounds(group.measurement.repeated_rounds);
  record->set_other_load_cores(group.other_load_cores);
  record->set_load_average(group.load_average);
}

absl::StatusOr<std::vector<data::Record>> HardwareMeasurer::Measure(
    const TuneKernel& kernel, absl::Span<const tiling::TileConfig> configs) {
  std::vector<target::MeasureGroup> groups(1);
  groups[0].kernel = kernel.kernel;
  groups[0].configs.assign(configs.begin(), configs.end());
  std::vector<data::Record> out;
  ASSIGN_OR_RETURN(int finished,
                   measurer_.Run(groups, [&](int, target::GroupResult result) {
                     for (const target::ConfigMeasurement& m : result.measurement.configs) {
                       data::Record record;
                       FillMeasuredRecord(m, result, &record);
                       record.set_measured_unix_seconds(absl::ToUnixSeconds(absl::Now()));
                       out.push_back(std::move(record));
                     }
                     return target::GroupVerdict::kKeep;
                   }));
  if (finished < 1 || out.size() != configs.size()) {
    return absl::CancelledError(absl::StrCat("tuning of kernel '", kernel.kernel->name,
                                             "' stopped while a batch was measured"));
  }
  return out;
}

}  // namespace perfgraph::pipeline

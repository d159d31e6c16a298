// Measuring tuning candidates on this CPU (pipeline/tune.h TrialMeasurer) with the dataset's protocol
// v2: each batch of configs is one group of target::IsolatedMeasurer (compiled, then timed in
// interleaved rounds with the drift canary, in a child process that a crashing or hanging config
// cannot take down). Links Halide (through perfgraph_target), so it is kept apart from tune.h.
#ifndef PERFGRAPH_PIPELINE_TUNE_MEASURE_H_
#define PERFGRAPH_PIPELINE_TUNE_MEASURE_H_

#include <functional>

#include "data/perfgraph.pb.h"
#include "pipeline/tune.h"
#include "target/isolated_measurement.h"
#include "target/measurement.h"

namespace perfgraph::pipeline {

// Copies one config's protocol-v2 measurement and its group's context (canary, repeated rounds,
// machine load) into `record`: samples with their rounds, status, error, lower bound, stability,
// compile time, protocol version. Program, kernel, config, task and hash are the caller's. Shared by
// `perfgraph measure` and HardwareMeasurer so both write identical records.
void FillMeasuredRecord(const target::ConfigMeasurement& m, const target::GroupResult& group,
                        data::Record* record);

class HardwareMeasurer : public TrialMeasurer {
 public:
  // `protocol` and `isolation` as for `perfgraph measure` (isolation.should_stop is polled while a
  // batch runs: true makes Measure return kCancelled).
  HardwareMeasurer(const target::InterleavedOptions& protocol,
                   const target::IsolationOptions& isolation)
      : measurer_(protocol, isolation) {}
  // Errors: kCancelled when stopped before the batch finished; IsolatedMeasurer::Run's errors.
  absl::StatusOr<std::vector<data::Record>> Measure(
      const TuneKernel& kernel, absl::Span<const tiling::TileConfig> configs) override;

 private:
  target::IsolatedMeasurer measurer_;
};

}  // namespace perfgraph::pipeline

#endif  // PERFGRAPH_PIPELINE_TUNE_MEASURE_H_

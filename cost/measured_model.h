// cost::MeasuredModel: the CostModel interface over real measurements. Each query is compiled by
// target::HalideCpuTarget and timed on this machine; the estimate is the fastest timed run, the same
// statistic the dataset's labels use (target/measurement.h: label = minimum sample).
#ifndef PERFGRAPH_COST_MEASURED_MODEL_H_
#define PERFGRAPH_COST_MEASURED_MODEL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "cost/cost_model.h"
#include "target/halide_cpu_target.h"

namespace perfgraph::cost {

struct MeasuredModelOptions {
  target::HalideCpuTargetOptions target;  // threads and input seed of the Halide target
  target::MeasureOptions measure;         // warm-up and timed runs of each query
};

class MeasuredModel : public CostModel {
 public:
  // Errors: HalideCpuTarget::Create's (kInvalidArgument for a bad thread count).
  static absl::StatusOr<MeasuredModel> Create(const MeasuredModelOptions& options = {});

  std::string name() const override { return "measured"; }
  // Compiles and times every query in order (slow: a JIT compile per query, ~0.1-1 s). Per-query
  // errors: kInvalidArgument (null kernel, invalid kernel or config), kUnimplemented (an op the target
  // does not lower), kInternal (Halide failure); messages come from HalideCpuTarget.
  std::vector<absl::StatusOr<double>> EstimateNs(absl::Span<const CostQuery> queries) override;

 private:
  MeasuredModel(target::HalideCpuTarget target, target::MeasureOptions measure)
      : target_(std::move(target)), measure_(measure) {}
  target::HalideCpuTarget target_;
  target::MeasureOptions measure_;
};

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_MEASURED_MODEL_H_

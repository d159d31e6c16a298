// Measuring a plan on this CPU: every planned kernel compiled with Halide at its chosen config and
// timed with the dataset's measurement protocol (target::MeasureConfig). Links Halide (through
// perfgraph_target); kept apart from pipeline/plan.h so that planning alone does not.
#ifndef PERFGRAPH_PIPELINE_PLAN_MEASURE_H_
#define PERFGRAPH_PIPELINE_PLAN_MEASURE_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/plan.h"

namespace perfgraph::pipeline {

// The measurement of one planned kernel.
struct KernelMeasurement {
  // "ok", "invalid", "timeout" (target::MeasureStatusName), or "skipped" for a kernel without a
  // planned config.
  std::string status;
  std::optional<double> measured_ns;  // the label (fastest sample), nanoseconds, when "ok"
  std::string error;                  // why not "ok" (empty for "skipped")
};

struct PlanMeasurement {
  std::vector<KernelMeasurement> kernels;  // parallel to ProgramPlan::kernels
  double total_measured_ns = 0;            // sum over the "ok" kernels
  int kernels_measured = 0;                // "ok" kernels
};

// Called after each kernel with the number of kernels done and the kernel's name.
using MeasureProgress = std::function<void(int done, const std::string& kernel_name)>;

// Compiles and times every kernel of `plan` at its chosen config on one target::HalideCpuTarget with
// plan.num_threads threads and input seed 1; identical kernels (graph::CanonicalKernelHash) at the
// same config are timed once. A kernel that cannot be compiled or run is recorded with its error,
// never dropped. Errors: the target's creation (kInvalidArgument for a thread count < 1).
absl::StatusOr<PlanMeasurement> MeasurePlan(const ProgramPlan& plan,
                                            const MeasureProgress& progress = nullptr);

}  // namespace perfgraph::pipeline

#endif  // PERFGRAPH_PIPELINE_PLAN_MEASURE_H_

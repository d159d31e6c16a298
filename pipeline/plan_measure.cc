#include "pipeline/plan_measure.h"

#include <map>
#include <utility>

#include "graph/kernel_hash.h"
#include "graph/status_macros.h"
#include "target/halide_cpu_target.h"
#include "target/measurement.h"

namespace perfgraph::pipeline {

absl::StatusOr<PlanMeasurement> MeasurePlan(const ProgramPlan& plan,
                                            const MeasureProgress& progress) {
  ASSIGN_OR_RETURN(target::HalideCpuTarget target,
                   target::HalideCpuTarget::Create({plan.num_threads, /*seed=*/1}));
  std::map<std::pair<uint64_t, std::string>, target::Measurement> measured;
  PlanMeasurement result;
  for (size_t i = 0; i < plan.kernels.size(); ++i) {
    const KernelPlan& k = plan.kernels[i];
    KernelMeasurement m;
    if (!k.tiling.ok()) {
      m.status = "skipped";
    } else {
      const auto key =
          std::make_pair(graph::CanonicalKernelHash(k.kernel), k.tiling->config.ToString());
      auto it = measured.find(key);
      if (it == measured.end()) {
        it = measured
                 .emplace(key, target::MeasureConfig(target, k.kernel, k.tiling->config,
                                                     /*best_label_ns=*/0))
                 .first;
      }
      const target::Measurement& t = it->second;
      m.status = std::string(target::MeasureStatusName(t.status));
      if (t.status == target::MeasureStatus::kOk) {
        m.measured_ns = t.label_ns;
        result.total_measured_ns += t.label_ns;
        ++result.kernels_measured;
      } else {
        m.error = t.error;
      }
    }
    result.kernels.push_back(std::move(m));
    if (progress) progress(static_cast<int>(i + 1), k.kernel.name);
  }
  return result;
}

}  // namespace perfgraph::pipeline

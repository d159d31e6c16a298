// The machine-readable form of a plan (pipeline/plan.h): the JSON object `perfgraph plan --json`
// prints and `perfgraph.plan()` (python/) returns as a dict, built in one place so the two never
// drift apart. Keys follow DESIGN.md's command-line contract (stable; added, never renamed).
//
//   ASSIGN_OR_RETURN(pipeline::ProgramPlan plan, pipeline::PlanProgram(path, imported, *model, {}));
//   std::cout << pipeline::PlanReport(plan).dump(2);
//
// Needs nlohmann/json (Debian nlohmann-json3-dev), like the rest of the CMake package.
#ifndef PERFGRAPH_PIPELINE_PLAN_REPORT_H_
#define PERFGRAPH_PIPELINE_PLAN_REPORT_H_

#include "nlohmann/json.hpp"
#include "pipeline/plan.h"

namespace perfgraph::pipeline {

struct PlanMeasurement;  // pipeline/plan_measure.h (perfgraph_pipeline_measure, Halide)

// The report of `plan`, keys in this order:
//   program, model_file, cost_model, fusion, threads;
//   kernels [{name, fusion_kind, root_opcode, num_nodes, output_shape,
//             config (TileConfig::ToString, null without an estimate), predicted_ns (ns per
//             execution, null without an estimate), configs_scored (with an estimate) | error (the
//             reason, without one), executions (runs per program run; null with executions_note
//             when unknown), out_of_distribution (bool), out_of_distribution_reason (when true),
//             default_config, default_predicted_ns (null when unknown),
//             with `measured`: measured_ns (null unless "ok"), measure_status, measure_error
//             (unless "ok" or "skipped")}];
//   total_predicted_ns, total_default_predicted_ns, total_notes [strings];
//   with `measured`: total_measured_ns, kernels_measured;
//   kernels_without_estimate, coverage {kernels, estimated_kernels, flops, estimated_flops,
//   estimated_flop_share, missing {"<fusion kind> <root opcode>": count}} (ProgramCoverage over
//   the kernels x executions), kernels_out_of_distribution, min_predicted_gain,
//   kernels_kept_default;
//   fusion "cost" only: decisions {declined_cost, declined_legality, declined_no_estimate, fused}
//   and fusion_decisions [{producer, opcode, decision, reason}].
// `measured` (optional, borrowed): pipeline::MeasurePlan's result for `plan`, one KernelMeasurement
// per plan kernel in order (a kernel beyond its entries gets no measured keys). Never fails, prints
// nothing.
nlohmann::ordered_json PlanReport(const ProgramPlan& plan, const PlanMeasurement* measured = nullptr);

}  // namespace perfgraph::pipeline

#endif  // PERFGRAPH_PIPELINE_PLAN_REPORT_H_

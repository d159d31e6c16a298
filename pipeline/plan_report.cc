#include "pipeline/plan_report.h"

#include <string>
#include <utility>

#include "pipeline/plan_measure.h"
#include "pipeline/program_total.h"

namespace perfgraph::pipeline {
namespace {

nlohmann::ordered_json NumberOrNull(const std::optional<double>& value) {
  return value.has_value() ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

}  // namespace

nlohmann::ordered_json PlanReport(const ProgramPlan& plan, const PlanMeasurement* measured) {
  nlohmann::ordered_json report;
  report["program"] = plan.program;
  report["model_file"] = plan.model_file;
  report["cost_model"] = plan.cost_model;
  report["fusion"] = plan.fusion;
  report["threads"] = plan.num_threads;
  nlohmann::ordered_json kernels = nlohmann::ordered_json::array();
  ProgramCoverage covered;
  for (size_t i = 0; i < plan.kernels.size(); ++i) {
    const KernelPlan& kp = plan.kernels[i];
    const graph::Kernel& kernel = kp.kernel;
    covered.Add(kernel, kp.runs, kp.tiling.ok());
    nlohmann::ordered_json k;
    k["name"] = kernel.name;
    k["fusion_kind"] = std::string(graph::FusionKindName(kernel.kind));
    k["root_opcode"] = std::string(graph::HloOpcodeName(kernel.root_instruction().opcode));
    k["num_nodes"] = kernel.size();
    k["output_shape"] = kernel.root_instruction().shape.ToString();
    if (kp.tiling.ok()) {
      k["config"] = kp.tiling->config.ToString();
      k["predicted_ns"] = kp.tiling->predicted_ns;
      k["configs_scored"] = kp.tiling->configs_scored;
    } else {
      k["config"] = nullptr;
      k["predicted_ns"] = nullptr;
      k["error"] = std::string(kp.tiling.status().message());
    }
    if (kp.runs.executions.has_value()) {
      k["executions"] = *kp.runs.executions;
    } else {
      k["executions"] = nullptr;
      k["executions_note"] = kp.runs.note;
    }
    // Learned models flag kernels outside what they were trained on (cost/training_distribution.h).
    k["out_of_distribution"] = !kp.out_of_distribution.empty();
    if (!kp.out_of_distribution.empty()) {
      k["out_of_distribution_reason"] = kp.out_of_distribution;
    }
    k["default_config"] = kp.default_config.ToString();
    k["default_predicted_ns"] = NumberOrNull(kp.default_predicted_ns);
    if (measured != nullptr && i < measured->kernels.size()) {
      const KernelMeasurement& m = measured->kernels[i];
      k["measured_ns"] = NumberOrNull(m.measured_ns);
      k["measure_status"] = m.status;
      if (m.status != "ok" && m.status != "skipped") k["measure_error"] = m.error;
    }
    kernels.push_back(std::move(k));
  }
  report["kernels"] = std::move(kernels);
  report["total_predicted_ns"] = plan.total_predicted_ns;
  report["total_default_predicted_ns"] = plan.total_default_predicted_ns;
  report["total_notes"] = plan.total_notes;
  if (measured != nullptr) {
    report["total_measured_ns"] = measured->total_measured_ns;
    report["kernels_measured"] = measured->kernels_measured;
  }
  report["kernels_without_estimate"] = plan.kernels_without_estimate;
  nlohmann::ordered_json coverage;
  coverage["kernels"] = covered.kernels();
  coverage["estimated_kernels"] = covered.estimated_kernels();
  coverage["flops"] = covered.flops();
  coverage["estimated_flops"] = covered.estimated_flops();
  coverage["estimated_flop_share"] = covered.estimated_flop_share();
  coverage["missing"] = nlohmann::ordered_json::object();
  for (const auto& [kind, count] : covered.missing()) coverage["missing"][kind] = count;
  report["coverage"] = std::move(coverage);
  report["kernels_out_of_distribution"] = plan.kernels_out_of_distribution;
  report["min_predicted_gain"] = plan.min_predicted_gain;
  report["kernels_kept_default"] = plan.kernels_kept_default;
  if (plan.fusion == "cost") {
    report["decisions"] = {{"declined_cost", plan.decision_counts.declined_cost},
                           {"declined_legality", plan.decision_counts.declined_legality},
                           {"declined_no_estimate", plan.decision_counts.declined_no_estimate},
                           {"fused", plan.decision_counts.fused}};
    nlohmann::ordered_json decisions = nlohmann::ordered_json::array();
    for (const fusion::FusionDecision& d : plan.decisions) {
      decisions.push_back({{"producer", d.producer_name},
                           {"opcode", std::string(graph::HloOpcodeName(d.producer_opcode))},
                           {"decision", std::string(fusion::FusionDecisionKindName(d.kind))},
                           {"reason", d.reason}});
    }
    report["fusion_decisions"] = std::move(decisions);
  }
  return report;
}

}  // namespace perfgraph::pipeline

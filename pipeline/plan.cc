#include "pipeline/plan.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "fusion/default_fusion.h"
#include "graph/status_macros.h"

namespace perfgraph::pipeline {

absl::string_view FusionModeName(FusionMode mode) {
  switch (mode) {
    case FusionMode::kDefault: return "default";
    case FusionMode::kCost: return "cost";
  }
  return "unknown";
}

absl::StatusOr<FusionMode> ParseFusionMode(absl::string_view name) {
  if (name == "default") return FusionMode::kDefault;
  if (name == "cost") return FusionMode::kCost;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown fusion '", name, "' (expected cost or default)"));
}

absl::StatusOr<FusedModel> FuseModel(const std::string& path, const graph::ImportedModel& model,
                                     FusionMode mode, cost::CostModel* cost_model) {
  FusedModel result;
  if (!model.prefused_kernels.empty()) {
    result.kernels = model.prefused_kernels;
    result.fusion = "file";
    return result;
  }
  if (mode == FusionMode::kCost && cost_model == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": FuseModel: cost-model fusion needs a cost model"));
  }
  result.fusion = std::string(FusionModeName(mode));
  std::vector<std::pair<std::string, const graph::Program*>> programs = {{"", &model.program}};
  for (const auto& [name, body] : model.called_programs) programs.push_back({name + "/", &body});
  std::unique_ptr<fusion::FusionPass> pass;
  if (mode == FusionMode::kCost) pass = std::make_unique<fusion::FusionPass>(*cost_model);
  for (const auto& [prefix, program] : programs) {
    absl::StatusOr<std::vector<graph::Kernel>> kernels;
    if (pass != nullptr) {
      auto fused = pass->Run(*program);
      if (fused.ok()) {
        kernels = std::move(fused->kernels);
        for (fusion::FusionDecision& d : fused->decisions) {
          d.producer_name = prefix + d.producer_name;
          result.decisions.push_back(std::move(d));
        }
      } else {
        kernels = fused.status();
      }
    } else {
      kernels = fusion::DefaultFusion(*program);
    }
    if (!kernels.ok()) {
      return absl::Status(kernels.status().code(),
                          absl::StrCat(path, ": ", prefix, kernels.status().message()));
    }
    for (graph::Kernel& kernel : *kernels) {
      kernel.name = prefix + kernel.name;
      result.kernels.push_back(std::move(kernel));
    }
  }
  return result;
}

absl::StatusOr<ProgramPlan> PlanProgram(const std::string& path, const graph::ImportedModel& model,
                                        cost::CostModel& cost_model, const PlanOptions& options) {
  ASSIGN_OR_RETURN(FusedModel fused, FuseModel(path, model, options.fusion, &cost_model));
  ProgramPlan plan;
  plan.program = model.program.name;
  plan.model_file = path;
  plan.cost_model = cost_model.name();
  plan.fusion = fused.fusion;
  plan.num_threads = options.num_threads;
  plan.min_predicted_gain = options.tiling.min_predicted_gain;

  // Tiling: the config space of each kernel, one batch per kernel. The pass already estimated
  // tiling::Default among the configs it scored (KernelTiling::default_predicted_ns); only the
  // defaults it did not score are estimated here, in one batch, for comparison.
  tiling::TilingPass tiling(cost_model, options.tiling);
  std::vector<absl::StatusOr<tiling::KernelTiling>> best = tiling.RunAll(fused.kernels);
  std::vector<absl::StatusOr<double>> default_ns(fused.kernels.size(),
                                                 absl::UnknownError("no plan for the kernel"));
  cost::CostBatch defaults;
  std::vector<size_t> batched;  // kernel index of each query of `defaults`
  for (size_t i = 0; i < fused.kernels.size(); ++i) {
    if (!best[i].ok()) continue;
    if (best[i]->default_predicted_ns > 0) {
      default_ns[i] = best[i]->default_predicted_ns;
    } else {
      defaults.Enqueue(fused.kernels[i], tiling::Default(fused.kernels[i]));
      batched.push_back(i);
    }
  }
  if (!batched.empty()) {
    std::vector<absl::StatusOr<double>> estimates = defaults.Evaluate(cost_model);
    for (size_t q = 0; q < batched.size() && q < estimates.size(); ++q) {
      default_ns[batched[q]] = std::move(estimates[q]);
    }
  }

  plan.kernels.reserve(fused.kernels.size());
  ProgramTotal predicted, by_default;
  for (size_t i = 0; i < fused.kernels.size(); ++i) {
    KernelPlan k;
    k.kernel = std::move(fused.kernels[i]);
    k.tiling = std::move(best[i]);
    k.default_config = tiling::Default(k.kernel);
    k.out_of_distribution = cost_model.OutOfDistribution(k.kernel);
    k.runs = KernelRunsOf(model, k.kernel.name);
    if (k.tiling.ok()) {
      predicted.Add(k.runs, k.tiling->predicted_ns);
      if (k.tiling->kept_default) ++plan.kernels_kept_default;
      if (default_ns[i].ok()) {
        k.default_predicted_ns = *default_ns[i];
        by_default.Add(k.runs, *default_ns[i]);
      }
    } else {
      ++plan.kernels_without_estimate;
    }
    if (!k.out_of_distribution.empty()) ++plan.kernels_out_of_distribution;
    plan.kernels.push_back(std::move(k));
  }
  plan.total_predicted_ns = predicted.total_ns();
  plan.total_default_predicted_ns = by_default.total_ns();
  plan.total_notes = predicted.Notes();
  if (plan.fusion == "cost") {
    for (const fusion::FusionDecision& d : fused.decisions) {
      switch (d.kind) {
        case fusion::FusionDecisionKind::kFused: ++plan.decision_counts.fused; break;
        case fusion::FusionDecisionKind::kDeclinedCost: ++plan.decision_counts.declined_cost; break;
        case fusion::FusionDecisionKind::kDeclinedNoEstimate:
          ++plan.decision_counts.declined_no_estimate;
          break;
        case fusion::FusionDecisionKind::kDeclinedLegality:
          ++plan.decision_counts.declined_legality;
          break;
      }
    }
    plan.decisions = std::move(fused.decisions);
  }
  return plan;
}

}  // namespace perfgraph::pipeline

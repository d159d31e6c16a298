// `perfgraph plan MODEL [--cost-model learned|xgboost|analytical] [--fusion cost|default] [--measure] [--json]
//  [--threads T] [--input-shape NAME=d0,...]... [--allow-unsupported]`
//
// The compiler pipeline of DESIGN.md "Data flow" on one model: import, fuse (fusion::FusionPass with
// the cost model by default, or fusion::DefaultFusion with --fusion default; an optimised HLO file's
// own fusions are kept), then pick every kernel's tile config with tiling::TilingPass over its whole
// ConfigSpace. Prints a table (or --json) of kernels, chosen configs and predicted times, next to the
// prediction for tiling::Default. --measure compiles and times every planned kernel at its chosen
// config on this CPU (target::MeasureConfig, the dataset's measurement protocol) and adds the
// measured times. Predictions and measurements are for kernels run with --threads threads (0 = all
// logical cores, as `measure`).
//
// JSON keys (DESIGN.md contract: kernels[{name, config, predicted_ns, measured_ns?}],
// total_predicted_ns, total_measured_ns?), plus program, model_file, cost_model, fusion, threads;
// per kernel fusion_kind, root_opcode, num_nodes, output_shape, default_config,
// default_predicted_ns, configs_scored, out_of_distribution (true when a learned cost model was not
// trained on kernels like it, with out_of_distribution_reason), and error when no config could be
// estimated (then the kernel is left out of the totals); measure_status per measured kernel;
// total_default_predicted_ns, kernels_without_estimate, kernels_out_of_distribution; with
// --fusion cost a decisions summary {fused, declined_cost, declined_no_estimate,
// declined_legality} and fusion_decisions [{producer, opcode, decision, reason}].
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cost/analytical_model.h"
#include "cost/learned_model.h"
#include "cost/xgboost_model.h"
#include "data/kernel_proto.h"
#include "fusion/default_fusion.h"
#include "fusion/fusion_pass.h"
#include "graph/import.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"
#include "target/halide_cpu_target.h"
#include "target/measurement.h"
#include "tiling/tiling_pass.h"
#include "tools/cli.h"
#include "tools/report.h"
#include "tools/progress.h"

ABSL_DECLARE_FLAG(std::string, model);  // tools/eval.cc: the model directory
ABSL_FLAG(std::string, cost_model, "learned",
          "plan, predict: cost model, learned (the GNN of --model, default models/default) | "
          "xgboost (the gradient-boosted baseline of --xgboost-model) | analytical.");
ABSL_FLAG(std::string, xgboost_model, perfgraph::cost::kDefaultXgboostModelDir,
          "plan, predict, compare, eval: directory of the XGBoost baseline (perfgraph train "
          "--model-kind xgboost) behind --cost-model xgboost and eval's xgboost column.");
ABSL_FLAG(std::string, fusion, "",
          "plan, predict: fusion pass, cost (fusion::FusionPass with the cost model) | default "
          "(XLA-like heuristic). Default: cost for plan, default for predict.");
ABSL_FLAG(bool, measure, false,
          "plan: also compile and time every planned kernel on this CPU (Halide).");
ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(int, threads);

namespace perfgraph::tools {

absl::StatusOr<std::string> LearnedWeightsPath(absl::string_view what, absl::string_view way_out) {
  std::string dir = absl::GetFlag(FLAGS_model);
  if (dir.empty()) dir = kDefaultModelDir;
  const std::string weights = absl::StrCat(dir, "/", kLearnedWeightsFile);
  std::error_code error;
  if (!std::filesystem::exists(weights, error)) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": no learned model in ", dir, " (", weights, " is missing): train one with "
        "`perfgraph train --out DIR` and pass --model DIR, or ", way_out));
  }
  return weights;
}

absl::StatusOr<std::unique_ptr<cost::CostModel>> MakeCostModel(absl::string_view name,
                                                               int num_threads) {
  if (name == "learned") {
    ASSIGN_OR_RETURN(const std::string weights,
                     LearnedWeightsPath("--cost-model learned", "pass --cost-model analytical"));
    ASSIGN_OR_RETURN(cost::LearnedModel model, cost::LearnedModel::Load(weights));
    return std::make_unique<cost::LearnedModel>(std::move(model));
  }
  if (name == "xgboost") {
    const std::string dir = absl::GetFlag(FLAGS_xgboost_model);
    absl::StatusOr<std::unique_ptr<cost::XgboostModel>> model =
        cost::XgboostModel::Load(dir, std::max(1, num_threads));
    if (model.status().code() == absl::StatusCode::kNotFound) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--cost-model xgboost: ", model.status().message(),
          "; pass --xgboost-model DIR of a model trained with `perfgraph train --model-kind "
          "xgboost`, or --cost-model analytical"));
    }
    if (!model.ok()) return model.status();
    return std::unique_ptr<cost::CostModel>(std::move(*model));
  }
  if (name != "analytical") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--cost-model must be learned, xgboost or analytical, got '", name, "'"));
  }
  cost::AnalyticalModelOptions options;
  options.num_threads = num_threads;
  ASSIGN_OR_RETURN(cost::AnalyticalModel model, cost::AnalyticalModel::CreateDefault(options));
  return std::make_unique<cost::AnalyticalModel>(std::move(model));
}

absl::StatusOr<FusedModel> FuseModel(const std::string& path, const graph::ImportedModel& model,
                                     absl::string_view fusion, cost::CostModel* cost_model) {
  FusedModel result;
  if (!model.prefused_kernels.empty()) {
    result.kernels = model.prefused_kernels;
    result.fusion = "file";
    return result;
  }
  if (fusion != "default" && fusion != "cost") {
    return absl::InvalidArgumentError(
        absl::StrCat("--fusion must be cost or default, got '", fusion, "'"));
  }
  if (fusion == "cost" && cost_model == nullptr) {
    return absl::InvalidArgumentError("FuseModel: --fusion cost needs a cost model");
  }
  result.fusion = std::string(fusion);
  std::vector<std::pair<std::string, const graph::Program*>> programs = {{"", &model.program}};
  for (const auto& [name, body] : model.called_programs) programs.push_back({name + "/", &body});
  std::unique_ptr<fusion::FusionPass> pass;
  if (fusion == "cost") pass = std::make_unique<fusion::FusionPass>(*cost_model);
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

namespace {

std::string Microseconds(const nlohmann::ordered_json& ns) {
  return ns.is_number() ? absl::StrFormat("%.2f", ns.get<double>() / 1e3) : std::string("-");
}

absl::StatusOr<nlohmann::ordered_json> Plan(const std::string& path,
                                            const graph::ImportOptions& import_options) {
  const int threads = ThreadsFlag();
  std::string fusion = absl::GetFlag(FLAGS_fusion);
  if (fusion.empty()) fusion = "cost";
  if (fusion != "cost" && fusion != "default") {
    return absl::InvalidArgumentError(
        absl::StrCat("--fusion must be cost or default, got '", fusion, "'"));
  }
  const std::string model_name = absl::GetFlag(FLAGS_cost_model);
  ASSIGN_OR_RETURN(std::unique_ptr<cost::CostModel> model, MakeCostModel(model_name, threads));
  ASSIGN_OR_RETURN(graph::ImportedModel imported, graph::ImportModelFile(path, import_options));
  ASSIGN_OR_RETURN(FusedModel fused, FuseModel(path, imported, fusion, model.get()));

  // Tiling: the whole config space of each kernel, one batch per kernel; then tiling::Default of
  // every kernel in one batch for comparison.
  tiling::TilingPass tiling(*model);
  std::vector<absl::StatusOr<tiling::KernelTiling>> best = tiling.RunAll(fused.kernels);
  cost::CostBatch defaults;
  for (const graph::Kernel& kernel : fused.kernels) defaults.Enqueue(kernel, tiling::Default(kernel));
  std::vector<absl::StatusOr<double>> default_ns = defaults.Evaluate(*model);

  nlohmann::ordered_json report;
  report["program"] = imported.program.name;
  report["model_file"] = path;
  report["cost_model"] = model->name();
  report["fusion"] = fused.fusion;
  report["threads"] = threads;
  nlohmann::ordered_json kernels = nlohmann::ordered_json::array();
  double total_predicted = 0, total_default = 0;
  int without_estimate = 0;
  int out_of_distribution = 0;
  for (size_t i = 0; i < fused.kernels.size(); ++i) {
    const graph::Kernel& kernel = fused.kernels[i];
    nlohmann::ordered_json k;
    k["name"] = kernel.name;
    k["fusion_kind"] = std::string(graph::FusionKindName(kernel.kind));
    k["root_opcode"] = std::string(graph::HloOpcodeName(kernel.root_instruction().opcode));
    k["num_nodes"] = kernel.size();
    k["output_shape"] = kernel.root_instruction().shape.ToString();
    if (best[i].ok()) {
      k["config"] = best[i]->config.ToString();
      k["predicted_ns"] = best[i]->predicted_ns;
      k["configs_scored"] = best[i]->configs_scored;
      total_predicted += best[i]->predicted_ns;
    } else {
      k["config"] = nullptr;
      k["predicted_ns"] = nullptr;
      k["error"] = std::string(best[i].status().message());
      ++without_estimate;
      std::cerr << "perfgraph plan: warning: " << path << ": " << best[i].status().message()
                << "\n";
    }
    // Learned models flag kernels outside what they were trained on (cost/training_distribution.h).
    const std::string ood = model->OutOfDistribution(kernel);
    k["out_of_distribution"] = !ood.empty();
    if (!ood.empty()) {
      k["out_of_distribution_reason"] = ood;
      ++out_of_distribution;
    }
    k["default_config"] = tiling::Default(kernel).ToString();
    if (default_ns[i].ok() && best[i].ok()) {
      k["default_predicted_ns"] = *default_ns[i];
      total_default += *default_ns[i];
    } else {
      k["default_predicted_ns"] = nullptr;
    }
    kernels.push_back(std::move(k));
  }

  std::optional<std::pair<double, int>> measured_totals;  // (total ns, kernels measured)
  if (absl::GetFlag(FLAGS_measure)) {
    // One HalideCpuTarget for every kernel; identical kernels at the same config are timed once.
    ASSIGN_OR_RETURN(target::HalideCpuTarget target,
                     target::HalideCpuTarget::Create({threads, /*seed=*/1}));
    std::map<std::pair<uint64_t, std::string>, target::Measurement> measured;
    Progress progress(static_cast<int64_t>(fused.kernels.size()), "kernels", 10);
    double total_measured = 0;
    int measured_ok = 0;
    for (size_t i = 0; i < fused.kernels.size(); ++i) {
      nlohmann::ordered_json& k = kernels[i];
      if (!best[i].ok()) {
        k["measured_ns"] = nullptr;
        k["measure_status"] = "skipped";
        progress.Advance(1, fused.kernels[i].name);
        continue;
      }
      const auto key = std::make_pair(data::CanonicalKernelHash(fused.kernels[i]),
                                      best[i]->config.ToString());
      auto it = measured.find(key);
      if (it == measured.end()) {
        it = measured
                 .emplace(key, target::MeasureConfig(target, fused.kernels[i], best[i]->config,
                                                     /*best_label_ns=*/0))
                 .first;
      }
      const target::Measurement& m = it->second;
      k["measure_status"] = std::string(target::MeasureStatusName(m.status));
      if (m.status == target::MeasureStatus::kOk) {
        k["measured_ns"] = m.label_ns;
        total_measured += m.label_ns;
        ++measured_ok;
      } else {
        k["measured_ns"] = nullptr;
        k["measure_error"] = m.error;
        std::cerr << "perfgraph plan: warning: " << path << ": kernel " << fused.kernels[i].name
                  << " could not be measured: " << m.error << "\n";
      }
      progress.Advance(1, fused.kernels[i].name);
    }
    progress.Finish(absl::StrFormat("perfgraph plan: measured %d of %d kernels", measured_ok,
                                    fused.kernels.size()));
    measured_totals = {total_measured, measured_ok};
  }
  report["kernels"] = std::move(kernels);
  report["total_predicted_ns"] = total_predicted;
  report["total_default_predicted_ns"] = total_default;
  if (measured_totals.has_value()) {
    report["total_measured_ns"] = measured_totals->first;
    report["kernels_measured"] = measured_totals->second;
  }
  report["kernels_without_estimate"] = without_estimate;
  report["kernels_out_of_distribution"] = out_of_distribution;
  if (fused.fusion == "cost") {
    std::map<std::string, int> summary = {{"fused", 0},
                                          {"declined_cost", 0},
                                          {"declined_no_estimate", 0},
                                          {"declined_legality", 0}};
    nlohmann::ordered_json decisions = nlohmann::ordered_json::array();
    for (const fusion::FusionDecision& d : fused.decisions) {
      const std::string kind(fusion::FusionDecisionKindName(d.kind));
      ++summary[kind];
      decisions.push_back({{"producer", d.producer_name},
                           {"opcode", std::string(graph::HloOpcodeName(d.producer_opcode))},
                           {"decision", kind},
                           {"reason", d.reason}});
    }
    report["decisions"] = summary;
    report["fusion_decisions"] = std::move(decisions);
  }
  return report;
}

void PrintTable(const nlohmann::ordered_json& report) {
  std::cout << absl::StrFormat(
      "program %s: %d kernels, fusion %s, cost model %s, %d threads\n",
      report["program"].get<std::string>(), report["kernels"].size(),
      report["fusion"].get<std::string>(), report["cost_model"].get<std::string>(),
      report["threads"].get<int>());
  if (report.contains("decisions")) {
    const auto& d = report["decisions"];
    std::cout << absl::StrFormat(
        "fusion decisions: %d fused, %d declined by cost, %d without estimate, %d by legality\n",
        d["fused"].get<int>(), d["declined_cost"].get<int>(), d["declined_no_estimate"].get<int>(),
        d["declined_legality"].get<int>());
  }
  const bool measured = report.contains("total_measured_ns");
  size_t name_width = 6, config_width = 6;
  for (const auto& k : report["kernels"]) {
    name_width = std::max(name_width, k["name"].get<std::string>().size());
    if (k["config"].is_string()) {
      config_width = std::max(config_width, k["config"].get<std::string>().size());
    }
  }
  const int nw = static_cast<int>(name_width), cw = static_cast<int>(config_width);
  std::cout << absl::StrFormat("%-*s %-8s %-14s %-*s %14s %14s", nw, "kernel", "kind", "root", cw,
                               "config", "predicted_us", "default_us");
  if (measured) std::cout << absl::StrFormat(" %14s", "measured_us");
  std::cout << "\n";
  for (const auto& k : report["kernels"]) {
    std::cout << absl::StrFormat(
        "%-*s %-8s %-14s %-*s %14s %14s", nw, k["name"].get<std::string>(),
        k["fusion_kind"].get<std::string>(), k["root_opcode"].get<std::string>(), cw,
        k["config"].is_string() ? k["config"].get<std::string>() : std::string("-"),
        Microseconds(k["predicted_ns"]), Microseconds(k["default_predicted_ns"]));
    if (measured) std::cout << absl::StrFormat(" %14s", Microseconds(k["measured_ns"]));
    std::cout << "\n";
  }
  std::cout << absl::StrFormat("%-*s %-8s %-14s %-*s %14s %14s", nw, "total", "", "", cw, "",
                               Microseconds(report["total_predicted_ns"]),
                               Microseconds(report["total_default_predicted_ns"]));
  if (measured) std::cout << absl::StrFormat(" %14s", Microseconds(report["total_measured_ns"]));
  std::cout << "\n";
  if (report["kernels_without_estimate"].get<int>() > 0) {
    std::cout << absl::StrFormat("%d kernels could not be estimated (left out of the totals)\n",
                                 report["kernels_without_estimate"].get<int>());
  }
  if (report["kernels_out_of_distribution"].get<int>() > 0) {
    std::cout << absl::StrFormat(
        "%d kernels lie outside the cost model's training distribution (--json: "
        "out_of_distribution_reason):\n",
        report["kernels_out_of_distribution"].get<int>());
    for (const auto& k : report["kernels"]) {
      if (k["out_of_distribution"].get<bool>()) {
        std::cout << "  " << k["name"].get<std::string>() << ": "
                  << k["out_of_distribution_reason"].get<std::string>() << "\n";
      }
    }
  }
}

}  // namespace

int RunPlan(const std::vector<std::string>& args) {
  return RunReportCommand(
      "plan", args, /*many_models=*/false,
      [](const std::vector<std::string>& models, const graph::ImportOptions& import_options) {
        return Plan(models[0], import_options);
      },
      PrintTable);
}

}  // namespace perfgraph::tools

// `perfgraph plan MODEL [--cost-model learned|xgboost|analytical] [--fusion cost|default] [--measure] [--json]
//  [--plot FILE] [--threads T] [--min-predicted-gain F] [--input-shape NAME=d0,...]... [--allow-unsupported]`
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
// JSON (built by pipeline::PlanReport, pipeline/plan_report.h, which perfgraph.plan() in python/
// shares) keys (DESIGN.md contract: kernels[{name, config, predicted_ns, measured_ns?}],
// total_predicted_ns, total_measured_ns?), plus program, model_file, cost_model, fusion, threads;
// per kernel fusion_kind, root_opcode, num_nodes, output_shape, default_config,
// default_predicted_ns, configs_scored, out_of_distribution (true when a learned cost model was not
// trained on kernels like it, with out_of_distribution_reason), and error when no config could be
// estimated (then the kernel is left out of the totals); measure_status per measured kernel;
// total_default_predicted_ns, kernels_without_estimate, kernels_out_of_distribution,
// min_predicted_gain and kernels_kept_default (the tiling pass's default guard:
// tiling::TilingPassOptions::min_predicted_gain, --min-predicted-gain or the cost model's
// pipeline::DefaultGuardBand); per kernel executions (runs per program run: while trip counts;
// null with executions_note when unknown) and total_notes (how control flow entered the totals:
// totals count each kernel x executions and a conditional's costliest branch,
// pipeline::ProgramTotal); coverage {kernels, estimated_kernels, flops, estimated_flops,
// estimated_flop_share, missing {"<fusion kind> <root opcode>": kernels without an estimate}}
// (pipeline::ProgramCoverage: graph::KernelCost FLOPs x executions; the table prints it as one
// line); with
// --fusion cost a decisions summary {fused, declined_cost, declined_no_estimate,
// declined_legality} and fusion_decisions [{producer, opcode, decision, reason}].
// --plot FILE.png|FILE.svg also writes the JSON report to FILE.png.json and draws from it with
// tools/plot.py a per-kernel bar chart: predicted time of the chosen and of the default config,
// and the measured time of the chosen config after --measure (tools/plot.h; errors of
// CheckPlotFile before anything runs, of RunPlotScript after).
#include <algorithm>
#include <iostream>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "graph/atomic_file.h"
#include "graph/import.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"
#include "pipeline/cost_models.h"
#include "pipeline/plan.h"
#include "pipeline/plan_report.h"
#include "tools/cli.h"
#include "tools/flags.h"
#include "tools/plot.h"
#include "tools/progress.h"
#include "tools/report.h"

namespace perfgraph::tools {
namespace {

std::string Microseconds(const nlohmann::ordered_json& ns) {
  return ns.is_number() ? absl::StrFormat("%.2f", ns.get<double>() / 1e3) : std::string("-");
}

absl::StatusOr<nlohmann::ordered_json> Plan(const std::string& path,
                                            const graph::ImportOptions& import_options,
                                            const PlanMeasurer& measurer) {
  const int threads = ThreadsFlag();
  std::string fusion_name = absl::GetFlag(FLAGS_fusion);
  if (fusion_name.empty()) fusion_name = "cost";
  absl::StatusOr<pipeline::FusionMode> fusion_mode = pipeline::ParseFusionMode(fusion_name);
  if (!fusion_mode.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--fusion must be cost or default, got '", fusion_name, "'"));
  }
  const bool measure = absl::GetFlag(FLAGS_measure);
  if (measure && !measurer) {
    return absl::FailedPreconditionError(
        "--measure needs perfgraph-measure (Halide); this program cannot compile kernels");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<cost::CostModel> model,
                   MakeCostModel(absl::GetFlag(FLAGS_cost_model), threads));
  ASSIGN_OR_RETURN(graph::ImportedModel imported, graph::ImportModelFile(path, import_options));
  pipeline::PlanOptions options;
  options.fusion = *fusion_mode;
  options.num_threads = threads;
  ASSIGN_OR_RETURN(pipeline::CostModelKind kind,
                   pipeline::ParseCostModelKind(absl::GetFlag(FLAGS_cost_model)));
  const double gain = absl::GetFlag(FLAGS_min_predicted_gain);
  options.tiling.min_predicted_gain = gain >= 0 ? gain : pipeline::DefaultGuardBand(kind);
  ASSIGN_OR_RETURN(pipeline::ProgramPlan plan,
                   pipeline::PlanProgram(path, imported, *model, options));

  for (const pipeline::KernelPlan& kp : plan.kernels) {
    if (!kp.tiling.ok()) {
      std::cerr << "perfgraph plan: warning: " << path << ": " << kp.tiling.status().message()
                << "\n";
    }
  }
  std::optional<pipeline::PlanMeasurement> measured;
  if (measure) {
    Progress progress(static_cast<int64_t>(plan.kernels.size()), "kernels", 10);
    ASSIGN_OR_RETURN(measured, measurer(plan, [&progress](int, const std::string& kernel) {
                       progress.Advance(1, kernel);
                     }));
    progress.Finish(absl::StrFormat("perfgraph plan: measured %d of %d kernels",
                                    measured->kernels_measured, plan.kernels.size()));
    for (size_t i = 0; i < plan.kernels.size() && i < measured->kernels.size(); ++i) {
      const pipeline::KernelMeasurement& m = measured->kernels[i];
      if (m.status != "ok" && m.status != "skipped") {
        std::cerr << "perfgraph plan: warning: " << path << ": kernel " << plan.kernels[i].kernel.name
                  << " could not be measured: " << m.error << "\n";
      }
    }
  }
  // The JSON is built by the pipeline library, shared with the Python module (python/).
  return pipeline::PlanReport(plan, measured.has_value() ? &*measured : nullptr);
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
  if (report["kernels_kept_default"].get<int>() > 0) {
    std::cout << absl::StrFormat(
        "%d kernels kept tiling::Default: no config was predicted at least %.0f %% faster "
        "(--min-predicted-gain)\n",
        report["kernels_kept_default"].get<int>(), 100 * report["min_predicted_gain"].get<double>());
  }
  for (const auto& note : report["total_notes"]) {
    std::cout << "total: " << note.get<std::string>() << "\n";
  }
  const auto& coverage = report["coverage"];
  std::string missing;
  for (const auto& [kind, count] : coverage["missing"].items()) {
    absl::StrAppend(&missing, missing.empty() ? "; without an estimate (left out of the totals): "
                                              : ", ",
                    count.get<int>(), " ", kind);
  }
  std::cout << absl::StrFormat("coverage: %d of %d kernels estimated, %.1f %% of %.3g FLOP%s\n",
                               coverage["estimated_kernels"].get<int>(),
                               coverage["kernels"].get<int>(),
                               100 * coverage["estimated_flop_share"].get<double>(),
                               coverage["flops"].get<double>(), missing);
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

int RunPlan(const std::vector<std::string>& args, const PlanMeasurer& measurer) {
  return RunReportCommand(
      "plan", args, /*many_models=*/false,
      [&measurer](const std::vector<std::string>& models,
                  const graph::ImportOptions& import_options)
          -> absl::StatusOr<nlohmann::ordered_json> {
        const std::string plot_file = absl::GetFlag(FLAGS_plot);
        if (!plot_file.empty()) RETURN_IF_ERROR(CheckPlotFile(plot_file));
        ASSIGN_OR_RETURN(nlohmann::ordered_json report, Plan(models[0], import_options, measurer));
        if (!plot_file.empty()) {
          // The report beside the picture (FILE.json), so it can be redrawn by hand.
          RETURN_IF_ERROR(graph::WriteFileAtomically(plot_file + ".json", report.dump(1) + "\n",
                                                     "--plot"));
          RETURN_IF_ERROR(RunPlotScript({"plan", plot_file + ".json", plot_file}));
          std::cerr << "perfgraph plan: bar chart in " << plot_file << "\n";
        }
        return report;
      },
      PrintTable);
}

}  // namespace perfgraph::tools

// `perfgraph compare MODEL...
//  [--schedulers default,analytical,learned,Adams2019,Mullapudi2016,Li2018] [--repeats 3]
//  [--threads T] [--seed S] [--model DIR] [--json] [--input-shape NAME=d0,...]...
//  [--dim NAME=VALUE]... [--allow-unsupported]`
//
// End-to-end comparison of whole programs: for every MODEL (files, or directories walked for *.onnx
// and *.hlo) and every scheduler column, the total MEASURED runtime of all the program's kernels on
// this CPU. Columns:
//  * default     fusion::DefaultFusion kernels, each at tiling::Default (the heuristic baseline);
//  * analytical  `plan --cost-model analytical`: fusion::FusionPass + tiling::TilingPass over the
//                whole ConfigSpace, both driven by cost::AnalyticalModel;
//  * learned     the same with the learned model of --model (default models/default); if it has no
//                model the run fails (exit 2) unless `learned` is left out of --schedulers;
//  * xgboost     the same with the gradient-boosted baseline of --xgboost-model (default
//                models/xgboost; not a default column: name it in --schedulers);
//  * Adams2019, Mullapudi2016, Li2018   the default-fusion kernels scheduled by Halide's own
//                autoscheduler (target/autoschedule.h), i.e. the same kernel boundaries as
//                `default`.
// An optimised HLO file's own fusions are kept by every column (fusion "file").
//
// Protocol: every kernel of a column is compiled once (identical kernels with the same schedule,
// data::CanonicalKernelHash, once per program and column), then --repeats complete repetitions each
// re-time every kernel with the dataset's measurement protocol (target::MeasureCompiled: warm-up,
// samples until the best three agree, label = fastest sample). A repetition's total is the sum of
// the kernels' labels (times their multiplicity); the reported total is the MEDIAN of the
// repetition totals. Columns are measured one after the other per program (only one column's
// compiled kernels are alive at a time). Input data are seeded (--seed) and identical across
// columns.
//
// Failures are never dropped: a kernel that cannot be planned (no cost estimate), compiled (e.g. an
// autoscheduler that rejects it) or measured (invalid run, timeout) is listed with its stage and
// message, counted in kernels_failed, and left out of that column's total, which is then marked
// incomplete (status "incomplete" in JSON, "!" in the table). A column whose fusion fails for a
// program has status "error" and no total. Import or default-fusion failures and bad flags stop the
// run before anything is measured (exit 2).
//
// JSON (--json): {threads, repeats, seed, schedulers[], machine_params?{parallelism,
//  last_level_cache_bytes, last_level_cache_source, balance}, programs[{program, model_file,
//  columns{<scheduler>{status, fusion, total_ns, repetition_totals_ns[], speedup_vs_default?,
//  kernels, unique_kernels, kernels_measured, kernels_failed, compile_time_s, error?,
//  failures[{kernels[], stage, error}], kernel_times[{kernels[], schedule, median_ns}]}}}],
//  summary{<scheduler>{programs, programs_complete, total_ns (sum over complete programs),
//  geomean_speedup_vs_default?, programs_compared}}}. Times in nanoseconds of wall-clock time.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cost/cost_model.h"
#include "data/kernel_proto.h"
#include "graph/import.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"
#include "target/autoschedule.h"
#include "target/halide_cpu_target.h"
#include "target/measurement.h"
#include "tiling/tile_config.h"
#include "tiling/tiling_pass.h"
#include "tools/cli.h"
#include "tools/report.h"
#include "tools/model_files.h"
#include "tools/progress.h"

ABSL_FLAG(
    int, repeats, 3,
    "compare: complete repetitions (every kernel re-timed in each); totals are their median.");
ABSL_FLAG(std::vector<std::string>, schedulers,
          std::vector<std::string>({"default", "analytical", "learned", "Adams2019",
                                    "Mullapudi2016", "Li2018"}),
          "compare: comma-separated columns: default, analytical, learned, Adams2019, "
          "Mullapudi2016, Li2018.");
ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(std::string, model);  // tools/eval.cc: the learned model directory
ABSL_DECLARE_FLAG(int, threads);
ABSL_DECLARE_FLAG(uint64_t, seed);

namespace perfgraph::tools {
namespace {

using nlohmann::ordered_json;

constexpr char kDefaultColumn[] = "default";

enum class ColumnKind { kDefault, kCostModel, kAutoscheduler };

// One scheduler column and what it needs across programs.
struct Column {
  std::string name;
  ColumnKind kind = ColumnKind::kDefault;
  std::unique_ptr<cost::CostModel> model;      // kCostModel
  std::unique_ptr<tiling::TilingPass> tiling;  // kCostModel (its identical-kernel cache is shared)
  target::Autoscheduler autoscheduler = target::Autoscheduler::kAdams2019;  // kAutoscheduler
};

// A kernel failure of a column: the kernels (all occurrences of one unique kernel), the stage
// ("plan", "compile", "measure") and the message.
struct Failure {
  std::vector<std::string> kernels;
  std::string stage;
  std::string error;
};

// One kernel of a column's plan, deduplicated by (hash, schedule) within the program.
struct UniqueKernel {
  graph::Kernel kernel;            // first occurrence
  tiling::TileConfig config;       // default and cost-model columns
  std::vector<std::string> names;  // every occurrence, in program order
};

struct ColumnPlan {
  std::string fusion;   // "default", "cost" or "file"
  std::string error;    // non-empty: the column could not be planned for this program at all
  int num_kernels = 0;  // every kernel occurrence, failed ones included
  std::vector<UniqueKernel> kernels;
  std::vector<Failure> failures;  // planning failures
};

struct ProgramPlan {
  std::string path;
  std::string program;
  std::vector<ColumnPlan> columns;  // parallel to the column list
};

absl::StatusOr<std::vector<Column>> MakeColumns(const std::vector<std::string>& names,
                                                int threads) {
  if (names.empty()) {
    return absl::InvalidArgumentError("--schedulers is empty: name at least one column");
  }
  std::vector<Column> columns;
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--schedulers names '", name, "' more than once"));
    }
    Column column;
    column.name = name;
    if (name == kDefaultColumn) {
      column.kind = ColumnKind::kDefault;
    } else if (name == "analytical" || name == "learned" || name == "xgboost") {
      column.kind = ColumnKind::kCostModel;
      if (name == "learned") {
        // MakeCostModel's own message suggests plan's flags; say what compare needs instead.
        absl::StatusOr<std::string> weights = LearnedWeightsPath(
            "--schedulers learned",
            "leave 'learned' out of --schedulers (e.g. --schedulers "
            "default,analytical,Adams2019,Mullapudi2016,Li2018)");
        if (!weights.ok()) return weights.status();
      }
      auto model = MakeCostModel(name, threads);
      if (!model.ok()) {
        return absl::Status(model.status().code(),
                            absl::StrCat("--schedulers ", name, ": ", model.status().message()));
      }
      column.model = std::move(*model);
      column.tiling = std::make_unique<tiling::TilingPass>(*column.model);
    } else {
      auto scheduler = target::ParseAutoscheduler(name);
      if (!scheduler.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--schedulers: unknown scheduler '", name,
            "' (expected default, analytical, learned, xgboost, Adams2019, Mullapudi2016 or Li2018)"));
      }
      column.kind = ColumnKind::kAutoscheduler;
      column.autoscheduler = *scheduler;
    }
    columns.push_back(std::move(column));
  }
  return columns;
}

// Adds `kernel` at `config` to `plan`, merging it with an identical kernel already there.
void AddKernel(const graph::Kernel& kernel, const tiling::TileConfig& config,
               std::map<std::pair<uint64_t, std::string>, size_t>& index, ColumnPlan& plan) {
  ++plan.num_kernels;
  const auto key = std::make_pair(data::CanonicalKernelHash(kernel), config.ToString());
  auto [it, inserted] = index.emplace(key, plan.kernels.size());
  if (inserted) plan.kernels.push_back({kernel, config, {}});
  plan.kernels[it->second].names.push_back(kernel.name);
}

// Imports and fuses one program and plans every column. Errors (stop the run): import and default
// fusion failures. Cost-column failures are recorded in the column's plan.
absl::StatusOr<ProgramPlan> PlanProgram(const std::string& path,
                                        const graph::ImportOptions& import_options,
                                        std::vector<Column>& columns) {
  ProgramPlan result;
  result.path = path;
  ASSIGN_OR_RETURN(graph::ImportedModel imported, graph::ImportModelFile(path, import_options));
  result.program = imported.program.name;
  ASSIGN_OR_RETURN(FusedModel fused_default, FuseModel(path, imported, "default", nullptr));
  for (Column& column : columns) {
    ColumnPlan plan;
    std::map<std::pair<uint64_t, std::string>, size_t> index;
    if (column.kind != ColumnKind::kCostModel) {
      plan.fusion = fused_default.fusion;
      for (const graph::Kernel& kernel : fused_default.kernels) {
        // Autoscheduled kernels ignore the config; a default one keeps the dedup key uniform.
        const tiling::TileConfig config =
            column.kind == ColumnKind::kDefault ? tiling::Default(kernel) : tiling::TileConfig();
        AddKernel(kernel, config, index, plan);
      }
    } else {
      auto fused = FuseModel(path, imported, "cost", column.model.get());
      if (!fused.ok()) {
        plan.fusion = "cost";
        plan.error = std::string(fused.status().message());
      } else {
        plan.fusion = fused->fusion;
        std::vector<absl::StatusOr<tiling::KernelTiling>> best =
            column.tiling->RunAll(fused->kernels);
        for (size_t i = 0; i < fused->kernels.size(); ++i) {
          if (best[i].ok()) {
            AddKernel(fused->kernels[i], best[i]->config, index, plan);
          } else {
            ++plan.num_kernels;
            plan.failures.push_back(
                {{fused->kernels[i].name}, "plan", std::string(best[i].status().message())});
          }
        }
      }
    }
    result.columns.push_back(std::move(plan));
  }
  return result;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

ordered_json FailureJson(const Failure& f) {
  return {{"kernels", f.kernels}, {"stage", f.stage}, {"error", f.error}};
}

// Compiles and times one column of one program; returns its JSON entry (without speedup).
ordered_json MeasureColumn(const ProgramPlan& program, const Column& column, const ColumnPlan& plan,
                           const target::HalideCpuTarget& target, int repeats, Progress& progress) {
  ordered_json out;
  std::vector<Failure> failures = plan.failures;
  if (!plan.error.empty()) {
    out["status"] = "error";
    out["fusion"] = plan.fusion;
    out["error"] = plan.error;
    out["total_ns"] = nullptr;
    std::cerr << "perfgraph compare: warning: " << program.path << ": column " << column.name
              << ": " << plan.error << "\n";
    return out;
  }
  const size_t n = plan.kernels.size();
  const target::ProtocolOptions protocol;
  std::vector<std::optional<target::CompiledKernel>> compiled(n);
  std::vector<std::vector<double>> labels(n);
  absl::Duration compile_time;
  for (size_t u = 0; u < n; ++u) {
    const UniqueKernel& k = plan.kernels[u];
    absl::StatusOr<target::CompiledKernel> c =
        column.kind == ColumnKind::kAutoscheduler
            ? target::CompileAutoscheduled(target, k.kernel, column.autoscheduler)
            : target.Compile(k.kernel, k.config);
    progress.Advance(1, absl::StrCat(column.name, " compile ", k.kernel.name));
    if (!c.ok()) {
      failures.push_back({k.names, "compile", c.status().ToString()});
      progress.Advance(repeats, k.kernel.name);
      continue;
    }
    compile_time += c->compile_time();
    compiled[u] = std::move(*c);
  }
  for (int rep = 0; rep < repeats; ++rep) {
    for (size_t u = 0; u < n; ++u) {
      if (!compiled[u].has_value()) continue;
      const target::Measurement m =
          target::MeasureCompiled(target, *compiled[u], /*best_label_ns=*/0, protocol);
      progress.Advance(1, absl::StrCat(column.name, " ", plan.kernels[u].kernel.name));
      if (m.status != target::MeasureStatus::kOk) {
        failures.push_back({plan.kernels[u].names, "measure",
                            absl::StrCat(target::MeasureStatusName(m.status), ": ", m.error)});
        compiled[u].reset();
        labels[u].clear();
        progress.Advance(repeats - rep - 1, plan.kernels[u].kernel.name);
        continue;
      }
      labels[u].push_back(m.label_ns);
    }
  }
  compiled.clear();

  std::vector<double> repetition_totals(repeats, 0.0);
  int measured = 0;
  ordered_json kernel_times = ordered_json::array();
  for (size_t u = 0; u < n; ++u) {
    if (static_cast<int>(labels[u].size()) != repeats) continue;
    const UniqueKernel& k = plan.kernels[u];
    for (int rep = 0; rep < repeats; ++rep)
      repetition_totals[rep] += labels[u][rep] * k.names.size();
    measured += static_cast<int>(k.names.size());
    kernel_times.push_back(
        {{"kernels", k.names},
         {"schedule",
          column.kind == ColumnKind::kAutoscheduler ? column.name : k.config.ToString()},
         {"median_ns", Median(labels[u])}});
  }
  int failed = 0;
  ordered_json failures_json = ordered_json::array();
  for (const Failure& f : failures) {
    failed += static_cast<int>(f.kernels.size());
    failures_json.push_back(FailureJson(f));
    std::cerr << "perfgraph compare: warning: " << program.path << ": column " << column.name
              << ": kernel " << absl::StrJoin(f.kernels, ", ") << " failed (" << f.stage
              << "): " << f.error << "\n";
  }
  out["status"] = failed == 0 ? "complete" : "incomplete";
  out["fusion"] = plan.fusion;
  out["total_ns"] = measured > 0 ? ordered_json(Median(repetition_totals)) : ordered_json(nullptr);
  out["repetition_totals_ns"] =
      measured > 0 ? ordered_json(repetition_totals) : ordered_json::array();
  out["kernels"] = plan.num_kernels;
  out["unique_kernels"] = n;
  out["kernels_measured"] = measured;
  out["kernels_failed"] = failed;
  out["compile_time_s"] = absl::ToDoubleSeconds(compile_time);
  out["failures"] = std::move(failures_json);
  out["kernel_times"] = std::move(kernel_times);
  return out;
}

absl::StatusOr<ordered_json> Compare(const std::vector<std::string>& paths,
                                     const graph::ImportOptions& import_options) {
  const int repeats = absl::GetFlag(FLAGS_repeats);
  if (repeats < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--repeats must be >= 1, got ", repeats));
  }
  const int threads = ThreadsFlag();
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  ASSIGN_OR_RETURN(std::vector<Column> columns,
                   MakeColumns(absl::GetFlag(FLAGS_schedulers), threads));
  ASSIGN_OR_RETURN(std::vector<std::string> files, CollectModelFiles(paths));
  ASSIGN_OR_RETURN(target::HalideCpuTarget target,
                   target::HalideCpuTarget::Create({threads, seed}));

  ordered_json report;
  report["threads"] = threads;
  report["repeats"] = repeats;
  report["seed"] = seed;
  std::vector<std::string> column_names;
  for (const Column& c : columns) column_names.push_back(c.name);
  report["schedulers"] = column_names;
  bool any_autoscheduler = false;
  for (const Column& c : columns) {
    if (c.kind != ColumnKind::kAutoscheduler) continue;
    any_autoscheduler = true;
    // A missing plugin is a setup problem: stop before measuring anything.
    RETURN_IF_ERROR(target::LoadAutoschedulerPlugin(c.autoscheduler));
  }
  if (any_autoscheduler) {
    ASSIGN_OR_RETURN(target::ResolvedMachineParams params, target::ResolveMachineParams(target));
    report["machine_params"] = {{"parallelism", params.parallelism},
                                {"last_level_cache_bytes", params.last_level_cache_bytes},
                                {"last_level_cache_source", params.last_level_cache_source},
                                {"balance", params.balance}};
  }

  // Phase 1: import, fuse and plan everything (bad input fails here, before any measurement).
  std::vector<ProgramPlan> plans;
  {
    Progress planning(static_cast<int64_t>(files.size()), "programs planned", 1);
    for (const std::string& path : files) {
      ASSIGN_OR_RETURN(ProgramPlan plan, PlanProgram(path, import_options, columns));
      plans.push_back(std::move(plan));
      planning.Advance(1, plans.back().program);
    }
    planning.Finish(absl::StrFormat("perfgraph compare: planned %d programs x %d columns",
                                    plans.size(), columns.size()));
  }

  // Phase 2: compile once, time `repeats` times, per program and column.
  int64_t work = 0;
  for (const ProgramPlan& p : plans) {
    for (const ColumnPlan& c : p.columns) {
      if (c.error.empty()) work += static_cast<int64_t>(c.kernels.size()) * (1 + repeats);
    }
  }
  Progress progress(work, "compiles+timings", 50);
  ordered_json programs = ordered_json::array();
  for (const ProgramPlan& p : plans) {
    ordered_json program;
    program["program"] = p.program;
    program["model_file"] = p.path;
    ordered_json cols;
    for (size_t c = 0; c < columns.size(); ++c) {
      cols[columns[c].name] = MeasureColumn(p, columns[c], p.columns[c], target, repeats, progress);
    }
    // Speedup over the default column when both are complete.
    if (cols.contains(kDefaultColumn) && cols[kDefaultColumn]["status"] == "complete") {
      const double base = cols[kDefaultColumn]["total_ns"].get<double>();
      for (auto& [name, col] : cols.items()) {
        if (col["status"] == "complete") {
          col["speedup_vs_default"] = base / col["total_ns"].get<double>();
        }
      }
    }
    program["columns"] = std::move(cols);
    programs.push_back(std::move(program));
  }
  progress.Finish(
      absl::StrFormat("perfgraph compare: measured %d programs x %d columns, %d repetitions",
                      plans.size(), columns.size(), repeats));

  ordered_json summary;
  for (const Column& column : columns) {
    int complete = 0, compared = 0;
    double total = 0, log_speedup = 0;
    for (const auto& program : programs) {
      const auto& col = program["columns"][column.name];
      if (col["status"] != "complete") continue;
      ++complete;
      total += col["total_ns"].get<double>();
      if (col.contains("speedup_vs_default")) {
        ++compared;
        log_speedup += std::log(col["speedup_vs_default"].get<double>());
      }
    }
    ordered_json s;
    s["programs"] = programs.size();
    s["programs_complete"] = complete;
    s["total_ns"] = total;
    s["programs_compared"] = compared;
    s["geomean_speedup_vs_default"] =
        compared > 0 ? ordered_json(std::exp(log_speedup / compared)) : ordered_json(nullptr);
    summary[column.name] = std::move(s);
  }
  report["programs"] = std::move(programs);
  report["summary"] = std::move(summary);
  return report;
}

std::string Cell(const ordered_json& col) {
  if (col["status"] == "error") return "error";
  if (!col["total_ns"].is_number()) return "failed";
  std::string cell = absl::StrFormat("%.2f", col["total_ns"].get<double>() / 1e3);
  if (col["status"] == "incomplete") cell += "!";
  return cell;
}

void PrintTable(const ordered_json& report) {
  const std::vector<std::string> names = report["schedulers"].get<std::vector<std::string>>();
  std::cout << absl::StrFormat(
      "total measured runtime per program, microseconds (median of %d repetitions, %d threads)\n",
      report["repeats"].get<int>(), report["threads"].get<int>());
  size_t program_width = 18;  // "geomean vs default"
  for (const auto& p : report["programs"]) {
    program_width = std::max(program_width, p["program"].get<std::string>().size());
  }
  const int pw = static_cast<int>(program_width);
  std::vector<int> widths;
  std::cout << absl::StrFormat("%-*s %7s", pw, "program", "kernels");
  for (const std::string& name : names) {
    widths.push_back(std::max<int>(12, static_cast<int>(name.size())));
    std::cout << absl::StrFormat(" %*s", widths.back(), name);
  }
  std::cout << "\n";
  bool any_incomplete = false;
  for (const auto& p : report["programs"]) {
    const auto& cols = p["columns"];
    // Kernel count of the default fusion when present, else of the first column.
    const auto& first = cols.contains(kDefaultColumn) ? cols[kDefaultColumn] : cols[names[0]];
    std::cout << absl::StrFormat("%-*s %7s", pw, p["program"].get<std::string>(),
                                 first.contains("kernels") ? first["kernels"].dump() : "-");
    for (size_t i = 0; i < names.size(); ++i) {
      const auto& col = cols[names[i]];
      any_incomplete |= col["status"] != "complete";
      std::cout << absl::StrFormat(" %*s", widths[i], Cell(col));
    }
    std::cout << "\n";
  }
  if (report["summary"].contains(kDefaultColumn)) {
    std::cout << absl::StrFormat("%-*s %7s", pw, "geomean vs default", "");
    for (size_t i = 0; i < names.size(); ++i) {
      const auto& s = report["summary"][names[i]];
      std::cout << absl::StrFormat(
          " %*s", widths[i],
          s["geomean_speedup_vs_default"].is_number()
              ? absl::StrFormat("%.3fx (%d)", s["geomean_speedup_vs_default"].get<double>(),
                                s["programs_compared"].get<int>())
              : std::string("-"));
    }
    std::cout << "\n";
  }
  if (!any_incomplete) return;
  std::cout << "\n! = incomplete: some kernels failed and are left out of the total; "
               "error = the column could not be planned\n";
  for (const auto& p : report["programs"]) {
    for (const std::string& name : names) {
      const auto& col = p["columns"][name];
      if (col["status"] == "complete") continue;
      if (col["status"] == "error") {
        std::cout << absl::StrFormat("  %s / %s: %s\n", p["program"].get<std::string>(), name,
                                     col["error"].get<std::string>());
        continue;
      }
      std::cout << absl::StrFormat("  %s / %s: %d of %d kernels failed\n",
                                   p["program"].get<std::string>(), name,
                                   col["kernels_failed"].get<int>(), col["kernels"].get<int>());
      for (const auto& f : col["failures"]) {
        std::cout << absl::StrFormat(
            "    %s [%s]: %s\n", absl::StrJoin(f["kernels"].get<std::vector<std::string>>(), ", "),
            f["stage"].get<std::string>(), f["error"].get<std::string>());
      }
    }
  }
}

}  // namespace

int RunCompare(const std::vector<std::string>& args) {
  return RunReportCommand(
      "compare", args, /*many_models=*/true,
      [](const std::vector<std::string>& models, const graph::ImportOptions& import_options) {
        return Compare(models, import_options);
      },
      PrintTable);
}

}  // namespace perfgraph::tools

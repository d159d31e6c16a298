// `perfgraph compare MODEL...
//  [--schedulers default,analytical,learned,Adams2019,Mullapudi2016,Li2018] [--repeats 3]
//  [--threads T] [--seed S] [--model DIR] [--xgboost-model DIR] [--json] [--input-shape NAME=d0,...]...
//  [--dim NAME=VALUE]... [--allow-unsupported]`
//
// End-to-end comparison of whole programs by measured runtime: pipeline::ComparePrograms
// (pipeline/compare.h: the columns, the protocol and how failures are kept) over MODEL files and
// directories (walked for *.onnx and *.hlo), printed as a table or JSON. `learned` needs a learned
// model (--model, default the shipped one); without one the run fails (exit 2) unless `learned` is
// left out of --schedulers. Import or default-fusion failures and bad flags stop the run before
// anything is measured (exit 2).
//
// JSON (--json): {threads, repeats, seed, schedulers[], machine_params?{parallelism,
//  last_level_cache_bytes, last_level_cache_source, balance}, programs[{program, model_file,
//  columns{<scheduler>{status, fusion, total_ns, repetition_totals_ns[], speedup_vs_default?,
//  kernels, unique_kernels, kernels_measured, kernels_failed, compile_time_s, error?,
//  failures[{kernels[], stage, error}], kernel_times[{kernels[], schedule, median_ns}]}}}],
//  summary{<scheduler>{programs, programs_complete, total_ns (sum over complete programs),
//  geomean_speedup_vs_default?, programs_compared}}}. Times in nanoseconds of wall-clock time.
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "graph/import.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"
#include "pipeline/compare.h"
#include "tools/cli.h"
#include "tools/flags.h"
#include "tools/model_files.h"
#include "tools/progress.h"
#include "tools/report.h"

namespace perfgraph::tools {
namespace {

using nlohmann::ordered_json;

constexpr char kDefaultColumn[] = "default";

ordered_json OptionalNumber(const std::optional<double>& v) {
  return v.has_value() ? ordered_json(*v) : ordered_json(nullptr);
}

ordered_json ColumnJson(const pipeline::ColumnResult& col) {
  ordered_json out;
  out["status"] = std::string(pipeline::ColumnStatusName(col.status));
  out["fusion"] = col.fusion;
  if (col.status == pipeline::ColumnStatus::kError) {
    out["error"] = col.error;
    out["total_ns"] = nullptr;
    return out;
  }
  out["total_ns"] = OptionalNumber(col.total_ns);
  out["repetition_totals_ns"] = col.repetition_totals_ns;
  out["kernels"] = col.kernels;
  out["unique_kernels"] = col.unique_kernels;
  out["kernels_measured"] = col.kernels_measured;
  out["kernels_failed"] = col.kernels_failed;
  out["compile_time_s"] = col.compile_time_s;
  ordered_json failures = ordered_json::array();
  for (const pipeline::KernelFailure& f : col.failures) {
    failures.push_back({{"kernels", f.kernels}, {"stage", f.stage}, {"error", f.error}});
  }
  out["failures"] = std::move(failures);
  ordered_json times = ordered_json::array();
  for (const pipeline::KernelTime& t : col.kernel_times) {
    times.push_back({{"kernels", t.kernels}, {"schedule", t.schedule}, {"median_ns", t.median_ns}});
  }
  out["kernel_times"] = std::move(times);
  if (col.speedup_vs_default.has_value()) out["speedup_vs_default"] = *col.speedup_vs_default;
  return out;
}

absl::StatusOr<ordered_json> Compare(const std::vector<std::string>& paths,
                                     const graph::ImportOptions& import_options) {
  pipeline::CompareOptions options;
  options.repeats = absl::GetFlag(FLAGS_repeats);
  if (options.repeats < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--repeats must be >= 1, got ", options.repeats));
  }
  options.schedulers = absl::GetFlag(FLAGS_schedulers);
  options.num_threads = ThreadsFlag();
  options.seed = absl::GetFlag(FLAGS_seed);
  options.learned_model_dir = absl::GetFlag(FLAGS_model);
  options.xgboost_model_dir = absl::GetFlag(FLAGS_xgboost_model);
  options.tuning_log = absl::GetFlag(FLAGS_tuning_log);
  options.min_predicted_gain = absl::GetFlag(FLAGS_min_predicted_gain);
  options.import_options = import_options;
  if (std::find(options.schedulers.begin(), options.schedulers.end(), "learned") !=
      options.schedulers.end()) {
    // The library's message says what is missing; say which flag leaves the column out.
    RETURN_IF_ERROR(LearnedWeightsPath("--schedulers learned",
                                       "leave 'learned' out of --schedulers (e.g. --schedulers "
                                       "default,analytical,Adams2019,Mullapudi2016,Li2018)")
                        .status());
  }
  ASSIGN_OR_RETURN(std::vector<std::string> files, CollectModelFiles(paths));

  std::unique_ptr<Progress> planning, measuring;
  pipeline::CompareProgress progress;
  progress.planning_started = [&](int64_t programs) {
    planning = std::make_unique<Progress>(programs, "programs planned", 1);
  };
  progress.program_planned = [&](const std::string& program) { planning->Advance(1, program); };
  progress.measuring_started = [&](int64_t units) {
    planning->Finish(absl::StrFormat("perfgraph compare: planned %d programs x %d columns",
                                     files.size(), options.schedulers.size()));
    measuring = std::make_unique<Progress>(units, "compiles+timings", 50);
  };
  progress.advanced = [&](int64_t units, const std::string& what) {
    measuring->Advance(units, what);
  };
  progress.warning = [](const std::string& message) {
    std::cerr << "perfgraph compare: warning: " << message << "\n";
  };
  absl::StatusOr<pipeline::Comparison> comparison =
      pipeline::ComparePrograms(files, options, progress);
  if (!comparison.ok()) {
    // Scheduler-list errors name the flag they came from.
    if (comparison.status().code() == absl::StatusCode::kInvalidArgument &&
        absl::StrContains(comparison.status().message(), "scheduler")) {
      return absl::InvalidArgumentError(
          absl::StrCat("--schedulers: ", comparison.status().message()));
    }
    return comparison.status();
  }
  if (measuring != nullptr) {
    measuring->Finish(
        absl::StrFormat("perfgraph compare: measured %d programs x %d columns, %d repetitions",
                        comparison->programs.size(), options.schedulers.size(), options.repeats));
  }

  ordered_json report;
  report["threads"] = options.num_threads;
  report["repeats"] = options.repeats;
  report["seed"] = options.seed;
  report["schedulers"] = options.schedulers;
  if (comparison->machine_params.has_value()) {
    const target::ResolvedMachineParams& params = *comparison->machine_params;
    report["machine_params"] = {{"parallelism", params.parallelism},
                                {"last_level_cache_bytes", params.last_level_cache_bytes},
                                {"last_level_cache_source", params.last_level_cache_source},
                                {"balance", params.balance}};
  }
  ordered_json programs = ordered_json::array();
  for (const pipeline::ProgramComparison& p : comparison->programs) {
    ordered_json program;
    program["program"] = p.program;
    program["model_file"] = p.model_file;
    ordered_json cols;
    for (size_t c = 0; c < options.schedulers.size(); ++c) {
      cols[options.schedulers[c]] = ColumnJson(p.columns[c]);
    }
    program["columns"] = std::move(cols);
    programs.push_back(std::move(program));
  }
  ordered_json summary;
  for (size_t c = 0; c < options.schedulers.size(); ++c) {
    const pipeline::ColumnSummary& s = comparison->summary[c];
    summary[options.schedulers[c]] = {
        {"programs", s.programs},
        {"programs_complete", s.programs_complete},
        {"total_ns", s.total_ns},
        {"programs_compared", s.programs_compared},
        {"geomean_speedup_vs_default", OptionalNumber(s.geomean_speedup_vs_default)}};
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

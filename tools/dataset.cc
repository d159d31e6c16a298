// `perfgraph dataset stats DATASET... [--json]`: summary of measured record files (DESIGN.md contract:
// {records, kernels, programs, configs_per_kernel_min, configs_per_kernel_median,
//  statuses:{ok, invalid, timeout}, machine}); `dataset repeat` (tools/dataset_repeat.h),
// `dataset import` (tools/dataset_import.h) and `dataset merge` (tools/dataset_merge.h).
#include <algorithm>
#include <iostream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/dataset_stats.h"
#include "nlohmann/json.hpp"
#include "tools/cli.h"
#include "tools/dataset_import.h"
#include "tools/dataset_merge.h"
#include "tools/dataset_repeat.h"

ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(int, protocol);
ABSL_DECLARE_FLAG(int, min_rounds);
ABSL_DECLARE_FLAG(int, max_rounds);
ABSL_DECLARE_FLAG(double, stability);
ABSL_DECLARE_FLAG(int, compile_threads);
ABSL_FLAG(int, sample, 200, "dataset repeat: re-measure at least this many (kernel, config) pairs.");
ABSL_FLAG(int, kernels, 0, "dataset repeat: re-measure at least this many kernels.");
ABSL_FLAG(int, repeat_configs_per_kernel, 0,
          "dataset repeat: re-measure at most this many OK configs per kernel (0 = all).");
ABSL_FLAG(std::string, hlo, "", "dataset import: directory holding the HLO text modules.");
ABSL_FLAG(std::string, runtimes, "", "dataset import: CSV of measured runtimes (tools/dataset_import.h).");
ABSL_FLAG(bool, allow_mixed_machines, false,
          "dataset merge: merge files measured on different machines (the result has no machine).");
ABSL_FLAG(std::string, machine, "unknown (imported)",
          "dataset import: name of the machine the runtimes were measured on.");

namespace perfgraph::tools {
namespace {

int RunStats(const std::vector<std::string>& paths) {
  auto stats = data::ComputeStats(paths);
  if (!stats.ok()) return ReportError("dataset stats", stats.status());
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << data::StatsToJson(*stats) << "\n";
    return kExitOk;
  }
  std::cout << absl::StrFormat(
      "%d records, %d distinct kernels, %d programs\n"
      "configs per kernel: min %d, median %.1f\n"
      "statuses: ok %d, invalid %d, timeout %d\n",
      stats->records, stats->kernels, stats->programs, stats->configs_per_kernel_min,
      stats->configs_per_kernel_median, stats->statuses.ok, stats->statuses.invalid,
      stats->statuses.timeout);
  std::cout << "machine: " << (stats->machine ? stats->machine->ToString() : "not recorded")
            << (stats->machines_differ ? " (files come from different machines)" : "") << "\n";
  const data::DatasetStats::Protocol& p = stats->protocol;
  std::cout << absl::StrFormat("protocol: v1 records %d, v2 records %d", p.v1_records, p.v2_records);
  if (p.v2_records > 0) {
    std::cout << absl::StrFormat(
        "; v2 OK %d (%d stable, median %.0f rounds), censored timeouts %d\n"
        "drift canary over %d kernel groups: first %.0f ns, last %.0f ns, min %.0f, max %.0f, "
        "median %.0f ns, drift (max - min) / median %.1f %%, %d rounds repeated\n"
        "other processes: at most %.2f cores during a kernel group, %d groups over 0.25 cores",
        p.v2_ok, p.v2_stable, p.median_rounds, p.censored, p.canary_groups, p.canary_first_ns,
        p.canary_last_ns, p.canary_min_ns, p.canary_max_ns, p.canary_median_ns,
        100 * p.canary_drift, p.repeated_rounds, p.max_other_load_cores, p.busy_groups);
  }
  std::cout << "\n";
  if (stats->dropped_tail_bytes > 0) {
    std::cout << "torn tails skipped: " << stats->dropped_tail_bytes << " bytes\n";
  }
  return kExitOk;
}

}  // namespace

int RunDataset(const std::vector<std::string>& args) {
  auto command_line = ParseCommandLine(args);
  if (!command_line.ok()) return ReportError("dataset", command_line.status());
  const auto& positional = command_line->positional;
  if (positional.empty()) {
    return ReportError("dataset", absl::InvalidArgumentError("expected 'dataset stats DATASET...'"));
  }
  if (positional[0] == "stats") {
    if (positional.size() < 2) {
      return ReportError("dataset stats", absl::InvalidArgumentError("expected DATASET..."));
    }
    return RunStats(std::vector<std::string>(positional.begin() + 1, positional.end()));
  }
  if (positional[0] == "repeat") {
    if (positional.size() != 2) {
      return ReportError("dataset repeat", absl::InvalidArgumentError("expected one DATASET"));
    }
    RepeatOptions options;
    options.dataset = positional[1];
    options.sample = absl::GetFlag(FLAGS_sample);
    options.seed = absl::GetFlag(FLAGS_seed);
    options.kernels = absl::GetFlag(FLAGS_kernels);
    options.configs_per_kernel = absl::GetFlag(FLAGS_repeat_configs_per_kernel);
    options.protocol = absl::GetFlag(FLAGS_protocol);
    options.interleaved.min_rounds = absl::GetFlag(FLAGS_min_rounds);
    options.interleaved.max_rounds = absl::GetFlag(FLAGS_max_rounds);
    options.interleaved.stability = absl::GetFlag(FLAGS_stability);
    options.interleaved.seed = options.seed;
    options.interleaved.compile_threads = std::max(1, absl::GetFlag(FLAGS_compile_threads));
    auto result = MeasureRepeatability(options);
    if (!result.ok()) return ReportError("dataset repeat", result.status());
    if (absl::GetFlag(FLAGS_json)) {
      auto optional_number = [](const std::optional<double>& v) {
        return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
      };
      nlohmann::ordered_json json = {
          {"pairs", result->pairs},
          {"kernels", result->kernels},
          {"failed", result->failed},
          {"threads", result->threads},
          {"median_relative_difference", result->median_relative_difference},
          {"p90_relative_difference", result->p90_relative_difference},
          {"kendall_tau_per_kernel", optional_number(result->kendall_tau_per_kernel)},
          {"kendall_tau_overall", optional_number(result->kendall_tau_overall)},
          {"programs", result->programs},
          {"protocol", result->protocol},
          {"label_statistic", result->statistic},
          {"seconds", result->seconds}};
      nlohmann::ordered_json variants = nlohmann::ordered_json::array();
      for (const RepeatVariant& v : result->variants) {
        variants.push_back({{"label_statistic", v.statistic},
                            {"median_relative_difference", v.median_relative_difference},
                            {"p90_relative_difference", v.p90_relative_difference},
                            {"kendall_tau_per_kernel", optional_number(v.kendall_tau_per_kernel)}});
      }
      json["variants"] = variants;
      std::cout << json.dump(2) << "\n";
    } else {
      auto optional_number = [](const std::optional<double>& v) {
        return v ? absl::StrFormat("%.4f", *v) : std::string("undefined");
      };
      std::cout << absl::StrFormat(
          "%d pairs of %d kernels re-measured (%d failed the second pass), %d threads\n"
          "relative difference between passes: median %.2f %%, p90 %.2f %%\n"
          "Kendall's tau between passes: per kernel %s, overall %s\n",
          result->pairs, result->kernels, result->failed, result->threads,
          100 * result->median_relative_difference, 100 * result->p90_relative_difference,
          optional_number(result->kendall_tau_per_kernel),
          optional_number(result->kendall_tau_overall));
      std::cout << absl::StrFormat("second pass: protocol %d, %d programs, %.0f s; label statistic %s\n",
                                   result->protocol, result->programs, result->seconds,
                                   result->statistic);
      std::cout << "label statistic                 median %   p90 %   tau per kernel\n";
      for (const RepeatVariant& v : result->variants) {
        std::cout << absl::StrFormat("%-30s %8.2f %8.2f   %s\n", v.statistic,
                                     100 * v.median_relative_difference,
                                     100 * v.p90_relative_difference,
                                     optional_number(v.kendall_tau_per_kernel));
      }
    }
    return kExitOk;
  }
  if (positional[0] == "merge") {
    DatasetMergeOptions options;
    options.inputs.assign(positional.begin() + 1, positional.end());
    options.out = absl::GetFlag(FLAGS_out);
    options.allow_mixed_machines = absl::GetFlag(FLAGS_allow_mixed_machines);
    auto summary = MergeDatasets(options);
    if (!summary.ok()) return ReportError("dataset merge", summary.status());
    if (absl::GetFlag(FLAGS_json)) {
      nlohmann::ordered_json json = {{"input_records", summary->input_records},
                                     {"output_records", summary->output_records},
                                     {"merged_duplicates", summary->merged_duplicates},
                                     {"conflicts", summary->conflicts},
                                     {"conflict_examples", summary->conflict_examples},
                                     {"mixed_machines", summary->mixed_machines},
                                     {"out", options.out}};
      std::cout << json.dump(2) << "\n";
    } else {
      std::cout << absl::StrFormat(
          "merged %d records of %d files into %d records (%d duplicates merged, %d conflicts): %s\n",
          summary->input_records, options.inputs.size(), summary->output_records,
          summary->merged_duplicates, summary->conflicts, options.out);
      for (const std::string& c : summary->conflict_examples) std::cout << "  conflict: " << c << "\n";
    }
    return kExitOk;
  }
  if (positional[0] == "import") {
    if (positional.size() != 1) {
      return ReportError("dataset import",
                         absl::InvalidArgumentError("expected no positional arguments"));
    }
    DatasetImportOptions options;
    options.hlo_dir = absl::GetFlag(FLAGS_hlo);
    options.runtimes_csv = absl::GetFlag(FLAGS_runtimes);
    options.out = absl::GetFlag(FLAGS_out);
    options.machine = absl::GetFlag(FLAGS_machine);
    auto summary = ImportRuntimes(options);
    if (!summary.ok()) return ReportError("dataset import", summary.status());
    std::cout << absl::StrFormat("imported %d rows into %d records of %d kernels: %s\n",
                                 summary->rows, summary->records, summary->kernels, options.out);
    return kExitOk;
  }
  return ReportError("dataset", absl::InvalidArgumentError(
                                    absl::StrCat("unknown dataset command '", positional[0], "'")));
}

}  // namespace perfgraph::tools

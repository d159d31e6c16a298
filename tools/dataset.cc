// `perfgraph dataset stats DATASET... [--json]`: summary of measured record files (DESIGN.md contract:
// {records, kernels, programs, configs_per_kernel_min, configs_per_kernel_median,
//  statuses:{ok, invalid, timeout}, machine}).
#include <iostream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/dataset_stats.h"
#include "nlohmann/json.hpp"
#include "tools/cli.h"
#include "tools/dataset_import.h"
#include "tools/dataset_repeat.h"

ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_FLAG(int, sample, 200, "dataset repeat: re-measure at least this many (kernel, config) pairs.");
ABSL_FLAG(std::string, hlo, "", "dataset import: directory holding the HLO text modules.");
ABSL_FLAG(std::string, runtimes, "", "dataset import: CSV of measured runtimes (tools/dataset_import.h).");
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
          {"kendall_tau_overall", optional_number(result->kendall_tau_overall)}};
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

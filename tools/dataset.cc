// `perfgraph dataset stats DATASET... [--json]`: summary of measured record files (DESIGN.md contract:
// {records, kernels, programs, configs_per_kernel_min, configs_per_kernel_median,
//  statuses:{ok, invalid, timeout}, machine}); `dataset repeat` (tools/dataset_repeat.h),
// `dataset import` (tools/dataset_import.h; --tpugraphs-tile: tools/dataset_tpugraphs.h),
// `dataset export` (tools/dataset_tpugraphs.h) and `dataset merge` (tools/dataset_merge.h).
#include <algorithm>
#include <iostream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "data/tpugraphs.h"
#include "graph/featurize.h"
#include "tiling/tile_config.h"
#include "data/dataset_stats.h"
#include "nlohmann/json.hpp"
#include "tools/cli.h"
#include "tools/flags.h"
#include "tools/dataset_import.h"
#include "tools/dataset_tpugraphs.h"
#include "tools/dataset_merge.h"


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
  if (stats->feature_schema != "perfgraph") {
    std::cout << "feature schema: " << stats->feature_schema << " (features stored with the records)\n";
  }
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

int RunDatasetStats(const std::vector<std::string>& args) {
  auto command_line = ParseCommandLine("dataset stats", args);
  if (!command_line.ok()) return ReportError("dataset stats", command_line.status());
  if (command_line->positional.empty()) {
    return ReportError("dataset stats", absl::InvalidArgumentError("expected DATASET..."));
  }
  return RunStats(command_line->positional);
}

int RunDatasetMerge(const std::vector<std::string>& args) {
  auto command_line = ParseCommandLine("dataset merge", args);
  if (!command_line.ok()) return ReportError("dataset merge", command_line.status());
  DatasetMergeOptions options;
  options.inputs = command_line->positional;
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

int RunDatasetImport(const std::vector<std::string>& args) {
  auto command_line = ParseCommandLine("dataset import", args);
  if (!command_line.ok()) return ReportError("dataset import", command_line.status());
  if (!command_line->positional.empty()) {
    return ReportError("dataset import",
                       absl::InvalidArgumentError("expected no positional arguments"));
  }
  if (const std::string dir = absl::GetFlag(FLAGS_tpugraphs_tile); !dir.empty()) {
    if (!absl::GetFlag(FLAGS_hlo).empty() || !absl::GetFlag(FLAGS_runtimes).empty()) {
      return ReportError("dataset import", absl::InvalidArgumentError(
                                               "--tpugraphs-tile imports TpuGraphs files; it takes "
                                               "neither --hlo nor --runtimes"));
    }
    TpuGraphsImportOptions options;
    options.dir = dir;
    options.out = absl::GetFlag(FLAGS_out);
    options.train_configs_per_tile = absl::GetFlag(FLAGS_train_configs_per_tile);
    options.seed = absl::GetFlag(FLAGS_seed);
    // The flag's default names no machine: TpuGraphs measured on TPU v3.
    if (absl::GetFlag(FLAGS_machine) != DatasetImportOptions().machine) {
      options.machine = absl::GetFlag(FLAGS_machine);
    }
    auto summary = ImportTpuGraphsTiles(options);
    if (!summary.ok()) return ReportError("dataset import", summary.status());
    if (absl::GetFlag(FLAGS_json)) {
      nlohmann::ordered_json json = {
          {"files", summary->files},
          {"records", summary->records},
          {"programs", summary->programs},
          {"feature_schema", std::string(data::kTpuGraphsTileSchema)},
          {"node_features", summary->node_features},
          {"config_features", summary->config_features},
          {"single_config_tiles_skipped", summary->single_config_tiles},
          {"train_configs_dropped", summary->train_configs_dropped},
          {"renamed_programs", summary->renamed_programs},
          {"split_file", summary->split_file ? nlohmann::ordered_json(*summary->split_file)
                                             : nlohmann::ordered_json(nullptr)},
          {"notes", summary->notes},
          {"out", options.out}};
      std::cout << json.dump(2) << "\n";
      return kExitOk;
    }
    std::cout << absl::StrFormat(
        "imported %d TpuGraphs tiles (%d configs, %d programs) of %d node and %d config features "
        "into %s\n",
        summary->files, summary->records, summary->programs, summary->node_features,
        summary->config_features, options.out);
    if (summary->train_configs_dropped > 0) {
      std::cout << "sampled " << options.train_configs_per_tile
                << " configs per train tile: " << summary->train_configs_dropped
                << " train configs not imported\n";
    }
    if (summary->single_config_tiles > 0) {
      std::cout << "skipped " << summary->single_config_tiles
                << " tiles with a single config (nothing to rank)\n";
    }
    if (summary->renamed_programs > 0) {
      std::cout << summary->renamed_programs
                << " benchmarks appear in several split directories: named <benchmark>@<dir>\n";
    }
    for (const std::string& note : summary->notes) std::cout << note << "\n";
    if (summary->split_file) {
      std::cout << "split (train/ -> train, valid/ -> test): " << *summary->split_file << "\n";
    }
    return kExitOk;
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

int RunDatasetExport(const std::vector<std::string>& args) {
  auto command_line = ParseCommandLine("dataset export", args);
  if (!command_line.ok()) return ReportError("dataset export", command_line.status());
  // --format is shared with predict (default csv there); export's only format is its default.
  const bool format_given = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a == "--format" || absl::StartsWith(a, "--format=");
  });
  const std::string format = format_given ? absl::GetFlag(FLAGS_format) : "tpugraphs-tile";
  if (format != "tpugraphs-tile") {
    return ReportError("dataset export",
                       absl::InvalidArgumentError(absl::StrCat(
                           "--format must be tpugraphs-tile (the only export format), got '",
                           format, "'")));
  }
  if (command_line->positional.size() < 2) {
    return ReportError("dataset export",
                       absl::InvalidArgumentError("expected DATASET... OUT_DIR"));
  }
  TpuGraphsExportOptions options;
  options.datasets.assign(command_line->positional.begin(), command_line->positional.end() - 1);
  options.out_dir = command_line->positional.back();
  auto summary = ExportTpuGraphsTiles(options);
  if (!summary.ok()) return ReportError("dataset export", summary.status());
  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::ordered_json json = {{"files", summary->files},
                                   {"configs", summary->configs},
                                   {"timeout_configs_skipped", summary->timeout_configs},
                                   {"fusion_kernels_skipped", summary->fusion_kernels},
                                   {"normalized_by_default_config", summary->default_normalized},
                                   {"node_features", graph::kNumNodeFeatures},
                                   {"config_features", tiling::kNumConfigFeatures},
                                   {"out_dir", options.out_dir}};
    std::cout << json.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << absl::StrFormat(
      "exported %d tile kernels (%d OK configs) as TpuGraphs tile files of %d node and %d config "
      "features into %s\n"
      "skipped %d TIMEOUT configs and %d fusion-task kernels; %d kernels normalised by their "
      "measured default config, the others by their fastest\n",
      summary->files, summary->configs, graph::kNumNodeFeatures, tiling::kNumConfigFeatures,
      options.out_dir, summary->timeout_configs, summary->fusion_kernels,
      summary->default_normalized);
  return kExitOk;
}

}  // namespace perfgraph::tools

// `perfgraph eval --dataset DATASET... --model MODEL_DIR [--split FILE] [--json]`
//
// Scores the learned model of MODEL_DIR and the analytical model (cost::AnalyticalModel with the
// committed target description) side by side on the same held-out programs and the same configs
// (DESIGN.md "Metrics"). Held-out programs: the `test` part of --split FILE; without --split, every
// program of the dataset that the model did not train or validate on (model.json's split).
// Only OK configs are scored; a config the analytical model cannot estimate is dropped for both
// models (counted in analytical_failures).
//
// --json prints {tile:{learned:{top1_slowdown, top5_slowdown, kendall_tau}, analytical:{...}},
// fusion:{learned:{mape, kendall_tau}, analytical:{...}}, kernels, configs} (slowdowns and MAPE as
// fractions, null when not computable), plus programs, tile_kernels, fusion_kernels,
// analytical_failures.
#include <cmath>
#include <iostream>
#include <limits>
#include <set>
#include <thread>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cost/analytical_model.h"
#include "data/record_file.h"
#include "data/split.h"
#include "gnn/train.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"
#include "tiling/tile_config.h"
#include "tools/cli.h"

ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(std::vector<std::string>, dataset);
ABSL_DECLARE_FLAG(std::string, split);
ABSL_FLAG(std::string, model, "",
          "eval, plan, predict: model directory written by perfgraph train (default models/default).");

namespace perfgraph::tools {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string Percent(const std::optional<double>& v) {
  return v ? absl::StrFormat("%7.2f%%", 100 * *v) : "     n/a";
}
std::string Number(const std::optional<double>& v) {
  return v ? absl::StrFormat("%8.3f", *v) : "     n/a";
}

// Threads the dataset's kernels ran with (the analytical model needs it): from the first file's
// machine fingerprint.
absl::StatusOr<int> MeasuredThreads(const std::string& path) {
  ASSIGN_OR_RETURN(data::RecordReader reader, data::RecordReader::Open(path));
  if (reader.header().machine && reader.header().machine->num_threads >= 1) {
    return reader.header().machine->num_threads;
  }
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::cerr << "perfgraph eval: " << path
            << " records no machine; the analytical model assumes " << threads
            << " threads (this machine's)\n";
  return threads;
}

absl::Status Eval(const std::vector<std::string>& args) {
  ASSIGN_OR_RETURN(CommandLine command_line, ParseCommandLine(args));
  std::vector<std::string> datasets = absl::GetFlag(FLAGS_dataset);
  datasets.insert(datasets.end(), command_line.positional.begin(), command_line.positional.end());
  if (datasets.empty()) return absl::InvalidArgumentError("--dataset DATASET is required");
  const std::string model_dir = absl::GetFlag(FLAGS_model);
  if (model_dir.empty()) return absl::InvalidArgumentError("--model MODEL_DIR is required");

  ASSIGN_OR_RETURN(std::unique_ptr<gnn::LearnedPredictor> predictor,
                   gnn::LearnedPredictor::Load(model_dir));
  gnn::LoadSummary summary;
  ASSIGN_OR_RETURN(std::vector<gnn::KernelExample> all, gnn::LoadExamples(datasets, &summary));

  std::set<std::string> held_out;
  if (!absl::GetFlag(FLAGS_split).empty()) {
    ASSIGN_OR_RETURN(data::Split split, data::ReadSplitFile(absl::GetFlag(FLAGS_split)));
    for (const std::string& p : split.Programs(data::SplitPart::kTest)) held_out.insert(p);
  } else {
    std::set<std::string> seen(predictor->info().train_programs.begin(),
                               predictor->info().train_programs.end());
    seen.insert(predictor->info().validation_programs.begin(),
                predictor->info().validation_programs.end());
    for (const std::string& p : summary.programs) {
      if (!seen.count(p)) held_out.insert(p);
    }
  }
  std::vector<gnn::KernelExample> examples;
  for (gnn::KernelExample& e : all) {
    if (held_out.count(e.program)) examples.push_back(std::move(e));
  }
  if (examples.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no held-out kernel to evaluate: ",
        absl::GetFlag(FLAGS_split).empty()
            ? absl::StrCat("every program of the dataset (", absl::StrJoin(summary.programs, ", "),
                           ") was used to train or validate '", model_dir,
                           "'; pass --split FILE with test programs")
            : absl::StrCat("the test programs of ", absl::GetFlag(FLAGS_split),
                           " have no usable kernel in the dataset")));
  }

  ASSIGN_OR_RETURN(std::vector<std::vector<double>> learned, predictor->PredictNs(examples));

  ASSIGN_OR_RETURN(const int threads, MeasuredThreads(datasets[0]));
  cost::AnalyticalModelOptions analytical_options;
  analytical_options.num_threads = threads;
  ASSIGN_OR_RETURN(cost::AnalyticalModel analytical,
                   cost::AnalyticalModel::CreateDefault(analytical_options));
  std::vector<std::vector<double>> analytical_ns(examples.size());
  int failures = 0;
  for (size_t e = 0; e < examples.size(); ++e) {
    const gnn::KernelExample& ex = examples[e];
    std::vector<cost::CostQuery> queries;
    std::vector<int> query_config;
    analytical_ns[e].assign(ex.num_configs, kNaN);
    for (int c = 0; c < ex.num_configs; ++c) {
      absl::StatusOr<tiling::TileConfig> config = tiling::TileConfig::Parse(ex.config_text[c]);
      if (!config.ok()) {
        failures += ex.timed_out[c] ? 0 : 1;
        continue;
      }
      queries.push_back({ex.kernel.get(), *config});
      query_config.push_back(c);
    }
    std::vector<absl::StatusOr<double>> ns = analytical.EstimateNs(queries);
    for (size_t q = 0; q < ns.size(); ++q) {
      if (ns[q].ok()) {
        analytical_ns[e][query_config[q]] = *ns[q];
      } else if (!ex.timed_out[query_config[q]]) {
        ++failures;
      }
    }
    // Score both models on the same configs.
    for (int c = 0; c < ex.num_configs; ++c) {
      if (std::isnan(analytical_ns[e][c])) learned[e][c] = kNaN;
    }
  }
  ASSIGN_OR_RETURN(gnn::TaskMetrics l, gnn::ComputeTaskMetrics(examples, learned));
  ASSIGN_OR_RETURN(gnn::TaskMetrics a, gnn::ComputeTaskMetrics(examples, analytical_ns));

  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::ordered_json j;
    j["tile"]["learned"] = nlohmann::ordered_json::parse(gnn::TileMetricsJson(l));
    j["tile"]["analytical"] = nlohmann::ordered_json::parse(gnn::TileMetricsJson(a));
    j["fusion"]["learned"] = nlohmann::ordered_json::parse(gnn::FusionMetricsJson(l));
    j["fusion"]["analytical"] = nlohmann::ordered_json::parse(gnn::FusionMetricsJson(a));
    j["kernels"] = l.tile_kernels + l.fusion_kernels;
    j["configs"] = l.tile_configs + l.fusion_kernels;
    j["programs"] = std::vector<std::string>(held_out.begin(), held_out.end());
    j["tile_kernels"] = l.tile_kernels;
    j["fusion_kernels"] = l.fusion_kernels;
    j["analytical_failures"] = failures;
    std::cout << j.dump(2) << "\n";
    return absl::OkStatus();
  }
  std::cout << "held-out programs: " << absl::StrJoin(held_out, ", ") << "\n";
  std::cout << absl::StrFormat("%d kernels, %d configs scored (%d tile kernels, %d fusion kernels)\n",
                               l.tile_kernels + l.fusion_kernels, l.tile_configs + l.fusion_kernels,
                               l.tile_kernels, l.fusion_kernels);
  std::cout << absl::StrFormat("%-28s %10s %10s\n", "", "learned", "analytical");
  if (l.tile_kernels > 0) {
    std::cout << absl::StrFormat("%-28s %10s %10s\n", "tile top-1 slowdown",
                                 Percent(l.tile_top1_slowdown), Percent(a.tile_top1_slowdown));
    std::cout << absl::StrFormat("%-28s %10s %10s\n", "tile top-5 slowdown",
                                 Percent(l.tile_top5_slowdown), Percent(a.tile_top5_slowdown));
    std::cout << absl::StrFormat("%-28s %10s %10s\n", "tile Kendall tau",
                                 Number(l.tile_kendall_tau), Number(a.tile_kendall_tau));
  }
  if (l.fusion_kernels > 0) {
    std::cout << absl::StrFormat("%-28s %10s %10s\n", "fusion MAPE", Percent(l.fusion_mape),
                                 Percent(a.fusion_mape));
    std::cout << absl::StrFormat("%-28s %10s %10s\n", "fusion Kendall tau",
                                 Number(l.fusion_kendall_tau), Number(a.fusion_kendall_tau));
  }
  if (failures > 0) {
    std::cout << failures << " OK configs the analytical model could not estimate were dropped\n";
  }
  return absl::OkStatus();
}

}  // namespace

int RunEval(const std::vector<std::string>& args) {
  absl::Status status = Eval(args);
  if (!status.ok()) return ReportError("eval", status);
  return kExitOk;
}

}  // namespace perfgraph::tools

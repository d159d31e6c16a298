#include "tools/dataset_repeat.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "data/kernel_proto.h"
#include "data/label.h"
#include "data/machine.h"
#include "data/metrics.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "graph/featurize.h"
#include "graph/status_macros.h"
#include "target/halide_cpu_target.h"
#include "target/isolated_measurement.h"
#include "target/measurement.h"
#include "tiling/tile_config.h"
#include "nlohmann/json.hpp"
#include "tools/cli.h"
#include "tools/flags.h"
#include "tools/progress.h"

namespace perfgraph::tools {
namespace {

// The second pass of one pair: its samples and rounds (rounds empty for protocol 1).
struct SecondPass {
  bool ok = false;
  std::vector<double> samples_ns;
  std::vector<int> rounds;
  std::vector<double> canary_ns;  // the canary of every kept round of the group (protocol 2)
};

}  // namespace

absl::StatusOr<RepeatResult> MeasureRepeatability(const RepeatOptions& options) {
  if (options.protocol != 1 && options.protocol != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset repeat: protocol must be 1 or 2, got ", options.protocol));
  }
  ASSIGN_OR_RETURN(data::RecordReader reader,
                   data::RecordReader::Open(options.dataset));
  const auto machine = reader.header().machine;
  ASSIGN_OR_RETURN(std::vector<data::Record> records, reader.ReadAll());
  const data::MachineFingerprint here = data::CurrentMachine(1, target::HalideVersion());
  if (machine && machine->cpu_model != here.cpu_model) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.dataset, ": measured on '", machine->cpu_model, "', this machine is '",
        here.cpu_model, "'; repeatability must be measured on the same machine"));
  }
  const int threads = machine && machine->num_threads > 0 ? machine->num_threads : 1;

  // OK, first-hand (not reused) records grouped by kernel, kernels grouped by program.
  std::map<uint64_t, std::vector<const data::Record*>> by_kernel;
  std::map<std::string, std::vector<uint64_t>> kernels_of_program;
  for (const data::Record& r : records) {
    if (r.status() == data::Record::MEASURE_STATUS_OK && r.reused_from().empty() &&
        r.runtime_ns_size() > 0) {
      auto& list = by_kernel[r.kernel_hash()];
      if (list.empty()) kernels_of_program[r.program()].push_back(r.kernel_hash());
      list.push_back(&r);
    }
  }
  if (by_kernel.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(options.dataset, ": no OK records"));
  }
  // Seeded draw, round-robin over programs in a seeded order.
  std::mt19937_64 rng(options.seed);
  std::vector<std::string> programs;
  for (auto& [program, hashes] : kernels_of_program) {
    programs.push_back(program);
    std::shuffle(hashes.begin(), hashes.end(), rng);
  }
  std::shuffle(programs.begin(), programs.end(), rng);
  std::vector<const data::Record*> sample;
  std::vector<uint64_t> chosen;
  std::set<std::string> chosen_programs;
  for (size_t round = 0;; ++round) {
    bool any = false;
    for (const std::string& program : programs) {
      const auto& hashes = kernels_of_program[program];
      if (round >= hashes.size()) continue;
      any = true;
      if (static_cast<int>(sample.size()) >= options.sample &&
          static_cast<int>(chosen.size()) >= options.kernels) {
        break;
      }
      std::vector<const data::Record*> list = by_kernel[hashes[round]];
      if (options.configs_per_kernel > 0 &&
          static_cast<int>(list.size()) > options.configs_per_kernel) {
        std::shuffle(list.begin(), list.end(), rng);
        list.resize(options.configs_per_kernel);
      }
      chosen.push_back(hashes[round]);
      chosen_programs.insert(program);
      sample.insert(sample.end(), list.begin(), list.end());
    }
    if (!any || (static_cast<int>(sample.size()) >= options.sample &&
                 static_cast<int>(chosen.size()) >= options.kernels)) {
      break;
    }
  }

  // Second pass.
  const absl::Time start = absl::Now();
  std::vector<SecondPass> second(sample.size());
  std::vector<std::unique_ptr<graph::Kernel>> kernels;  // stable addresses for the groups
  Progress progress(static_cast<int64_t>(sample.size()), "pairs");
  if (options.protocol == 1) {
    ASSIGN_OR_RETURN(target::HalideCpuTarget target,
                     target::HalideCpuTarget::Create({threads, options.seed}));
    for (size_t i = 0; i < sample.size(); ++i) {
      const data::Record* r = sample[i];
      ASSIGN_OR_RETURN(graph::Kernel kernel, data::DecodeRecordKernel(
                                                 *r, absl::StrCat(options.dataset, " ", r->program())));
      ASSIGN_OR_RETURN(tiling::TileConfig config, tiling::TileConfig::Parse(r->config().text()));
      target::Measurement m = target::MeasureConfig(target, kernel, config, /*best_label_ns=*/0);
      progress.Advance(1, kernel.name);
      second[i].ok = m.status == target::MeasureStatus::kOk;
      second[i].samples_ns = m.samples_ns;
    }
  } else {
    // One group per drawn kernel, in draw order (the sample is contiguous per kernel).
    std::vector<target::MeasureGroup> groups;
    std::vector<std::vector<size_t>> group_pairs;
    for (size_t i = 0; i < sample.size(); ++i) {
      const data::Record* r = sample[i];
      if (i == 0 || sample[i - 1]->kernel_hash() != r->kernel_hash()) {
        ASSIGN_OR_RETURN(graph::Kernel kernel,
                         data::DecodeRecordKernel(*r, absl::StrCat(options.dataset, " ", r->program())));
        kernels.push_back(std::make_unique<graph::Kernel>(std::move(kernel)));
        groups.push_back({kernels.back().get(), {}});
        group_pairs.emplace_back();
      }
      ASSIGN_OR_RETURN(tiling::TileConfig config, tiling::TileConfig::Parse(r->config().text()));
      groups.back().configs.push_back(config);
      group_pairs.back().push_back(i);
    }
    target::IsolationOptions isolation;
    isolation.num_threads = threads;
    isolation.seed = options.seed;
    target::IsolatedMeasurer measurer(options.interleaved, isolation);
    auto on_done = [&](int g, target::GroupResult result) {
      for (size_t c = 0; c < group_pairs[g].size(); ++c) {
        const target::ConfigMeasurement& m = result.measurement.configs[c];
        SecondPass& pass = second[group_pairs[g][c]];
        pass.ok = m.status == target::MeasureStatus::kOk;
        pass.samples_ns = m.samples_ns;
        pass.rounds = m.sample_round;
        pass.canary_ns = result.measurement.canary_ns;
      }
      progress.Advance(static_cast<int64_t>(group_pairs[g].size()), groups[g].kernel->name);
      return target::GroupVerdict::kKeep;
    };
    RETURN_IF_ERROR(measurer.Run(groups, on_done).status());
  }

  RepeatResult result;
  result.threads = threads;
  result.protocol = options.protocol;
  result.kernels = static_cast<int>(chosen.size());
  result.programs = static_cast<int>(chosen_programs.size());
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.statistic = std::string(data::LabelStatisticName(data::kDefaultLabelStatistic));
  // Reference of the canary-normalised labels: the median canary of the first pass's groups (or of
  // the second pass's when the first has none, e.g. a v1 dataset).
  double canary_reference_ns = 0;
  {
    std::vector<double> per_group;
    for (const data::Record* r : sample) {
      if (r->canary_ns_size() > 0) {
        per_group.push_back(data::Median(std::vector<double>(r->canary_ns().begin(), r->canary_ns().end())));
      }
    }
    if (per_group.empty()) {
      for (const SecondPass& p : second) {
        if (!p.canary_ns.empty()) per_group.push_back(data::Median(p.canary_ns));
      }
    }
    canary_reference_ns = data::Median(per_group);
  }
  for (data::LabelStatistic statistic : data::AllLabelStatistics()) {
    std::map<uint64_t, data::MetricGroup> groups;
    data::MetricGroup overall;
    std::vector<double> relative;
    int failed = 0;
    for (size_t i = 0; i < sample.size(); ++i) {
      const data::Record* r = sample[i];
      auto first = data::RecordLabelNs(*r, options.dataset, statistic, canary_reference_ns);
      if (!first.ok()) return first.status();
      if (!second[i].ok || second[i].samples_ns.empty()) {
        ++failed;
        continue;
      }
      auto again = data::LabelNs(second[i].samples_ns, second[i].rounds, statistic,
                                 second[i].canary_ns, canary_reference_ns);
      if (!again.ok()) {
        ++failed;
        continue;
      }
      relative.push_back(std::abs(*again - *first) / *first);
      groups[r->kernel_hash()].predicted.push_back(*again);
      groups[r->kernel_hash()].measured.push_back(*first);
      overall.predicted.push_back(*again);
      overall.measured.push_back(*first);
    }
    RepeatVariant variant;
    variant.statistic = std::string(data::LabelStatisticName(statistic));
    if (!relative.empty()) {
      std::sort(relative.begin(), relative.end());
      variant.median_relative_difference = relative[relative.size() / 2];
      variant.p90_relative_difference =
          relative[std::min(relative.size() - 1, relative.size() * 9 / 10)];
    }
    std::vector<data::MetricGroup> group_list;
    for (auto& [hash, group] : groups) group_list.push_back(std::move(group));
    ASSIGN_OR_RETURN(data::MeanMetric per_kernel, data::MeanKendallTau(group_list));
    variant.kendall_tau_per_kernel = per_kernel.mean;
    if (statistic == data::kDefaultLabelStatistic) {
      result.pairs = static_cast<int>(relative.size());
      result.failed = failed;
      result.median_relative_difference = variant.median_relative_difference;
      result.p90_relative_difference = variant.p90_relative_difference;
      result.kendall_tau_per_kernel = variant.kendall_tau_per_kernel;
      ASSIGN_OR_RETURN(result.kendall_tau_overall,
                       data::KendallTauB(overall.predicted, overall.measured));
    }
    result.variants.push_back(std::move(variant));
  }
  progress.Finish(absl::StrCat("re-measured ", result.pairs, " pairs of ", result.kernels,
                               " kernels of ", result.programs, " programs"));
  return result;
}

int RunDatasetRepeat(const std::vector<std::string>& args) {
  auto command_line = ParseCommandLine("dataset repeat", args);
  if (!command_line.ok()) return ReportError("dataset repeat", command_line.status());
  if (command_line->positional.size() != 1) {
    return ReportError("dataset repeat", absl::InvalidArgumentError("expected one DATASET"));
  }
  RepeatOptions options;
  options.dataset = command_line->positional[0];
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

}  // namespace perfgraph::tools

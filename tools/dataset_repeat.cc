#include "tools/dataset_repeat.h"

#include <algorithm>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "data/kernel_proto.h"
#include "data/machine.h"
#include "data/metrics.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "graph/featurize.h"
#include "graph/status_macros.h"
#include "target/halide_cpu_target.h"
#include "target/measurement.h"
#include "tiling/tile_config.h"
#include "tools/progress.h"

namespace perfgraph::tools {

absl::StatusOr<RepeatResult> MeasureRepeatability(const RepeatOptions& options) {
  ASSIGN_OR_RETURN(data::RecordReader reader,
                   data::RecordReader::Open(options.dataset, graph::kFeatureSchemaVersion));
  const auto machine = reader.header().machine;
  ASSIGN_OR_RETURN(std::vector<data::Record> records, reader.ReadAll());
  const data::MachineFingerprint here = data::CurrentMachine(1, target::HalideVersion());
  if (machine && machine->cpu_model != here.cpu_model) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.dataset, ": measured on '", machine->cpu_model, "', this machine is '",
        here.cpu_model, "'; repeatability must be measured on the same machine"));
  }
  const int threads = machine && machine->num_threads > 0 ? machine->num_threads : 1;

  // OK, first-hand (not reused) records grouped by kernel.
  std::map<uint64_t, std::vector<const data::Record*>> by_kernel;
  for (const data::Record& r : records) {
    if (r.status() == data::Record::MEASURE_STATUS_OK && r.reused_from().empty() &&
        r.runtime_ns_size() > 0) {
      by_kernel[r.kernel_hash()].push_back(&r);
    }
  }
  if (by_kernel.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(options.dataset, ": no OK records"));
  }
  std::vector<uint64_t> kernels;
  for (const auto& [hash, list] : by_kernel) kernels.push_back(hash);
  std::mt19937_64 rng(options.seed);
  std::shuffle(kernels.begin(), kernels.end(), rng);
  std::vector<const data::Record*> sample;
  std::vector<uint64_t> chosen;
  for (uint64_t hash : kernels) {
    if (static_cast<int>(sample.size()) >= options.sample) break;
    chosen.push_back(hash);
    for (const data::Record* r : by_kernel[hash]) sample.push_back(r);
  }

  ASSIGN_OR_RETURN(target::HalideCpuTarget target,
                   target::HalideCpuTarget::Create({threads, options.seed}));
  RepeatResult result;
  result.threads = threads;
  std::map<uint64_t, data::MetricGroup> groups;
  data::MetricGroup overall;
  std::vector<double> relative;
  Progress progress(static_cast<int64_t>(sample.size()), "pairs");
  for (const data::Record* r : sample) {
    ASSIGN_OR_RETURN(graph::Kernel kernel,
                     data::DecodeRecordKernel(*r, absl::StrCat(options.dataset, " ", r->program())));
    ASSIGN_OR_RETURN(tiling::TileConfig config, tiling::TileConfig::Parse(r->config().text()));
    target::Measurement m = target::MeasureConfig(target, kernel, config, /*best_label_ns=*/0);
    progress.Advance(1, kernel.name);
    if (m.status != target::MeasureStatus::kOk) {
      ++result.failed;
      continue;
    }
    const double first = *std::min_element(r->runtime_ns().begin(), r->runtime_ns().end());
    relative.push_back(std::abs(m.label_ns - first) / first);
    groups[r->kernel_hash()].predicted.push_back(m.label_ns);
    groups[r->kernel_hash()].measured.push_back(first);
    overall.predicted.push_back(m.label_ns);
    overall.measured.push_back(first);
  }
  result.pairs = static_cast<int>(relative.size());
  result.kernels = static_cast<int>(chosen.size());
  if (!relative.empty()) {
    std::sort(relative.begin(), relative.end());
    result.median_relative_difference = relative[relative.size() / 2];
    result.p90_relative_difference = relative[std::min(relative.size() - 1, relative.size() * 9 / 10)];
  }
  std::vector<data::MetricGroup> group_list;
  for (auto& [hash, group] : groups) group_list.push_back(std::move(group));
  ASSIGN_OR_RETURN(data::MeanMetric per_kernel, data::MeanKendallTau(group_list));
  result.kendall_tau_per_kernel = per_kernel.mean;
  ASSIGN_OR_RETURN(result.kendall_tau_overall, data::KendallTauB(overall.predicted, overall.measured));
  progress.Finish(absl::StrCat("re-measured ", result.pairs, " pairs of ", result.kernels, " kernels"));
  return result;
}

}  // namespace perfgraph::tools

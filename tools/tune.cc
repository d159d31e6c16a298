// `perfgraph tune MODEL|KERNELS.pgd... --out TUNING.pgd [--strategy S] [--budget-measurements N |
//  --budget-min M] [--batch B] [--seed S] [--threads T] [--measure-command CMD] [--json]`
// `perfgraph tune --replay DATASET [--strategies S,...] [--seeds N] [--split FILE --split-part P]
//  [--out REPORT.json] [--json]`
//
// Autotuning with a cost model as the surrogate (pipeline/tune.h: the loop, the strategies, the
// validity rule). Kernels come from model files (default fusion, identical kernels once) or from the
// kernels of record files; candidates are each kernel's whole tiling::ConfigSpace. Measurements use
// the dataset protocol v2 in child processes (pipeline/tune_measure.h), or --measure-command. Every
// measurement is appended to --out as it finishes (an ordinary dataset: `perfgraph train` reads it,
// `perfgraph compare --schedulers default,tuned --tuning-log` uses its best configs); rerunning the
// same command resumes (measured configs count towards the budget and are not measured again).
// Ctrl-C stops after the batch in flight is dropped; finished batches are kept.
//
// --replay runs the replay benchmark (pipeline::RunReplayBenchmark) on a measured dataset: every
// strategy (and, with --validity, each model strategy also without the validity rule) for --seeds
// seeds on every kernel, measurements answered from the file, every run until the kernel's whole
// candidate list is measured. --budget-measurements N sets the window of the "bad in first N" column
// (default 50). Table on stdout (or --json), the JSON report also written to --out when given:
// {replay, split_part?, kernels, kernels_skipped, median_candidates, seeds, batch, exploration,
// validity_ratio, within[], window, variants[{name, median_ratio_to_random[], median_measurements[],
// median_hardware_s[], mean_invalid_or_timeout, mean_invalid_or_timeout_s,
// window_invalid_or_timeout, window_invalid_or_timeout_s, curve[]}]}. tools/plot_tune_curves.py
// draws the curves.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cost/analytical_model.h"
#include "cost/shipped_files.h"
#include "data/kernel_proto.h"
#include "data/label.h"
#include "data/machine.h"
#include "data/record_file.h"
#include "data/split.h"
#include "graph/atomic_file.h"
#include "graph/kernel_hash.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"
#include "pipeline/cost_models.h"
#include "pipeline/plan.h"
#include "pipeline/tune.h"
#include "pipeline/tune_measure.h"
#include "target/isolated_measurement.h"
#include "target/machine_load.h"
#include "target/measurement.h"
#include "tools/cli.h"
#include "tools/flags.h"
#include "tools/progress.h"

namespace perfgraph::tools {
namespace {

using nlohmann::ordered_json;

std::atomic<bool> interrupted{false};
void OnSigint(int) { interrupted.store(true); }

// The shipped validity classifier (`perfgraph tune --train-validity` writes it).
constexpr char kShippedValidityDir[] = "models/validity";

// The cost models behind the strategies and the validity classifier, built on first use.
class SurrogateFactory {
 public:
  explicit SurrogateFactory(int threads) : threads_(threads) {}

  // The roofline the validity classifier's analytical block comes from.
  absl::StatusOr<const cost::AnalyticalModel*> Analytical() {
    if (analytical_ == nullptr) {
      cost::AnalyticalModelOptions options;
      options.num_threads = threads_;
      ASSIGN_OR_RETURN(cost::AnalyticalModel model, cost::AnalyticalModel::CreateDefault(options));
      analytical_ = std::make_unique<cost::AnalyticalModel>(std::move(model));
    }
    return analytical_.get();
  }

  // The validity classifier of --validity-model (default: the shipped one); nullptr with
  // --novalidity. A missing shipped classifier is an error naming the directory.
  absl::StatusOr<pipeline::ValidityClassifier*> Validity() {
    if (!absl::GetFlag(FLAGS_validity)) return nullptr;
    if (validity_ == nullptr) {
      std::string dir = absl::GetFlag(FLAGS_validity_model);
      if (dir.empty()) dir = cost::ShippedPath(kShippedValidityDir);
      ASSIGN_OR_RETURN(const cost::AnalyticalModel* analytical, Analytical());
      absl::StatusOr<std::unique_ptr<pipeline::ValidityClassifier>> loaded =
          pipeline::ValidityClassifier::Load(dir, analytical);
      if (!loaded.ok()) {
        return absl::Status(loaded.status().code(),
                            absl::StrCat(loaded.status().message(),
                                         " (train one with `perfgraph tune --train-validity`, or "
                                         "tune without it: --novalidity)"));
      }
      validity_ = std::move(*loaded);
    }
    return validity_.get();
  }

  absl::StatusOr<std::unique_ptr<pipeline::TuneSurrogate>> Make(pipeline::TuneStrategy strategy,
                                                                uint64_t seed) {
    pipeline::OnlineSurrogateOptions online;
    online.seed = seed;
    switch (strategy) {
      case pipeline::TuneStrategy::kRandom:
        return std::unique_ptr<pipeline::TuneSurrogate>();
      case pipeline::TuneStrategy::kAnalytical: {
        ASSIGN_OR_RETURN(cost::CostModel * model, Model(pipeline::CostModelKind::kAnalytical));
        return pipeline::MakeStaticSurrogate(model);
      }
      case pipeline::TuneStrategy::kLearned: {
        ASSIGN_OR_RETURN(cost::CostModel * model, Model(pipeline::CostModelKind::kLearned));
        return pipeline::MakeStaticSurrogate(model);
      }
      case pipeline::TuneStrategy::kLearnedOnline: {
        ASSIGN_OR_RETURN(cost::CostModel * model, Model(pipeline::CostModelKind::kLearned));
        return pipeline::MakeOnlineSurrogate(model, online);
      }
      case pipeline::TuneStrategy::kXgboost:
        return pipeline::MakeOnlineSurrogate(nullptr, online);
    }
    return absl::InternalError("unknown strategy");
  }

 private:
  absl::StatusOr<cost::CostModel*> Model(pipeline::CostModelKind kind) {
    auto it = models_.find(kind);
    if (it != models_.end()) return it->second.get();
    pipeline::CostModelOptions options;
    options.kind = kind;
    options.num_threads = threads_;
    if (kind == pipeline::CostModelKind::kLearned) options.model_dir = absl::GetFlag(FLAGS_model);
    ASSIGN_OR_RETURN(std::unique_ptr<cost::CostModel> model, pipeline::MakeCostModel(options));
    return (models_[kind] = std::move(model)).get();
  }

  int threads_;
  std::map<pipeline::CostModelKind, std::unique_ptr<cost::CostModel>> models_;
  std::unique_ptr<cost::AnalyticalModel> analytical_;
  std::unique_ptr<pipeline::ValidityClassifier> validity_;
};

pipeline::TuneOptions TuneOptionsFromFlags() {
  pipeline::TuneOptions options;
  options.batch = absl::GetFlag(FLAGS_batch);
  options.budget_measurements = absl::GetFlag(FLAGS_budget_measurements);
  options.exploration = absl::GetFlag(FLAGS_exploration);
  options.validity = absl::GetFlag(FLAGS_validity);
  options.validity_threshold = absl::GetFlag(FLAGS_validity_threshold);
  options.seed = absl::GetFlag(FLAGS_seed);
  return options;
}

absl::Status CheckTuneOptions(const pipeline::TuneOptions& options) {
  if (options.batch < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--batch must be >= 1, got ", options.batch));
  }
  if (options.budget_measurements < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--budget-measurements must be >= 0, got ",
                                                   options.budget_measurements));
  }
  if (!(options.exploration >= 0 && options.exploration <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--exploration must be in [0, 1], got ", options.exploration));
  }
  if (!(options.validity_threshold >= 0 && options.validity_threshold <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--validity-threshold must be in [0, 1], got ", options.validity_threshold));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// --replay

absl::StatusOr<int> Replay(const CommandLine& command_line) {
  const std::string path = absl::GetFlag(FLAGS_replay);
  if (!command_line.positional.empty()) {
    return absl::InvalidArgumentError(
        "--replay takes its kernels from the dataset: give no MODEL or KERNELS arguments");
  }
  if (!absl::GetFlag(FLAGS_measure_command).empty()) {
    return absl::InvalidArgumentError("--replay and --measure-command exclude each other");
  }
  pipeline::ReplayOptions options;
  options.tune = TuneOptionsFromFlags();
  RETURN_IF_ERROR(CheckTuneOptions(options.tune));
  options.seeds = absl::GetFlag(FLAGS_seeds);
  if (options.tune.budget_measurements > 0) options.window = options.tune.budget_measurements;
  if (options.seeds < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--seeds must be >= 1, got ", options.seeds));
  }
  std::vector<pipeline::TuneStrategy> strategies = {pipeline::TuneStrategy::kRandom};
  for (const std::string& name : absl::GetFlag(FLAGS_strategies)) {
    ASSIGN_OR_RETURN(pipeline::TuneStrategy s, pipeline::ParseTuneStrategy(name));
    if (std::find(strategies.begin(), strategies.end(), s) == strategies.end()) strategies.push_back(s);
  }
  SurrogateFactory factory(ThreadsFlag());
  ASSIGN_OR_RETURN(options.tune.validity_model, factory.Validity());
  for (pipeline::TuneStrategy s : strategies) {
    const std::string name(pipeline::TuneStrategyName(s));
    options.variants.push_back({name, s, false});
    if (options.tune.validity_model != nullptr) {
      options.variants.push_back({absl::StrCat(name, " + validity"), s, true});
    }
  }

  ASSIGN_OR_RETURN(std::vector<data::Record> records, data::ReadRecordFile(path));
  const std::string split_path = absl::GetFlag(FLAGS_split);
  std::string part_name;
  if (!split_path.empty()) {
    ASSIGN_OR_RETURN(data::Split split, data::ReadSplitFile(split_path));
    part_name = absl::GetFlag(FLAGS_split_part);
    std::optional<data::SplitPart> part;
    for (data::SplitPart p :
         {data::SplitPart::kTrain, data::SplitPart::kValidation, data::SplitPart::kTest}) {
      if (data::SplitPartName(p) == part_name) part = p;
    }
    if (!part.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--split-part must be train, validation or test, got '", part_name, "'"));
    }
    std::vector<data::Record> kept;
    for (data::Record& r : records) {
      if (split.PartOf(r.program()) == part) kept.push_back(std::move(r));
    }
    records = std::move(kept);
    if (records.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": no record of a ", part_name,
                                                     " program of ", split_path));
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<pipeline::ReplayMeasurer> replay,
                   pipeline::ReplayMeasurer::Create(std::move(records), path));

  const int total = static_cast<int>(options.variants.size()) * options.seeds;
  Progress progress(total, "passes", 1);
  std::signal(SIGINT, OnSigint);
  std::signal(SIGTERM, OnSigint);
  ASSIGN_OR_RETURN(
      pipeline::ReplayReport report,
      pipeline::RunReplayBenchmark(
          *replay, options,
          [&](pipeline::TuneStrategy s, uint64_t seed)
              -> absl::StatusOr<std::unique_ptr<pipeline::TuneSurrogate>> {
            if (interrupted.load()) return absl::CancelledError("interrupted");
            return factory.Make(s, seed);
          },
          [&](int, int, const std::string& what) { progress.Advance(1, what); }));
  progress.Finish(absl::StrFormat("perfgraph tune --replay: %d kernels, %d variants x %d seeds",
                                  report.kernels, options.variants.size(), options.seeds));

  ordered_json json;
  json["replay"] = path;
  if (!split_path.empty()) json["split_part"] = part_name;
  json["kernels"] = report.kernels;
  json["kernels_skipped"] = report.kernels_skipped;
  json["median_candidates"] = report.median_candidates;
  json["seeds"] = options.seeds;
  json["batch"] = options.tune.batch;
  json["exploration"] = options.tune.exploration;
  json["validity_threshold"] = options.tune.validity_threshold;
  json["within"] = options.within;
  json["window"] = options.window;
  ordered_json variants = ordered_json::array();
  for (const pipeline::ReplayVariantResult& v : report.variants) {
    variants.push_back({{"name", v.name},
                        {"median_ratio_to_random", v.median_ratio_to_random},
                        {"median_measurements", v.median_measurements},
                        {"median_hardware_s", v.median_hardware_s},
                        {"mean_invalid_or_timeout", v.mean_invalid_or_timeout},
                        {"mean_invalid_or_timeout_s", v.mean_invalid_or_timeout_s},
                        {"window_invalid_or_timeout", v.window_invalid_or_timeout},
                        {"window_invalid_or_timeout_s", v.window_invalid_or_timeout_s},
                        {"curve", v.curve}});
  }
  json["variants"] = std::move(variants);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (!out.empty()) {
    RETURN_IF_ERROR(graph::WriteFileAtomically(out, json.dump(1) + "\n", "tune report"));
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << json.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << absl::StrFormat(
      "replay of %s%s: %d kernels (%d without an OK config skipped), median %d candidates, "
      "%d seeds, batch %d\n",
      path, split_path.empty() ? "" : absl::StrCat(" (", part_name, " programs)"), report.kernels,
      report.kernels_skipped, report.median_candidates, options.seeds, options.tune.batch);
  std::cout << absl::StrFormat("%-30s %11s %11s %8s %8s %8s %16s %16s\n", "strategy",
                               "x random 5%", "x random 1%", "meas. 5%", "meas. 1%", "hw s 1%",
                               "bad until 1%", absl::StrCat("bad in first ", options.window));
  for (const pipeline::ReplayVariantResult& v : report.variants) {
    std::cout << absl::StrFormat(
        "%-30s %11.3f %11.3f %8.1f %8.1f %8.2f %7.2f (%5.2fs) %7.2f (%5.2fs)\n", v.name,
        v.median_ratio_to_random[0], v.median_ratio_to_random[1], v.median_measurements[0],
        v.median_measurements[1], v.median_hardware_s[1], v.mean_invalid_or_timeout,
        v.mean_invalid_or_timeout_s, v.window_invalid_or_timeout, v.window_invalid_or_timeout_s);
  }
  std::cout << "x random: median over kernels of (median over seeds of the measurements needed to get "
               "within 5 % / 1 % of the optimum) / (random search's); meas.: median count; hw s: "
               "median hardware seconds until within 1 %; bad: invalid or timed-out measurements "
               "(and their hardware seconds), mean per run\n";
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------
// Tuning on hardware (or a measure command)

struct OwnedKernel {
  std::string program;
  std::unique_ptr<graph::Kernel> kernel;
  uint64_t hash = 0;
};

// The distinct kernels of the positional files: record files (*.pgd) give their records' kernels,
// model files the kernels of their default fusion.
absl::StatusOr<std::vector<OwnedKernel>> LoadKernels(const CommandLine& command_line) {
  std::vector<OwnedKernel> kernels;
  std::set<uint64_t> seen;
  for (const std::string& file : command_line.positional) {
    if (absl::EndsWith(file, ".pgd")) {
      ASSIGN_OR_RETURN(std::vector<data::Record> records, data::ReadRecordFile(file));
      for (size_t i = 0; i < records.size(); ++i) {
        if (!seen.insert(records[i].kernel_hash()).second) continue;
        ASSIGN_OR_RETURN(graph::Kernel kernel,
                         data::DecodeRecordKernel(records[i], absl::StrCat(file, ": record ", i)));
        kernels.push_back({records[i].program(), std::make_unique<graph::Kernel>(std::move(kernel)),
                           records[i].kernel_hash()});
      }
      continue;
    }
    ASSIGN_OR_RETURN(graph::ImportedModel model,
                     graph::ImportModelFile(file, command_line.import_options));
    ASSIGN_OR_RETURN(pipeline::FusedModel fused,
                     pipeline::FuseModel(file, model, pipeline::FusionMode::kDefault, nullptr));
    for (graph::Kernel& kernel : fused.kernels) {
      const uint64_t hash = graph::CanonicalKernelHash(kernel);
      if (!seen.insert(hash).second) continue;
      kernels.push_back(
          {model.program.name, std::make_unique<graph::Kernel>(std::move(kernel)), hash});
    }
  }
  return kernels;
}

absl::StatusOr<int> TuneOnHardware(const CommandLine& command_line) {
  if (command_line.positional.empty()) {
    return absl::InvalidArgumentError(
        "give the MODEL or KERNELS.pgd files to tune (or --replay DATASET)");
  }
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return absl::InvalidArgumentError("--out TUNING.pgd is required");
  pipeline::TuneOptions options = TuneOptionsFromFlags();
  RETURN_IF_ERROR(CheckTuneOptions(options));
  ASSIGN_OR_RETURN(pipeline::TuneStrategy strategy,
                   pipeline::ParseTuneStrategy(absl::GetFlag(FLAGS_strategy)));
  const double budget_min = absl::GetFlag(FLAGS_budget_min);
  if (!(budget_min >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--budget-min must be >= 0, got ", budget_min));
  }
  if (budget_min == 0 && options.budget_measurements == 0) {
    return absl::InvalidArgumentError(
        "give a budget: --budget-measurements N (per kernel) and/or --budget-min M (whole run)");
  }
  const int threads = ThreadsFlag();
  const std::string command = absl::GetFlag(FLAGS_measure_command);

  ASSIGN_OR_RETURN(std::vector<OwnedKernel> owned, LoadKernels(command_line));
  std::vector<pipeline::TuneKernel> kernels;
  for (OwnedKernel& k : owned) {
    absl::StatusOr<std::vector<tiling::TileConfig>> space = tiling::ConfigSpace(*k.kernel);
    if (!space.ok() || space->empty()) {
      std::cerr << "perfgraph tune: skipping kernel '" << k.kernel->name << "' of " << k.program
                << ": no config space ("
                << (space.ok() ? "empty" : std::string(space.status().message())) << ")\n";
      continue;
    }
    kernels.push_back({k.program, k.kernel.get(), k.hash, std::move(*space)});
  }
  if (kernels.empty()) return absl::InvalidArgumentError("no kernel to tune");

  // The models first: a missing one fails before the log is created.
  SurrogateFactory factory(threads);
  ASSIGN_OR_RETURN(std::unique_ptr<pipeline::TuneSurrogate> surrogate,
                   factory.Make(strategy, options.seed));
  ASSIGN_OR_RETURN(options.validity_model, factory.Validity());

  // Resume: the log's earlier measurements.
  std::map<uint64_t, std::vector<data::Record>> prior_records;
  std::error_code error;
  if (std::filesystem::exists(out, error)) {
    ASSIGN_OR_RETURN(std::vector<data::Record> existing, data::ReadRecordFile(out));
    for (data::Record& r : existing) {
      if (r.task() == data::Record::TASK_TILE) prior_records[r.kernel_hash()].push_back(std::move(r));
    }
  }

  data::RecordWriterOptions writer_options;
  if (command.empty()) {
    writer_options.machine = data::CurrentMachine(threads, target::HalideVersion());
    writer_options.protocol_version = target::kProtocolVersion;
    writer_options.writer = "perfgraph tune";
    if (auto load = target::SampleMachineLoad(absl::Seconds(1), getpid()); load.ok()) {
      writer_options.other_load_cores_at_start = load->other_cores;
      writer_options.busy_processes_at_start = load->Describe();
      if (load->other_cores > absl::GetFlag(FLAGS_max_other_load)) {
        const std::string message = absl::StrFormat(
            "the machine is busy: other processes use %.2f cores (%s)", load->other_cores,
            load->Describe());
        if (absl::GetFlag(FLAGS_require_idle)) {
          return absl::FailedPreconditionError(
              absl::StrCat(message, "; refusing to start (--require-idle)"));
        }
        std::cerr << "perfgraph tune: warning: " << message << "\n";
      }
    }
  } else {
    writer_options.writer = absl::StrCat("perfgraph tune --measure-command ", command);
    writer_options.protocol_version = 1;
  }
  ASSIGN_OR_RETURN(data::RecordWriter writer, data::RecordWriter::Open(out, writer_options));

  std::signal(SIGINT, OnSigint);
  std::signal(SIGTERM, OnSigint);
  const absl::Time start = absl::Now();
  const absl::Time deadline =
      budget_min > 0 ? start + absl::Seconds(budget_min * 60) : absl::InfiniteFuture();

  std::unique_ptr<pipeline::TrialMeasurer> measurer;
  if (command.empty()) {
    target::InterleavedOptions protocol;
    protocol.min_rounds = absl::GetFlag(FLAGS_min_rounds);
    protocol.max_rounds = absl::GetFlag(FLAGS_max_rounds);
    protocol.stability = absl::GetFlag(FLAGS_stability);
    protocol.seed = options.seed;
    protocol.max_compile_time = absl::Seconds(absl::GetFlag(FLAGS_max_compile_s));
    if (protocol.min_rounds < 1 || protocol.max_rounds < protocol.min_rounds ||
        !(protocol.stability > 0) || !(absl::GetFlag(FLAGS_max_compile_s) > 0)) {
      return absl::InvalidArgumentError(
          "need 1 <= --min-rounds <= --max-rounds, --stability > 0 and --max-compile-s > 0");
    }
    target::IsolationOptions isolation;
    isolation.num_threads = threads;
    isolation.seed = options.seed;
    isolation.hang_timeout = absl::Seconds(absl::GetFlag(FLAGS_hang_timeout_s));
    isolation.should_stop = [] { return interrupted.load(); };
    measurer = std::make_unique<pipeline::HardwareMeasurer>(protocol, isolation);
  } else {
    measurer = std::make_unique<pipeline::CommandMeasurer>(command);
  }

  int64_t planned = 0;
  for (const pipeline::TuneKernel& k : kernels) {
    const int64_t n = static_cast<int64_t>(k.candidates.size());
    planned += options.budget_measurements > 0 ? std::min<int64_t>(n, options.budget_measurements) : n;
  }
  Progress progress(budget_min > 0 && options.budget_measurements == 0 ? 0 : planned, "configs", 10);
  std::cerr << "perfgraph tune: " << kernels.size() << " kernels, strategy "
            << pipeline::TuneStrategyName(strategy) << ", "
            << (command.empty() ? absl::StrCat(threads, " threads, protocol v2")
                                : absl::StrCat("--measure-command"))
            << ", log " << out << "\n";

  ordered_json kernel_json = ordered_json::array();
  int64_t measured_now = 0, improved = 0;
  bool stopped = false;
  for (size_t i = 0; i < kernels.size(); ++i) {
    const pipeline::TuneKernel& kernel = kernels[i];
    std::vector<pipeline::Trial> prior;
    for (const data::Record& r : prior_records[kernel.hash]) {
      absl::StatusOr<pipeline::Trial> t = pipeline::TrialFromRecord(kernel, r);
      if (t.ok()) prior.push_back(*t);
    }
    const absl::Time kernel_deadline =
        budget_min > 0 ? absl::Now() + (deadline - absl::Now()) / static_cast<double>(kernels.size() - i)
                       : absl::InfiniteFuture();
    pipeline::TuneOptions kernel_options = options;
    kernel_options.should_stop = [&] {
      return interrupted.load() || absl::Now() >= kernel_deadline;
    };
    absl::StatusOr<pipeline::KernelTuneResult> result = pipeline::TuneKernelConfigs(
        kernel, surrogate.get(), *measurer, kernel_options, std::move(prior),
        [&](const data::Record& record) -> absl::Status {
          data::Record r = record;
          r.set_feature_schema_version(static_cast<int>(writer.header().feature_schema_version));
          if (r.measured_unix_seconds() == 0) r.set_measured_unix_seconds(absl::ToUnixSeconds(absl::Now()));
          RETURN_IF_ERROR(writer.Append(r));
          ++measured_now;
          progress.Advance(1, absl::StrCat(kernel.program, " ", kernel.kernel->name));
          return absl::OkStatus();
        });
    if (!result.ok()) {
      if (absl::IsCancelled(result.status()) || interrupted.load()) {
        stopped = true;
        break;
      }
      return result.status();
    }
    // Report: best vs default.
    const int default_index = [&] {
      const tiling::TileConfig d = tiling::Default(*kernel.kernel);
      for (size_t c = 0; c < kernel.candidates.size(); ++c) {
        if (kernel.candidates[c] == d) return static_cast<int>(c);
      }
      return -1;
    }();
    ordered_json kj;
    kj["program"] = kernel.program;
    kj["kernel"] = kernel.kernel->name;
    kj["candidates"] = kernel.candidates.size();
    kj["measured"] = result->trials.size();
    kj["resumed"] = result->prior_trials;
    int bad = 0;
    std::optional<double> default_ns;
    bool default_censored = false;  // the default timed out: default_ns is its lower bound
    for (const pipeline::Trial& t : result->trials) {
      if (t.status != pipeline::TrialStatus::kOk) ++bad;
      if (t.candidate != default_index || t.status == pipeline::TrialStatus::kInvalid) continue;
      default_ns = t.runtime_ns;
      default_censored = t.status == pipeline::TrialStatus::kTimeout;
    }
    kj["invalid_or_timeout"] = bad;
    kj["measured_predicted_invalid"] = result->measured_predicted_invalid;
    if (result->best >= 0) {
      const pipeline::Trial& best = result->trials[result->best];
      kj["best_config"] = kernel.candidates[best.candidate].ToString();
      kj["best_ns"] = best.runtime_ns;
      if (default_censored && !(*default_ns > 0)) {
        kj["default_status"] = "timeout";  // censored without a known bound: no speed-up to give
      } else if (default_ns.has_value()) {
        // A timed-out default is censored: its runtime and the speedup are lower bounds.
        kj["default_status"] = default_censored ? "timeout" : "ok";
        kj[default_censored ? "default_ns_at_least" : "default_ns"] = *default_ns;
        kj[default_censored ? "speedup_vs_default_at_least" : "speedup_vs_default"] =
            *default_ns / best.runtime_ns;
        if (best.runtime_ns < *default_ns) ++improved;
      }
    } else {
      kj["best_config"] = nullptr;
    }
    kernel_json.push_back(std::move(kj));
    if (result->stopped && interrupted.load()) {
      stopped = true;
      break;
    }
  }
  RETURN_IF_ERROR(writer.Close());
  progress.Finish(absl::StrFormat(
      "perfgraph tune: measured %d configs in %s; %d of %d kernels faster than their default; log %s%s",
      measured_now, FormatEta(absl::Now() - start), improved, kernel_json.size(), out,
      stopped ? "; interrupted, rerun the same command to resume" : ""));
  if (absl::GetFlag(FLAGS_json)) {
    ordered_json json;
    json["strategy"] = std::string(pipeline::TuneStrategyName(strategy));
    json["log"] = out;
    json["measured"] = measured_now;
    json["interrupted"] = stopped;
    json["kernels"] = std::move(kernel_json);
    std::cout << json.dump(2) << "\n";
  } else {
    std::cout << absl::StrFormat("%-28s %-40s %9s %12s %12s %8s\n", "program", "kernel", "measured",
                                 "default ns", "best ns", "speedup");
    for (const ordered_json& kj : kernel_json) {
      // A censored default's runtime and speed-up are lower bounds, shown as ">N".
      const bool censored = kj.contains("default_ns_at_least");
      const char* default_key = censored ? "default_ns_at_least" : "default_ns";
      const char* speedup_key = censored ? "speedup_vs_default_at_least" : "speedup_vs_default";
      const char* bound = censored ? ">" : "";
      const bool has_default = kj.contains(default_key);
      std::cout << absl::StrFormat(
          "%-28s %-40s %4d/%-4d %12s %12s %8s\n", kj["program"].get<std::string>(),
          kj["kernel"].get<std::string>(), kj["measured"].get<int>(), kj["candidates"].get<int>(),
          has_default ? absl::StrFormat("%s%.0f", bound, kj[default_key].get<double>()) : "-",
          kj.contains("best_ns") ? absl::StrFormat("%.0f", kj["best_ns"].get<double>()) : "-",
          has_default ? absl::StrFormat("%s%.2fx", bound, kj[speedup_key].get<double>()) : "-");
    }
  }
  return stopped ? kExitRuntimeFailure : kExitOk;
}

// --train-validity: the validity classifier on the train programs of --dataset, its precision and
// recall on the validation and test programs, written to --out.
absl::StatusOr<int> TrainValidity(const CommandLine& command_line) {
  const std::vector<std::string> datasets = absl::GetFlag(FLAGS_dataset);
  const std::string split_path = absl::GetFlag(FLAGS_split);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (datasets.empty() || split_path.empty() || out.empty() || !command_line.positional.empty()) {
    return absl::InvalidArgumentError(
        "--train-validity needs --dataset TILE.pgd..., --split FILE and --out DIR (no MODEL "
        "arguments)");
  }
  ASSIGN_OR_RETURN(data::Split split, data::ReadSplitFile(split_path));
  std::map<data::SplitPart, std::vector<data::Record>> parts;
  for (const std::string& path : datasets) {
    ASSIGN_OR_RETURN(std::vector<data::Record> records, data::ReadRecordFile(path));
    for (data::Record& r : records) {
      if (r.task() != data::Record::TASK_TILE) continue;
      std::optional<data::SplitPart> part = split.PartOf(r.program());
      if (part.has_value()) parts[*part].push_back(std::move(r));
    }
  }
  SurrogateFactory factory(ThreadsFlag());
  ASSIGN_OR_RETURN(const cost::AnalyticalModel* analytical, factory.Analytical());
  pipeline::ValidityTrainOptions options;
  options.threads = ThreadsFlag();
  options.seed = absl::GetFlag(FLAGS_seed);
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(std::unique_ptr<pipeline::ValidityClassifier> classifier,
                   pipeline::ValidityClassifier::Train(parts[data::SplitPart::kTrain], analytical,
                                                       options, "train programs"));
  std::cerr << "perfgraph tune: validity classifier trained on "
            << parts[data::SplitPart::kTrain].size() << " records in "
            << FormatEta(absl::Now() - start) << "\n";
  RETURN_IF_ERROR(classifier->Save(out));
  const double threshold = absl::GetFlag(FLAGS_validity_threshold);
  ordered_json json;
  json["model"] = absl::StrCat(out, "/", pipeline::ValidityClassifier::kFileName);
  json["threshold"] = threshold;
  for (data::SplitPart part :
       {data::SplitPart::kTrain, data::SplitPart::kValidation, data::SplitPart::kTest}) {
    const std::string name(data::SplitPartName(part));
    ASSIGN_OR_RETURN(pipeline::ValidityMetrics m,
                     classifier->Evaluate(parts[part], threshold, name));
    json[name] = {{"records", m.records},         {"bad", m.bad},
                  {"predicted_bad", m.predicted_bad}, {"precision", m.precision},
                  {"recall", m.recall}};
    if (!absl::GetFlag(FLAGS_json)) {
      std::cout << absl::StrFormat(
          "%-10s %6d records, %5d invalid or timeout; P > %.2f: %5d predicted, precision %.3f, "
          "recall %.3f\n",
          name, m.records, m.bad, threshold, m.predicted_bad, m.precision, m.recall);
    }
  }
  if (absl::GetFlag(FLAGS_json)) std::cout << json.dump(2) << "\n";
  return kExitOk;
}

absl::StatusOr<int> Tune(const CommandLine& command_line) {
  if (absl::GetFlag(FLAGS_train_validity)) return TrainValidity(command_line);
  if (!absl::GetFlag(FLAGS_replay).empty()) return Replay(command_line);
  return TuneOnHardware(command_line);
}

}  // namespace

int RunTune(const std::vector<std::string>& args) {
  auto command_line = ParseCommandLine("tune", args);
  if (!command_line.ok()) return ReportError("tune", command_line.status());
  auto result = Tune(*command_line);
  if (!result.ok()) return ReportError("tune", result.status());
  return *result;
}

}  // namespace perfgraph::tools

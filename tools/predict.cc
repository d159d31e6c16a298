// `perfgraph predict PATH... [--format csv|jsonl] [--threads N] [--cost-model learned|xgboost|analytical]
//  [--fusion default|cost] [--input-shape NAME=d0,...]... [--allow-unsupported]`
//
// Batch predictor over corpora. Each PATH is a model file (.onnx, .hlo), a directory (walked
// recursively for .onnx and .hlo files, tools/model_files.h) or a dataset file (.pgd, given as a file).
//  - Model files are imported and fused (--fusion default, the default here, so the kernels are those
//    `measure` and `inspect` see; or cost for fusion::FusionPass), and every kernel is predicted at its
//    best config (tiling::TilingPass over the whole ConfigSpace), for a target running kernels with
//    all logical cores (the default of `measure`).
//  - Dataset files: every record's kernel is predicted at its recorded config, for the thread count
//    recorded in the file's machine fingerprint (all logical cores when absent), next to the
//    measured label (the minimum sample; only for status ok).
// Output (stdout): one row per kernel, then one per program, in input order:
//   csv   header row,file,program,variant,kernel,kernel_hash,fusion_kind,root_opcode,config,
//         predicted_ns,measured_ns,measure_status,kernels,error,out_of_distribution,
//         estimated_kernel_share,estimated_flop_share,missing,executions,executions_note
//   jsonl one object per line with the same keys (null for absent values)
// `out_of_distribution` is empty for a kernel inside the learned cost model's training distribution
// (and for every kernel with the analytical model, or a learned model without distribution.json),
// else the reason (cost/training_distribution.h); on a program row, "N of M kernels".
// `row` is "kernel" or "program". `variant`: model files: the fusion ("default", "cost", or "file"
// for an HLO module's own fusions); datasets: "tile" or "fusion#<variant>" (programs are totalled per
// variant). A program row sums predicted_ns x executions (and, for datasets, measured_ns) over the same kernels:
// those with an estimate (and a measured label); `kernels` counts them and `error` says "partial"
// when some kernel rows were left out. A kernel with no estimate has an empty predicted_ns and the
// cause in `error`. Program rows also give the coverage of the estimate: the share of the program's
// kernels with an estimate (`estimated_kernel_share`, 0..1), the share of its FLOPs in them
// (`estimated_flop_share`, graph::KernelCost x executions; 1 for a program without FLOPs) and the kernels
// without one by "<fusion kind> <root opcode>" (`missing`, e.g. "2 kCustom custom-call"); the same
// is printed on stderr per program.
// Control flow (HLO): a kernel of a while body counts `executions` times (graph::ExecutionsPerRun:
// the trip count from XLA's known_trip_count or the induction-variable pattern, times the trip
// counts of enclosing loops); when a trip count is unknown the kernel counts once and
// `executions_note` says which while (the program row lists them: "per iteration"). Kernels of a
// conditional's branches enter the program total only through the costliest branch of each
// conditional (named in the program row's `executions_note`; nested conditionals are each reduced
// on their own). Kernel rows' predicted_ns stay per execution.
// Files are processed in parallel with --threads worker threads (0 = all logical cores), then
// kernels in parallel; each worker has its own cost model instance (models are not assumed to be
// thread-safe). A file that fails to import, fuse or read is reported on stderr and skipped; the
// others continue, and the exit status is 2 when any file failed (0 otherwise).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "data/kernel_proto.h"
#include "graph/kernel_hash.h"
#include "data/label.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "graph/import.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"
#include "tiling/tiling_pass.h"
#include "pipeline/plan.h"
#include "pipeline/program_total.h"
#include "tools/cli.h"
#include "tools/flags.h"
#include "tools/model_files.h"
#include "tools/progress.h"


namespace perfgraph::tools {
namespace {

// Kernels per unit of work in the kernel phase; a dataset's fixed-config queries of one unit go to
// the model as one batch.
constexpr size_t kKernelsPerChunk = 64;

struct KernelJob {
  std::string program;
  std::string variant;
  graph::Kernel kernel;
  uint64_t hash = 0;
  int target_threads = 1;
  std::optional<tiling::TileConfig> fixed_config;  // datasets: the recorded config
  std::optional<double> measured_ns;               // datasets: the label when status is ok
  std::string measure_status;                      // datasets: ok, invalid, timeout
  // Results.
  std::optional<tiling::TileConfig> config;
  double predicted_ns = 0;
  absl::Status error;
  std::string out_of_distribution;  // CostModel::OutOfDistribution ("" = inside)
  pipeline::KernelRuns runs;  // executions per program run, enclosing conditional (model files)
};

struct Source {
  std::string path;
  bool dataset = false;
  absl::Status status;
  std::vector<KernelJob> jobs;
};

// One worker's cost models and tiling passes, by target thread count.
class Worker {
 public:
  explicit Worker(std::string model_name) : model_name_(std::move(model_name)) {}

  absl::StatusOr<cost::CostModel*> Model(int threads) {
    auto it = models_.find(threads);
    if (it == models_.end()) {
      ASSIGN_OR_RETURN(std::unique_ptr<cost::CostModel> model,
                       MakeCostModel(model_name_, threads));
      it = models_.emplace(threads, std::move(model)).first;
    }
    return it->second.get();
  }

  absl::StatusOr<tiling::TilingPass*> Tiling(int threads) {
    auto it = tilings_.find(threads);
    if (it == tilings_.end()) {
      ASSIGN_OR_RETURN(cost::CostModel * model, Model(threads));
      it = tilings_.emplace(threads, std::make_unique<tiling::TilingPass>(*model)).first;
    }
    return it->second.get();
  }

 private:
  std::string model_name_;
  std::map<int, std::unique_ptr<cost::CostModel>> models_;
  std::map<int, std::unique_ptr<tiling::TilingPass>> tilings_;
};

std::string MeasureStatusText(data::Record::MeasureStatus status) {
  switch (status) {
    case data::Record::MEASURE_STATUS_OK: return "ok";
    case data::Record::MEASURE_STATUS_INVALID: return "invalid";
    case data::Record::MEASURE_STATUS_TIMEOUT: return "timeout";
    default: return "unspecified";
  }
}

absl::Status LoadModelFile(Source& source, const graph::ImportOptions& import_options,
                           const std::string& fusion, Worker& worker) {
  ASSIGN_OR_RETURN(graph::ImportedModel model, graph::ImportModelFile(source.path, import_options));
  cost::CostModel* cost_model = nullptr;
  if (fusion == "cost") {
    ASSIGN_OR_RETURN(cost_model, worker.Model(LogicalCores()));
  }
  ASSIGN_OR_RETURN(pipeline::FusedModel fused,
                   pipeline::FuseModel(source.path, model,
                                       fusion == "cost" ? pipeline::FusionMode::kCost
                                                        : pipeline::FusionMode::kDefault,
                                       cost_model));
  for (graph::Kernel& kernel : fused.kernels) {
    KernelJob job;
    job.program = model.program.name;
    job.variant = fused.fusion;
    job.runs = pipeline::KernelRunsOf(model, kernel.name);
    job.hash = graph::CanonicalKernelHash(kernel);
    job.kernel = std::move(kernel);
    job.target_threads = LogicalCores();
    source.jobs.push_back(std::move(job));
  }
  return absl::OkStatus();
}

absl::Status LoadDataset(Source& source) {
  ASSIGN_OR_RETURN(data::RecordReader reader, data::RecordReader::Open(source.path));
  if (reader.header().foreign_features.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "'", source.path, "' holds ", reader.header().foreign_features->ToString(),
        " features and no kernels to predict; score it with `perfgraph eval --dataset` and a model "
        "trained on that schema"));
  }
  const int threads = reader.header().machine.has_value() && reader.header().machine->num_threads > 0
                          ? reader.header().machine->num_threads
                          : LogicalCores();
  ASSIGN_OR_RETURN(std::vector<data::Record> records, reader.ReadAll());
  for (size_t i = 0; i < records.size(); ++i) {
    const data::Record& record = records[i];
    const std::string context = absl::StrCat(source.path, ": record ", i);
    KernelJob job;
    ASSIGN_OR_RETURN(job.kernel, data::DecodeRecordKernel(record, context));
    auto config = tiling::TileConfig::Parse(record.config().text());
    if (!config.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": bad config: ", config.status().message()));
    }
    job.fixed_config = *config;
    job.program = record.program();
    job.variant = record.task() == data::Record::TASK_FUSION
                      ? absl::StrCat("fusion#", record.fusion_variant())
                      : "tile";
    job.hash = record.kernel_hash();
    job.target_threads = threads;
    job.measure_status = MeasureStatusText(record.status());
    if (record.status() == data::Record::MEASURE_STATUS_OK && record.runtime_ns_size() > 0) {
      auto label = data::RecordLabelNs(record, record.program());
      if (label.ok()) job.measured_ns = *label;
    }
    source.jobs.push_back(std::move(job));
  }
  return absl::OkStatus();
}

// Predicts jobs[begin, end): best configs one kernel at a time, fixed configs in one batch per
// thread count.
void PredictChunk(const std::vector<KernelJob*>& jobs, size_t begin, size_t end, Worker& worker) {
  std::map<int, std::vector<KernelJob*>> fixed;  // by target threads
  for (size_t i = begin; i < end; ++i) {
    KernelJob& job = *jobs[i];
    if (job.fixed_config.has_value()) {
      fixed[job.target_threads].push_back(&job);
      continue;
    }
    auto tiling = worker.Tiling(job.target_threads);
    if (!tiling.ok()) {
      job.error = tiling.status();
      continue;
    }
    if (auto model = worker.Model(job.target_threads); model.ok()) {
      job.out_of_distribution = (*model)->OutOfDistribution(job.kernel);
    }
    auto best = (*tiling)->Run(job.kernel);
    if (best.ok()) {
      job.config = best->config;
      job.predicted_ns = best->predicted_ns;
    } else {
      job.error = best.status();
    }
  }
  for (auto& [threads, group] : fixed) {
    auto model = worker.Model(threads);
    if (!model.ok()) {
      for (KernelJob* job : group) job->error = model.status();
      continue;
    }
    cost::CostBatch batch;
    for (KernelJob* job : group) {
      batch.Enqueue(job->kernel, *job->fixed_config);
      job->out_of_distribution = (*model)->OutOfDistribution(job->kernel);
    }
    std::vector<absl::StatusOr<double>> ns = batch.Evaluate(**model);
    for (size_t i = 0; i < group.size(); ++i) {
      KernelJob& job = *group[i];
      job.config = job.fixed_config;
      if (i >= ns.size()) {
        job.error = absl::InternalError("cost model returned too few estimates");
      } else if (ns[i].ok()) {
        job.predicted_ns = *ns[i];
      } else {
        job.error = ns[i].status();
      }
    }
  }
}

// Runs `work(worker, index)` for index in [0, count) on `threads` threads, one Worker each.
template <typename Work>
void ParallelFor(int threads, size_t count, std::vector<Worker>& workers, Work work) {
  std::atomic<size_t> next{0};
  auto loop = [&](Worker& worker) {
    for (size_t i = next++; i < count; i = next++) work(worker, i);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(loop, std::ref(workers[t]));
  loop(workers[0]);
  for (std::thread& thread : pool) thread.join();
}

// One output row (kernel or program); absent values are nullopt.
struct Row {
  std::string row, file, program, variant, kernel, kernel_hash, fusion_kind, root_opcode, config;
  std::optional<double> predicted_ns, measured_ns;
  std::string measure_status;
  std::optional<int> kernels;
  std::string error;
  std::string out_of_distribution;
  // Program rows: coverage of the estimate (kernels, FLOPs) and the kinds of kernels without one.
  std::optional<double> estimated_kernel_share, estimated_flop_share;
  std::string missing;
  std::optional<int64_t> executions;  // kernel rows: runs per program execution
  std::string executions_note;        // why executions is unknown / how a total was formed
};

constexpr const char* kColumns[] = {
    "row",           "file",         "program",        "variant",
    "kernel",        "kernel_hash",  "fusion_kind",    "root_opcode",
    "config",        "predicted_ns", "measured_ns",    "measure_status",
    "kernels",       "error",        "out_of_distribution", "estimated_kernel_share",
    "estimated_flop_share", "missing", "executions", "executions_note"};

// RFC 4180 quoting when the field holds a comma, quote or line break.
std::string CsvField(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  return absl::StrCat("\"", absl::StrReplaceAll(value, {{"\"", "\"\""}}), "\"");
}

std::string Number(const std::optional<double>& value) {
  return value.has_value() ? absl::StrFormat("%.3f", *value) : std::string();
}

std::string Share(const std::optional<double>& value) {
  return value.has_value() ? absl::StrFormat("%.4f", *value) : std::string();
}

void WriteRow(const Row& r, bool csv) {
  if (csv) {
    std::vector<std::string> fields = {
        r.row, r.file, r.program, r.variant, r.kernel, r.kernel_hash, r.fusion_kind, r.root_opcode,
        r.config, Number(r.predicted_ns), Number(r.measured_ns), r.measure_status,
        r.kernels.has_value() ? absl::StrCat(*r.kernels) : std::string(), r.error,
        r.out_of_distribution, Share(r.estimated_kernel_share), Share(r.estimated_flop_share),
        r.missing, r.executions.has_value() ? absl::StrCat(*r.executions) : std::string(),
        r.executions_note};
    for (std::string& f : fields) f = CsvField(f);
    std::cout << absl::StrJoin(fields, ",") << "\n";
    return;
  }
  nlohmann::ordered_json j;
  auto str = [](const std::string& s) -> nlohmann::ordered_json {
    return s.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s);
  };
  auto num = [](const auto& v) -> nlohmann::ordered_json {
    return v.has_value() ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
  };
  j["row"] = r.row;
  j["file"] = r.file;
  j["program"] = r.program;
  j["variant"] = str(r.variant);
  j["kernel"] = str(r.kernel);
  j["kernel_hash"] = str(r.kernel_hash);
  j["fusion_kind"] = str(r.fusion_kind);
  j["root_opcode"] = str(r.root_opcode);
  j["config"] = str(r.config);
  j["predicted_ns"] = num(r.predicted_ns);
  j["measured_ns"] = num(r.measured_ns);
  j["measure_status"] = str(r.measure_status);
  j["kernels"] = num(r.kernels);
  j["error"] = str(r.error);
  j["out_of_distribution"] = str(r.out_of_distribution);
  j["estimated_kernel_share"] = num(r.estimated_kernel_share);
  j["estimated_flop_share"] = num(r.estimated_flop_share);
  j["missing"] = str(r.missing);
  j["executions"] = num(r.executions);
  j["executions_note"] = str(r.executions_note);
  std::cout << j.dump() << "\n";
}

void WriteSource(const Source& source, bool csv) {
  // Program totals keyed by (program, variant), in order of first appearance.
  struct Total {
    double measured_ns = 0;
    int kernels = 0, left_out = 0, out_of_distribution = 0;
    pipeline::ProgramCoverage coverage;        // estimates, labels aside
    pipeline::ProgramTotal predicted;          // control flow: trip counts, costliest branches
  };
  std::vector<std::pair<std::string, std::string>> order;
  std::map<std::pair<std::string, std::string>, Total> totals;
  for (const KernelJob& job : source.jobs) {
    Row r;
    r.row = "kernel";
    r.file = source.path;
    r.program = job.program;
    r.variant = job.variant;
    r.kernel = job.kernel.name;
    r.kernel_hash = absl::StrFormat("%016x", job.hash);
    r.fusion_kind = std::string(graph::FusionKindName(job.kernel.kind));
    if (job.kernel.root >= 0 && job.kernel.root < job.kernel.size()) {
      r.root_opcode = std::string(graph::HloOpcodeName(job.kernel.root_instruction().opcode));
    }
    if (job.config.has_value()) r.config = job.config->ToString();
    if (job.error.ok()) r.predicted_ns = job.predicted_ns;
    r.measured_ns = job.measured_ns;
    r.measure_status = job.measure_status;
    r.error = std::string(job.error.message());
    r.out_of_distribution = job.out_of_distribution;
    r.executions = job.runs.executions;
    r.executions_note = job.runs.note;
    WriteRow(r, csv);

    const auto key = std::make_pair(job.program, job.variant);
    auto [it, inserted] = totals.try_emplace(key);
    if (inserted) order.push_back(key);
    if (!job.out_of_distribution.empty()) ++it->second.out_of_distribution;
    it->second.coverage.Add(job.kernel, job.runs, job.error.ok());
    const bool complete = job.error.ok() && (!source.dataset || job.measured_ns.has_value());
    if (complete) {
      it->second.predicted.Add(job.runs, job.predicted_ns);
      if (job.measured_ns.has_value()) it->second.measured_ns += *job.measured_ns;
      ++it->second.kernels;
    } else {
      ++it->second.left_out;
    }
  }
  for (const auto& key : order) {
    const Total& t = totals.at(key);
    Row r;
    r.row = "program";
    r.file = source.path;
    r.program = key.first;
    r.variant = key.second;
    r.executions_note = absl::StrJoin(t.predicted.Notes(), "; ");
    r.predicted_ns = t.predicted.total_ns();
    if (source.dataset) r.measured_ns = t.measured_ns;
    r.kernels = t.kernels;
    if (t.left_out > 0) {
      r.error = absl::StrCat("partial: ", t.left_out, " kernel rows without ",
                             source.dataset ? "an estimate or a measured label" : "an estimate",
                             " left out");
    }
    if (t.out_of_distribution > 0) {
      r.out_of_distribution =
          absl::StrCat(t.out_of_distribution, " of ", t.kernels + t.left_out, " kernels");
    }
    const int all = t.kernels + t.left_out;
    if (all > 0) {
      r.estimated_kernel_share = static_cast<double>(t.coverage.estimated_kernels()) / all;
    }
    r.estimated_flop_share = t.coverage.estimated_flop_share();
    std::vector<std::string> missing;
    for (const auto& [kind, count] : t.coverage.missing()) {
      missing.push_back(absl::StrCat(count, " ", kind));
    }
    r.missing = absl::StrJoin(missing, "; ");
    WriteRow(r, csv);
    std::cerr << absl::StrFormat(
        "perfgraph predict: %s (%s): %d of %d kernels estimated (%.1f%% of %.3g FLOP)%s\n",
        key.first, key.second, t.coverage.estimated_kernels(), all,
        100 * *r.estimated_flop_share, t.coverage.flops(),
        missing.empty() ? "" : absl::StrCat("; without an estimate: ", r.missing));
  }
}

absl::StatusOr<int> Predict(const CommandLine& command_line) {
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format != "csv" && format != "jsonl") {
    return absl::InvalidArgumentError(
        absl::StrCat("--format must be csv or jsonl, got '", format, "'"));
  }
  std::string fusion = absl::GetFlag(FLAGS_fusion);
  if (fusion.empty()) fusion = "default";
  if (fusion != "cost" && fusion != "default") {
    return absl::InvalidArgumentError(
        absl::StrCat("--fusion must be cost or default, got '", fusion, "'"));
  }
  int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--threads must be >= 0, got ", threads));
  }
  if (threads == 0) threads = LogicalCores();
  const std::string model_name = absl::GetFlag(FLAGS_cost_model);
  // Fail fast on a model that cannot be built at all (unknown or unavailable).
  RETURN_IF_ERROR(MakeCostModel(model_name, 1).status());
  if (command_line.positional.empty()) {
    return absl::InvalidArgumentError("expected at least one PATH (model file, directory or .pgd)");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> files, CollectModelFiles(command_line.positional));

  std::vector<Source> sources(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    sources[i].path = files[i];
    sources[i].dataset = absl::EndsWith(absl::AsciiStrToLower(files[i]), ".pgd");
  }
  threads = std::max(1, threads);
  std::vector<Worker> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back(model_name);
  std::mutex mutex;  // guards progress and stderr

  // Phase 1: import, fuse or read every file.
  {
    Progress progress(static_cast<int64_t>(sources.size()), "files", 10);
    ParallelFor(threads, sources.size(), workers, [&](Worker& worker, size_t i) {
      Source& source = sources[i];
      source.status = source.dataset
                          ? LoadDataset(source)
                          : LoadModelFile(source, command_line.import_options, fusion, worker);
      if (!source.status.ok()) source.jobs.clear();
      std::lock_guard<std::mutex> lock(mutex);
      if (!source.status.ok()) {
        if (isatty(STDERR_FILENO) == 1) std::cerr << "\r\033[K";  // clear the progress bar
        std::cerr << "perfgraph predict: skipping " << source.path << ": "
                  << source.status.message() << "\n";
      }
      progress.Advance(1, source.path);
    });
  }
  // Phase 2: predict every kernel.
  std::vector<KernelJob*> jobs;
  for (Source& source : sources) {
    for (KernelJob& job : source.jobs) jobs.push_back(&job);
  }
  const size_t chunks = (jobs.size() + kKernelsPerChunk - 1) / kKernelsPerChunk;
  Progress progress(static_cast<int64_t>(jobs.size()), "kernels", 1000);
  ParallelFor(threads, chunks, workers, [&](Worker& worker, size_t chunk) {
    const size_t begin = chunk * kKernelsPerChunk;
    const size_t end = std::min(jobs.size(), begin + kKernelsPerChunk);
    PredictChunk(jobs, begin, end, worker);
    std::lock_guard<std::mutex> lock(mutex);
    progress.Advance(static_cast<int64_t>(end - begin), jobs[begin]->program);
  });

  const bool csv = format == "csv";
  if (csv) std::cout << absl::StrJoin(kColumns, ",") << "\n";
  int failed = 0, estimated = 0;
  for (const Source& source : sources) {
    if (!source.status.ok()) {
      ++failed;
      continue;
    }
    WriteSource(source, csv);
  }
  for (const KernelJob* job : jobs) estimated += job->error.ok();
  std::cout.flush();
  progress.Finish(absl::StrFormat(
      "perfgraph predict: %d kernels (%d estimated) from %d of %d files with the %s model%s",
      jobs.size(), estimated, sources.size() - failed, sources.size(), model_name,
      failed > 0 ? absl::StrCat("; ", failed, " files failed (see above)") : ""));
  return failed > 0 ? kExitBadInput : kExitOk;
}

}  // namespace

int RunPredict(const std::vector<std::string>& args) {
  auto command_line = ParseCommandLine("predict", args);
  if (!command_line.ok()) return ReportError("predict", command_line.status());
  auto result = Predict(*command_line);
  if (!result.ok()) return ReportError("predict", result.status());
  return *result;
}

}  // namespace perfgraph::tools

// `perfgraph measure --corpus PATH... --out DATASET [--task tile|fusion] [--configs-per-kernel K]
//  [--fusion-variants N] [--time-budget-min M] [--seed S] [--threads T] [--shard K/N]`
//
// Produces measured records (data/perfgraph.proto) with the Halide CPU target and the measurement
// protocol of target/measurement.h: by default protocol v2 (--protocol 2): all configs of a kernel
// compiled, then timed in interleaved rounds with a drift canary, in child processes
// (target/isolated_measurement.h); --protocol 1 is the sequential v1 protocol, in process, kept for
// comparing the two. Before starting, the CPU use of other processes is checked
// (target/machine_load.h): a busy machine is reported and recorded in the file header, and with
// --require-idle measure refuses to start; during the run every kernel group records the CPU other
// processes used, and with --require-idle a group measured while the machine was busy is measured
// again once it is quiet.
//  - tile: every kernel of the default fusion of every program, K configs each (the default config
//    plus K-1 sampled uniformly without replacement from tiling::ConfigSpace, seeded per kernel).
//  - fusion: N fusion variants per program (variant 0 = the default fusion; variant v > 0 flips each
//    fusion decision of the heuristic with probability --flip-probability, seeded by program and v),
//    every resulting kernel at its default config.
// Identical kernels (graph::CanonicalKernelHash) are measured once per task; later occurrences in other
// programs or variants get a record that says so (Record.reused_from) and carries the same samples.
// --shard K/N keeps the kernels whose canonical hash is K modulo N: N hosts measure disjoint parts of
// the same plan (same flags and seed) and `perfgraph dataset merge` joins their files.
// Resumable: (task, kernel hash, config) pairs already in --out are skipped; records are appended and
// flushed one by one, so Ctrl-C or kill leaves a valid file (the reader drops a torn tail).
// One process per --out: measure holds graph::OutputLock on it ("DATASET.lock", with its pid) for
// the whole run, so a second measure on the same file fails at once with "... is in use by pid N".
#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <tuple>
#include <unistd.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "data/config_proto.h"
#include "data/kernel_proto.h"
#include "graph/kernel_hash.h"
#include "graph/output_lock.h"
#include "data/machine.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "fusion/default_fusion.h"
#include "graph/featurize.h"
#include "graph/import.h"
#include "graph/status_macros.h"
#include "target/halide_cpu_target.h"
#include "target/isolated_measurement.h"
#include "target/machine_load.h"
#include "target/measurement.h"
#include "tiling/tile_config.h"
#include "pipeline/measurement_plan.h"
#include "pipeline/tune_measure.h"
#include "tools/cli.h"
#include "tools/flags.h"
#include "tools/model_files.h"
#include "tools/progress.h"


namespace perfgraph::tools {
namespace {

std::atomic<bool> interrupted{false};
void OnSigint(int) { interrupted.store(true); }

absl::StatusOr<int> Measure(const CommandLine& command_line) {
  const std::string out = absl::GetFlag(FLAGS_out);
  const std::string task = absl::GetFlag(FLAGS_task);
  if (out.empty()) return absl::InvalidArgumentError("--out DATASET is required");
  // One measuring process per dataset (graph/output_lock.h), taken before the resume scan and held
  // until the last record is written: a second `measure` on the same --out stops here.
  ASSIGN_OR_RETURN(graph::OutputLock lock, graph::OutputLock::Acquire(out, "--out DATASET"));
  if (task != "tile" && task != "fusion") {
    return absl::InvalidArgumentError(absl::StrCat("--task must be tile or fusion, got '", task, "'"));
  }
  const bool tile_task = task == "tile";
  const int configs_per_kernel = absl::GetFlag(FLAGS_configs_per_kernel);
  const int fusion_variants = absl::GetFlag(FLAGS_fusion_variants);
  if (configs_per_kernel < 1 || fusion_variants < 1) {
    return absl::InvalidArgumentError("--configs-per-kernel and --fusion-variants must be >= 1");
  }
  std::vector<std::string> paths = absl::GetFlag(FLAGS_corpus);
  paths.insert(paths.end(), command_line.positional.begin(), command_line.positional.end());
  if (paths.empty()) return absl::InvalidArgumentError("--corpus PATH... is required");
  ASSIGN_OR_RETURN(std::vector<std::string> files, CollectModelFiles(paths));
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  const int threads = ThreadsFlag();
  ASSIGN_OR_RETURN(const std::optional<pipeline::Shard> shard,
                   pipeline::ParseShard(absl::GetFlag(FLAGS_shard)));

  // Resume: what is already in the output file.
  std::map<uint64_t, const data::Record*> measured_by_hash;
  std::vector<data::Record> existing;
  std::map<uint64_t, double> best_label;
  {
    std::error_code error;
    if (std::filesystem::exists(out, error)) {
      ASSIGN_OR_RETURN(data::RecordReader reader,
                       data::RecordReader::Open(out));
      ASSIGN_OR_RETURN(existing, reader.ReadAll());
    }
  }
  const data::Record::Task task_enum = tile_task ? data::Record::TASK_TILE : data::Record::TASK_FUSION;
  for (const data::Record& r : existing) {
    if (r.task() != task_enum) continue;
    if (r.reused_from().empty()) measured_by_hash.emplace(r.kernel_hash(), &r);
    if (r.status() == data::Record::MEASURE_STATUS_OK) {
      double label = *std::min_element(r.runtime_ns().begin(), r.runtime_ns().end());
      auto [it, inserted] = best_label.emplace(r.kernel_hash(), label);
      if (!inserted) it->second = std::min(it->second, label);
    }
  }

  // Enumerate the work (pipeline/measurement_plan.h): the same flags and file always give the same
  // plan, so a resumed run continues the interrupted one.
  pipeline::MeasurementPlanOptions plan_options;
  plan_options.task = tile_task ? pipeline::MeasureTask::kTile : pipeline::MeasureTask::kFusion;
  plan_options.configs_per_kernel = configs_per_kernel;
  plan_options.fusion_variants = fusion_variants;
  plan_options.flip_probability = absl::GetFlag(FLAGS_flip_probability);
  plan_options.seed = seed;
  plan_options.max_kernels_per_program = absl::GetFlag(FLAGS_max_kernels_per_program);
  plan_options.shard = shard;
  plan_options.import_options = command_line.import_options;
  ASSIGN_OR_RETURN(pipeline::MeasurementPlan plan,
                   pipeline::PlanCorpusMeasurement(files, plan_options, existing));
  for (const std::string& skipped : plan.skipped) {
    std::cerr << "perfgraph measure: skipping " << skipped << "\n";
  }
  std::vector<pipeline::MeasurementWork>& work = plan.work;
  using WorkItem = pipeline::MeasurementWork;

  const int protocol = absl::GetFlag(FLAGS_protocol);
  if (protocol != 1 && protocol != 2) {
    return absl::InvalidArgumentError(absl::StrCat("--protocol must be 1 or 2, got ", protocol));
  }
  const double max_other_load = absl::GetFlag(FLAGS_max_other_load);
  const bool require_idle = absl::GetFlag(FLAGS_require_idle);

  // Quiet machine: who else is using the CPU right now?
  data::RecordWriterOptions writer_options;
  writer_options.machine = data::CurrentMachine(threads, target::HalideVersion());
  writer_options.writer = "perfgraph measure";
  writer_options.protocol_version = protocol;
  if (auto load = target::SampleMachineLoad(absl::Seconds(1), getpid()); load.ok()) {
    writer_options.other_load_cores_at_start = load->other_cores;
    writer_options.busy_processes_at_start = load->Describe();
    if (load->other_cores > max_other_load) {
      const std::string message = absl::StrFormat(
          "the machine is busy: other processes use %.2f cores (%s); labels measured beside other "
          "work are not trustworthy",
          load->other_cores, load->Describe());
      if (require_idle) {
        return absl::FailedPreconditionError(
            absl::StrCat(message, "; refusing to start (--require-idle)"));
      }
      std::cerr << "perfgraph measure: warning: " << message << "\n";
    }
  } else {
    std::cerr << "perfgraph measure: warning: cannot check the machine's load: "
              << load.status().message() << "\n";
  }

  ASSIGN_OR_RETURN(data::RecordWriter writer, data::RecordWriter::Open(out, writer_options));
  if (writer.truncated_tail_bytes() > 0) {
    std::cerr << "perfgraph measure: dropped a torn tail of " << writer.truncated_tail_bytes()
              << " bytes left by an interrupted run\n";
  }
  std::cerr << "perfgraph measure: " << plan.programs << " programs, "
            << work.size() << " (kernel, config) pairs to measure, " << existing.size()
            << " records already in " << out << ", " << threads << " threads, protocol " << protocol
            << "\n";

  std::signal(SIGINT, OnSigint);
  std::signal(SIGTERM, OnSigint);
  const double budget_min = absl::GetFlag(FLAGS_time_budget_min);
  const absl::Time deadline =
      budget_min > 0 ? absl::Now() + absl::Seconds(budget_min * 60) : absl::InfiniteFuture();
  Progress progress(static_cast<int64_t>(work.size()), "pairs");
  std::map<uint64_t, data::Record> fresh_by_hash;  // measured in this run (fusion dedup)
  std::map<std::string, int64_t> statuses;
  bool stopped_by_budget = false;

  auto base_record = [&](const WorkItem& item) {
    data::Record record;
    record.set_program(item.program);
    data::KernelToProto(*item.kernel, record.mutable_kernel());
    data::ConfigToProto(item.config, item.is_default, record.mutable_config());
    record.set_feature_schema_version(static_cast<int>(writer.header().feature_schema_version));
    record.set_kernel_hash(item.hash);
    record.set_task(task_enum);
    record.set_fusion_variant(item.variant);
    record.set_measured_unix_seconds(absl::ToUnixSeconds(absl::Now()));
    record.set_protocol_version(protocol);
    return record;
  };
  auto to_proto_status = [](target::MeasureStatus status) {
    return status == target::MeasureStatus::kOk        ? data::Record::MEASURE_STATUS_OK
           : status == target::MeasureStatus::kTimeout ? data::Record::MEASURE_STATUS_TIMEOUT
                                                       : data::Record::MEASURE_STATUS_INVALID;
  };
  auto append = [&](const WorkItem& item, const data::Record& record) -> absl::Status {
    ++statuses[std::string(target::MeasureStatusName(
        record.status() == data::Record::MEASURE_STATUS_OK        ? target::MeasureStatus::kOk
        : record.status() == data::Record::MEASURE_STATUS_TIMEOUT ? target::MeasureStatus::kTimeout
                                                                  : target::MeasureStatus::kInvalid))];
    RETURN_IF_ERROR(writer.Append(record));
    progress.Advance(1, absl::StrCat(item.program, " ", item.kernel->name));
    return absl::OkStatus();
  };
  // A fusion-task kernel identical to one measured before gets a record that says so.
  auto reuse_source = [&](const WorkItem& item) -> const data::Record* {
    if (tile_task) return nullptr;
    if (auto it = fresh_by_hash.find(item.hash); it != fresh_by_hash.end()) return &it->second;
    if (auto it = measured_by_hash.find(item.hash); it != measured_by_hash.end()) return it->second;
    return nullptr;
  };
  auto reused_record = [&](const WorkItem& item, const data::Record& reuse) {
    data::Record record = base_record(item);
    record.mutable_runtime_ns()->CopyFrom(reuse.runtime_ns());
    record.mutable_sample_round()->CopyFrom(reuse.sample_round());
    record.set_protocol_version(reuse.protocol_version());
    record.set_runtime_lower_bound_ns(reuse.runtime_lower_bound_ns());
    record.set_stable(reuse.stable());
    record.set_status(reuse.status());
    record.set_error_message(reuse.error_message());
    record.set_compile_time_ns(reuse.compile_time_ns());
    record.set_reused_from(absl::StrCat(reuse.program(), "#", reuse.fusion_variant()));
    return record;
  };

  if (protocol == 1) {
    ASSIGN_OR_RETURN(target::HalideCpuTarget target,
                     target::HalideCpuTarget::Create({threads, seed}));
    for (const WorkItem& item : work) {
      if (interrupted.load()) break;
      if (absl::Now() > deadline) {
        stopped_by_budget = true;
        break;
      }
      if (const data::Record* reuse = reuse_source(item)) {
        RETURN_IF_ERROR(append(item, reused_record(item, *reuse)));
        continue;
      }
      data::Record record = base_record(item);
      auto it = best_label.find(item.hash);
      const double best = it == best_label.end() ? 0 : it->second;
      target::Measurement m = target::MeasureConfig(target, *item.kernel, item.config, best);
      for (double sample : m.samples_ns) record.add_runtime_ns(sample);
      record.set_compile_time_ns(absl::ToInt64Nanoseconds(m.compile_time));
      record.set_error_message(m.error);
      record.set_status(to_proto_status(m.status));
      if (m.status == target::MeasureStatus::kOk) {
        auto [b, inserted] = best_label.emplace(item.hash, m.label_ns);
        if (!inserted) b->second = std::min(b->second, m.label_ns);
      }
      if (!tile_task) fresh_by_hash.emplace(item.hash, record);
      RETURN_IF_ERROR(append(item, record));
    }
  } else {
    // Protocol v2: one group per kernel (all its configs), measured in child processes. Fusion-task
    // kernels identical to an earlier one are not measured again: they are written when their
    // source's group finishes.
    std::vector<target::MeasureGroup> groups;
    std::vector<std::vector<const WorkItem*>> group_items;
    std::map<uint64_t, std::vector<const WorkItem*>> waiting_for;  // fusion: hash -> duplicates
    std::set<uint64_t> grouped_hashes;
    std::vector<const WorkItem*> reuse_now;
    for (size_t i = 0; i < work.size(); ++i) {
      const WorkItem& item = work[i];
      if (!tile_task) {
        if (reuse_source(item) != nullptr) {
          reuse_now.push_back(&item);
          continue;
        }
        if (!grouped_hashes.insert(item.hash).second) {
          waiting_for[item.hash].push_back(&item);
          continue;
        }
      }
      const bool same_group = tile_task && !group_items.empty() &&
                              group_items.back().front()->kernel == item.kernel;
      if (!same_group) {
        groups.push_back({item.kernel, {}});
        group_items.emplace_back();
      }
      groups.back().configs.push_back(item.config);
      group_items.back().push_back(&item);
    }
    for (const WorkItem* item : reuse_now) {
      RETURN_IF_ERROR(append(*item, reused_record(*item, *reuse_source(*item))));
    }
    target::InterleavedOptions protocol_options;
    protocol_options.min_rounds = absl::GetFlag(FLAGS_min_rounds);
    protocol_options.max_rounds = absl::GetFlag(FLAGS_max_rounds);
    protocol_options.stability = absl::GetFlag(FLAGS_stability);
    protocol_options.seed = seed;
    protocol_options.compile_threads = std::max(1, absl::GetFlag(FLAGS_compile_threads));
    if (!(absl::GetFlag(FLAGS_max_compile_s) > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--max-compile-s must be > 0, got ", absl::GetFlag(FLAGS_max_compile_s)));
    }
    protocol_options.max_compile_time = absl::Seconds(absl::GetFlag(FLAGS_max_compile_s));
    if (protocol_options.min_rounds < 1 || protocol_options.max_rounds < protocol_options.min_rounds ||
        !(protocol_options.stability > 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "need 1 <= --min-rounds <= --max-rounds and --stability > 0, got ",
          protocol_options.min_rounds, ", ", protocol_options.max_rounds, ", ",
          protocol_options.stability));
    }
    target::IsolationOptions isolation;
    isolation.num_threads = threads;
    isolation.seed = seed;
    isolation.hang_timeout = absl::Seconds(absl::GetFlag(FLAGS_hang_timeout_s));
    isolation.should_stop = [&] {
      if (interrupted.load()) return true;
      if (absl::Now() > deadline) {
        stopped_by_budget = true;
        return true;
      }
      return false;
    };
    target::IsolatedMeasurer measurer(protocol_options, isolation);
    absl::Status write_status;
    std::map<int, int> busy_retries;
    int busy_warnings = 0;
    auto on_done = [&](int g, target::GroupResult result) -> target::GroupVerdict {
      if (result.other_load_cores > max_other_load) {
        if (require_idle && busy_retries[g] < 3) {
          ++busy_retries[g];
          std::cerr << "\nperfgraph measure: other processes used "
                    << absl::StrFormat("%.2f", result.other_load_cores)
                    << " cores during kernel " << groups[g].kernel->name
                    << "; waiting for a quiet machine to measure it again (--require-idle)\n";
          for (int waited = 0; waited < 600 && !interrupted.load(); ++waited) {
            auto load = target::SampleMachineLoad(absl::Seconds(1), getpid());
            if (load.ok() && load->other_cores <= max_other_load) break;
            if (load.ok() && waited % 30 == 0) {
              std::cerr << "perfgraph measure: still busy: " << load->Describe() << "\n";
            }
          }
          return target::GroupVerdict::kRetry;
        }
        if (busy_warnings++ < 10) {
          std::cerr << "\nperfgraph measure: warning: other processes used "
                    << absl::StrFormat("%.2f", result.other_load_cores) << " cores during kernel "
                    << groups[g].kernel->name << " (recorded in its records)\n";
        }
      }
      for (size_t c = 0; c < group_items[g].size(); ++c) {
        const WorkItem& item = *group_items[g][c];
        const target::ConfigMeasurement& m = result.measurement.configs[c];
        data::Record record = base_record(item);
        pipeline::FillMeasuredRecord(m, result, &record);
        write_status.Update(append(item, record));
        if (!tile_task) {
          const data::Record& source = fresh_by_hash.emplace(item.hash, record).first->second;
          for (const WorkItem* duplicate : waiting_for[item.hash]) {
            write_status.Update(append(*duplicate, reused_record(*duplicate, source)));
          }
        }
      }
      return write_status.ok() ? target::GroupVerdict::kKeep : target::GroupVerdict::kStop;
    };
    ASSIGN_OR_RETURN(int finished, measurer.Run(groups, on_done));
    (void)finished;
    RETURN_IF_ERROR(write_status);
  }
  RETURN_IF_ERROR(writer.Close());
  const std::string summary = absl::StrFormat(
      "perfgraph measure: wrote %d records to %s (ok %d, invalid %d, timeout %d)%s",
      progress.done(), out, statuses["ok"], statuses["invalid"], statuses["timeout"],
      interrupted.load() ? "; interrupted, rerun the same command to resume"
      : stopped_by_budget ? "; time budget reached, rerun the same command to resume"
                          : "");
  progress.Finish(summary);
  if (interrupted.load()) return kExitRuntimeFailure;
  return plan.skipped.empty() ? kExitOk : kExitBadInput;
}

}  // namespace

int RunMeasure(const std::vector<std::string>& args) {
  auto command_line = ParseCommandLine("measure", args);
  if (!command_line.ok()) return ReportError("measure", command_line.status());
  auto result = Measure(*command_line);
  if (!result.ok()) return ReportError("measure", result.status());
  return *result;
}

}  // namespace perfgraph::tools

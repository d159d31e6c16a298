#include "pipeline/compare.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "data/record_file.h"
#include "graph/kernel_hash.h"
#include "graph/status_macros.h"
#include "pipeline/cost_models.h"
#include "pipeline/plan.h"
#include "pipeline/tune.h"
#include "target/halide_cpu_target.h"
#include "target/measurement.h"
#include "tiling/tile_config.h"
#include "tiling/tiling_pass.h"

namespace perfgraph::pipeline {
namespace {

constexpr char kDefaultColumn[] = "default";
constexpr char kTunedColumn[] = "tuned";

enum class ColumnKind { kDefault, kCostModel, kAutoscheduler, kTuned };

// One scheduler column and what it needs across programs.
struct Column {
  std::string name;
  ColumnKind kind = ColumnKind::kDefault;
  std::unique_ptr<cost::CostModel> model;      // kCostModel
  std::unique_ptr<tiling::TilingPass> tiling;  // kCostModel (its identical-kernel cache is shared)
  target::Autoscheduler autoscheduler = target::Autoscheduler::kAdams2019;  // kAutoscheduler
  std::map<uint64_t, tiling::TileConfig> tuned;  // kTuned: best measured config per kernel hash
};

// One kernel of a column's plan, deduplicated by (hash, schedule) within the program.
struct UniqueKernel {
  graph::Kernel kernel;            // first occurrence
  tiling::TileConfig config;       // default and cost-model columns
  std::vector<std::string> names;  // every occurrence, in program order
};

struct ColumnPlan {
  std::string fusion;   // "default", "cost" or "file"
  std::string error;    // non-empty: the column could not be planned for this program at all
  int num_kernels = 0;  // every kernel occurrence, failed ones included
  std::vector<UniqueKernel> kernels;
  std::vector<KernelFailure> failures;  // planning failures
};

struct ProgramColumnPlans {
  std::string path;
  std::string program;
  std::vector<ColumnPlan> columns;  // parallel to the column list
};

absl::StatusOr<std::vector<Column>> MakeColumns(const CompareOptions& options) {
  if (options.schedulers.empty()) {
    return absl::InvalidArgumentError("no scheduler: name at least one column");
  }
  std::vector<Column> columns;
  std::set<std::string> seen;
  for (const std::string& name : options.schedulers) {
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("scheduler '", name, "' is named more than once"));
    }
    Column column;
    column.name = name;
    if (name == kDefaultColumn) {
      column.kind = ColumnKind::kDefault;
    } else if (name == kTunedColumn) {
      column.kind = ColumnKind::kTuned;
      if (options.tuning_log.empty()) {
        return absl::InvalidArgumentError(
            "scheduler tuned: needs a tuning log (--tuning-log, written by `perfgraph tune`)");
      }
      ASSIGN_OR_RETURN(std::vector<data::Record> records, data::ReadRecordFile(options.tuning_log));
      ASSIGN_OR_RETURN(column.tuned, BestTunedConfigs(records, options.tuning_log));
    } else if (absl::StatusOr<CostModelKind> kind = ParseCostModelKind(name); kind.ok()) {
      column.kind = ColumnKind::kCostModel;
      CostModelOptions model_options;
      model_options.kind = *kind;
      model_options.num_threads = options.num_threads;
      model_options.model_dir = *kind == CostModelKind::kLearned   ? options.learned_model_dir
                                : *kind == CostModelKind::kXgboost ? options.xgboost_model_dir
                                                                   : "";
      absl::StatusOr<std::unique_ptr<cost::CostModel>> model = MakeCostModel(model_options);
      if (!model.ok()) {
        return absl::Status(model.status().code(),
                            absl::StrCat("scheduler ", name, ": ", model.status().message()));
      }
      column.model = std::move(*model);
      tiling::TilingPassOptions tiling_options;
      tiling_options.min_predicted_gain = options.min_predicted_gain >= 0 ? options.min_predicted_gain
                                                                          : DefaultGuardBand(*kind);
      column.tiling = std::make_unique<tiling::TilingPass>(*column.model, tiling_options);
    } else {
      absl::StatusOr<target::Autoscheduler> scheduler = target::ParseAutoscheduler(name);
      if (!scheduler.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "unknown scheduler '", name,
            "' (expected default, tuned, analytical, learned, xgboost, Adams2019, Mullapudi2016 or "
            "Li2018)"));
      }
      column.kind = ColumnKind::kAutoscheduler;
      column.autoscheduler = *scheduler;
    }
    columns.push_back(std::move(column));
  }
  return columns;
}

// Adds `kernel` at `config` to `plan`, merging it with an identical kernel already there.
void AddKernel(const graph::Kernel& kernel, const tiling::TileConfig& config,
               std::map<std::pair<uint64_t, std::string>, size_t>& index, ColumnPlan& plan) {
  ++plan.num_kernels;
  const auto key = std::make_pair(graph::CanonicalKernelHash(kernel), config.ToString());
  auto [it, inserted] = index.emplace(key, plan.kernels.size());
  if (inserted) plan.kernels.push_back({kernel, config, {}});
  plan.kernels[it->second].names.push_back(kernel.name);
}

// Imports and fuses one program and plans every column. Errors (stop the run): import and default
// fusion failures. Cost-column failures are recorded in the column's plan.
absl::StatusOr<ProgramColumnPlans> PlanColumns(const std::string& path,
                                        const graph::ImportOptions& import_options,
                                        std::vector<Column>& columns) {
  ProgramColumnPlans result;
  result.path = path;
  ASSIGN_OR_RETURN(graph::ImportedModel imported, graph::ImportModelFile(path, import_options));
  result.program = imported.program.name;
  ASSIGN_OR_RETURN(FusedModel fused_default,
                   FuseModel(path, imported, FusionMode::kDefault, nullptr));
  for (Column& column : columns) {
    ColumnPlan plan;
    std::map<std::pair<uint64_t, std::string>, size_t> index;
    if (column.kind != ColumnKind::kCostModel) {
      plan.fusion = fused_default.fusion;
      for (const graph::Kernel& kernel : fused_default.kernels) {
        // Autoscheduled kernels ignore the config; a default one keeps the dedup key uniform.
        tiling::TileConfig config =
            column.kind == ColumnKind::kAutoscheduler ? tiling::TileConfig() : tiling::Default(kernel);
        if (column.kind == ColumnKind::kTuned) {
          auto it = column.tuned.find(graph::CanonicalKernelHash(kernel));
          if (it != column.tuned.end()) config = it->second;
        }
        AddKernel(kernel, config, index, plan);
      }
    } else {
      absl::StatusOr<FusedModel> fused =
          FuseModel(path, imported, FusionMode::kCost, column.model.get());
      if (!fused.ok()) {
        plan.fusion = "cost";
        plan.error = std::string(fused.status().message());
      } else {
        plan.fusion = fused->fusion;
        std::vector<absl::StatusOr<tiling::KernelTiling>> best =
            column.tiling->RunAll(fused->kernels);
        for (size_t i = 0; i < fused->kernels.size(); ++i) {
          if (best[i].ok()) {
            AddKernel(fused->kernels[i], best[i]->config, index, plan);
          } else {
            ++plan.num_kernels;
            plan.failures.push_back(
                {{fused->kernels[i].name}, "plan", std::string(best[i].status().message())});
          }
        }
      }
    }
    result.columns.push_back(std::move(plan));
  }
  return result;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

void Warn(const CompareProgress& progress, const std::string& message) {
  if (progress.warning) progress.warning(message);
}
void Advance(const CompareProgress& progress, int64_t units, const std::string& what) {
  if (progress.advanced && units > 0) progress.advanced(units, what);
}

// Compiles and times one column of one program (speedup_vs_default is filled by the caller).
ColumnResult MeasureColumn(const ProgramColumnPlans& program, const Column& column, const ColumnPlan& plan,
                           const target::HalideCpuTarget& target, int repeats,
                           const CompareProgress& progress) {
  ColumnResult out;
  out.fusion = plan.fusion;
  if (!plan.error.empty()) {
    out.status = ColumnStatus::kError;
    out.error = plan.error;
    Warn(progress, absl::StrCat(program.path, ": column ", column.name, ": ", plan.error));
    return out;
  }
  std::vector<KernelFailure> failures = plan.failures;
  const size_t n = plan.kernels.size();
  const target::ProtocolOptions protocol;
  std::vector<std::optional<target::CompiledKernel>> compiled(n);
  std::vector<std::vector<double>> labels(n);
  absl::Duration compile_time;
  for (size_t u = 0; u < n; ++u) {
    const UniqueKernel& k = plan.kernels[u];
    absl::StatusOr<target::CompiledKernel> c =
        column.kind == ColumnKind::kAutoscheduler
            ? target::CompileAutoscheduled(target, k.kernel, column.autoscheduler)
            : target.Compile(k.kernel, k.config);
    Advance(progress, 1, absl::StrCat(column.name, " compile ", k.kernel.name));
    if (!c.ok()) {
      failures.push_back({k.names, "compile", c.status().ToString()});
      Advance(progress, repeats, k.kernel.name);
      continue;
    }
    compile_time += c->compile_time();
    compiled[u] = std::move(*c);
  }
  for (int rep = 0; rep < repeats; ++rep) {
    for (size_t u = 0; u < n; ++u) {
      if (!compiled[u].has_value()) continue;
      const target::Measurement m =
          target::MeasureCompiled(target, *compiled[u], /*best_label_ns=*/0, protocol);
      Advance(progress, 1, absl::StrCat(column.name, " ", plan.kernels[u].kernel.name));
      if (m.status != target::MeasureStatus::kOk) {
        failures.push_back({plan.kernels[u].names, "measure",
                            absl::StrCat(target::MeasureStatusName(m.status), ": ", m.error)});
        compiled[u].reset();
        labels[u].clear();
        Advance(progress, repeats - rep - 1, plan.kernels[u].kernel.name);
        continue;
      }
      labels[u].push_back(m.label_ns);
    }
  }
  compiled.clear();

  std::vector<double> repetition_totals(repeats, 0.0);
  for (size_t u = 0; u < n; ++u) {
    if (static_cast<int>(labels[u].size()) != repeats) continue;
    const UniqueKernel& k = plan.kernels[u];
    for (int rep = 0; rep < repeats; ++rep) {
      repetition_totals[rep] += labels[u][rep] * k.names.size();
    }
    out.kernels_measured += static_cast<int>(k.names.size());
    out.kernel_times.push_back(
        {k.names,
         column.kind == ColumnKind::kAutoscheduler ? column.name : k.config.ToString(),
         Median(labels[u])});
  }
  for (const KernelFailure& f : failures) {
    out.kernels_failed += static_cast<int>(f.kernels.size());
    Warn(progress, absl::StrCat(program.path, ": column ", column.name, ": kernel ",
                                absl::StrJoin(f.kernels, ", "), " failed (", f.stage,
                                "): ", f.error));
  }
  out.status = out.kernels_failed == 0 ? ColumnStatus::kComplete : ColumnStatus::kIncomplete;
  if (out.kernels_measured > 0) {
    out.total_ns = Median(repetition_totals);
    out.repetition_totals_ns = std::move(repetition_totals);
  }
  out.kernels = plan.num_kernels;
  out.unique_kernels = static_cast<int>(n);
  out.compile_time_s = absl::ToDoubleSeconds(compile_time);
  out.failures = std::move(failures);
  return out;
}

}  // namespace

absl::string_view ColumnStatusName(ColumnStatus status) {
  switch (status) {
    case ColumnStatus::kComplete: return "complete";
    case ColumnStatus::kIncomplete: return "incomplete";
    case ColumnStatus::kError: return "error";
  }
  return "unknown";
}

absl::StatusOr<Comparison> ComparePrograms(const std::vector<std::string>& files,
                                           const CompareOptions& options,
                                           const CompareProgress& progress) {
  if (options.repeats < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("repeats must be >= 1, got ", options.repeats));
  }
  if (options.num_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_threads must be >= 1, got ", options.num_threads));
  }
  ASSIGN_OR_RETURN(std::vector<Column> columns, MakeColumns(options));
  ASSIGN_OR_RETURN(target::HalideCpuTarget target,
                   target::HalideCpuTarget::Create({options.num_threads, options.seed}));
  Comparison result;
  result.options = options;
  bool any_autoscheduler = false;
  for (const Column& c : columns) {
    if (c.kind != ColumnKind::kAutoscheduler) continue;
    any_autoscheduler = true;
    // A missing plugin is a setup problem: stop before measuring anything.
    RETURN_IF_ERROR(target::LoadAutoschedulerPlugin(c.autoscheduler));
  }
  if (any_autoscheduler) {
    ASSIGN_OR_RETURN(result.machine_params, target::ResolveMachineParams(target));
  }

  // Phase 1: import, fuse and plan everything (bad input fails here, before any measurement).
  std::vector<ProgramColumnPlans> plans;
  if (progress.planning_started) progress.planning_started(static_cast<int64_t>(files.size()));
  for (const std::string& path : files) {
    ASSIGN_OR_RETURN(ProgramColumnPlans plan, PlanColumns(path, options.import_options, columns));
    plans.push_back(std::move(plan));
    if (progress.program_planned) progress.program_planned(plans.back().program);
  }

  // Phase 2: compile once, time `repeats` times, per program and column.
  int64_t work = 0;
  for (const ProgramColumnPlans& p : plans) {
    for (const ColumnPlan& c : p.columns) {
      if (c.error.empty()) work += static_cast<int64_t>(c.kernels.size()) * (1 + options.repeats);
    }
  }
  if (progress.measuring_started) progress.measuring_started(work);
  const auto default_it = std::find(options.schedulers.begin(), options.schedulers.end(),
                                    std::string(kDefaultColumn));
  for (const ProgramColumnPlans& p : plans) {
    ProgramComparison program;
    program.program = p.program;
    program.model_file = p.path;
    for (size_t c = 0; c < columns.size(); ++c) {
      program.columns.push_back(
          MeasureColumn(p, columns[c], p.columns[c], target, options.repeats, progress));
    }
    // Speedup over the default column when both are complete.
    if (default_it != options.schedulers.end()) {
      const ColumnResult& base = program.columns[default_it - options.schedulers.begin()];
      if (base.status == ColumnStatus::kComplete && base.total_ns.has_value()) {
        for (ColumnResult& col : program.columns) {
          if (col.status == ColumnStatus::kComplete && col.total_ns.has_value()) {
            col.speedup_vs_default = *base.total_ns / *col.total_ns;
          }
        }
      }
    }
    result.programs.push_back(std::move(program));
  }

  for (size_t c = 0; c < columns.size(); ++c) {
    ColumnSummary s;
    s.programs = static_cast<int>(result.programs.size());
    double log_speedup = 0;
    for (const ProgramComparison& program : result.programs) {
      const ColumnResult& col = program.columns[c];
      if (col.status != ColumnStatus::kComplete) continue;
      ++s.programs_complete;
      s.total_ns += col.total_ns.value_or(0);
      if (col.speedup_vs_default.has_value()) {
        ++s.programs_compared;
        log_speedup += std::log(*col.speedup_vs_default);
      }
    }
    if (s.programs_compared > 0) {
      s.geomean_speedup_vs_default = std::exp(log_speedup / s.programs_compared);
    }
    result.summary.push_back(s);
  }
  return result;
}

}  // namespace perfgraph::pipeline

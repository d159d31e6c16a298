// Comparing schedulers on whole programs by MEASURED runtime (what `perfgraph compare` prints):
// for every program and every scheduler column, the total runtime of all its kernels on this CPU.
// Columns:
//  * "default"     fusion::DefaultFusion kernels, each at tiling::Default (the heuristic baseline);
//  * "analytical", "learned", "xgboost"   pipeline::PlanProgram's plan with that cost model
//                  (fusion::FusionPass + tiling::TilingPass over the whole ConfigSpace);
//  * "tuned"       the default-fusion kernels, each at the fastest config a tuning log (`perfgraph
//                  tune`, CompareOptions::tuning_log) measured for it, at tiling::Default when the log
//                  holds no OK measurement of the kernel (pipeline::BestTunedConfigs);
//  * "Adams2019", "Mullapudi2016", "Li2018"   the default-fusion kernels scheduled by Halide's own
//                  autoscheduler (target/autoschedule.h): the same kernel boundaries as "default".
// An optimised HLO file's own fusions are kept by every column (fusion "file").
//
// Protocol: every kernel of a column is compiled once (identical kernels with the same schedule,
// graph::CanonicalKernelHash, once per program and column), then `repeats` complete repetitions each
// re-time every kernel with the dataset's measurement protocol (target::MeasureCompiled: warm-up,
// samples until the best three agree, label = fastest sample). A repetition's total is the sum of
// the kernels' labels times their multiplicity; the column's total is the MEDIAN of the repetition
// totals. Columns are measured one after the other per program (only one column's compiled kernels
// are alive at a time); input data are seeded and identical across columns.
//
// Failures are never dropped: a kernel that cannot be planned, compiled or measured is listed with
// its stage and message, counted in kernels_failed and left out of the column's total, which is then
// kIncomplete. A column whose fusion fails for a program is kError with no total. Links Halide.
#ifndef PERFGRAPH_PIPELINE_COMPARE_H_
#define PERFGRAPH_PIPELINE_COMPARE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/import.h"
#include "target/autoschedule.h"

namespace perfgraph::pipeline {

struct CompareOptions {
  // Column names, in order (file comment); each at most once, at least one.
  std::vector<std::string> schedulers = {"default", "analytical", "learned",
                                         "Adams2019", "Mullapudi2016", "Li2018"};
  int repeats = 3;      // complete repetitions, >= 1
  int num_threads = 1;  // threads every kernel runs with (and the cost models predict for), >= 1
  uint64_t seed = 1;    // seed of the input data
  std::string learned_model_dir;  // "learned" column; "" = the shipped model
  std::string xgboost_model_dir;  // "xgboost" column; "" = the shipped model
  std::string tuning_log;         // "tuned" column: a dataset written by `perfgraph tune` (required)
  // The tiling pass's default guard for the cost-model columns (tiling::TilingPassOptions::
  // min_predicted_gain); < 0 = each model's pipeline::DefaultGuardBand, as `plan` uses.
  double min_predicted_gain = -1;
  graph::ImportOptions import_options;
};

// A kernel failure of a column: every occurrence of one unique kernel, the stage ("plan",
// "compile", "measure") and the message.
struct KernelFailure {
  std::vector<std::string> kernels;
  std::string stage;
  std::string error;
};

// The median time of one unique kernel over the repetitions.
struct KernelTime {
  std::vector<std::string> kernels;  // every occurrence, in program order
  std::string schedule;              // the TileConfig's text, or the autoscheduler's name
  double median_ns = 0;
};

enum class ColumnStatus { kComplete, kIncomplete, kError };
absl::string_view ColumnStatusName(ColumnStatus status);  // "complete", "incomplete", "error"

struct ColumnResult {
  ColumnStatus status = ColumnStatus::kError;
  std::string fusion;  // "default", "cost" or "file"
  std::string error;   // kError: why the column could not be planned
  // Median of repetition_totals_ns; nullopt for kError or when no kernel could be measured.
  std::optional<double> total_ns;
  std::vector<double> repetition_totals_ns;  // empty when nothing was measured
  int kernels = 0;           // every kernel occurrence of the column's plan, failed ones included
  int unique_kernels = 0;    // compiled once each
  int kernels_measured = 0;  // occurrences in the total
  int kernels_failed = 0;    // occurrences left out of it
  double compile_time_s = 0;
  std::vector<KernelFailure> failures;
  std::vector<KernelTime> kernel_times;
  // total_ns of the "default" column / this column's, when both columns are kComplete.
  std::optional<double> speedup_vs_default;
};

struct ProgramComparison {
  std::string program;     // graph::Program::name
  std::string model_file;  // the path given
  std::vector<ColumnResult> columns;  // parallel to CompareOptions::schedulers
};

struct ColumnSummary {
  int programs = 0;
  int programs_complete = 0;
  double total_ns = 0;        // sum over the complete programs
  int programs_compared = 0;  // programs with speedup_vs_default
  std::optional<double> geomean_speedup_vs_default;
};

struct Comparison {
  CompareOptions options;
  // The autoschedulers' MachineParams, when a column is an autoscheduler.
  std::optional<target::ResolvedMachineParams> machine_params;
  std::vector<ProgramComparison> programs;  // in the order of `files`
  std::vector<ColumnSummary> summary;       // parallel to options.schedulers
};

// What a long comparison reports while it runs (all optional).
struct CompareProgress {
  std::function<void(int64_t programs)> planning_started;
  std::function<void(const std::string& program)> program_planned;
  // Units of work of the measuring phase: per unique kernel of a plannable column, one compile and
  // `repeats` timings.
  std::function<void(int64_t units)> measuring_started;
  std::function<void(int64_t units, const std::string& what)> advanced;
  // A kernel or column that failed (also recorded in the result).
  std::function<void(const std::string& message)> warning;
};

// Compares the schedulers on the model files `files` (pipeline/plan.h imports them; a directory must
// be expanded by the caller). Phase 1 imports, fuses and plans every program and column; phase 2
// compiles and times them. Errors (before anything is measured): kInvalidArgument for an empty or
// repeated scheduler, an unknown one (naming it and the known ones), repeats < 1 or num_threads < 1,
// "tuned" without a tuning log; the tuning log's read errors (data::ReadRecordFile, naming it);
// a cost model's (MakeCostModel: e.g. kFailedPrecondition for a missing learned model, prefixed with
// "scheduler NAME: "); an autoscheduler plugin that cannot be loaded; import and default-fusion
// errors naming the file.
absl::StatusOr<Comparison> ComparePrograms(const std::vector<std::string>& files,
                                           const CompareOptions& options,
                                           const CompareProgress& progress = {});

}  // namespace perfgraph::pipeline

#endif  // PERFGRAPH_PIPELINE_COMPARE_H_

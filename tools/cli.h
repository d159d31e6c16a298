// Shared plumbing of the `perfgraph` command-line program: flag parsing with exit status 2 on usage
// errors, the repeatable --input-shape flag, and exit codes (DESIGN.md "Command-line contract").
#ifndef PERFGRAPH_TOOLS_CLI_H_
#define PERFGRAPH_TOOLS_CLI_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cost/cost_model.h"
#include "graph/import.h"
#include "pipeline/plan.h"
#include "pipeline/plan_measure.h"
#include "tools/subcommands.h"

namespace perfgraph::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntimeFailure = 1;
inline constexpr int kExitBadInput = 2;

// Parsed command line of one subcommand: positional arguments, --input-shape and --dim values.
struct CommandLine {
  std::vector<std::string> positional;
  graph::ImportOptions import_options;  // --input-shape, --dim (repeatable), --allow-unsupported
};

// Parses `args` (the words after the subcommand name) against the Abseil flag registry
// (tools/flags.h): `--name=value`, `--name value`, `--flag`/`--noflag` for booleans, `--` ends flags.
// `--input-shape NAME=d0,...` and `--dim NAME=VALUE` may be repeated. Only the flags `subcommand`
// accepts (tools/subcommands.h SubcommandInfo::flags, plus --data-dir, which sets
// cost::SetDataDirOverride) are allowed. Errors (kInvalidArgument): unknown flag, a flag of another
// subcommand (naming it), missing or malformed value; kInternal for an unknown `subcommand`.
absl::StatusOr<CommandLine> ParseCommandLine(absl::string_view subcommand,
                                             const std::vector<std::string>& args);

// Maps a Status to the exit code of the contract: kInvalidArgument, kNotFound, kUnimplemented,
// kFailedPrecondition, kOutOfRange, kAlreadyExists, kDataLoss (corrupt dataset) -> 2 (bad input or
// usage); anything else -> 1.
int ExitCodeFor(const absl::Status& status);

// Prints "perfgraph <subcommand>: <message>" on stderr and returns ExitCodeFor(status).
int ReportError(const std::string& subcommand, const absl::Status& status);

// This machine's logical cores (std::thread::hardware_concurrency), at least 1.
int LogicalCores();
// The --threads flag of measure, train, plan, predict and compare: its value when > 0, else
// LogicalCores() (0 = all logical cores).
int ThreadsFlag();

// Subcommands. Each takes the words after its name and returns the process exit code.
int RunInspect(const std::vector<std::string>& args);
int RunCalibrate(const std::vector<std::string>& args);
int RunMeasure(const std::vector<std::string>& args);
int RunTune(const std::vector<std::string>& args);
int RunDatasetStats(const std::vector<std::string>& args);
int RunDatasetRepeat(const std::vector<std::string>& args);
int RunDatasetMerge(const std::vector<std::string>& args);
int RunDatasetImport(const std::vector<std::string>& args);
int RunDatasetExport(const std::vector<std::string>& args);
int RunTrain(const std::vector<std::string>& args);
int RunEval(const std::vector<std::string>& args);
// plan's --measure: pipeline::MeasurePlan in executables that link Halide (perfgraph-measure), null
// in `perfgraph` (which hands `plan --measure` to perfgraph-measure before calling RunPlan).
using PlanMeasurer = std::function<absl::StatusOr<pipeline::PlanMeasurement>(
    const pipeline::ProgramPlan&, const pipeline::MeasureProgress&)>;
int RunPlan(const std::vector<std::string>& args, const PlanMeasurer& measurer);
int RunPredict(const std::vector<std::string>& args);
int RunCompare(const std::vector<std::string>& args);

// The subcommands every perfgraph executable implements (inspect, dataset stats|merge|import, eval,
// plan, predict), with `plan_measurer` behind plan --measure (null in `perfgraph`).
SubcommandTable InferenceSubcommands(const PlanMeasurer& plan_measurer);

// Shared by plan, predict and compare (tools/cli.cc): pipeline/cost_models.h with the model
// directories of the flags.
// The weights file of the learned model of --model (default: the shipped models/default). Error:
// kFailedPrecondition "<what>: no learned model in DIR (FILE is missing): ..., or <way_out>".
absl::StatusOr<std::string> LearnedWeightsPath(absl::string_view what, absl::string_view way_out);
// The cost model named by --cost-model: "analytical", "learned" (--model) or "xgboost"
// (--xgboost-model), for kernels run with `num_threads` threads (>= 1); pipeline::MakeCostModel's
// errors prefixed with "--cost-model NAME: " and the way out (pass --cost-model analytical); an
// unknown name is kInvalidArgument.
absl::StatusOr<std::unique_ptr<cost::CostModel>> MakeCostModel(absl::string_view name,
                                                               int num_threads);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_CLI_H_

// Shared plumbing of the `perfgraph` command-line program: flag parsing with exit status 2 on usage
// errors, the repeatable --input-shape flag, and exit codes (DESIGN.md "Command-line contract").
#ifndef PERFGRAPH_TOOLS_CLI_H_
#define PERFGRAPH_TOOLS_CLI_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cost/cost_model.h"
#include "fusion/fusion_pass.h"
#include "graph/import.h"

namespace perfgraph::tools {

// File name of the exported inference weights inside a model directory (written by `train`, read by
// `plan`/`predict --cost-model learned`), and the model directory used when --model is not given.
inline constexpr char kLearnedWeightsFile[] = "weights.pgw";
inline constexpr char kDefaultModelDir[] = "models/default";

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntimeFailure = 1;
inline constexpr int kExitBadInput = 2;

// Parsed command line of one subcommand: positional arguments, --input-shape and --dim values.
struct CommandLine {
  std::vector<std::string> positional;
  graph::ImportOptions import_options;  // --input-shape, --dim (repeatable), --allow-unsupported
};

// Parses `args` (the words after the subcommand name) against the Abseil flag registry: `--name=value`,
// `--name value`, `--flag`/`--noflag` for booleans, `--` ends flags. `--input-shape NAME=d0,...` and
// `--dim NAME=VALUE` may be repeated. Errors (kInvalidArgument): unknown flag, missing or malformed value.
absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args);

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
int RunDataset(const std::vector<std::string>& args);
int RunTrain(const std::vector<std::string>& args);
int RunEval(const std::vector<std::string>& args);
int RunPlan(const std::vector<std::string>& args);
int RunPredict(const std::vector<std::string>& args);
int RunCompare(const std::vector<std::string>& args);

// Shared by plan and predict (defined in tools/plan.cc).
// The weights file of the learned model of --model (default kDefaultModelDir). Error:
// kFailedPrecondition "<what>: no learned model in DIR (FILE is missing): ..., or <way_out>".
absl::StatusOr<std::string> LearnedWeightsPath(absl::string_view what, absl::string_view way_out);
// The cost model named by --cost-model: "analytical" (cost::AnalyticalModel over the committed
// reference target description, for kernels run with `num_threads` threads, >= 1); "learned"
// (cost::LearnedModel over the weights of --model, default kDefaultModelDir; kFailedPrecondition
// when there are none); "xgboost" (cost::XgboostModel of --model, default
// cost::kDefaultXgboostModelDir, predicting with `num_threads` XGBoost threads; kFailedPrecondition
// when there is none, its Load errors otherwise); any other name is kInvalidArgument.
absl::StatusOr<std::unique_ptr<cost::CostModel>> MakeCostModel(absl::string_view name,
                                                               int num_threads);
// The kernels of an imported model: the file's own fusions when it has them (optimised HLO,
// `fusion` = "file"), otherwise the entry program and then every called computation (HLO while
// bodies, ...) fused on its own with `fusion`: "default" (fusion::DefaultFusion) or "cost"
// (fusion::FusionPass over `cost_model`, which must then be non-null); called computations' kernels are named
// "<computation>/<kernel>" as inspect names them. Errors name `path`: a program that fails to fuse,
// or an unknown `fusion` (kInvalidArgument).
struct FusedModel {
  std::vector<graph::Kernel> kernels;
  std::vector<fusion::FusionDecision> decisions;  // "cost" only; all programs, in fusion order
  std::string fusion;                             // "default", "cost" or "file"
};
absl::StatusOr<FusedModel> FuseModel(const std::string& path, const graph::ImportedModel& model,
                                     absl::string_view fusion, cost::CostModel* cost_model);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_CLI_H_

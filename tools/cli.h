// Shared plumbing of the `perfgraph` command-line program: flag parsing with exit status 2 on usage
// errors, the repeatable --input-shape flag, and exit codes (DESIGN.md "Command-line contract").
#ifndef PERFGRAPH_TOOLS_CLI_H_
#define PERFGRAPH_TOOLS_CLI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "graph/import.h"

namespace perfgraph::tools {

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

// Subcommands. Each takes the words after its name and returns the process exit code.
int RunInspect(const std::vector<std::string>& args);
int RunCalibrate(const std::vector<std::string>& args);
int RunMeasure(const std::vector<std::string>& args);
int RunDataset(const std::vector<std::string>& args);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_CLI_H_

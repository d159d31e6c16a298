// The common shape of the report subcommands (inspect, plan, compare): parse the command line, check
// the number of MODEL arguments, build a JSON report and print it as JSON (--json) or as a table.
#ifndef PERFGRAPH_TOOLS_REPORT_H_
#define PERFGRAPH_TOOLS_REPORT_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/import.h"
#include "nlohmann/json.hpp"

namespace perfgraph::tools {

using ReportBuilder = std::function<absl::StatusOr<nlohmann::ordered_json>(
    const std::vector<std::string>& models, const graph::ImportOptions& import_options)>;
using TablePrinter = std::function<void(const nlohmann::ordered_json& report)>;

// Runs subcommand `name`: ParseCommandLine(args); exactly one MODEL argument (or at least one when
// `many_models`), else a usage error (exit 2); then `build` and, with --json, the report's JSON on
// stdout, else `print_table`. Returns the exit code (tools/cli.h: ReportError for every error).
int RunReportCommand(absl::string_view name, const std::vector<std::string>& args, bool many_models,
                     const ReportBuilder& build, const TablePrinter& print_table);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_REPORT_H_

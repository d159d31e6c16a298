#include "tools/report.h"

#include <iostream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "tools/cli.h"
#include "tools/flags.h"


namespace perfgraph::tools {

int RunReportCommand(absl::string_view name, const std::vector<std::string>& args, bool many_models,
                     const ReportBuilder& build, const TablePrinter& print_table) {
  absl::StatusOr<CommandLine> command_line = ParseCommandLine(name, args);
  if (!command_line.ok()) return ReportError(std::string(name), command_line.status());
  const size_t models = command_line->positional.size();
  if (many_models ? models == 0 : models != 1) {
    return ReportError(std::string(name), absl::InvalidArgumentError(
                                 many_models ? std::string("expected at least one MODEL argument")
                                             : absl::StrCat("expected exactly one MODEL argument, got ",
                                                            models)));
  }
  absl::StatusOr<nlohmann::ordered_json> report =
      build(command_line->positional, command_line->import_options);
  if (!report.ok()) return ReportError(std::string(name), report.status());
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << report->dump(2) << "\n";
  } else {
    print_table(*report);
  }
  return kExitOk;
}

}  // namespace perfgraph::tools

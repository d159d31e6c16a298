#include "tools/cli.h"

#include <algorithm>
#include <iostream>
#include <thread>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"

ABSL_DECLARE_FLAG(int, threads);  // tools/measure.cc

ABSL_FLAG(bool, allow_unsupported, false,
          "Keep ONNX ops without a lowering as custom-call instructions instead of failing.");

namespace perfgraph::tools {

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  CommandLine result;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || !absl::StartsWith(arg, "--") || arg == "-") {
      result.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    // Flags are spelled with dashes on the command line and underscores in code.
    for (char& c : name) c = c == '-' ? '_' : c;
    if (name == "dim") {
      if (!has_value) {
        if (i + 1 >= args.size()) return absl::InvalidArgumentError("--dim needs a value NAME=VALUE");
        value = args[++i];
      }
      ASSIGN_OR_RETURN(auto entry, graph::ParseDimFlag(value));
      result.import_options.dim_params[entry.first] = entry.second;
      continue;
    }
    if (name == "input_shape") {
      if (!has_value) {
        if (i + 1 >= args.size()) {
          return absl::InvalidArgumentError("--input-shape needs a value NAME=d0,d1,...");
        }
        value = args[++i];
      }
      ASSIGN_OR_RETURN(auto entry, graph::ParseInputShapeFlag(value));
      result.import_options.input_shapes[entry.first] = std::move(entry.second);
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    bool negated = false;
    if (flag == nullptr && absl::StartsWith(name, "no")) {
      flag = absl::FindCommandLineFlag(name.substr(2));
      negated = flag != nullptr && flag->IsOfType<bool>();
      if (!negated) flag = nullptr;
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", arg, "'"));
    }
    if (flag->IsOfType<bool>() && !has_value) {
      value = negated ? "false" : "true";
    } else if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag '", arg, "' needs a value"));
      }
      value = args[++i];
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad value '", value, "' for flag --", flag->Name(), ": ", error));
    }
  }
  result.import_options.allow_unsupported = absl::GetFlag(FLAGS_allow_unsupported);
  return result;
}

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kDataLoss:
      return kExitBadInput;
    default:
      return kExitRuntimeFailure;
  }
}

int ReportError(const std::string& subcommand, const absl::Status& status) {
  std::cerr << "perfgraph " << subcommand << ": " << status.message() << "\n";
  return ExitCodeFor(status);
}

int LogicalCores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

int ThreadsFlag() {
  const int threads = absl::GetFlag(FLAGS_threads);
  return threads > 0 ? threads : LogicalCores();
}

}  // namespace perfgraph::tools

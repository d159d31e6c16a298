#include "tools/cli.h"

#include <algorithm>
#include <iostream>
#include <thread>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cost/shipped_files.h"
#include "graph/status_macros.h"
#include "pipeline/cost_models.h"
#include "tools/flags.h"
#include "tools/subcommands.h"



namespace perfgraph::tools {

absl::StatusOr<CommandLine> ParseCommandLine(absl::string_view subcommand,
                                             const std::vector<std::string>& args) {
  const SubcommandInfo* info = FindSubcommandByName(subcommand);
  if (info == nullptr) {
    return absl::InternalError(absl::StrCat("ParseCommandLine: unknown subcommand '", subcommand, "'"));
  }
  auto not_accepted = [&](absl::string_view flag) {
    return absl::InvalidArgumentError(absl::StrCat(
        "flag '", flag, "' is not a flag of 'perfgraph ", subcommand,
        "' (see perfgraph ", subcommand, " --help)"));
  };
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
    if ((name == "dim" || name == "input_shape" || name == "allow_unsupported" ||
         name == "noallow_unsupported") &&
        !info->import_flags) {
      return not_accepted(arg);
    }
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
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", arg, "' (see perfgraph ",
                                                     subcommand, " --help)"));
    }
    const std::string flag_name(flag->Name());
    if (flag_name != "data_dir" && flag_name != "allow_unsupported" &&
        std::find(info->flags.begin(), info->flags.end(), flag_name) == info->flags.end()) {
      return not_accepted(arg);
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
  if (const std::string data_dir = absl::GetFlag(FLAGS_data_dir); !data_dir.empty()) {
    cost::SetDataDirOverride(data_dir);
  }
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

absl::StatusOr<std::string> LearnedWeightsPath(absl::string_view what, absl::string_view way_out) {
  std::string dir = absl::GetFlag(FLAGS_model);
  if (dir.empty()) dir = pipeline::ShippedModelDir(pipeline::CostModelKind::kLearned);
  absl::StatusOr<std::string> weights = pipeline::LearnedWeightsPath(dir);
  if (!weights.ok()) {
    return absl::Status(weights.status().code(),
                        absl::StrCat(what, ": ", weights.status().message(),
                                     " and pass --model DIR, or ", way_out));
  }
  return weights;
}

absl::StatusOr<std::unique_ptr<cost::CostModel>> MakeCostModel(absl::string_view name,
                                                               int num_threads) {
  absl::StatusOr<pipeline::CostModelKind> kind = pipeline::ParseCostModelKind(name);
  if (!kind.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--cost-model must be learned, xgboost or analytical, got '", name, "'"));
  }
  pipeline::CostModelOptions options;
  options.kind = *kind;
  options.num_threads = num_threads;
  if (*kind == pipeline::CostModelKind::kLearned) {
    // Checked here for the command line's message (what to pass instead); MakeCostModel checks again.
    RETURN_IF_ERROR(
        LearnedWeightsPath("--cost-model learned", "pass --cost-model analytical").status());
    options.model_dir = absl::GetFlag(FLAGS_model);
  } else if (*kind == pipeline::CostModelKind::kXgboost) {
    options.model_dir = absl::GetFlag(FLAGS_xgboost_model);
  }
  absl::StatusOr<std::unique_ptr<cost::CostModel>> model = pipeline::MakeCostModel(options);
  if (!model.ok() && *kind == pipeline::CostModelKind::kXgboost &&
      model.status().code() == absl::StatusCode::kFailedPrecondition) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--cost-model xgboost: ", model.status().message(),
        "; or pass --xgboost-model DIR, or --cost-model analytical"));
  }
  return model;
}

int LogicalCores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

int ThreadsFlag() {
  const int threads = absl::GetFlag(FLAGS_threads);
  return threads > 0 ? threads : LogicalCores();
}

}  // namespace perfgraph::tools

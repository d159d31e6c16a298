#include "tools/subcommands.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tools/cli.h"

namespace perfgraph::tools {

absl::string_view ExecutableName(Executable executable) {
  switch (executable) {
    case Executable::kPerfgraph: return "perfgraph";
    case Executable::kMeasure: return "perfgraph-measure";
    case Executable::kTrain: return "perfgraph-train";
  }
  return "perfgraph";
}

const std::vector<SubcommandInfo>& Subcommands() {
  static const std::vector<SubcommandInfo>* subcommands = new std::vector<SubcommandInfo>{
      {"inspect", "MODEL [--json] [--input-shape NAME=d0,d1,...]... [--dim NAME=VALUE]...",
       "import an ONNX model or HLO module, fuse it with the default fusion and list its kernels",
       {"json"}, true, Executable::kPerfgraph},
      {"measure",
       "--corpus PATH... --out DATASET [--task tile|fusion] [--configs-per-kernel K]\n"
       "        [--fusion-variants N] [--time-budget-min M] [--seed S] [--threads T] [--shard K/N]",
       "compile and time kernels with Halide on this CPU; resumable, Ctrl-C safe",
       {"corpus", "out", "task", "configs_per_kernel", "fusion_variants", "flip_probability",
        "time_budget_min", "seed", "threads", "protocol", "min_rounds", "max_rounds", "stability",
        "require_idle", "max_other_load", "compile_threads", "hang_timeout_s", "max_compile_s",
        "shard",
        "max_kernels_per_program"},
       true, Executable::kMeasure},
      {"tune",
       "MODEL|KERNELS.pgd... --out TUNING.pgd [--strategy learned-online|learned|xgboost|\n"
       "        analytical|random] [--budget-measurements N | --budget-min M] [--batch B] [--seed S]\n"
       "        [--threads T] [--measure-command CMD] [--json]\n"
       "    or: --replay DATASET [--strategies S,...] [--seeds N] [--split FILE --split-part P]\n"
       "        [--out REPORT.json] [--json]\n"
       "    or: --train-validity --dataset TILE.pgd... --split FILE --out DIR",
       "autotune tile configs with a cost model as the surrogate, measuring on this CPU (or\n"
       "with your own command); resumable. --replay: benchmark the strategies on a measured file",
       {"out", "strategy", "strategies", "budget_measurements", "budget_min", "batch", "seed",
        "threads", "replay", "seeds", "exploration", "validity", "validity_threshold",
        "validity_model", "train_validity", "dataset", "measure_command", "split", "split_part",
        "model", "xgboost_model", "json", "min_rounds",
        "max_rounds", "stability", "require_idle", "max_other_load", "hang_timeout_s",
        "max_compile_s"},
       true, Executable::kMeasure},
      {"dataset stats", "DATASET... [--json]", "summarise measured record files", {"json"}, false,
       Executable::kPerfgraph},
      {"dataset repeat", "DATASET [--sample N] [--seed S] [--json]",
       "re-measure a sample of a dataset: the repeatability (noise floor) of the labels",
       {"json", "sample", "seed", "kernels", "repeat_configs_per_kernel", "protocol", "min_rounds",
        "max_rounds", "stability", "compile_threads"},
       false, Executable::kMeasure},
      {"dataset merge", "A.pgd B.pgd... --out ALL.pgd [--allow-mixed-machines] [--json]",
       "join record files measured apart (measure --shard K/N), deduplicated",
       {"out", "allow_mixed_machines", "json"}, false, Executable::kPerfgraph},
      {"dataset import",
       "--hlo DIR --runtimes FILE.csv --out DATASET [--machine NAME]\n"
       "        or: --tpugraphs-tile DIR --out DATASET [--train-configs-per-tile N] [--seed S]",
       "turn your own measured runtimes of HLO kernels into a dataset, or TpuGraphs tile files\n"
       "into a dataset of their own feature schema (train and eval read it)",
       {"hlo", "runtimes", "tpugraphs_tile", "train_configs_per_tile", "seed", "out", "machine",
        "json"},
       false,
       Executable::kPerfgraph},
      {"dataset export", "[--format tpugraphs-tile] DATASET... OUT_DIR [--json]",
       "write every tile kernel of datasets as a TpuGraphs tile .npz file (perfgraph's features)",
       {"format", "json"}, false, Executable::kPerfgraph},
      {"calibrate",
       "--out TARGET_FILE [--threads T] [--measure-ms MS] [--calibration-passes N]\n"
       "        [--tolerance F] [--compare-to TARGET_FILE] [--force]",
       "measure this CPU (peak FLOP/s, bandwidth per cache level, overheads, parallel scaling)\n"
       "for the analytical cost model in interleaved rounds; writes a text-proto target\n"
       "description unless its passes (or --compare-to) disagree by more than --tolerance",
       {"out", "threads", "measure_ms", "calibration_passes", "tolerance", "compare_to", "force"},
       false, Executable::kMeasure},
      {"train",
       "--dataset DATASET... --out MODEL_DIR [--task tile|fusion|both] [--epochs N] [--seed S]\n"
       "        [--split FILE] [--join early|late] [--resume] [--threads T] [--model-kind gnn|xgboost]",
       "train the learned cost model (GraphSAGE + LSTM) on measured records, or with\n"
       "--model-kind xgboost the gradient-boosted baseline",
       {"dataset", "out", "task", "epochs", "seed", "split", "join", "reduction", "rank_weight",
        "tile_mse_weight", "fusion_mse_weight", "resume", "hidden", "opcode_embedding",
        "sage_layers", "batch_kernels", "learning_rate", "patience", "threads", "model_kind",
        "distributed", "distributed_timeout_s", "max_epochs_this_run",
        "xgb_tile_objective", "xgb_rounds", "xgb_max_depth", "xgb_eta", "xgb_analytical_features",
        "hybrid_features", "rank_loss", "select_by"},
       false, Executable::kTrain},
      {"eval",
       "--dataset DATASET... [--model MODEL_DIR] [--xgboost-model DIR] [--split FILE]\n"
       "        [--split-part test|validation|train] [--per-kernel] [--explain PROGRAM/KERNEL]\n"
       "        [--guard-sweep] [--plot DIR] [--json]",
       "score the learned, the XGBoost and the analytical model on held-out programs",
       {"dataset", "model", "xgboost_model", "split", "split_part", "per_kernel", "explain",
        "guard_sweep", "plot", "json"}, false,
       Executable::kPerfgraph},
      {"plan",
       "MODEL [--cost-model learned|xgboost|analytical] [--fusion cost|default] [--measure]\n"
       "        [--json] [--threads T] [--min-predicted-gain F] [--input-shape NAME=d0,d1,...]...\n"
       "        [--allow-unsupported] [--plot FILE.png|FILE.svg]",
       "fuse and tile a model with a cost model; --measure also times every planned kernel",
       {"cost_model", "model", "xgboost_model", "fusion", "measure", "json", "threads",
        "min_predicted_gain", "plot"}, true,
       Executable::kPerfgraph},
      {"predict",
       "PATH... [--format csv|jsonl] [--threads N] [--cost-model learned|xgboost|analytical]\n"
       "        [--fusion default|cost] [--input-shape NAME=d0,d1,...]...",
       "predict every kernel of model files, directories and datasets (.pgd)",
       {"format", "threads", "cost_model", "model", "xgboost_model", "fusion"}, true,
       Executable::kPerfgraph},
      {"compare",
       "MODEL... [--schedulers default,analytical,learned,Adams2019,Mullapudi2016,Li2018]\n"
       "        [--repeats N] [--threads T] [--model DIR] [--min-predicted-gain F] [--json]\n"
       "        [--dim NAME=VALUE]...",
       "total measured runtime per program: default fusion+tiling, cost-model plans and\n"
       "Halide's autoschedulers, median of N repetitions",
       {"schedulers", "repeats", "threads", "seed", "model", "xgboost_model", "min_predicted_gain",
        "tuning_log", "json"}, true,
       Executable::kMeasure},
  };
  return *subcommands;
}

const SubcommandInfo* FindSubcommandByName(absl::string_view name) {
  for (const SubcommandInfo& info : Subcommands()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

const SubcommandInfo* FindSubcommand(const std::vector<std::string>& words, int* consumed) {
  *consumed = 0;
  if (words.empty()) return nullptr;
  if (words[0] == "dataset") {
    if (words.size() < 2) return nullptr;
    *consumed = 2;
    return FindSubcommandByName(absl::StrCat("dataset ", words[1]));
  }
  *consumed = 1;
  return FindSubcommandByName(words[0]);
}

Executable ExecutableFor(const SubcommandInfo& info, const std::vector<std::string>& args) {
  if (info.name == "plan") {
    // The last --measure / --nomeasure / --measure=V wins, as in ParseCommandLine.
    bool measure = false;
    for (const std::string& arg : args) {
      if (arg == "--") break;
      if (arg == "--measure") measure = true;
      if (arg == "--nomeasure") measure = false;
      if (absl::StartsWith(arg, "--measure=")) {
        const std::string value = arg.substr(10);
        measure = value == "true" || value == "1" || value == "yes" || value == "t" || value == "y";
      }
    }
    if (measure) return Executable::kMeasure;
  }
  return info.executable;
}

std::string Usage() {
  std::string usage =
      "usage: perfgraph SUBCOMMAND [flags] [args]\n"
      "       perfgraph help SUBCOMMAND | perfgraph SUBCOMMAND --help\n\nsubcommands:\n";
  for (const SubcommandInfo& info : Subcommands()) {
    absl::StrAppend(&usage, "  ", info.name, " ", info.synopsis, "\n");
    for (absl::string_view line : absl::StrSplit(info.summary, '\n')) {
      absl::StrAppend(&usage, "      ", line, "\n");
    }
  }
  absl::StrAppend(&usage,
                  "\nevery subcommand also accepts --data-dir DIR (where the shipped models and "
                  "target description are; default $PERFGRAPH_DATA_DIR, then the installed or "
                  "source tree)\n");
  return usage;
}

namespace {

void AppendFlagHelp(absl::string_view name, std::string* out) {
  std::string dashed(name);
  for (char& c : dashed) c = c == '_' ? '-' : c;
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr) {
    absl::StrAppend(out, "  --", dashed, "\n");
    return;
  }
  absl::StrAppend(out, "  --", dashed);
  if (!flag->IsOfType<bool>()) absl::StrAppend(out, " VALUE");
  const std::string default_value = flag->DefaultValue();
  absl::StrAppend(out, "  (default: ", default_value.empty() ? "\"\"" : default_value, ")\n      ",
                  flag->Help(), "\n");
}

}  // namespace

std::string SubcommandHelp(const SubcommandInfo& info) {
  std::string help = absl::StrCat("usage: perfgraph ", info.name, " ", info.synopsis, "\n");
  for (absl::string_view line : absl::StrSplit(info.summary, '\n')) {
    absl::StrAppend(&help, "  ", line, "\n");
  }
  absl::StrAppend(&help, "\nflags:\n");
  for (const std::string& name : info.flags) AppendFlagHelp(name, &help);
  if (info.import_flags) {
    absl::StrAppend(&help,
                    "  --input-shape NAME=d0,d1,...  (repeatable)\n"
                    "      Static shape of a model input with symbolic or unknown dimensions.\n"
                    "  --dim NAME=VALUE  (repeatable)\n"
                    "      Value of a symbolic dimension (e.g. batch=1) for every input using it.\n");
    AppendFlagHelp("allow_unsupported", &help);
  }
  AppendFlagHelp("data_dir", &help);
  absl::StrAppend(&help, "  --help\n      Print this help.\n");
  return help;
}

std::string HelperPath(Executable executable) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error || self.empty()) return "";
  const std::string name(ExecutableName(executable));
  for (const std::filesystem::path& candidate :
       {self.parent_path() / name, self.parent_path() / ".." / "libexec" / "perfgraph" / name}) {
    if (std::filesystem::is_regular_file(candidate, error) && access(candidate.c_str(), X_OK) == 0) {
      return candidate.lexically_normal().string();
    }
  }
  return "";
}

int RunMain(int argc, char** argv, Executable self, const SubcommandTable& table) {
  const std::vector<std::string> words(argv + 1, argv + argc);
  if (words.empty()) {
    std::cerr << Usage();
    return kExitBadInput;
  }
  if (words[0] == "help" || words[0] == "--help" || words[0] == "-h") {
    if (words.size() == 1) {
      std::cout << Usage();
      return kExitOk;
    }
    int consumed = 0;
    const std::vector<std::string> rest(words.begin() + 1, words.end());
    const SubcommandInfo* info = FindSubcommand(rest, &consumed);
    if (info == nullptr || consumed != static_cast<int>(rest.size())) {
      std::cerr << "perfgraph help: unknown subcommand '" << absl::StrJoin(rest, " ") << "'\n"
                << Usage();
      return kExitBadInput;
    }
    std::cout << SubcommandHelp(*info);
    return kExitOk;
  }
  int consumed = 0;
  const SubcommandInfo* info = FindSubcommand(words, &consumed);
  if (info == nullptr) {
    std::cerr << "perfgraph: unknown subcommand '"
              << absl::StrJoin(words.begin(), words.begin() + std::min<size_t>(words.size(), 2),
                               " ")
              << "'\n"
              << Usage();
    return kExitBadInput;
  }
  const std::vector<std::string> args(words.begin() + consumed, words.end());
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h") {
      std::cout << SubcommandHelp(*info);
      return kExitOk;
    }
  }
  const Executable wanted = ExecutableFor(*info, args);
  // A helper implements its own subcommands and those of `perfgraph`; `perfgraph` only its own.
  auto it = table.find(info->name);
  if (it != table.end() && (wanted == self || wanted == Executable::kPerfgraph)) {
    return it->second(args);
  }
  const std::string helper = HelperPath(wanted);
  if (helper.empty()) {
    std::cerr << "perfgraph " << info->name << ": needs " << ExecutableName(wanted)
              << ", which is neither beside this program nor in ../libexec/perfgraph (build or "
                 "install perfgraph completely)\n";
    return kExitRuntimeFailure;
  }
  std::vector<char*> helper_argv;
  helper_argv.push_back(const_cast<char*>(helper.c_str()));
  for (int i = 1; i < argc; ++i) helper_argv.push_back(argv[i]);
  helper_argv.push_back(nullptr);
  execv(helper.c_str(), helper_argv.data());
  std::cerr << "perfgraph " << info->name << ": cannot run " << helper << ": "
            << std::strerror(errno) << "\n";
  return kExitRuntimeFailure;
}

SubcommandTable InferenceSubcommands(const PlanMeasurer& plan_measurer) {
  return {
      {"inspect", RunInspect},
      {"dataset stats", RunDatasetStats},
      {"dataset merge", RunDatasetMerge},
      {"dataset import", RunDatasetImport},
      {"dataset export", RunDatasetExport},
      {"eval", RunEval},
      {"plan", [plan_measurer](const std::vector<std::string>& args) {
         return RunPlan(args, plan_measurer);
       }},
      {"predict", RunPredict},
  };
}

}  // namespace perfgraph::tools

// `perfgraph SUBCOMMAND ...`: the command-line program (DESIGN.md "Command-line contract").
#include <iostream>
#include <string>
#include <vector>

#include "tools/cli.h"

namespace {

constexpr char kUsage[] =
    "usage: perfgraph SUBCOMMAND [flags] [args]\n"
    "\n"
    "subcommands:\n"
    "  inspect MODEL [--json] [--input-shape NAME=d0,d1,...]... [--dim NAME=VALUE]...\n"
    "          [--allow-unsupported]\n"
    "      import an ONNX model or HLO module, fuse it with the default fusion and list its kernels\n"
    "  measure --corpus PATH... --out DATASET [--task tile|fusion] [--configs-per-kernel K]\n"
    "          [--fusion-variants N] [--time-budget-min M] [--seed S] [--threads T] [--shard K/N]\n"
    "      compile and time kernels with Halide on this CPU; resumable, Ctrl-C safe\n"
    "  dataset stats DATASET... [--json]\n"
    "      summarise measured record files\n"
    "  dataset repeat DATASET [--sample N] [--seed S] [--json]\n"
    "      re-measure a sample of a dataset: the repeatability (noise floor) of the labels\n"
    "  dataset merge A.pgd B.pgd... --out ALL.pgd [--allow-mixed-machines] [--json]\n"
    "      join record files measured apart (measure --shard K/N), deduplicated\n"
    "  dataset import --hlo DIR --runtimes FILE.csv --out DATASET [--machine NAME]\n"
    "      turn your own measured runtimes of HLO kernels into a dataset\n"
    "  calibrate --out TARGET_FILE [--threads T] [--measure-ms MS]\n"
    "      measure this CPU (peak FLOP/s, bandwidth per cache level, overheads) for the analytical\n"
    "      cost model; writes a text-proto target description\n"
    "  train --dataset DATASET... --out MODEL_DIR [--task tile|fusion|both] [--epochs N] [--seed S]\n"
    "        [--split FILE] [--join early|late] [--resume] [--threads T] [--model-kind gnn|xgboost]\n"
    "      train the learned cost model (GraphSAGE + LSTM) on measured records, or with\n"
    "      --model-kind xgboost the gradient-boosted baseline\n"
    "  eval --dataset DATASET... --model MODEL_DIR [--xgboost-model DIR] [--split FILE] [--json]\n"
    "      score the learned, the XGBoost and the analytical model on held-out programs\n"
    "  plan MODEL [--cost-model learned|xgboost|analytical] [--fusion cost|default] [--measure] [--json]\n"
    "       [--threads T] [--input-shape NAME=d0,d1,...]... [--allow-unsupported]\n"
    "      fuse and tile a model with a cost model; --measure also times every planned kernel\n"
    "  predict PATH... [--format csv|jsonl] [--threads N] [--cost-model learned|xgboost|analytical]\n"
    "          [--fusion default|cost] [--input-shape NAME=d0,d1,...]...\n"
    "      predict every kernel of model files, directories and datasets (.pgd)\n"
    "  compare MODEL... [--schedulers default,analytical,learned,Adams2019,Mullapudi2016,Li2018]\n"
    "          [--repeats N] [--threads T] [--model DIR] [--json] [--dim NAME=VALUE]...\n"
    "      total measured runtime per program: default fusion+tiling, cost-model plans and\n"
    "      Halide's autoschedulers, median of N repetitions\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return perfgraph::tools::kExitBadInput;
  }
  const std::string subcommand = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (subcommand == "inspect") return perfgraph::tools::RunInspect(args);
  if (subcommand == "measure") return perfgraph::tools::RunMeasure(args);
  if (subcommand == "dataset") return perfgraph::tools::RunDataset(args);
  if (subcommand == "calibrate") return perfgraph::tools::RunCalibrate(args);
  if (subcommand == "train") return perfgraph::tools::RunTrain(args);
  if (subcommand == "eval") return perfgraph::tools::RunEval(args);
  if (subcommand == "plan") return perfgraph::tools::RunPlan(args);
  if (subcommand == "predict") return perfgraph::tools::RunPredict(args);
  if (subcommand == "compare") return perfgraph::tools::RunCompare(args);
  if (subcommand == "help" || subcommand == "--help" || subcommand == "-h") {
    std::cout << kUsage;
    return perfgraph::tools::kExitOk;
  }
  std::cerr << "perfgraph: unknown subcommand '" << subcommand << "'\n" << kUsage;
  return perfgraph::tools::kExitBadInput;
}

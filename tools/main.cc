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
    "          [--fusion-variants N] [--time-budget-min M] [--seed S] [--threads T]\n"
    "      compile and time kernels with Halide on this CPU; resumable, Ctrl-C safe\n"
    "  dataset stats DATASET... [--json]\n"
    "      summarise measured record files\n"
    "  dataset repeat DATASET [--sample N] [--seed S] [--json]\n"
    "      re-measure a sample of a dataset: the repeatability (noise floor) of the labels\n"
    "  dataset import --hlo DIR --runtimes FILE.csv --out DATASET [--machine NAME]\n"
    "      turn your own measured runtimes of HLO kernels into a dataset\n"
    "  calibrate --out TARGET_FILE [--threads T] [--measure-ms MS]\n"
    "      measure this CPU (peak FLOP/s, bandwidth per cache level, overheads) for the analytical\n"
    "      cost model; writes a text-proto target description\n";

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
  if (subcommand == "help" || subcommand == "--help" || subcommand == "-h") {
    std::cout << kUsage;
    return perfgraph::tools::kExitOk;
  }
  std::cerr << "perfgraph: unknown subcommand '" << subcommand << "'\n" << kUsage;
  return perfgraph::tools::kExitBadInput;
}

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
    "  inspect MODEL [--json] [--input-shape NAME=d0,d1,...]... [--allow-unsupported]\n"
    "      import an ONNX model or HLO module, fuse it with the default fusion and list its kernels\n"
    "  measure --corpus PATH... --out DATASET [--task tile|fusion] [--configs-per-kernel K]\n"
    "          [--fusion-variants N] [--time-budget-min M] [--seed S] [--threads T]\n"
    "      compile and time kernels with Halide on this CPU; resumable, Ctrl-C safe\n"
    "  dataset stats DATASET... [--json]\n"
    "      summarise measured record files\n"
    "  dataset import --hlo DIR --runtimes FILE.csv --out DATASET [--machine NAME]\n"
    "      turn your own measured runtimes of HLO kernels into a dataset\n";

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
  if (subcommand == "help" || subcommand == "--help" || subcommand == "-h") {
    std::cout << kUsage;
    return perfgraph::tools::kExitOk;
  }
  std::cerr << "perfgraph: unknown subcommand '" << subcommand << "'\n" << kUsage;
  return perfgraph::tools::kExitBadInput;
}

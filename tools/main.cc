// `perfgraph SUBCOMMAND ...`: the command-line program (DESIGN.md "Command-line contract";
// tools/subcommands.h). This executable links neither LibTorch nor Halide: it runs
// perfgraph-measure and perfgraph-train for the subcommands that need them.
#include "tools/cli.h"
#include "tools/subcommands.h"

int main(int argc, char** argv) {
  using namespace perfgraph::tools;
  return RunMain(argc, argv, Executable::kPerfgraph, InferenceSubcommands(nullptr));
}

// `perfgraph-train SUBCOMMAND ...`: `train` (LibTorch), plus every subcommand of `perfgraph` itself
// (tools/subcommands.h). `perfgraph` runs it; it can also be run directly.
#include "tools/cli.h"
#include "tools/subcommands.h"

int main(int argc, char** argv) {
  using namespace perfgraph::tools;
  SubcommandTable table = InferenceSubcommands(nullptr);
  table["train"] = RunTrain;
  return RunMain(argc, argv, Executable::kTrain, table);
}

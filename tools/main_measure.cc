// `perfgraph-measure SUBCOMMAND ...`: the subcommands that compile and time kernels with Halide
// (measure, tune, calibrate, compare, dataset repeat, plan --measure), plus every subcommand of
// `perfgraph` itself (tools/subcommands.h). `perfgraph` runs it; it can also be run directly.
#include "pipeline/plan_measure.h"
#include "tools/cli.h"
#include "tools/subcommands.h"

int main(int argc, char** argv) {
  using namespace perfgraph::tools;
  SubcommandTable table = InferenceSubcommands(
      [](const perfgraph::pipeline::ProgramPlan& plan,
         const perfgraph::pipeline::MeasureProgress& progress) {
        return perfgraph::pipeline::MeasurePlan(plan, progress);
      });
  table["measure"] = RunMeasure;
  table["tune"] = RunTune;
  table["calibrate"] = RunCalibrate;
  table["compare"] = RunCompare;
  table["dataset repeat"] = RunDatasetRepeat;
  return RunMain(argc, argv, Executable::kMeasure, table);
}

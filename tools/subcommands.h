// The subcommands of the perfgraph programs: usage, accepted flags, and which executable implements
// each (DESIGN.md "Command-line contract").
//
// `perfgraph` is one command for the user but three executables, so that commands which neither
// train nor compile kernels load neither LibTorch nor Halide (start-up 1.1 s and 217 MiB before the
// split, for work that takes milliseconds):
//   perfgraph          inspect, plan, predict, eval, dataset stats|merge|import, help: the inference
//                      library only (no LibTorch, no Halide);
//   perfgraph-measure  measure, tune, calibrate, compare, dataset repeat, plan --measure: links Halide;
//   perfgraph-train    train: links LibTorch.
// `perfgraph` runs the other two (execv, same arguments) for their subcommands, from its own
// directory (a build tree) or ../libexec/perfgraph (an installed tree); each helper also accepts
// every subcommand of `perfgraph` itself, so it can be called directly.
#ifndef PERFGRAPH_TOOLS_SUBCOMMANDS_H_
#define PERFGRAPH_TOOLS_SUBCOMMANDS_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace perfgraph::tools {

enum class Executable { kPerfgraph, kMeasure, kTrain };
// "perfgraph", "perfgraph-measure", "perfgraph-train".
absl::string_view ExecutableName(Executable executable);

struct SubcommandInfo {
  std::string name;      // "inspect", "dataset stats", ...
  std::string synopsis;  // the arguments after the name, for usage lines
  std::string summary;   // what it does (one or two lines)
  // Flags it accepts, as Abseil names (underscores; the command line may use dashes). --help and
  // --data-dir are accepted by every subcommand and not listed.
  std::vector<std::string> flags;
  // Accepts --input-shape NAME=d0,..., --dim NAME=VALUE (repeatable) and --allow-unsupported.
  bool import_flags = false;
  Executable executable = Executable::kPerfgraph;
};

// Every subcommand, in usage order.
const std::vector<SubcommandInfo>& Subcommands();

// The subcommand named by the words of a command line (`words` = argv[1..]): "dataset X" takes two
// words, others one. Sets *consumed to the number of words used. nullptr when unknown.
const SubcommandInfo* FindSubcommand(const std::vector<std::string>& words, int* consumed);
// By full name ("dataset stats"); nullptr when unknown.
const SubcommandInfo* FindSubcommandByName(absl::string_view name);

// The executable that must run `info` with arguments `args` (the words after the subcommand's
// name): its own, except `plan ... --measure`, which needs Halide (perfgraph-measure).
Executable ExecutableFor(const SubcommandInfo& info, const std::vector<std::string>& args);

// "usage: perfgraph SUBCOMMAND ..." with every subcommand's synopsis and summary.
std::string Usage();
// One subcommand's usage: synopsis, summary, then every accepted flag with its help text and
// default (from the Abseil registry), then the import flags when accepted.
std::string SubcommandHelp(const SubcommandInfo& info);

// Implementations linked into one executable, by subcommand name.
using SubcommandFn = std::function<int(const std::vector<std::string>& args)>;
using SubcommandTable = std::map<std::string, SubcommandFn>;

// The main() of every perfgraph executable. `self` is the executable being run and `table` the
// subcommands it implements. Handles `help [SUB]`, `SUB --help`, unknown subcommands (exit 2 with
// the usage), runs a subcommand of `table`, and runs another executable (execv of
// HelperPath(executable), same argv) for the subcommands it does not implement. Returns the exit
// code.
int RunMain(int argc, char** argv, Executable self, const SubcommandTable& table);

// Where `executable` is looked for: the directory of the running executable, then
// <that directory>/../libexec/perfgraph. "" when neither holds it.
std::string HelperPath(Executable executable);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_SUBCOMMANDS_H_

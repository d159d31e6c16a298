// Pictures of perfgraph's JSON output (`eval --plot DIR`, `plan --plot FILE`): the JSON is written
// by the C++ command, the drawing is done by tools/plot.py with Debian's python3-matplotlib
// (scripts/setup.sh installs it), found in the data directory (cost/shipped_files.h: the source
// tree, or <prefix>/share/perfgraph/tools/plot.py once installed).
#ifndef PERFGRAPH_TOOLS_PLOT_H_
#define PERFGRAPH_TOOLS_PLOT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace perfgraph::tools {

// Relative path of the drawing script inside the data directory.
inline constexpr char kPlotScript[] = "tools/plot.py";
// The interpreter the script runs under (Debian's python3, which holds python3-matplotlib).
inline constexpr char kPython[] = "/usr/bin/python3";

// Runs `kPython <data dir>/kPlotScript ARGS...` (no shell) and waits for it. The script's own
// messages go to this process's stderr. Errors: kFailedPrecondition when the script or the
// interpreter is missing (naming the path and the package that provides it), or when the script
// exits non-zero or dies (naming the exit status; e.g. matplotlib not installed); kInternal when the
// process cannot be started.
absl::Status RunPlotScript(const std::vector<std::string>& args);

// Checks an output FILE of `plan --plot`: its extension must be .png or .svg (the format drawn).
// Errors: kInvalidArgument naming the file otherwise.
absl::Status CheckPlotFile(const std::string& file);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_PLOT_H_

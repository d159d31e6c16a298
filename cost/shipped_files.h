// Locating the files perfgraph ships beside its code: the reference target description
// (cost/targets/reference_cpu.textproto) and the trained models (models/default, models/xgboost).
//
// They live in one data directory whose layout mirrors the source tree, so a relative path such as
// "models/default" names the same file in a source checkout and in an installed tree
// (`cmake --install` copies them to <prefix>/share/perfgraph/). The data directory is the first of:
//   1. SetDataDirOverride(dir) (the command line's --data-dir flag), when called with a non-empty dir;
//   2. the environment variable PERFGRAPH_DATA_DIR, when set and non-empty;
//   3. <directory of the running executable>/../share/perfgraph (an installed bin/perfgraph, or a
//      consumer installed into the same prefix), then /../../share/perfgraph (the helpers in
//      libexec/perfgraph/);
//   4. <CMAKE_INSTALL_PREFIX at build time>/share/perfgraph (a consumer linking the installed
//      library from anywhere else);
//   5. the source tree the library was built from (a build tree).
// Candidates 3-5 count only when they hold the marker file kShippedMarker; 1 and 2 are taken as
// given, so a wrong override fails loudly (the file that is then missing is named) instead of
// silently falling back to another copy.
#ifndef PERFGRAPH_COST_SHIPPED_FILES_H_
#define PERFGRAPH_COST_SHIPPED_FILES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace perfgraph::cost {

// Environment variable naming the data directory (candidate 2).
inline constexpr char kDataDirEnv[] = "PERFGRAPH_DATA_DIR";
// Relative path of the committed reference target description; also the marker file that makes a
// directory a data directory (candidates 3-5).
inline constexpr char kShippedMarker[] = "cost/targets/reference_cpu.textproto";
// Relative paths of the shipped models (used when no --model is given).
inline constexpr char kShippedLearnedModelDir[] = "models/default";
inline constexpr char kShippedXgboostModelDir[] = "models/xgboost";

// Sets (non-empty) or clears (empty) candidate 1. Not thread-safe against concurrent ShippedPath
// calls: call it once, while parsing the command line.
void SetDataDirOverride(std::string dir);

// The data directory chosen by the rules above, without a trailing slash. When no candidate
// qualifies it is the source tree (candidate 5), so the error of whatever is then opened names a
// path that says where perfgraph looked last.
std::string DataDir();

// DataDir() + "/" + `relative` (`relative` is a path inside the data directory, e.g.
// kShippedLearnedModelDir). No check that the file exists.
std::string ShippedPath(absl::string_view relative);

// Every candidate directory in the order above with whether it was used, for error messages and
// `perfgraph help` ("data directory: ... (from PERFGRAPH_DATA_DIR)").
struct DataDirCandidate {
  std::string dir;
  std::string source;  // "--data-dir", "PERFGRAPH_DATA_DIR", "executable", "install prefix", "source tree"
};
std::vector<DataDirCandidate> DataDirCandidates();
// The source of DataDir() (one of DataDirCandidate::source).
std::string DataDirSource();

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_SHIPPED_FILES_H_

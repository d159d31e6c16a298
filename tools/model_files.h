// Expands the PATH arguments of corpus-level subcommands (measure, predict) into model files.
#ifndef PERFGRAPH_TOOLS_MODEL_FILES_H_
#define PERFGRAPH_TOOLS_MODEL_FILES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace perfgraph::tools {

// Files are kept as given; directories are walked recursively for *.onnx, *.hlo and XLA proto dumps
// (*.hlo.pb, *.hlo.pbtxt; not bare *.pb, which ONNX test data uses for tensors). The result
// is sorted and duplicate-free. Errors: kNotFound naming a path that does not exist;
// kInvalidArgument when nothing is left.
absl::StatusOr<std::vector<std::string>> CollectModelFiles(const std::vector<std::string>& paths);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_MODEL_FILES_H_

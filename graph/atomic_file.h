// Writing a whole file so that readers (and a run killed mid-write) see either the old file or the
// new one, never a torn one: write `path`.tmp, then rename it over `path` (rename is atomic within a
// file system, POSIX). Shared by every writer of model directories (gnn/checkpoint, kernels/weights,
// gnn/train, tools/train).
#ifndef PERFGRAPH_GRAPH_ATOMIC_FILE_H_
#define PERFGRAPH_GRAPH_ATOMIC_FILE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace perfgraph::graph {

// Writes `bytes` to `path` atomically (binary, truncating). `context` prefixes error messages (e.g.
// "SaveModelFile"). Errors: kPermissionDenied when the temporary file cannot be created for lack of
// permission, kUnavailable for any other failure to create, write or rename it (naming the path and
// the OS error); the temporary file is removed on failure.
absl::Status WriteFileAtomically(absl::string_view path, absl::string_view bytes,
                                 absl::string_view context);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_ATOMIC_FILE_H_

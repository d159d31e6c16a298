// ONNX import: parses an ONNX model with libonnx's protobuf types, runs ONNX's own shape inference
// (with data propagation), constant-folds shape subgraphs, and lowers every node to HLO-like
// instructions the way XLA's ONNX/StableHLO front ends would (Conv -> convolution + broadcast + add,
// MatMul -> dot, Softmax -> reduce/subtract/exponential/reduce/divide, ...).
//
// Only shapes are needed: initializer data may be external and absent.
#ifndef PERFGRAPH_GRAPH_ONNX_IMPORT_H_
#define PERFGRAPH_GRAPH_ONNX_IMPORT_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "graph/import.h"

namespace perfgraph::graph {

// Opsets whose operator forms the importer understands (ai.onnx domain).
inline constexpr int kMinOnnxOpset = 7;
inline constexpr int kMaxOnnxOpset = 18;

// Imports the ONNX model stored in `path`. The program is named after the file's stem.
// Errors (message starts with `path`):
//  - kNotFound: the file does not exist or cannot be read.
//  - kInvalidArgument: empty file, not an ONNX protobuf, truncated, a graph with a cycle, an unknown
//    element type, a dynamic dim that `options.input_shapes` does not resolve (the message names the
//    input, the dim index and the flag to use), an absurd shape, an input_shapes entry naming no input
//    or with the wrong rank.
//  - kUnimplemented: ops without a lowering (message lists op types, counts and node names), unless
//    options.allow_unsupported.
absl::StatusOr<ImportedModel> ImportOnnxFile(const std::string& path, const ImportOptions& options);

// Same, from serialized ModelProto bytes; `name` is used as program name and in messages.
absl::StatusOr<ImportedModel> ImportOnnxBytes(absl::string_view bytes, absl::string_view name,
                                              const ImportOptions& options);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_ONNX_IMPORT_H_

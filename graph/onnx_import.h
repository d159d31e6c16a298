// ONNX import: parses an ONNX model with libonnx's protobuf types, runs ONNX's own shape inference
// (with data propagation), constant-folds shape subgraphs, and lowers every node to HLO-like
// instructions the way XLA's ONNX/StableHLO front ends would (Conv -> convolution + broadcast + add,
// MatMul -> dot, Softmax -> reduce/subtract/exponential/reduce/divide, ...).
//
// Only shapes are needed: initializer data may be external and absent.
//
// Control flow (If, Loop, Scan-9+; ONNX operator specs) is imported the way the HLO importer
// represents XLA's conditional and while: the instruction stays in its program and every subgraph
// is lowered, like the main graph, into its own Program in ImportedModel::called_programs, with its
// CallSite (caller = the enclosing computation, "" for the main graph) in call_sites. Computation
// names are "<node>.<suffix>" with the node name's '/' turned into '.' and made unique.
//  - If -> conditional(pred[], then_operand, else_operand), called_computations = {"<node>.
//    then_branch", "<node>.else_branch"} (role "conditional branch", executions 1). ONNX branches
//    read enclosing values by name (implicit captures); as an HLO conditional passes one operand
//    per branch, each branch's operand is the one runtime value it captures, or a tuple of them
//    (`()` when none), and the branch's parameter(0) has that shape (get-tuple-element per value).
//    Captured values known at import time (constants, folded shapes) are constants inside the
//    branch instead. Several outputs: the conditional's shape is their tuple, read with
//    get-tuple-element. Branch outputs must have equal shapes (kUnimplemented otherwise: ONNX allows
//    them to differ, the static-shape IR does not; kInvalidArgument when element types differ).
//  - Loop(M, cond, v...) -> while over the state tuple (iteration s64[], cond pred[], v...,
//    captured values..., [M when computed at run time], stacked scan outputs...);
//    called_computations = {"<node>.condition", "<node>.body"}. The condition is `iteration < M`
//    (M given) and-ed with the carried cond unless the cond provably stays true (initially a
//    constant true and the body returns a constant true or cond_in itself). Executions of the body:
//    M when M is a constant and the cond stays true ("ONNX Loop trip count M = 16"); 0 when the
//    initial cond is a constant false; else nullopt, `how` saying why ("ONNX Loop with a
//    data-dependent condition (at most M = 16 iterations)", "... computed at run time"). The
//    condition runs executions + 1 times. Scan outputs (per-iteration values stacked along a new
//    leading dim) are dynamic-update-slices into a zero accumulator of shape [trips, ...]; they
//    need a known trip count, else kUnimplemented naming the node and the reason (there is no
//    override flag: --dim / --input-shape only fix graph inputs, which may make M constant).
//  - Scan (opset >= 9) -> while over (iteration, states..., scan inputs..., captured values...,
//    stacked scan outputs...): trips = the scan axis length (static), the body's slices are
//    reshape(dynamic-slice(input, iteration or trips-1-iteration on the axis)), outputs stacked on
//    scan_output_axes; executions = trips ("ONNX Scan over 7 slices (axis 0 of 'x')"). Scan-8
//    (batch axis, sequence_lens) is kUnimplemented.
//  - Loop-carried values and Scan states must keep their shape in every iteration (kUnimplemented
//    naming the node, the value and both shapes; kInvalidArgument if the element type changes).
//  - Nodes are ordered by their inputs and the values their subgraphs capture; subgraph inputs
//    whose declared type disagrees with what they receive are kInvalidArgument; subgraphs nest up
//    to onnx_internal::kMaxSubgraphDepth levels. With options.allow_unsupported, unsupported nodes
//    inside subgraphs become custom-calls of the subgraph's program, and a control-flow node that
//    cannot be lowered becomes one custom-call (its subgraphs' programs are dropped).
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
//    or with the wrong rank; a file above kMaxOnnxFileBytes (checked before reading); more than
//    options.max_instructions (at most kMaxInstructions) nodes in the graph, its subgraphs and its
//    functions together, or subgraphs nested deeper than onnx_internal::kMaxSubgraphDepth (both
//    counted on the protobuf wire format before the model is parsed, so neither costs memory).
//  - kUnimplemented: ops without a lowering (message lists op types, counts and node names, subgraph
//    nodes as "<node>/<attribute>/<node>"), unless options.allow_unsupported; control flow the
//    static-shape IR cannot express (see above).
//  Errors inside a subgraph name the control-flow node, the attribute and the subgraph's node:
//  "<path>: node 'loop' (Loop): body: node 'add' (Add): ...".
absl::StatusOr<ImportedModel> ImportOnnxFile(const std::string& path, const ImportOptions& options);

// Same, from serialized ModelProto bytes; `name` is used as program name and in messages.
absl::StatusOr<ImportedModel> ImportOnnxBytes(absl::string_view bytes, absl::string_view name,
                                              const ImportOptions& options);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_ONNX_IMPORT_H_

// Multi-output kernels: a tuple root, as XLA's multi-output fusion emits them (a loop fusion with
// several outputs of one shape, a reduction fusion that also writes its input, ...). The Halide
// target compiles single-output kernels, and every cost model costs them; a multi-output kernel is
// costed through its outputs (cost::EstimateMultiOutput) and tiled by its largest output
// (tiling::ConfigSpace).
#ifndef PERFGRAPH_GRAPH_MULTI_OUTPUT_H_
#define PERFGRAPH_GRAPH_MULTI_OUTPUT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "graph/ir.h"

namespace perfgraph::graph {

// Whether `kernel`'s root instruction is a `tuple` (kernel.Validate() is not checked).
bool IsMultiOutput(const Kernel& kernel);

// One kernel per computed output of the multi-output `kernel`: for operand i of the root tuple,
// the instructions it depends on, with its own parameters renumbered 0, 1, ... in their original
// order, named "<kernel>#<i>"; `origin` maps to the same program ids as `kernel.origin`. Outputs
// that are a parameter or a constant of the kernel (passed through, nothing computed) get no kernel.
// The order is that of the tuple's operands. Errors (kInvalidArgument naming the kernel and the
// output): `kernel` fails Validate or is not multi-output, an output is itself tuple-shaped, or no
// output is computed.
absl::StatusOr<std::vector<Kernel>> OutputKernels(const Kernel& kernel);

// Index into `outputs` (non-empty, OutputKernels' result) of the output with the most elements (the
// first on ties): the multi-output kernel is tiled over its loop nest, as XLA's multi-output loop
// fusions iterate over their (common) output shape.
int PrimaryOutput(const std::vector<Kernel>& outputs);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_MULTI_OUTPUT_H_

// Executing a whole program on this CPU: every kernel of a fusion of the program (e.g.
// fusion::DefaultFusion) compiled with Halide (target::HalideCpuTarget) at tiling::Default and run in
// order on given input values, each kernel's output feeding the kernels that read it. The check that a lowered program computes what
// its source model computes (tests/graph/onnx_node_test.cc, build/onnx_conformance over ONNX's
// backend node tests): measured runtimes mean something only if the measured program is the model's.
#ifndef PERFGRAPH_TARGET_PROGRAM_EVALUATOR_H_
#define PERFGRAPH_TARGET_PROGRAM_EVALUATOR_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/ir.h"
#include "target/halide_cpu_target.h"

namespace perfgraph::target {

// Runs `program`, partitioned into `kernels` (every kernel's origin[] maps into `program`; in a
// topological order, as fusion::DefaultFusion returns them), with `inputs` (program parameter instruction name -> row-major values, converted to
// the parameter's element type as HalideCpuTarget::Run does: integers truncated, pred as value != 0)
// and returns the values of program.outputs, in order, as f32 row-major (pred as 0/1, integers
// converted). Splat constants are evaluated; a kernel reading a non-splat constant cannot be run
// (the IR keeps constants' shapes, not their data). Errors: kInvalidArgument for a missing input or
// one of the wrong size (naming it); kUnimplemented for a non-splat constant read by a kernel or
// returned as an output (naming it); kInternal for a kernel reading a value no earlier kernel
// computes; HalideCpuTarget's (kUnimplemented for an op without a Halide lowering, kInternal for a
// failed compile or run), naming the kernel.
absl::StatusOr<std::vector<std::vector<float>>> EvaluateProgram(
    const HalideCpuTarget& target, const graph::Program& program,
    const std::vector<graph::Kernel>& kernels,
    const std::map<std::string, std::vector<float>>& inputs);

}  // namespace perfgraph::target

#endif  // PERFGRAPH_TARGET_PROGRAM_EVALUATOR_H_

// Static cost analysis: FLOPs and bytes moved per instruction and per kernel.
//
// Formulas follow XLA's HloCostAnalysis (xla/service/hlo_cost_analysis.cc) so figures are comparable
// with XLA's, with two documented differences: transcendentals are reported separately *and* not
// counted as FLOPs (as XLA), and reductions count one FLOP per input element.
#ifndef PERFGRAPH_GRAPH_ANALYSIS_H_
#define PERFGRAPH_GRAPH_ANALYSIS_H_

#include <cstdint>
#include <vector>

#include "graph/ir.h"

namespace perfgraph::graph {

struct OpCost {
  // Floating-point (or integer arithmetic) operations, FLOP. A multiply-add counts 2.
  double flops = 0;
  // Transcendental evaluations (exp, log, tanh, logistic, power, sqrt, ...), one per output element.
  double transcendentals = 0;
  // Bytes read from operands: the sum of operand array sizes (Shape::ByteSize), bytes.
  int64_t bytes_read = 0;
  // Bytes written: the output array size, bytes.
  int64_t bytes_written = 0;
};

// Cost of one instruction, given the shapes of its operands (`operand_shapes[i]` is the shape of
// operand i).
//  - elementwise (unary, binary, compare, select, clamp, convert): flops = output elements, except
//    transcendental ops which count output elements as transcendentals and 0 flops.
//  - dot: flops = 2 * output elements * product of lhs contracting dim sizes.
//  - convolution: flops = 2 * output elements * product(kernel spatial dims) *
//    (input features / feature_group_count). Padding taps are counted (as XLA).
//  - reduce: flops = input elements of operand 0 (one combiner application per element).
//  - reduce-window: flops = output elements * window size (product of window dim sizes).
//  - data movement (reshape, transpose, broadcast, slice, pad, concatenate, copy, iota, ...),
//    parameter, constant: 0 flops.
//  - library ops (graph/library_ops.h: sort, scatter, rng, cholesky, triangular-solve, fused
//    attention / cuDNN convolution / TopK custom-calls): graph::LibraryOpWork's FLOP (comparisons
//    and integer ops count 1); 0 when their operands contradict them.
//  - anything else (other custom-calls, gather, ...): 0 flops; bytes still counted.
// Parameters and constants read and write 0 bytes (they are inputs, counted by their users).
OpCost InstructionCost(const Instruction& inst, const std::vector<const Shape*>& operand_shapes);

// Cost of every instruction of a program, indexed by instruction id.
std::vector<OpCost> ProgramCosts(const Program& program);

// Cost of a fused kernel as a unit: flops and transcendentals summed over its instructions;
// bytes_read = sum of the kernel's parameter sizes (each parameter read once from memory);
// bytes_written = size of the root's output. Intermediate values stay in registers/cache and are not
// counted, which is what fusion saves.
OpCost KernelCost(const Kernel& kernel);

// Cost of every instruction of a kernel (operand shapes taken from the kernel), indexed by id.
std::vector<OpCost> KernelInstructionCosts(const Kernel& kernel);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_ANALYSIS_H_

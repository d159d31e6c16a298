// Expanders: rewrites of composite HLO ops into primitive HLO, run before fusion as XLA runs its
// expander passes, so the result fuses, tiles and gets cost estimates like any other program.
//
// ExpandBatchNorm follows XLA's BatchNormExpander (xla/service/batchnorm_expander.cc) and the
// operation semantics of https://openxla.org/xla/operation_semantics#batchnormtraining,
// #batchnorminference and #batchnormgrad. With x the operand (rank >= 1, floating point), f the
// feature_index, C = dims[f], N = number of elements per feature (product of every dim but f), and
// every per-feature [C] value broadcast along dimension f (broadcast dimensions={f}):
//
//  batch-norm-training(x, scale, offset) -> (normalized, mean, variance):
//    sum = reduce-add(x) over every dim but f          mean = sum / N
//    square_mean = reduce-add(x * x) over the same / N variance = square_mean - mean * mean
//                                                      (E[x^2] - E[x]^2, as XLA's expander)
//    normalized = (x - mean) * rsqrt(variance + epsilon) * scale + offset
//  batch-norm-inference(x, scale, offset, mean, variance) -> normalized:
//    true_scale = scale * rsqrt(variance + epsilon)    true_shift = offset - mean * true_scale
//    normalized = x * true_scale + true_shift
//  batch-norm-grad(x, scale, mean, variance, grad_output) -> (grad_operand, grad_scale,
//  grad_offset), with dy = grad_output and centered = x - mean:
//    grad_offset = reduce-add(dy)                      (I2 = grad_offset broadcast)
//    sum_dy_centered = reduce-add(dy * centered)       (I3 = its broadcast)
//    grad_scale = sum_dy_centered * rsqrt(variance + epsilon)
//    grad_operand = scale * rsqrt(variance + epsilon) / N *
//                   (dy * N - I2 - centered * I3 / (variance + epsilon))
//
// Instructions are emitted in XLA's order and form: scalar `constant`s (attrs.constant_value: 0
// for the reduce init, epsilon, N) broadcast with dimensions={} where a full-size or [C] value is
// needed; reduce with attrs.reduce_computation = kAdd and attrs.dimensions = every dim but f. One
// difference: N is a constant (perfgraph shapes are static), where XLA multiplies
// get-dimension-size results. Arithmetic is in the operand's element type, as XLA's. New
// instructions are named "<batch-norm name>/<role>" ("bn/mean", "bn/variance", "bn/rsqrt",
// "bn/output", ...), made unique with ".1", ".2" ... if a name is taken.
//
// The tuple results: every get-tuple-element(bn, i) is replaced by element i itself (its users read
// the expanded value directly, so they fuse with it), and the get-tuple-element disappears. A
// `tuple` of the elements, named like the batch-norm, is kept only when the batch-norm value itself
// is used otherwise (a program output / kernel root, or an operand of an instruction other than
// get-tuple-element). batch-norm-inference returns an array: its users read `normalized`.
//
// Attributes (as hlo_parser.cc stores them, see graph::Attributes): feature_index in
// attrs.dimensions = {f}, epsilon in attrs.constant_value.
#ifndef PERFGRAPH_GRAPH_EXPANDERS_H_
#define PERFGRAPH_GRAPH_EXPANDERS_H_

#include "absl/status/status.h"
#include "graph/hlo_opcode.h"
#include "graph/ir.h"

namespace perfgraph::graph {

// batch-norm-training, batch-norm-inference or batch-norm-grad.
bool IsBatchNorm(HloOpcode opcode);

// Rewrites every batch-norm-* instruction of `program` into primitive HLO as described above. The
// result keeps the topological order (ids are renumbered; program->outputs are remapped), keeps
// every other instruction (name, opcode, shape, attributes) and passes Program::Validate. A program
// without batch-norm instructions is left untouched. The replacing values have exactly the shapes
// (dims, element type, layout) of the batch-norm's result (tuple elements).
// Errors (kInvalidArgument; `program` is left unchanged), naming the program and the
// instruction: missing feature_index or epsilon, feature_index outside [0, rank), wrong operand
// count, a non-floating-point or tuple operand, a per-feature operand (scale, offset, mean,
// variance) that is not [C] of the operand's element type, a grad_output not shaped like the
// operand, a result shape that does not match the operation semantics, a get-tuple-element index
// outside [0, 3). Also the errors of Program::Validate on the input.
absl::Status ExpandBatchNorm(Program* program);

// The same for a fused kernel (a fusion computation of an optimised module). Parameters stay first
// and keep their ids; kernel->root is remapped (a batch-norm root becomes the kept `tuple`, so the
// kernel is multi-output, see graph/multi_output.h); kernel->origin of every new instruction is the
// origin of the batch-norm it replaces. Errors as for Program.
absl::Status ExpandBatchNorm(Kernel* kernel);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_EXPANDERS_H_

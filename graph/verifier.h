// Shape verification of one instruction against its operands, as XLA's HloVerifier (its
// ShapeVerifier and InstructionVerifier, xla/service/hlo_verifier.cc) and ShapeInference
// (xla/service/shape_inference.cc) check them. Semantics:
// https://openxla.org/xla/operation_semantics.
//
// The HLO text importer (graph/hlo_parser.h) runs VerifyInstruction on every instruction of every
// computation it reads and reports a failure with the instruction's file:line:column, so an
// instruction whose operands contradict its attributes is an import error instead of a kernel with
// nonsense loop bounds, FLOPs or bytes.
#ifndef PERFGRAPH_GRAPH_VERIFIER_H_
#define PERFGRAPH_GRAPH_VERIFIER_H_

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "graph/ir.h"
#include "graph/shape.h"

namespace perfgraph::graph {

// Checks `inst` (its opcode, attrs and result shape `inst.shape`) against `operand_shapes`, where
// operand_shapes[i] is the shape of operand i (inst.operands is not read; the caller resolves it).
// Dimensions are compared; layouts and element types are not, except where noted.
//
// Checks (each an XLA HloVerifier / ShapeInference rule; "dims" = logical dimension sizes):
//  - elementwise unary and binary ops (graph::IsElementwiseUnary / IsElementwiseBinary, map): every
//    operand has the result's dims (HloVerifier's CheckElementwiseInstruction: no implicit
//    broadcast, not even of scalars); compare and is-finite produce pred. bitcast-convert between
//    types of different bit widths adds (narrower result) or removes (wider result) a minor dim of
//    size ratio = wider bits / narrower bits, otherwise keeps the dims.
//  - select(pred, on_true, on_false): on_true, on_false have the result's dims; pred is pred-typed
//    and scalar or of the result's dims. clamp(min, operand, max): operand has the result's dims;
//    min and max are scalars or of the operand's dims.
//  - dot(lhs, rhs): as many lhs as rhs batch dims and contracting dims; every index in range of its
//    operand's rank, no index twice on a side; paired batch and contracting dims of equal size;
//    result dims = batch dims, then lhs free dims, then rhs free dims (each in operand order). A
//    dot with 3 operands (sparse dot with metadata) is not checked.
//  - convolution(input, kernel): dim_labels present, input / kernel / result rank = number of
//    spatial dims + 2, every dimension number in range; window rank = spatial rank; window size =
//    kernel spatial dim size, stride and dilations >= 1; feature_group_count and batch_group_count
//    >= 1; input features = kernel input features * feature_group_count; kernel output features
//    divisible by both group counts; input batch divisible by batch_group_count; result batch =
//    input batch / batch_group_count, result feature = kernel output features, result spatial dim
//    = WindowedOutputSize (below).
//  - reduce(inputs..., inits...): an even number >= 2 of operands; the N inputs share dims; the N
//    init values are scalars; dimensions in range and unique; result dims = input dims without the
//    reduced ones (kept order); a tuple of N such shapes when N > 1.
//  - reduce-window(inputs..., inits...): as reduce for the operands; window rank = input rank;
//    size, stride, dilations >= 1; result dim i = WindowedOutputSize(input dim i, window[i]).
//  - broadcast: dimensions has one entry per operand dim, each in range of the result rank, no
//    entry twice; operand dim i == result dim dimensions[i] (XLA requires equality, no size-1
//    stretching).
//  - transpose: dimensions is a permutation of [0, rank); result dim i = operand dim
//    dimensions[i]. reverse: dimensions in range; result dims = operand dims.
//  - reshape: equal element counts.
//  - slice: one [start:limit:stride] per operand dim with 0 <= start <= limit <= dim and stride
//    >= 1; result dim = ceil((limit - start) / stride).
//  - concatenate: one dimension, in range; every operand of the result's rank with the result's
//    dims except along the dimension, where the result dim is their sum.
//  - pad(operand, value): value scalar; one low_high[_interior] entry per operand dim,
//    interior >= 0; result dim = low + high + dim + interior * max(dim - 1, 0).
//  - get-tuple-element: operand is a tuple, index in [0, elements); result = that element (dims and
//    element types, recursively).
//  - iota: one iota_dimension, in range of the result rank.
// WindowedOutputSize(n, w) (XLA's window_util): dilated = n == 0 ? 0 : (n - 1) * base_dilation + 1;
// padded = padding_low + dilated + padding_high; window = (size - 1) * window_dilation + 1; 0 when
// padded <= 0 or window > padded, else (padded - window) / stride + 1.
// Every other opcode passes. An instruction or operand with an unbounded dynamic dim (`?`, stored
// as a negative size before ImportOptions::input_shapes resolves it) is not checked.
//
// Returns OK, or kInvalidArgument whose message starts "<opcode> '<inst.name>': " and names the
// offending values, e.g. "dot 'dot.3': lhs contracting dim 1 has size 64 but rhs contracting dim 0
// has size 32". A wrong operand count is also kInvalidArgument. Never crashes on any input.
absl::Status VerifyInstruction(const Instruction& inst,
                               absl::Span<const Shape* const> operand_shapes);

// The output size of one window dimension over an input dimension of size `input` (formula above).
int64_t WindowedOutputSize(int64_t input, const WindowDimension& window);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_VERIFIER_H_

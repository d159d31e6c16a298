// Library ops: HLO instructions that no backend compiles as a loop nest over their output, because
// XLA itself runs them as a dedicated algorithm or a library call (sort, scatter, random numbers,
// linear-algebra solvers, cuDNN / TransformerEngine kernels behind a custom-call), but whose work
// follows from their shapes (and, for custom-calls, their backend config). The Halide target does
// not lower them (target/halide_lowering.h), so no dataset holds a measured label of one; the
// cost models estimate them from the work counted here (cost/library_cost.h) instead of leaving a
// hole in a program's total. A custom-call whose target is not listed is not a library op: it
// stays an "unknown custom-call" (cost::UnknownCustomCall), counted, never estimated.
//
// Work per op (FLOP, bytes; "elements" = Shape::NumElements; a tuple result counts its elements):
//  sort              n * ceil(log2 s) comparisons, n = elements of operand 0, s = its size along
//                    the sort dimension (attrs.dimensions[0]): a comparison sort of every
//                    segment. XLA's HloCostAnalysis::HandleSort counts n * ceil(log2 n), as if
//                    the whole array were one segment; per segment is the algorithm's count.
//                    Bytes: operands read, results written. Style kScalar (data-dependent).
//  scatter           updates * c FLOP, c = 1 when the combiner (attrs.reduce_computation) is an
//                    arithmetic op, 0 when it only assigns; bytes = indices + 3 * updates (read
//                    the updates, read and write the updated elements in place), as XLA's
//                    HloCostAnalysis::HandleScatter. Style kScalar (indexed read-modify-write).
//  rng, rng-bit-generator
//                    15 integer ops per 32-bit output word: Philox-4x32-10 (Salmon et al.,
//                    "Parallel random numbers: as easy as 1, 2, 3", SC 2011) runs 10 rounds of two
//                    32x32->64-bit multiplies and four xor / key additions per four words, XLA's
//                    default generator. Bytes: the result written. Style kVector.
//  cholesky          n^3 / 3 FLOP per [n, n] matrix of the batch (Golub & Van Loan, Matrix
//                    Computations, 4th ed., Alg. 4.2.1). Bytes: operand read, result written.
//                    Style kDense.
//  triangular-solve  k * elements(b) FLOP for a = [..., k, k] and b (each of the elements(b) / k
//                    right-hand sides of length k takes k^2 multiply-adds). Style kDense.
//  custom-call "te_fused_attn_forward", "te_fused_attn_forward_ffi" (TransformerEngine)
//                    2 * B * H * P * (d_qk + d_v) FLOP: Q K^T and P V over the P attended
//                    (query, key) pairs of one head, P from the sequence lengths and the mask
//                    (causal masks attend key j <= i; a left window w attends j >= i - w), as
//                    FlashAttention counts them (Dao et al., NeurIPS 2022, and FlashAttention-2,
//                    2023, Sec. 4.1). Bytes: operands read once and results written (the IO of
//                    FlashAttention's tiled algorithm), u8 workspace results excluded. Style kDense.
//                    The dims come from the backend config (attrs.dimensions, below).
//  custom-call "te_fused_attn_backward", "te_fused_attn_backward_ffi"
//                    2.5 x the forward FLOP (five matmuls against two; FlashAttention-2, Sec. 4.1).
//  custom-call "__cudnn$convForward", "__cudnn$convBiasActivationForward",
//              "__cudnn$convBackwardInput", "__cudnn$convBackwardFilter"
//                    2 * elements(forward output) * elements(filter) / output features: the FLOP of
//                    the forward convolution (graph::InstructionCost's formula), which both
//                    backward convolutions repeat. Forward output = result 0 (forward), operand 0
//                    (backward input), operand 1 (backward filter); filter = operand 1, operand 1,
//                    result 0; output features from attrs.convolution_dimension_numbers
//                    (dim_labels). Bytes: operands and non-u8 results. Style kDense.
//  custom-call "TopK" (XLA GPU's TopK: operand [batch, n] -> (values, indices) [batch, k])
//                    n * ceil(log2 k) comparisons per row (a size-k heap). Style kScalar.
//
// Fused attention's attrs.dimensions, read by the HLO importer from the custom-call's backend
// config (TransformerEngine's typed-FFI attributes: input_batch, attn_heads, num_gqa_groups,
// q_max_seqlen, kv_max_seqlen, qk_head_dim, v_head_dim, mask_type, window_size_left,
// window_size_right) in that order: {B, H, H_kv, S_q, S_kv, d_qk, d_v, mask_type, window_left,
// window_right}. mask_type is TransformerEngine's NVTE_Mask_Type: 2 / 3 causal (top-left), 4 / 5
// causal (bottom-right), others not causal; window -1 = unbounded.
#ifndef PERFGRAPH_GRAPH_LIBRARY_OPS_H_
#define PERFGRAPH_GRAPH_LIBRARY_OPS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/ir.h"

namespace perfgraph::graph {

enum class LibraryOp {
  kNone,  // not a library op
  kSort,
  kScatter,
  kRng,  // rng and rng-bit-generator
  kCholesky,
  kTriangularSolve,
  kFusedAttentionForward,
  kFusedAttentionBackward,
  kCudnnConvolution,
  kTopK,
};

// How a library op's work runs on a CPU (cost/library_cost.h maps each to a rate):
enum class LibraryExecution {
  kDense,   // dense arithmetic (matmul-like): vector FMA units of every thread
  kVector,  // independent element-wise work: vector units, streaming
  kScalar,  // data-dependent scalar work (comparisons, indexed updates): one op per scalar slot
};

// Which library op `inst` is (kNone for every other instruction, including custom-calls with
// another target).
LibraryOp LibraryOpOf(const Instruction& inst);

// Whether `kernel` holds at least one library op.
bool IsLibraryKernel(const Kernel& kernel);

struct LibraryWork {
  double flops = 0;         // FLOP (comparisons and integer ops count 1 each)
  int64_t bytes_read = 0;   // bytes
  int64_t bytes_written = 0;
  LibraryExecution execution = LibraryExecution::kScalar;
  std::string formula;  // e.g. "sort: 1048576 x ceil(log2 1024) comparisons"
};

// The work of library op `inst` (LibraryOpOf(inst) != kNone) whose operand i has shape
// *operand_shapes[i]. Errors (kInvalidArgument naming the instruction and the value): not a
// library op, operand count or ranks that contradict the op, a sort dimension out of range,
// dims <= 0; kUnimplemented: a fused-attention custom-call without its backend-config dims (its
// work is unknown, so it stays counted as not estimated).
absl::StatusOr<LibraryWork> LibraryOpWork(const Instruction& inst,
                                          const std::vector<const Shape*>& operand_shapes);

// (query, key) pairs a query sequence of length q_len attends in a key sequence of length kv_len
// under TransformerEngine mask `mask_type` and window (window_left, window_right; -1 unbounded),
// per head and batch element. Exposed for tests.
double AttendedPairs(int64_t q_len, int64_t kv_len, int64_t mask_type, int64_t window_left,
                     int64_t window_right);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_LIBRARY_OPS_H_

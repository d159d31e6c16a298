// HLO opcodes of the kernel-graph IR.
//
// Opcode names are XLA's HLO text names. Opcode ids follow the numbering of the TpuGraphs dataset
// (Phothilimthana et al., NeurIPS 2023 Datasets track, file process_data/xla/hlo_opcode.h of
// google-research-datasets/tpu_graphs): 0 is "unknown", ids 97 ("trace") and 101 ("tuple-select") are
// retired and never produced. Keeping the same ids keeps our opcode embedding compatible with models and
// features computed on TpuGraphs.
#ifndef PERFGRAPH_GRAPH_HLO_OPCODE_H_
#define PERFGRAPH_GRAPH_HLO_OPCODE_H_

#include "absl/strings/string_view.h"

namespace perfgraph::graph {

// X(enumerator, hlo_text_name, tpugraphs_id)
#define PERFGRAPH_HLO_OPCODE_LIST(X) \
  X(kAbs, "abs", 1) \
  X(kAdd, "add", 2) \
  X(kAddDependency, "add-dependency", 3) \
  X(kAfterAll, "after-all", 4) \
  X(kAllReduce, "all-reduce", 5) \
  X(kAllToAll, "all-to-all", 6) \
  X(kAtan2, "atan2", 7) \
  X(kBatchNormGrad, "batch-norm-grad", 8) \
  X(kBatchNormInference, "batch-norm-inference", 9) \
  X(kBatchNormTraining, "batch-norm-training", 10) \
  X(kBitcast, "bitcast", 11) \
  X(kBitcastConvert, "bitcast-convert", 12) \
  X(kBroadcast, "broadcast", 13) \
  X(kCall, "call", 14) \
  X(kCeil, "ceil", 15) \
  X(kCholesky, "cholesky", 16) \
  X(kClamp, "clamp", 17) \
  X(kCollectivePermute, "collective-permute", 18) \
  X(kCountLeadingZeros, "count-leading-zeros", 19) \
  X(kCompare, "compare", 20) \
  X(kComplex, "complex", 21) \
  X(kConcatenate, "concatenate", 22) \
  X(kConditional, "conditional", 23) \
  X(kConstant, "constant", 24) \
  X(kConvert, "convert", 25) \
  X(kConvolution, "convolution", 26) \
  X(kCopy, "copy", 27) \
  X(kCopyDone, "copy-done", 28) \
  X(kCopyStart, "copy-start", 29) \
  X(kCosine, "cosine", 30) \
  X(kCustomCall, "custom-call", 31) \
  X(kDivide, "divide", 32) \
  X(kDomain, "domain", 33) \
  X(kDot, "dot", 34) \
  X(kDynamicSlice, "dynamic-slice", 35) \
  X(kDynamicUpdateSlice, "dynamic-update-slice", 36) \
  X(kExponential, "exponential", 37) \
  X(kExponentialMinusOne, "exponential-minus-one", 38) \
  X(kFft, "fft", 39) \
  X(kFloor, "floor", 40) \
  X(kFusion, "fusion", 41) \
  X(kGather, "gather", 42) \
  X(kGetDimensionSize, "get-dimension-size", 43) \
  X(kSetDimensionSize, "set-dimension-size", 44) \
  X(kGetTupleElement, "get-tuple-element", 45) \
  X(kImag, "imag", 46) \
  X(kInfeed, "infeed", 47) \
  X(kIota, "iota", 48) \
  X(kIsFinite, "is-finite", 49) \
  X(kLog, "log", 50) \
  X(kLogPlusOne, "log-plus-one", 51) \
  X(kAnd, "and", 52) \
  X(kNot, "not", 53) \
  X(kOr, "or", 54) \
  X(kXor, "xor", 55) \
  X(kMap, "map", 56) \
  X(kMaximum, "maximum", 57) \
  X(kMinimum, "minimum", 58) \
  X(kMultiply, "multiply", 59) \
  X(kNegate, "negate", 60) \
  X(kOutfeed, "outfeed", 61) \
  X(kPad, "pad", 62) \
  X(kParameter, "parameter", 63) \
  X(kPartitionId, "partition-id", 64) \
  X(kPopcnt, "popcnt", 65) \
  X(kPower, "power", 66) \
  X(kReal, "real", 67) \
  X(kRecv, "recv", 68) \
  X(kRecvDone, "recv-done", 69) \
  X(kReduce, "reduce", 70) \
  X(kReducePrecision, "reduce-precision", 71) \
  X(kReduceWindow, "reduce-window", 72) \
  X(kRemainder, "remainder", 73) \
  X(kReplicaId, "replica-id", 74) \
  X(kReshape, "reshape", 75) \
  X(kReverse, "reverse", 76) \
  X(kRng, "rng", 77) \
  X(kRngGetAndUpdateState, "rng-get-and-update-state", 78) \
  X(kRngBitGenerator, "rng-bit-generator", 79) \
  X(kRoundNearestAfz, "round-nearest-afz", 80) \
  X(kRsqrt, "rsqrt", 81) \
  X(kScatter, "scatter", 82) \
  X(kSelect, "select", 83) \
  X(kSelectAndScatter, "select-and-scatter", 84) \
  X(kSend, "send", 85) \
  X(kSendDone, "send-done", 86) \
  X(kShiftLeft, "shift-left", 87) \
  X(kShiftRightArithmetic, "shift-right-arithmetic", 88) \
  X(kShiftRightLogical, "shift-right-logical", 89) \
  X(kSign, "sign", 90) \
  X(kSine, "sine", 91) \
  X(kSlice, "slice", 92) \
  X(kSort, "sort", 93) \
  X(kSqrt, "sqrt", 94) \
  X(kSubtract, "subtract", 95) \
  X(kTanh, "tanh", 96) \
  X(kTranspose, "transpose", 98) \
  X(kTriangularSolve, "triangular-solve", 99) \
  X(kTuple, "tuple", 100) \
  X(kWhile, "while", 102) \
  X(kCbrt, "cbrt", 103) \
  X(kAllGather, "all-gather", 104) \
  X(kCollectivePermuteStart, "collective-permute-start", 105) \
  X(kCollectivePermuteDone, "collective-permute-done", 106) \
  X(kLogistic, "logistic", 107) \
  X(kDynamicReshape, "dynamic-reshape", 108) \
  X(kAllReduceStart, "all-reduce-start", 109) \
  X(kAllReduceDone, "all-reduce-done", 110) \
  X(kReduceScatter, "reduce-scatter", 111) \
  X(kAllGatherStart, "all-gather-start", 112) \
  X(kAllGatherDone, "all-gather-done", 113) \
  X(kOptBarrier, "opt-barrier", 114) \
  X(kAsyncStart, "async-start", 115) \
  X(kAsyncUpdate, "async-update", 116) \
  X(kAsyncDone, "async-done", 117) \
  X(kRoundNearestEven, "round-nearest-even", 118) \
  X(kStochasticConvert, "stochastic-convert", 119) \
  X(kTan, "tan", 120)

enum class HloOpcode : int {
  kUnknown = 0,
#define PERFGRAPH_DECLARE_OPCODE(enumerator, name, id) enumerator = id,
  PERFGRAPH_HLO_OPCODE_LIST(PERFGRAPH_DECLARE_OPCODE)
#undef PERFGRAPH_DECLARE_OPCODE
};

// One past the largest opcode id: the size of an opcode-embedding table.
inline constexpr int kNumOpcodeIds = 121;

// The TpuGraphs id of `opcode` (0 for kUnknown).
constexpr int OpcodeId(HloOpcode opcode) { return static_cast<int>(opcode); }

// XLA's text name ("reduce-window"); "unknown" for kUnknown.
absl::string_view HloOpcodeName(HloOpcode opcode);

// Inverse of HloOpcodeName; kUnknown when `name` is not an HLO opcode.
HloOpcode HloOpcodeFromName(absl::string_view name);

// The opcode whose id is `id`, or kUnknown when no opcode has that id (including 97 and 101).
HloOpcode HloOpcodeFromId(int id);

// Elementwise ops map each output element to the operand elements at the same index (XLA's
// HloInstruction::IsElementwise for these opcodes). Includes unary, binary, compare, select, clamp,
// convert.
bool IsElementwise(HloOpcode opcode);

// Elementwise ops with one operand (negate, exponential, ..., convert).
bool IsElementwiseUnary(HloOpcode opcode);

// Elementwise ops with two operands (add, multiply, maximum, compare, power, ...).
bool IsElementwiseBinary(HloOpcode opcode);

// Transcendental elementwise ops (exponential, log, tanh, logistic, power, ...): XLA's cost analysis
// counts them as transcendentals instead of FLOPs; we count them as FLOPs with a weight (see analysis.h).
bool IsTranscendental(HloOpcode opcode);

// Ops that only rearrange or reinterpret data (reshape, bitcast, transpose, broadcast, slice,
// concatenate, pad, reverse, copy, iota, ...): zero FLOPs.
bool IsDataMovement(HloOpcode opcode);

// Whether the op is work a kernel does. Not kernel work (XLA emits no kernel for them; they cost
// zero): parameter, constant, tuple, get-tuple-element, bitcast (a reinterpretation of the same
// buffer), opt-barrier, after-all, add-dependency, partition-id, replica-id, domain, and the
// instructions whose cost is that of other computations or of their *-start (fusion, while,
// conditional, call, async-start/update/done, copy-done, send-done, recv-done, all-reduce-done,
// all-gather-done, collective-permute-done). The HLO importer makes kernels of the others only, and
// fusion::DefaultFusion neither fuses nor roots a kernel at these.
bool IsKernelWork(HloOpcode opcode);

// Cross-device collectives (all-reduce, all-gather, reduce-scatter, all-to-all, collective-permute and
// their -start forms): each is a kernel of its own (fusion::DefaultFusion never fuses them) whose cost
// is communication, costed by cost::CollectiveCost.
bool IsCollective(HloOpcode opcode);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_HLO_OPCODE_H_

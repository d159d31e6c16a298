// Featurization of a kernel into typed node/edge tensors (plain buffers, no LibTorch), the input of the
// GraphSAGE model and of the inference kernels.
//
// Every node feature is a named field below with its unit and normalisation. Sizes and counts are
// log-scaled with log1p (natural log) as in the TpuGraphs and Kaufman et al. featurizations, so a
// feature stays O(10) for any realistic shape. Indices and flags are raw small integers / {0,1}.
#ifndef PERFGRAPH_GRAPH_FEATURIZE_H_
#define PERFGRAPH_GRAPH_FEATURIZE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "graph/ir.h"

namespace perfgraph::graph {

// Bumped whenever the meaning, order or count of node or config features changes. Written into every
// dataset and model file; a mismatch on load is kFailedPrecondition.
inline constexpr int kFeatureSchemaVersion = 2;  // 2: dtype exponent bits + unsigned flag

// Dims of a shape beyond this count are folded: features keep the first kMaxFeatureDims dims.
inline constexpr int kMaxFeatureDims = 6;
// Window features cover this many window dims (the last ones, i.e. spatial dims in NCHW).
inline constexpr int kMaxWindowDims = 3;

// Node feature layout. Each enumerator is the column of that feature in node_feat.
enum NodeFeature : int {
  // Output shape. kShapeDim0..5: log1p(dims[i]) of the output, 0 when rank <= i (padding).
  kShapeDim0 = 0,
  kShapeDim5 = kShapeDim0 + kMaxFeatureDims - 1,
  kShapeDimSum,        // log1p(sum of dims)
  kShapeDimProduct,    // log1p(number of elements)
  kShapeRank,          // rank (raw count)
  // Element type.
  kDtypeBits,          // bits per element / 32 (f32 = 1, bf16 = 0.5, f8 = 0.25)
  kDtypeIsFloat,       // 1 for floating point types
  kDtypeIsInteger,     // 1 for s*/u* types
  kDtypeIsPred,        // 1 for pred
  kDtypeIsUnsigned,    // 1 for u* types
  kDtypeExponentBits,  // exponent bits / 8 (ExponentBits: f16 0.625, bf16 1, f8e4m3 0.5; 0 for integers)
  // Layout. kLayout0..5: minor_to_major[i] / max(rank-1, 1), -1 when rank <= i.
  kLayout0,
  kLayout5 = kLayout0 + kMaxFeatureDims - 1,
  kLayoutIsDefault,    // 1 when the layout is row-major {rank-1,...,0}
  // Window (convolution, reduce-window): for the last kMaxWindowDims window dims, 6 values each:
  // log1p(size), log1p(stride), log1p(padding_low), log1p(padding_high), log1p(window_dilation - 1),
  // log1p(base_dilation - 1). 0 when the op has no window or fewer dims.
  kWindowBegin,
  kWindowEnd = kWindowBegin + 6 * kMaxWindowDims,  // one past the last window feature
  kWindowSizeProduct = kWindowEnd,  // log1p(product of all window sizes)
  // Convolution dimension numbers (raw dim indices, 0 when not a convolution).
  kConvInputBatchDim,
  kConvInputFeatureDim,
  kConvKernelInputFeatureDim,
  kConvKernelOutputFeatureDim,
  kConvOutputFeatureDim,
  kConvFeatureGroupCount,  // log1p(feature_group_count); 0 when not a convolution
  kConvIsDepthwise,        // 1 when feature_group_count > 1 and equals the input features
  // Dot dimension numbers.
  kDotNumBatchDims,        // number of batch dims (raw)
  kDotNumContractingDims,  // number of contracting dims (raw)
  kDotContractingSize,     // log1p(product of lhs contracting dim sizes)
  // attrs.dimensions as a mask over output/operand dims 0..5: reduce -> reduced operand dims;
  // broadcast -> output dims that come from the operand; transpose -> dims with perm[i] != i;
  // concatenate/reverse/iota -> the named dims.
  kDimsMask0,
  kDimsMask5 = kDimsMask0 + kMaxFeatureDims - 1,
  // Reduction combiner (reduce, reduce-window): one-hot add / maximum / minimum / other.
  kReduceAdd,
  kReduceMax,
  kReduceMin,
  kReduceOther,
  kCompareDirection,   // compare: 1 + index of EQ,NE,LT,LE,GT,GE; 0 otherwise
  kSliceHasStride,     // slice: 1 when any stride > 1
  kPadTotal,           // pad: log1p(sum of |edge| + interior padding over dims)
  kConstantIsSplat,    // constant: 1 when every element is the same value
  // Graph position within the kernel.
  kIsRoot,             // 1 for the kernel root
  kNumOperands,        // operand count (raw)
  kNumUsers,           // users inside the kernel (raw)
  // Cost analysis (graph/analysis.h) of this instruction.
  kLogFlops,           // log1p(FLOP)
  kLogTranscendentals, // log1p(transcendental evaluations)
  kLogBytesRead,       // log1p(bytes read from operands)
  kLogBytesWritten,    // log1p(bytes written)
  kNumNodeFeatures,
};
static_assert(kNumNodeFeatures == 72, "update kFeatureSchemaVersion when the feature layout changes");

// Human-readable name of every node feature, indexed by NodeFeature ("shape_dim0", "log_flops").
const std::vector<std::string>& NodeFeatureNames();

// A kernel as tensors, nodes in the kernel's topological order (node i = instruction i).
struct KernelTensors {
  int num_nodes = 0;
  int num_edges = 0;
  std::vector<float> node_feat;        // [num_nodes, kNumNodeFeatures] f32, row-major
  std::vector<int32_t> node_opcode;    // [num_nodes] i32, TpuGraphs opcode ids (graph/hlo_opcode.h)
  std::vector<int32_t> edge_index;     // [num_edges, 2] i32, (producer, consumer) node ids
  std::vector<int32_t> edge_operand;   // [num_edges] i32, operand position at the consumer
  float feat(int node, int feature) const { return node_feat[node * kNumNodeFeatures + feature]; }
};

// Featurizes `kernel` (which must pass Kernel::Validate()). Deterministic; O(nodes + edges).
KernelTensors Featurize(const Kernel& kernel);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_FEATURIZE_H_

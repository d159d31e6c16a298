// Tabular (flat, fixed-length) features of one (kernel, config) pair: the input of the gradient-boosted
// baseline (cost/xgboost_model.h), as AutoTVM's XGBoost cost model flattens a schedule into one row.
//
// A row is three blocks:
//  * kernel block (kNumKernelTabularFeatures): what graph::KernelCost, the root instruction and the
//    primary reduction say about the kernel, the same for every config of the kernel;
//  * config block (tiling::kNumConfigFeatures): tiling::ConfigFeatures, verbatim;
//  * analytical block (kNumAnalyticalTabularFeatures): the roofline's CostBreakdown of the pair
//    (cost/analytical_model.h), so the trees learn the residual the roofline cannot see (the "hybrid
//    features" of the learned-model issue). NaN (XGBoost's missing value) when no analytical model
//    is given or it cannot estimate the pair.
// Sizes and counts are log-scaled (natural log of 1 + x), as in graph/featurize.h; ratios and flags
// are raw.
#ifndef PERFGRAPH_COST_TABULAR_FEATURES_H_
#define PERFGRAPH_COST_TABULAR_FEATURES_H_

#include <string>
#include <vector>

#include "absl/types/span.h"
#include "cost/analytical_model.h"
#include "graph/ir.h"
#include "tiling/tile_config.h"

namespace perfgraph::cost {

// Bumped whenever the meaning, order or count of a tabular feature changes (config features have
// their own tiling::kConfigFeatureSchemaVersion, also checked by the models that use these rows).
inline constexpr int kTabularFeatureSchemaVersion = 1;

// Kernel block, in column order:
//   log_flops, log_transcendentals, log_bytes_read, log_bytes_written   graph::KernelCost, log1p
//   log_arithmetic_intensity   log1p(FLOP / (bytes read + bytes written))
//   log_instructions           log1p(kernel.size())
//   parameters                 kernel.num_parameters() (raw)
//   root_opcode                static_cast<int>(root opcode) (graph::HloOpcode; trees split on it)
//   fusion_kind                static_cast<int>(kernel.kind) (graph::FusionKind: kLoop 0 ... kCustom 3)
//   root_rank                  rank of the root's output
//   log_root_dim0..5           log1p of the root's output dims, innermost (last) dim first, 0 past
//                              the rank (slot i of tiling::TiledDims is usually one of the first)
//   log_root_elements          log1p(root output elements)
//   root_dtype_bits            bits per element of the root's output / 32
//   dots, convolutions, reduces, reduce_windows   instructions of each opcode (raw counts)
//   log_reduction_extent       log1p(tiling::SplitReductionExtent of tiling::PrimaryReduction), 0
//                              without a reduction
inline constexpr int kNumKernelTabularFeatures = 23;

// Analytical block, in column order (CostBreakdown fields of AnalyticalModel::Explain):
//   log_total_ns, log_compute_ns, log_memory_ns       log1p of the terms, ns
//   log_overhead_ns                                   log1p(launch + tile overhead + parallel launch)
//   log_reduction_ns, log_output_stage_ns             log1p, ns
//   vector_efficiency, parallel_speedup, recompute_factor   raw
//   log_tile_working_set_bytes                        log1p, bytes
//   tile_working_set_level                            MemoryLevel (0 = L1 ... 3 = DRAM)
//   log_bytes_l2, log_bytes_l3, log_bytes_dram        log1p(bytes_served at that level)
//   log_total_vs_default   log(total_ns of this config) - log(total_ns of tiling::Default(kernel)):
//                          the roofline's estimate centred on the kernel's default config (the
//                          issue's kernel-centred estimate; 0 for the default config itself)
inline constexpr int kNumAnalyticalTabularFeatures = 15;

inline constexpr int kNumTabularFeatures =
    kNumKernelTabularFeatures + tiling::kNumConfigFeatures + kNumAnalyticalTabularFeatures;
// First column of each block.
inline constexpr int kTabularConfigBegin = kNumKernelTabularFeatures;
inline constexpr int kTabularAnalyticalBegin = kNumKernelTabularFeatures + tiling::kNumConfigFeatures;

// The hybrid config features of the learned GNN (gnn::ModelOptions::hybrid_threads): the analytical
// block above, with every missing value (the pair or the kernel's default config not estimable)
// replaced by 0, followed by one flag column "analytical_missing" (1 when any value of the row was
// missing, else 0), so the network sees finite inputs and knows when the roofline had nothing to say.
inline constexpr int kNumHybridConfigFeatures = kNumAnalyticalTabularFeatures + 1;

// Column names of the hybrid block: the analytical block's names, then "analytical_missing".
std::vector<std::string> HybridConfigFeatureNames();

// Appends kNumHybridConfigFeatures floats per config of `configs` to `out` (row-major, as
// AppendTabularRows), all finite. The default config's estimate is computed once per call. Same
// preconditions as AppendTabularRows; `analytical` must not be null.
void AppendHybridConfigFeatures(const graph::Kernel& kernel,
                                absl::Span<const tiling::TileConfig> configs,
                                const AnalyticalModel& analytical, std::vector<float>* out);

// Column names in order ("log_flops", ..., "slot0_used", ..., "log_total_vs_default");
// kNumTabularFeatures of them, all distinct.
std::vector<std::string> TabularFeatureNames();

// Appends one row of kNumTabularFeatures floats per config of `configs` to `out` (row-major, so the
// rows of this call are out[old_size + c * kNumTabularFeatures + f]). The kernel block and the
// analytical estimate of the default config are computed once per call. `analytical` may be null:
// the analytical block is then NaN. A config the analytical model cannot estimate (its Explain error,
// e.g. an op without a cost formula) gets NaN in that block only. Configs should pass
// tiling::Validate (out-of-range slots are encoded as tiling::ConfigFeatures encodes them); the
// kernel must pass graph::Kernel::Validate (callers check it: a kernel without a root is not featurized).
void AppendTabularRows(const graph::Kernel& kernel, absl::Span<const tiling::TileConfig> configs,
                       const AnalyticalModel* analytical, std::vector<float>* out);

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_TABULAR_FEATURES_H_

// cost::AnalyticalModel: a calibrated roofline model of kernels compiled by target::HalideCpuTarget.
//
// It models the schedule target/halide_lowering.h documents, knob by knob:
//
//  runtime = kernel_launch + tiles * tile_overhead + parallel_launches * parallel_launch
//            + max(compute, memory)
//
//  * Loop nest. The output is split into tiles (ShiftInwards: every tile is full size, the last one
//    shifted inwards, so ceil(n / t) * t elements are computed along a tiled dim of extent n). The
//    outer loops (untiled dims and outer tile loops) run outside, the three inner tile loops inside;
//    every reduction's accumulator is computed per tile at the innermost outer loop, over Halide's
//    bounding box of what the tile reads from it (through a reshape that is not a pure unit-dim
//    insertion, whole inner dims: the target's / and % indexing defeats interval arithmetic).
//  * Compute. Reduction updates (`acc[x] = acc[x] + a * b` and friends) cost the calibrated time of a
//    vector update of an in-memory accumulator (TargetDescription::reduction_update_ns, measured on
//    vectors of ReductionUpdateLanes lanes) scaled to native vectors, times the native vectors per
//    update (ceil(vector_width / native lanes)); the last `extent % vector_width` elements of each
//    vectorised accumulator row are one predicated vector (the target's GuardWithIf), whose masked
//    store stalls the row's next reduction step (TargetDescription::masked_tail_ns, or 12 calibrated
//    updates per step of a ragged row where it was not measured). This is where "vector
//    efficiency" comes from: a vector width that
//    fills the native lanes does 1/lanes of the updates of the scalar loop. Operand accesses that are
//    not unit-stride along the vectorised dim (strided convolution inputs, reductions vectorised
//    across a non-contiguous dim, transposed operands) add µop-count estimates (strided loads,
//    gathers, scalarised as a load and an insert per lane) relative to the 4 ops of the calibrated
//    update. A schedule with vector_width 1 is vectorised by LLVM at the native width unless one of
//    its loads would gather or is strided (then it stays scalar, and a scalar accumulator row of up
//    to 16 elements stays in registers); inlined producer arithmetic runs alongside at the peak op
//    rate. The output stage (pure elementwise code after inlining) costs one native vector op per
//    FLOP, load and store at the peak issue rate (peak_flops / (2 * lanes)); transcendentals cost
//    20 ops each. Padded windows read a padded copy made per tile: 3 ops per vector of the copy. The accumulator's dependency
//    chain is not a bound (LLVM interleaves the target's reduction loops; measured on resnet18).
//    Ops of a value that does not vary along the vectorised loop are hoisted out of it (charged once
//    per row of that loop). A reshape that is not a unit-dim insertion de-linearises its index with
//    integer divisions and remainders (2 ops each) and its vector loads gather. An accumulator whose
//    innermost dim is 1 is a scalar reduction kept in a register whatever the vector width. A loop
//    walking an outer dim whose rows are a multiple of 4 KiB apart keeps them in few L1 sets; more
//    live rows than those sets' ways cost an L1 miss (4 ops) per lane.
//  * Parallel efficiency. A parallel loop of T iterations on P threads runs ceil(T / P) rounds, so the
//    speedup is T / ceil(T / P) (load imbalance included), scaled by the measured parallel scaling
//    of the target's own tiled kernels (TargetDescription::parallel_scaling). Parallelising an untiled slot parallelises only the output stage (the reduction runs
//    per tile, outside that loop) and launches one parallel-for per tile.
//  * Memory. Bytes moved between levels come from a reuse analysis of the loop nest (the classic
//    working-set argument, e.g. Wolf & Lam, PLDI 1991): for each cache, the outermost sub-nest whose
//    footprint fits kCacheUsableFraction of the cache is loaded once per execution of that sub-nest;
//    footprints come from bounds inference over the kernel graph (convolution halos, dot operand
//    panels, the reduction chunk of reduction_split), so re-reads of inputs implied by small tiles
//    are counted. Repeated timing runs leave data that fits a cache warm, so a kernel whose whole
//    footprint fits a level streams nothing from below it. Each byte is charged to the level it is
//    served from at that level's calibrated streaming bandwidth (1 thread or all threads).
//
// Every constant is either measured (TargetDescription, cost/calibrate.h) or defined in
// analytical_model.cc next to its source.
#ifndef PERFGRAPH_COST_ANALYTICAL_MODEL_H_
#define PERFGRAPH_COST_ANALYTICAL_MODEL_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "cost/cost_model.h"
#include "cost/target_description.h"
#include "graph/ir.h"
#include "tiling/tile_config.h"

namespace perfgraph::cost {

struct AnalyticalModelOptions {
  // Threads of the target's thread pool the kernels run with (target::HalideCpuTargetOptions::
  // num_threads), in [1, 256]. Threads beyond TargetDescription::all_threads give no extra speedup.
  int num_threads = 1;
};

// Every term of one estimate (for reports, debugging and tests).
struct CostBreakdown {
  double total_ns = 0;          // the estimate
  double compute_ns = 0;        // arithmetic time after parallel speedup
  double memory_ns = 0;         // data-movement time after parallel speedup
  double launch_ns = 0;         // kernel launch (once)
  double tile_overhead_ns = 0;  // per-tile overhead after parallel speedup
  double parallel_launch_ns = 0;  // parallel-for launches
  double reduction_ns = 0;      // serial time of all reduction updates (part of compute_ns)
  double output_stage_ns = 0;   // serial time of the elementwise output stage (part of compute_ns)
  double executed_flops = 0;    // FLOPs including ShiftInwards recomputation
  double recompute_factor = 1;  // computed output elements / output elements (>= 1)
  // Useful lanes / lanes paid for in the primary reduction's update loop (or the output stage when
  // there is no reduction): (vector_width / native vectors * native lanes) x tail loss. In (0, 1].
  double vector_efficiency = 1;
  double parallel_speedup = 1;  // speedup of the parallel part, >= 1
  int64_t num_tiles = 1;        // executions of the per-tile body (compute_at level)
  int64_t parallel_iterations = 0;  // iterations of the parallel loop (0 when serial)
  int64_t parallel_launches = 0;    // parallel-for launches
  double tile_working_set_bytes = 0;  // footprint of one tile: inputs, accumulators and output
  MemoryLevel tile_working_set_level = kL1;  // smallest level that holds it (usable fraction)
  // Bytes served from each level (DRAM, L3, L2: misses of the level above that hit here; L1: 0 as
  // L1 accesses are part of the compute terms).
  std::array<double, kNumMemoryLevels> bytes_served{};
  // Collective kernels (cost/collective_cost.h) only: the alpha-beta time (= total_ns) and its
  // algorithm, group size and bytes ("ring all-reduce of 1048576 bytes over 64 devices: 12.3 us");
  // every other term is 0.
  double communication_ns = 0;
  std::string collective;
  // Library kernels (cost/library_cost.h) only: each library op's work formula ("sort: 1048576
  // elements x ceil(log2 1024) comparisons"); total = compute_ns + memory_ns + launch_ns.
  std::string library;
  std::string ToString() const;  // one line, "total 12.3 us = launch ... "
};

class AnalyticalModel : public CostModel {
 public:
  // Error: kInvalidArgument when the description fails ValidateTargetDescription or the options are
  // out of range.
  static absl::StatusOr<AnalyticalModel> Create(const TargetDescription& target,
                                                const AnalyticalModelOptions& options = {});
  // Create() with the committed reference description (DefaultTargetDescriptionPath(); loading warns
  // once when it was calibrated on another CPU). Errors: LoadTargetDescription's.
  static absl::StatusOr<AnalyticalModel> CreateDefault(const AnalyticalModelOptions& options = {});

  std::string name() const override { return "analytical"; }
  // Explain's total_ns per query; a multi-output kernel is the sum over its outputs
  // (EstimateMultiOutput), which Explain itself rejects (a tuple root).
  std::vector<absl::StatusOr<double>> EstimateNs(absl::Span<const CostQuery> queries) override;

  // All terms of the estimate of one pair. Errors (kInvalidArgument naming the kernel and config):
  // kernel.Validate() or tiling::Validate(kernel, config) fails, the root is a tuple, or a reduction's
  // attributes are inconsistent with its operand shapes; kUnimplemented naming the instruction when
  // the kernel holds an op without a cost formula (an unknown custom-call, fft, control flow, calls,
  // a collective fused with other work: none of them is lowered by the target either).
  // A kernel rooted at a collective is costed by EstimateCollective over target().interconnect, a
  // library kernel (graph::IsLibraryKernel: sort, scatter, rng, fused attention, ...) by
  // EstimateLibraryKernel (cost/library_cost.h).
  absl::StatusOr<CostBreakdown> Explain(const graph::Kernel& kernel,
                                        const tiling::TileConfig& config) const;
  // Explain for every config of `configs` (results in the same order, the same value or error for
  // each as Explain gives): the kernel is validated and analysed once, so estimating a config
  // space costs a fraction of as many Explain calls.
  std::vector<absl::StatusOr<CostBreakdown>> ExplainAll(const graph::Kernel& kernel,
                                                        absl::Span<const tiling::TileConfig> configs) const;

  const TargetDescription& target() const { return target_; }
  const AnalyticalModelOptions& options() const { return options_; }

 private:
  AnalyticalModel(TargetDescription target, AnalyticalModelOptions options)
      : target_(std::move(target)), options_(options) {}
  TargetDescription target_;
  AnalyticalModelOptions options_;
};

// Version of the model's formulas. Bumped whenever an estimate of the same kernel, config and target
// description changes, because learned models read the breakdown as features (the GNN's hybrid
// config features, XGBoost's analytical block: cost/tabular_features.h) and are only valid for the
// version they were trained with (TrainingDistribution::analytical_model_version). History:
//   1: 2026-12-03: Halide's bounding box through reshapes, strided scalar loops left scalar, padded
//      windows charged for their per-tile copy (the first recorded version).
//   2: 2026-12-03: loop-invariant operands hoisted (charged per row, not per update), reshapes that
//      de-linearise charged for their divisions and read as gathers, accumulators whose innermost
//      dim is 1 updated as promoted scalars, L1 set conflicts of rows a multiple of 4 KiB apart.
//   3: 2026-12-03: the calibrated reduction update is of ReductionUpdateLanes lanes (8), not native
//      ones (4 in the reference description): memory updates cost half as much there; a ragged
//      row's vector tail is one predicated update that stalls the row's next reduction step.
inline constexpr int kAnalyticalModelVersion = 3;

// Constants of the model that are not measured, with their sources (see analytical_model.cc).
// Fraction of a cache a loop nest's footprint may fill and still be reused from it: LRU with limited
// associativity and the other data in flight evict earlier (Lam, Rothberg & Wolf, ASPLOS 1991).
inline constexpr double kCacheUsableFraction = 0.5;

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_ANALYTICAL_MODEL_H_

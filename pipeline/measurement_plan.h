// What `perfgraph measure` measures: the (kernel, config) pairs of a corpus for the tile or fusion
// dataset, minus those a resumed output file already holds. Planning only (no Halide): the
// measurement protocol itself is target/measurement.h and target/isolated_measurement.h.
//  - tile: every kernel of the default fusion of every program (or a seeded subset of at most
//    max_kernels_per_program), K configs each: tiling::Default plus K-1 drawn uniformly without
//    replacement from tiling::ConfigSpace, seeded per kernel (SampleConfigs).
//  - fusion: N fusion variants per program (variant 0 = the default fusion, or an optimised HLO
//    file's own fusions; variant v > 0 flips each decision of fusion::DefaultHeuristic with
//    probability flip_probability, seeded by program and v), every kernel at its default config.
// Identical kernels (graph::CanonicalKernelHash) at the same config are planned once (tile); a fusion
// kernel is planned once per (program, variant). With a shard K/N only kernels whose hash is K
// modulo N are planned, so N hosts split one corpus. The work is interleaved program by program,
// one kernel (all its configs) at a time, so a run cut short still covers every program.
// The same files, options and existing records always give the same plan: a resumed run continues
// exactly the interrupted one.
#ifndef PERFGRAPH_PIPELINE_MEASUREMENT_PLAN_H_
#define PERFGRAPH_PIPELINE_MEASUREMENT_PLAN_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/perfgraph.pb.h"
#include "graph/import.h"
#include "graph/ir.h"
#include "tiling/tile_config.h"

namespace perfgraph::pipeline {

// A part of the corpus: the kernels whose canonical hash modulo `count` is `index`.
struct Shard {
  int index = 0;
  int count = 1;
};
// Parses "K/N" (0 <= K < N <= 10^6); "" is no shard (nullopt). Error: kInvalidArgument naming the
// text.
absl::StatusOr<std::optional<Shard>> ParseShard(absl::string_view text);

// tiling::Default(kernel) followed by up to k-1 other configs of tiling::ConfigSpace(kernel), drawn
// uniformly without replacement with std::mt19937_64(seed). Just the default when the space cannot
// be enumerated.
std::vector<tiling::TileConfig> SampleConfigs(const graph::Kernel& kernel, int k, uint64_t seed);

enum class MeasureTask { kTile, kFusion };

struct MeasurementPlanOptions {
  MeasureTask task = MeasureTask::kTile;
  int configs_per_kernel = 24;       // tile task, >= 1 (the default config included)
  int fusion_variants = 8;           // fusion task, >= 1 (the default fusion included)
  double flip_probability = 0.3;     // fusion task: per heuristic decision of a variant v > 0
  uint64_t seed = 1;                 // config samples, kernel subsets and fusion variants
  int max_kernels_per_program = 0;   // tile task: 0 = every kernel
  std::optional<Shard> shard;
  graph::ImportOptions import_options;
};

// One (kernel, config) pair to measure.
struct MeasurementWork {
  std::string program;
  int variant = 0;                        // fusion variant (0 for the tile task)
  const graph::Kernel* kernel = nullptr;  // owned by MeasurementPlan::kernels
  uint64_t hash = 0;                      // graph::CanonicalKernelHash(*kernel)
  tiling::TileConfig config;
  bool is_default = false;                // config == tiling::Default(*kernel)
};

struct MeasurementPlan {
  std::vector<std::unique_ptr<graph::Kernel>> kernels;  // stable addresses for `work`
  std::vector<MeasurementWork> work;                    // interleaved by program (file comment)
  int programs = 0;                                     // files that imported and fused
  std::vector<std::string> skipped;  // "FILE: why" for files that failed to import or fuse
};

// Plans the measurement of `files` (model files) for options.task, leaving out the pairs of
// `existing` records of the same task (tile: same kernel hash and config text; fusion: same
// program, variant and kernel hash). A file that fails to import or fuse is skipped (listed in
// `skipped`), never fatal. Error: kInvalidArgument for configs_per_kernel or fusion_variants < 1.
absl::StatusOr<MeasurementPlan> PlanCorpusMeasurement(const std::vector<std::string>& files,
                                                      const MeasurementPlanOptions& options,
                                                      const std::vector<data::Record>& existing);

}  // namespace perfgraph::pipeline

#endif  // PERFGRAPH_PIPELINE_MEASUREMENT_PLAN_H_

// tiling::TilingPass: picks each kernel's tile configuration with a cost model (DESIGN.md "Data flow":
// tiling::ConfigSpace(kernel) -> TilingPass(CostModel&) -> plan).
//
// For one kernel the pass enumerates tiling::ConfigSpace(kernel) (optionally a capped, seeded sample
// of it), sends every config to the cost model in ONE batch (cost::CostModel::EstimateNs), and keeps
// the config with the lowest estimate. Per-query errors (a config the model cannot handle) are counted
// and skipped; the kernel fails only when no config at all got an estimate.
//
// Example (the analytical model; any cost::CostModel works the same way):
//
//   ASSIGN_OR_RETURN(cost::AnalyticalModel model, cost::AnalyticalModel::CreateDefault());
//   tiling::TilingPass pass(model);
//   ASSIGN_OR_RETURN(tiling::KernelTiling best, pass.Run(kernel));
//   // best.config: the argmin over ConfigSpace(kernel); best.predicted_ns: its estimate.
//
// This library (perfgraph_tiling_pass) is separate from perfgraph_tiling because perfgraph_cost
// depends on perfgraph_tiling (TileConfig) and this pass depends on perfgraph_cost.
#ifndef PERFGRAPH_TILING_TILING_PASS_H_
#define PERFGRAPH_TILING_TILING_PASS_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "cost/cost_model.h"
#include "graph/ir.h"
#include "tiling/tile_config.h"

namespace perfgraph::tiling {

struct TilingPassOptions {
  // 0 (the default) scores the whole ConfigSpace. N > 0 scores at most N configs: tiling::Default
  // (always included, so the result is never worse than the default by the model's own estimate)
  // plus N - 1 others drawn uniformly without replacement from the space with a generator seeded by
  // `seed` and the kernel's canonical hash (graph::CanonicalKernelHash), so the sample is the same on
  // every run and for identical kernels. Used by fusion::FusionPass to cost many candidate kernels
  // quickly. Must be >= 0.
  int max_configs_per_kernel = 0;
  uint64_t seed = 0;
  // Remember results by graph::CanonicalKernelHash and answer identical kernels (the same fused
  // computation appearing several times in a program, or in several programs) from the cache
  // without asking the model again. Assumes the model is deterministic for a given (kernel, config),
  // which holds for the analytical and learned models; set false for the measured model if every
  // occurrence should be timed.
  bool reuse_identical_kernels = true;
  // The default guard: keep tiling::Default unless the best config's estimate beats the default's by
  // at least this fraction, estimate(Default) >= (1 + min_predicted_gain) * estimate(best). A model
  // cannot tell apart configs whose predicted difference is inside its own error band, and the
  // default is the compiler's known-good choice, so a plan never trades it for a predicted gain the
  // model cannot back. Each cost model's band is chosen on the validation programs
  // (pipeline/cost_models.h DefaultGuardBand). 0 = always take the argmin. Must be >= 0. When the
  // default is not among the scored configs (it failed), the argmin is taken.
  double min_predicted_gain = 0;
};

// The default guard's rule (TilingPassOptions::min_predicted_gain): whether the pass keeps
// tiling::Default, estimated `default_ns`, over the argmin, estimated `best_ns` (<= default_ns),
// because the predicted gain is inside the band. Also replayed on measured kernels by
// gnn::ReplayDefaultGuard.
inline bool GuardKeepsDefault(double default_ns, double best_ns, double min_predicted_gain) {
  return default_ns < (1 + min_predicted_gain) * best_ns;
}

// The pass's answer for one kernel.
struct KernelTiling {
  // The config with the lowest estimate (or tiling::Default, see kept_default). Ties go to the first
  // scored: ConfigSpace order for the whole space; with a cap, tiling::Default first, then the
  // sample's order.
  TileConfig config;
  double predicted_ns = 0;    // its estimate, nanoseconds per kernel execution (> 0, finite)
  int configs_scored = 0;     // configs that got an estimate
  int configs_failed = 0;     // configs whose query failed (skipped)
  int configs_in_space = 0;   // size of ConfigSpace(kernel), before any cap
  bool from_cache = false;    // answered from the identical-kernel cache (no model query)
  // Estimate of tiling::Default, ns (0 when it was not scored or failed).
  double default_predicted_ns = 0;
  // The default guard kept tiling::Default although another config had a lower estimate (by less
  // than min_predicted_gain); `config` is then the default and `predicted_ns` its estimate.
  bool kept_default = false;
};

class TilingPass {
 public:
  // `model` is borrowed and must outlive the pass. The pass is not thread-safe (neither are cost
  // models in general): use one TilingPass (and one model) per thread.
  explicit TilingPass(cost::CostModel& model, TilingPassOptions options = {});

  // Best config of `kernel` (see the file comment). Errors:
  //  - kInvalidArgument: options.max_configs_per_kernel < 0 or min_predicted_gain < 0 (or not
  //    finite), or ConfigSpace(kernel) fails (invalid
  //    kernel, tuple root); the message names the kernel;
  //  - when every config's query failed: the status of the first failed query (e.g. kUnimplemented
  //    for an op the model cannot handle), prefixed with "TilingPass: kernel <name>: no config of N
  //    could be estimated: ";
  //  - kInternal when the model returns a batch of the wrong size.
  // An estimate that is not finite or not > 0 counts as a failed query (kInternal naming the config).
  absl::StatusOr<KernelTiling> Run(const graph::Kernel& kernel);

  // Run() for each kernel, in order; result[i] belongs to kernels[i]. One kernel's failure does not
  // affect the others.
  std::vector<absl::StatusOr<KernelTiling>> RunAll(absl::Span<const graph::Kernel> kernels);

  // Number of (kernel, config) queries sent to the model so far, and kernels answered from the cache.
  int64_t queries() const { return queries_; }
  int64_t cache_hits() const { return cache_hits_; }
  const TilingPassOptions& options() const { return options_; }

 private:
  cost::CostModel& model_;
  TilingPassOptions options_;
  absl::flat_hash_map<uint64_t, absl::StatusOr<KernelTiling>> cache_;
  int64_t queries_ = 0;
  int64_t cache_hits_ = 0;
};

}  // namespace perfgraph::tiling

#endif  // PERFGRAPH_TILING_TILING_PASS_H_

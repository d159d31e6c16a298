// fusion::FusionPass: XLA-style producer/consumer fusion driven by a cost model (DESIGN.md "Data
// flow": Program -> FusionPass(CostModel&) -> kernels).
//
// The pass runs fusion::DefaultFusion, so the visit order (consumers before producers, i.e. candidate
// edges in post-order of the use graph) and every legality rule are DefaultFusion's (see
// default_fusion.h: no cycles because a producer joins *all* its consumer kernels or none, never-fused
// opcodes, program outputs materialised, at most one heavy op per kernel, kernel size limit). The
// heuristic is replaced (FusionOptions::should_fuse) by a cost comparison, for each legal candidate
// producer P with consumer kernels C_1..C_n (n > 1 means P would be duplicated into each of them):
//
//   fused_ns   = sum_i cost(C_i with P fused in)
//   unfused_ns = cost(P as its own kernel) + sum_i cost(C_i reading P from memory)
//   fuse  <=>  fused_ns < unfused_ns
//
// where cost(K) is the cost model's estimate of kernel K at K's best tile config (tiling::TilingPass
// over at most FusionPassOptions::max_configs_per_kernel configs of its ConfigSpace). So a
// multi-user producer is duplicated only when the model predicts the recomputation is cheaper than
// materialising it. Every visited instruction gets a FusionDecision: fused, or declined with the
// cost comparison, the cost model's error, or the legality rule that forbade it (XLA's
// FusionDecision). Costs are cached by graph::CanonicalKernelHash: most candidate kernels repeat
// (the consumer kernel of one candidate is the fused kernel of the previous one, and networks repeat
// blocks), also across Run() calls on several programs.
//
// Example:
//   ASSIGN_OR_RETURN(cost::AnalyticalModel model, cost::AnalyticalModel::CreateDefault());
//   fusion::FusionPass pass(model);
//   ASSIGN_OR_RETURN(fusion::FusionPassResult fused, pass.Run(program));
//   // fused.kernels: ready for tiling::TilingPass; fused.decisions: why each producer was (not) fused.
#ifndef PERFGRAPH_FUSION_FUSION_PASS_H_
#define PERFGRAPH_FUSION_FUSION_PASS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cost/cost_model.h"
#include "graph/ir.h"
#include "tiling/tiling_pass.h"

namespace perfgraph::fusion {


// Why a producer was or was not fused.
enum class FusionDecisionKind {
  kFused,              // the model predicted fused_ns < unfused_ns
  kDeclinedCost,       // the model predicted fused_ns >= unfused_ns
  kDeclinedNoEstimate, // the model could not estimate one of the kernels (e.g. unsupported op)
  kDeclinedLegality,   // a DefaultFusion legality rule forbids it (no cost was asked)
};
absl::string_view FusionDecisionKindName(FusionDecisionKind kind);  // "fused", "declined_cost", ...

struct FusionDecision {
  int producer = -1;                // Program id of the producer
  std::string producer_name;        // its Instruction::name
  graph::HloOpcode producer_opcode = graph::HloOpcode::kUnknown;
  std::vector<int> consumer_roots;  // Program ids of the roots of the consumer kernels (may be empty)
  FusionDecisionKind kind = FusionDecisionKind::kDeclinedLegality;
  // One line: "fused: 1.20 us < 3.40 us = producer 1.00 us + consumers 2.40 us", "declined: ...",
  // "legality: two heavy ops ...", "no estimate: ...".
  std::string reason;
  // kFused and kDeclinedCost only (0 otherwise): the two sides of the comparison, nanoseconds.
  double fused_ns = 0;
  double unfused_ns = 0;
  bool fused() const { return kind == FusionDecisionKind::kFused; }
};

struct FusionPassOptions {
  // Largest number of non-parameter instructions per kernel (FusionOptions::max_kernel_instructions).
  int max_kernel_instructions = 64;
  // Configs scored per candidate kernel when costing it at its best config: tiling::Default plus a
  // seeded uniform sample of ConfigSpace (TilingPassOptions::max_configs_per_kernel). 64 keeps one
  // kernel's costing at ~0.5 ms with the analytical model (~8 us per query), and the best of 64
  // samples is within the best ~1.5 % of the space with probability 1 - 0.985^64 = 62 %, 4 % with
  // 93 %: enough to compare fused against unfused, which usually differ by far more. The final
  // configs are then searched over the whole space by tiling::TilingPass. 0 = the whole space.
  int max_configs_per_kernel = 64;
  uint64_t seed = 0;  // seed of the config samples
};

struct FusionPassResult {
  std::vector<graph::Kernel> kernels;      // as DefaultFusion returns them (ordered by root id)
  // One per non-parameter, non-constant instruction, in visit order (descending Program id).
  std::vector<FusionDecision> decisions;
  int64_t kernels_costed = 0;   // cost requests (candidate kernels) made in this Run
  int64_t cost_cache_hits = 0;  // of which answered from the canonical-hash cache
};

class FusionPass {
 public:
  // `model` is borrowed and must outlive the pass. Not thread-safe: one pass (and model) per thread.
  explicit FusionPass(cost::CostModel& model, FusionPassOptions options = {});

  // Fuses `program` (see the file comment). Errors: kInvalidArgument when the program fails
  // Program::Validate or the options are out of range (max_kernel_instructions < 1,
  // max_configs_per_kernel < 0). The decisions are DefaultFusion's own (FusionOptions::should_fuse
  // for legal candidates, on_illegal with the rule otherwise), so the pass cannot disagree with the
  // kernels it returns. A kernel the model cannot estimate is not an error: that candidate is
  // declined (kDeclinedNoEstimate).
  absl::StatusOr<FusionPassResult> Run(const graph::Program& program);

  // Total cost-model queries and cache entries so far (all Run calls).
  int64_t model_queries() const { return tiling_.queries(); }
  const FusionPassOptions& options() const { return options_; }

 private:
  FusionPassOptions options_;
  tiling::TilingPass tiling_;  // capped config search, caches by canonical kernel hash
};

}  // namespace perfgraph::fusion

#endif  // PERFGRAPH_FUSION_FUSION_PASS_H_

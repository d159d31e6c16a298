#include "fusion/fusion_pass.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fusion/default_fusion.h"
#include "graph/status_macros.h"

namespace perfgraph::fusion {
namespace {

using graph::HloOpcode;
using graph::Instruction;
using graph::Program;

std::string FormatNs(double ns) {
  if (ns >= 1e6) return absl::StrFormat("%.3g ms", ns / 1e6);
  if (ns >= 1e3) return absl::StrFormat("%.3g us", ns / 1e3);
  return absl::StrFormat("%.3g ns", ns);
}

// Turns DefaultFusion's callbacks into FusionDecisions: should_fuse (legal candidates) compares the
// costs, on_illegal records the legality rule DefaultFusion applied. Both are called in visit order,
// so the decisions come out in DefaultFusion's order and nothing of its grouping is restated here.
class Planner {
 public:
  Planner(const Program& program, tiling::TilingPass& tiling) : program_(program), tiling_(tiling) {}

  // FusionOptions::should_fuse.
  bool ShouldFuse(const FusionCandidate& candidate) {
    FusionDecision decision = NewDecision(candidate);
    Decide(candidate, decision);
    const bool fuse = decision.fused();
    decisions_.push_back(std::move(decision));
    return fuse;
  }

  // FusionOptions::on_illegal.
  void Illegal(const FusionCandidate& candidate, const std::string& rule) {
    FusionDecision decision = NewDecision(candidate);
    decision.kind = FusionDecisionKind::kDeclinedLegality;
    decision.reason = absl::StrCat("legality: ", rule);
    decisions_.push_back(std::move(decision));
  }

  std::vector<FusionDecision> TakeDecisions() { return std::move(decisions_); }
  int64_t kernels_costed() const { return kernels_costed_; }

 private:
  FusionDecision NewDecision(const FusionCandidate& candidate) const {
    FusionDecision decision;
    decision.producer = candidate.producer;
    decision.producer_name = program_.at(candidate.producer).name;
    decision.producer_opcode = program_.at(candidate.producer).opcode;
    for (const ConsumerKernel& consumer : candidate.consumers) {
      decision.consumer_roots.push_back(consumer.root);
    }
    return decision;
  }

  std::string Name(int id) const {
    const Instruction& inst = program_.at(id);
    return inst.name.empty() ? absl::StrCat(graph::HloOpcodeName(inst.opcode), ".", id)
                             : inst.name;
  }

  // Estimate of a group's kernel at its best (sampled) config.
  absl::StatusOr<double> Cost(std::vector<int> members, int root) {
    ++kernels_costed_;
    ASSIGN_OR_RETURN(graph::Kernel kernel,
                     BuildGroupKernel(program_, std::move(members), root,
                                      absl::StrCat("candidate.", Name(root))));
    ASSIGN_OR_RETURN(tiling::KernelTiling best, tiling_.Run(kernel));
    return best.predicted_ns;
  }

  // Fills decision.kind, reason and costs for a legal candidate.
  void Decide(const FusionCandidate& candidate, FusionDecision& decision) {
    const int p = candidate.producer;
    auto no_estimate = [&](absl::string_view what, const absl::Status& status) {
      decision.kind = FusionDecisionKind::kDeclinedNoEstimate;
      decision.reason = absl::StrCat("no estimate for ", what, ": ", status.message());
    };
    absl::StatusOr<double> producer_ns = Cost({p}, p);
    if (!producer_ns.ok()) return no_estimate("the producer alone", producer_ns.status());
    double consumers_ns = 0;
    double fused_ns = 0;
    for (const ConsumerKernel& consumer : candidate.consumers) {
      std::vector<int> members = consumer.members;
      absl::StatusOr<double> without = Cost(members, consumer.root);
      if (!without.ok()) {
        return no_estimate(absl::StrCat("the consumer kernel rooted at ", Name(consumer.root)),
                           without.status());
      }
      members.push_back(p);
      absl::StatusOr<double> with = Cost(std::move(members), consumer.root);
      if (!with.ok()) {
        return no_estimate(absl::StrCat("the fused kernel rooted at ", Name(consumer.root)),
                           with.status());
      }
      consumers_ns += *without;
      fused_ns += *with;
    }
    decision.fused_ns = fused_ns;
    decision.unfused_ns = *producer_ns + consumers_ns;
    const bool fuse = decision.fused_ns < decision.unfused_ns;
    decision.kind = fuse ? FusionDecisionKind::kFused : FusionDecisionKind::kDeclinedCost;
    const size_t n = candidate.consumers.size();
    decision.reason = absl::StrCat(
        fuse ? "fused: " : "declined: ", FormatNs(decision.fused_ns), fuse ? " < " : " >= ",
        FormatNs(decision.unfused_ns), " = producer ", FormatNs(*producer_ns), " + consumer",
        n > 1 ? "s " : " ", FormatNs(consumers_ns),
        n > 1 ? absl::StrCat(" (duplicated into ", n, " kernels)") : "");
  }

  const Program& program_;
  tiling::TilingPass& tiling_;
  std::vector<FusionDecision> decisions_;
  int64_t kernels_costed_ = 0;
};

tiling::TilingPassOptions CappedSearch(const FusionPassOptions& options) {
  tiling::TilingPassOptions tiling;
  tiling.max_configs_per_kernel = std::max(0, options.max_configs_per_kernel);
  tiling.seed = options.seed;
  tiling.reuse_identical_kernels = true;
  return tiling;
}

}  // namespace

absl::string_view FusionDecisionKindName(FusionDecisionKind kind) {
  switch (kind) {
    case FusionDecisionKind::kFused: return "fused";
    case FusionDecisionKind::kDeclinedCost: return "declined_cost";
    case FusionDecisionKind::kDeclinedNoEstimate: return "declined_no_estimate";
    case FusionDecisionKind::kDeclinedLegality: return "declined_legality";
  }
  return "unknown";
}


FusionPass::FusionPass(cost::CostModel& model, FusionPassOptions options)
    : options_(options), tiling_(model, CappedSearch(options)) {}

absl::StatusOr<FusionPassResult> FusionPass::Run(const Program& program) {
  if (options_.max_kernel_instructions < 1 || options_.max_configs_per_kernel < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FusionPass: max_kernel_instructions must be >= 1 and max_configs_per_kernel >= 0, got ",
        options_.max_kernel_instructions, " and ", options_.max_configs_per_kernel));
  }
  RETURN_IF_ERROR(program.Validate());
  const int64_t hits_before = tiling_.cache_hits();
  Planner planner(program, tiling_);
  FusionOptions fusion_options;
  fusion_options.max_kernel_instructions = options_.max_kernel_instructions;
  fusion_options.should_fuse = [&planner](const Program&, const FusionCandidate& candidate) {
    return planner.ShouldFuse(candidate);
  };
  fusion_options.on_illegal = [&planner](const Program&, const FusionCandidate& candidate,
                                         const std::string& rule) {
    planner.Illegal(candidate, rule);
  };
  ASSIGN_OR_RETURN(std::vector<graph::Kernel> kernels, DefaultFusion(program, fusion_options));
  FusionPassResult result;
  result.kernels = std::move(kernels);
  result.decisions = planner.TakeDecisions();
  result.kernels_costed = planner.kernels_costed();
  result.cost_cache_hits = tiling_.cache_hits() - hits_before;
  return result;
}

}  // namespace perfgraph::fusion

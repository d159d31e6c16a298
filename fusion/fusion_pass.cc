#include "fusion/fusion_pass.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "fusion/default_fusion.h"
#include "graph/status_macros.h"

namespace perfgraph::fusion {
namespace {

using graph::HloOpcode;
using graph::Instruction;
using graph::Program;

// The opcode classes of DefaultFusion's legality rules (fusion/default_fusion.h file comment). They
// are restated here because default_fusion.cc keeps them private; the pass uses them only to name
// the rule behind a decision DefaultFusion took without asking should_fuse, and Run() checks that
// its mirror of the grouping matches DefaultFusion's result.
bool IsParameterOrConstant(HloOpcode opcode) {
  return opcode == HloOpcode::kParameter || opcode == HloOpcode::kConstant;
}

std::string FormatNs(double ns) {
  if (ns >= 1e6) return absl::StrFormat("%.3g ms", ns / 1e6);
  if (ns >= 1e3) return absl::StrFormat("%.3g us", ns / 1e3);
  return absl::StrFormat("%.3g ns", ns);
}

// Mirror of DefaultFusion's groups while it runs, plus the decisions. DefaultFusion visits ids in
// descending order and calls should_fuse only for legal candidates; every instruction it visits
// without asking is materialised as the root of its own group. So when should_fuse is called for
// producer p, every id between the previous visit and p was such an instruction (Settle() replays
// them), and the mirror equals DefaultFusion's state.
class Planner {
 public:
  Planner(const Program& program, const FusionPassOptions& options, tiling::TilingPass& tiling)
      : program_(program),
        options_(options),
        tiling_(tiling),
        users_(program.Users()),
        is_output_(program.size(), false),
        groups_of_(program.size()),
        next_(program.size() - 1) {
    for (int output : program.outputs) is_output_[output] = true;
  }

  // FusionOptions::should_fuse.
  bool ShouldFuse(const FusionCandidate& candidate) {
    if (!error_.ok()) return false;
    const int p = candidate.producer;
    if (p > next_ || p < 0) {
      error_ = absl::InternalError(absl::StrCat("FusionPass: DefaultFusion asked about producer ", p,
                                                " out of visit order (next expected <= ", next_,
                                                ")"));
      return false;
    }
    Settle(p);
    FusionDecision decision = NewDecision(p);
    for (const ConsumerKernel& consumer : candidate.consumers) {
      auto it = groups_.find(consumer.root);
      if (it == groups_.end() ||
          static_cast<int>(it->second.size()) != consumer.num_instructions) {
        error_ = absl::InternalError(absl::StrCat(
            "FusionPass: mirror of DefaultFusion diverged at producer ", program_.at(p).name,
            ": consumer kernel rooted at ", consumer.root, " has ", consumer.num_instructions,
            " instructions, mirror has ",
            it == groups_.end() ? 0 : static_cast<int>(it->second.size())));
        return false;
      }
      decision.consumer_roots.push_back(consumer.root);
    }
    Decide(decision);
    const bool fuse = decision.fused();
    if (fuse) {
      for (int root : decision.consumer_roots) {
        groups_[root].push_back(p);
        groups_of_[p].push_back(root);
      }
    } else {
      MakeRoot(p);
    }
    decisions_.push_back(std::move(decision));
    next_ = p - 1;
    return fuse;
  }

  // Replays the instructions DefaultFusion visited without asking, down to (excluding) `stop`.
  void Settle(int stop) {
    for (int id = next_; id > stop; --id) {
      const Instruction& inst = program_.at(id);
      if (IsParameterOrConstant(inst.opcode)) continue;
      FusionDecision decision = NewDecision(id);
      decision.kind = FusionDecisionKind::kDeclinedLegality;
      decision.consumer_roots = ConsumerRoots(id);
      decision.reason = absl::StrCat("legality: ", LegalityReason(id, decision.consumer_roots));
      decisions_.push_back(std::move(decision));
      MakeRoot(id);
    }
    next_ = std::min(next_, stop);
  }

  absl::Status error() const { return error_; }
  std::vector<FusionDecision> TakeDecisions() { return std::move(decisions_); }
  int64_t kernels_costed() const { return kernels_costed_; }

  // Checks DefaultFusion's kernels against the mirror: same roots, same member counts.
  absl::Status Check(const std::vector<graph::Kernel>& kernels) const {
    std::map<int, int> kernel_sizes;  // root program id -> non-parameter, non-constant instructions
    for (const graph::Kernel& kernel : kernels) {
      int members = 0;
      for (const Instruction& inst : kernel.instructions) {
        if (!IsParameterOrConstant(inst.opcode)) ++members;
      }
      kernel_sizes[kernel.origin.at(kernel.root)] = members;
    }
    std::map<int, int> mirror_sizes;
    for (const auto& [root, members] : groups_) {
      mirror_sizes[root] = static_cast<int>(members.size());
    }
    if (kernel_sizes != mirror_sizes) {
      return absl::InternalError(absl::StrCat(
          "FusionPass: program ", program_.name, ": DefaultFusion produced ", kernels.size(),
          " kernels but the pass's mirror of its grouping has ", groups_.size(),
          " groups with different roots or sizes"));
    }
    return absl::OkStatus();
  }

 private:
  FusionDecision NewDecision(int id) const {
    FusionDecision decision;
    decision.producer = id;
    decision.producer_name = program_.at(id).name;
    decision.producer_opcode = program_.at(id).opcode;
    return decision;
  }

  void MakeRoot(int id) {
    groups_[id] = {id};
    groups_of_[id] = {id};
  }

  std::vector<int> ConsumerRoots(int id) const {
    std::set<int> roots;
    for (int user : users_[id]) roots.insert(groups_of_[user].begin(), groups_of_[user].end());
    return {roots.begin(), roots.end()};
  }

  std::string Name(int id) const {
    const Instruction& inst = program_.at(id);
    return inst.name.empty() ? absl::StrCat(graph::HloOpcodeName(inst.opcode), ".", id)
                             : inst.name;
  }

  // The DefaultFusion rule that made it materialise `id` without asking should_fuse, checked in
  // DefaultFusion's order.
  std::string LegalityReason(int id, const std::vector<int>& consumer_roots) const {
    const Instruction& inst = program_.at(id);
    if (is_output_[id]) return "a program output is materialised as a kernel root";
    if (consumer_roots.empty()) return "no users to fuse into";
    if (IsNeverFusedOp(inst.opcode)) {
      return absl::StrCat(graph::HloOpcodeName(inst.opcode), " is never fused");
    }
    for (int root : consumer_roots) {
      const int size = static_cast<int>(groups_.at(root).size());
      if (size >= options_.max_kernel_instructions) {
        return absl::StrCat("the consumer kernel rooted at ", Name(root), " already has ", size,
                            " instructions (max_kernel_instructions ",
                            options_.max_kernel_instructions, ")");
      }
    }
    if (IsHeavyOp(inst.opcode)) {
      for (int root : consumer_roots) {
        for (int member : groups_.at(root)) {
          if (IsHeavyOp(program_.at(member).opcode)) {
            return absl::StrCat("at most one heavy op per kernel: ",
                                graph::HloOpcodeName(inst.opcode), " cannot join the kernel rooted at ",
                                Name(root), ", which holds ",
                                graph::HloOpcodeName(program_.at(member).opcode), " ",
                                Name(member));
          }
        }
      }
    }
    return "rejected by DefaultFusion's legality checks";
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
  void Decide(FusionDecision& decision) {
    const int p = decision.producer;
    auto no_estimate = [&](absl::string_view what, const absl::Status& status) {
      decision.kind = FusionDecisionKind::kDeclinedNoEstimate;
      decision.reason = absl::StrCat("no estimate for ", what, ": ", status.message());
    };
    absl::StatusOr<double> producer_ns = Cost({p}, p);
    if (!producer_ns.ok()) return no_estimate("the producer alone", producer_ns.status());
    double consumers_ns = 0;
    double fused_ns = 0;
    for (int root : decision.consumer_roots) {
      std::vector<int> members = groups_.at(root);
      absl::StatusOr<double> without = Cost(members, root);
      if (!without.ok()) {
        return no_estimate(absl::StrCat("the consumer kernel rooted at ", Name(root)),
                           without.status());
      }
      members.push_back(p);
      absl::StatusOr<double> with = Cost(std::move(members), root);
      if (!with.ok()) {
        return no_estimate(absl::StrCat("the fused kernel rooted at ", Name(root)), with.status());
      }
      consumers_ns += *without;
      fused_ns += *with;
    }
    decision.fused_ns = fused_ns;
    decision.unfused_ns = *producer_ns + consumers_ns;
    const bool fuse = decision.fused_ns < decision.unfused_ns;
    decision.kind = fuse ? FusionDecisionKind::kFused : FusionDecisionKind::kDeclinedCost;
    const size_t n = decision.consumer_roots.size();
    decision.reason = absl::StrCat(
        fuse ? "fused: " : "declined: ", FormatNs(decision.fused_ns), fuse ? " < " : " >= ",
        FormatNs(decision.unfused_ns), " = producer ", FormatNs(*producer_ns), " + consumer",
        n > 1 ? "s " : " ", FormatNs(consumers_ns),
        n > 1 ? absl::StrCat(" (duplicated into ", n, " kernels)") : "");
  }

  const Program& program_;
  const FusionPassOptions& options_;
  tiling::TilingPass& tiling_;
  const std::vector<std::vector<int>> users_;
  std::vector<bool> is_output_;
  std::map<int, std::vector<int>> groups_;     // root -> members (Program ids)
  std::vector<std::vector<int>> groups_of_;    // id -> roots of the groups holding it
  int next_;                                   // highest id not yet visited
  std::vector<FusionDecision> decisions_;
  absl::Status error_;
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
  Planner planner(program, options_, tiling_);
  FusionOptions fusion_options;
  fusion_options.max_kernel_instructions = options_.max_kernel_instructions;
  fusion_options.should_fuse = [&planner](const Program&, const FusionCandidate& candidate) {
    return planner.ShouldFuse(candidate);
  };
  ASSIGN_OR_RETURN(std::vector<graph::Kernel> kernels, DefaultFusion(program, fusion_options));
  RETURN_IF_ERROR(planner.error());
  planner.Settle(-1);
  RETURN_IF_ERROR(planner.Check(kernels));
  FusionPassResult result;
  result.kernels = std::move(kernels);
  result.decisions = planner.TakeDecisions();
  result.kernels_costed = planner.kernels_costed();
  result.cost_cache_hits = tiling_.cache_hits() - hits_before;
  return result;
}

}  // namespace perfgraph::fusion

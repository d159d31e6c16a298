#include "pipeline/program_total.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "graph/analysis.h"

namespace perfgraph::pipeline {

KernelRuns KernelRunsOf(const graph::ImportedModel& model, const std::string& kernel_name) {
  KernelRuns runs;
  const size_t slash = kernel_name.find('/');
  if (slash == std::string::npos) return runs;
  const std::string computation = kernel_name.substr(0, slash);
  if (model.call_sites.count(computation) == 0) return runs;
  runs.executions = graph::ExecutionsPerRun(model, computation, &runs.note);
  std::string current = computation;
  for (size_t depth = 0; !current.empty() && depth <= model.call_sites.size(); ++depth) {
    auto it = model.call_sites.find(current);
    if (it == model.call_sites.end()) break;
    if (it->second.role == "conditional branch") {
      runs.conditional = it->second.instruction;
      runs.branch = current;
      break;
    }
    current = it->second.caller;
  }
  return runs;
}

void ProgramTotal::Add(const KernelRuns& runs, double ns) {
  if (!runs.executions.has_value()) per_iteration_.insert(runs.note);
  const double total = ns * static_cast<double>(runs.executions.value_or(1));
  if (runs.conditional.empty()) {
    outside_ns_ += total;
  } else {
    branches_[runs.conditional][runs.branch] += total;
  }
}

double ProgramTotal::total_ns() const {
  double total = outside_ns_;
  for (const auto& [conditional, branches] : branches_) {
    double costliest = 0;
    for (const auto& [branch, ns] : branches) costliest = std::max(costliest, ns);
    total += costliest;
  }
  return total;
}

std::vector<std::string> ProgramTotal::Notes() const {
  std::vector<std::string> notes;
  for (const auto& [conditional, branches] : branches_) {
    auto costliest = std::max_element(
        branches.begin(), branches.end(),
        [](const auto& a, const auto& b) { return a.second < b.second; });
    notes.push_back(absl::StrCat("conditional '", conditional, "': costliest branch '",
                                 costliest->first, "'"));
  }
  for (const std::string& note : per_iteration_) {
    notes.push_back(absl::StrCat("per iteration (trip count unknown): ", note));
  }
  return notes;
}

void ProgramCoverage::Add(const graph::Kernel& kernel, const KernelRuns& runs, bool estimated) {
  const double flops =
      graph::KernelCost(kernel).flops * static_cast<double>(runs.executions.value_or(1));
  ++kernels_;
  flops_ += flops;
  if (estimated) {
    ++estimated_kernels_;
    estimated_flops_ += flops;
  } else {
    ++missing_[absl::StrCat(graph::FusionKindName(kernel.kind), " ",
                            graph::HloOpcodeName(kernel.root_instruction().opcode))];
  }
}

}  // namespace perfgraph::pipeline

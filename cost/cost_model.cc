#include "cost/cost_model.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "graph/library_ops.h"
#include "graph/multi_output.h"

namespace perfgraph::cost {

CostModel::~CostModel() = default;

std::string CostModel::OutOfDistribution(const graph::Kernel& kernel) const { return ""; }

int CostBatch::Enqueue(const graph::Kernel& kernel, const tiling::TileConfig& config) {
  queries_.push_back({&kernel, config});
  return static_cast<int>(queries_.size()) - 1;
}

std::vector<absl::StatusOr<double>> CostBatch::Evaluate(CostModel& model) const {
  return model.EstimateNs(queries_);
}

std::optional<std::vector<absl::StatusOr<double>>> EstimateMultiOutput(
    absl::Span<const CostQuery> queries, CostModel& model) {
  bool any = false;
  for (const CostQuery& q : queries) any |= q.kernel != nullptr && graph::IsMultiOutput(*q.kernel);
  if (!any) return std::nullopt;
  // Output kernels per distinct multi-output kernel (kept alive until model.EstimateNs returns).
  std::map<const graph::Kernel*, absl::StatusOr<std::vector<graph::Kernel>>> outputs_of;
  std::vector<CostQuery> expanded;
  std::vector<std::vector<size_t>> rows_of(queries.size());  // query -> rows of `expanded`
  std::vector<absl::Status> failed(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    const CostQuery& q = queries[i];
    if (q.kernel == nullptr || !graph::IsMultiOutput(*q.kernel)) {
      rows_of[i].push_back(expanded.size());
      expanded.push_back(q);
      continue;
    }
    auto it = outputs_of.find(q.kernel);
    if (it == outputs_of.end()) it = outputs_of.emplace(q.kernel, graph::OutputKernels(*q.kernel)).first;
    if (!it->second.ok()) {
      failed[i] = it->second.status();
      continue;
    }
    for (const graph::Kernel& output : *it->second) {
      tiling::TileConfig config = q.config;
      if (!tiling::Validate(output, config).ok()) config = tiling::Default(output);
      rows_of[i].push_back(expanded.size());
      expanded.push_back({&output, config});
    }
  }
  const std::vector<absl::StatusOr<double>> estimates = model.EstimateNs(expanded);
  std::vector<absl::StatusOr<double>> results;
  results.reserve(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    if (!failed[i].ok()) {
      results.push_back(failed[i]);
      continue;
    }
    const bool multi = queries[i].kernel != nullptr && graph::IsMultiOutput(*queries[i].kernel);
    if (!multi) {
      results.push_back(estimates[rows_of[i][0]]);
      continue;
    }
    double total = 0;
    absl::Status status;
    for (size_t row : rows_of[i]) {
      if (!estimates[row].ok()) {
        status = estimates[row].status();
        break;
      }
      total += *estimates[row];
    }
    if (status.ok()) {
      results.push_back(total);
    } else {
      results.push_back(absl::Status(
          status.code(), absl::StrCat("multi-output kernel '", queries[i].kernel->name, "': ",
                                      status.message())));
    }
  }
  return results;
}

absl::Status UnknownCustomCall(const graph::Kernel& kernel) {
  for (const graph::Instruction& inst : kernel.instructions) {
    if (inst.opcode != graph::HloOpcode::kCustomCall) continue;
    if (graph::LibraryOpOf(inst) != graph::LibraryOp::kNone) continue;  // cost/library_cost.h
    return absl::UnimplementedError(absl::StrCat("unknown custom-call '",
                                                 inst.attrs.custom_call_target, "' ('", inst.name,
                                                 "'): no cost formula, counted, not estimated"));
  }
  return absl::OkStatus();
}

std::vector<KernelQueries> GroupValidQueries(
    absl::Span<const CostQuery> queries, absl::string_view context,
    const std::function<absl::Status(const graph::Kernel&)>& check_kernel,
    std::vector<absl::StatusOr<double>>& results) {
  std::vector<KernelQueries> groups;
  std::map<const graph::Kernel*, size_t> group_of;           // kernel -> index into groups
  std::map<const graph::Kernel*, absl::Status> kernel_status;
  for (size_t i = 0; i < queries.size(); ++i) {
    const graph::Kernel* kernel = queries[i].kernel;
    if (kernel == nullptr) {
      results[i] = absl::InvalidArgumentError(absl::StrCat(context, ": query ", i, " has no kernel"));
      continue;
    }
    auto [it, inserted] = kernel_status.emplace(kernel, absl::OkStatus());
    if (inserted) {
      it->second = kernel->Validate();
      if (it->second.ok()) it->second = UnknownCustomCall(*kernel);
      if (it->second.ok() && check_kernel) it->second = check_kernel(*kernel);
    }
    if (absl::IsUnimplemented(it->second)) {
      results[i] = absl::UnimplementedError(
          absl::StrCat(context, ": query ", i, ": kernel '", kernel->name, "': ", it->second.message()));
      continue;
    }
    if (!it->second.ok()) {
      results[i] = absl::InvalidArgumentError(absl::StrCat(
          context, ": query ", i, ": kernel '", kernel->name, "' is invalid: ", it->second.message()));
      continue;
    }
    // The kernel passed kernel->Validate() above (kernel_status).
    absl::Status valid = tiling::ValidateConfig(*kernel, queries[i].config);
    if (!valid.ok()) {
      results[i] = absl::InvalidArgumentError(absl::StrCat(context, ": query ", i, ": ", valid.message()));
      continue;
    }
    auto [group, added] = group_of.emplace(kernel, groups.size());
    if (added) groups.push_back({kernel, {}});
    groups[group->second].rows.push_back(i);
  }
  return groups;
}

}  // namespace perfgraph::cost

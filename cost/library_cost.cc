#include "cost/library_cost.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/analysis.h"
#include "graph/library_ops.h"

namespace perfgraph::cost {

absl::StatusOr<LibraryCost> EstimateLibraryKernel(const TargetDescription& target,
                                                  const graph::Kernel& kernel) {
  if (absl::Status valid = kernel.Validate(); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("library kernel '", kernel.name, "': ", valid.message()));
  }
  if (!graph::IsLibraryKernel(kernel)) {
    return absl::InvalidArgumentError(
        absl::StrCat("kernel '", kernel.name, "' holds no library op (graph/library_ops.h)"));
  }
  const double lanes = std::max(1, target.native_f32_lanes);
  const double vector_rate = target.peak_flops_all;                   // FLOP/s
  const double scalar_rate = target.peak_flops_1t / (2.0 * lanes);    // ops/s
  const double dram_all = target.memory[kDram].bandwidth_all_bytes_per_s;
  const double dram_1t = target.memory[kDram].bandwidth_1t_bytes_per_s;
  auto seconds_to_ns = [](double work, double rate) { return rate > 0 ? work / rate * 1e9 : 0.0; };
  LibraryCost cost;
  std::vector<const graph::Shape*> operands;
  for (const graph::Instruction& inst : kernel.instructions) {
    operands.clear();
    for (int id : inst.operands) operands.push_back(&kernel.instructions[id].shape);
    if (graph::LibraryOpOf(inst) == graph::LibraryOp::kNone) {
      const double flops = graph::InstructionCost(inst, operands).flops;
      cost.flops += flops;
      cost.compute_ns += seconds_to_ns(flops, vector_rate);
      continue;
    }
    absl::StatusOr<graph::LibraryWork> work = graph::LibraryOpWork(inst, operands);
    if (!work.ok()) {
      return absl::Status(work.status().code(),
                          absl::StrCat("kernel '", kernel.name, "': ", work.status().message()));
    }
    const bool scalar = work->execution == graph::LibraryExecution::kScalar;
    const double compute = seconds_to_ns(work->flops, scalar ? scalar_rate : vector_rate);
    const double memory = seconds_to_ns(static_cast<double>(work->bytes_read + work->bytes_written),
                                        scalar ? dram_1t : dram_all);
    cost.flops += work->flops;
    // Roofline per op: the larger term is the op's time; both are reported.
    if (compute >= memory) {
      cost.compute_ns += compute;
    } else {
      cost.memory_ns += memory;
    }
    if (!cost.formula.empty()) cost.formula += "; ";
    cost.formula += work->formula;
  }
  cost.launch_ns = target.kernel_launch_ns;
  cost.total_ns = cost.compute_ns + cost.memory_ns + cost.launch_ns;
  return cost;
}

}  // namespace perfgraph::cost

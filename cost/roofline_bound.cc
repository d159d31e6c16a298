#include "cost/roofline_bound.h"

#include <algorithm>
#include <vector>

#include "graph/analysis.h"
#include "graph/hlo_opcode.h"

namespace perfgraph::cost {

RooflineBound RooflineLowerBound(const TargetDescription& target, const graph::Kernel& kernel) {
  RooflineBound b;
  const int n = kernel.size();
  if (kernel.root < 0 || kernel.root >= n) return b;
  for (const graph::Instruction& inst : kernel.instructions) {
    for (int operand : inst.operands) {
      if (operand < 0 || operand >= n) return b;
    }
  }
  const std::vector<graph::OpCost> costs = graph::KernelInstructionCosts(kernel);
  // Instructions are in topological order: walk from the root towards the parameters.
  std::vector<bool> needed(n, false);
  needed[kernel.root] = true;
  for (int id = kernel.root; id >= 0; --id) {
    if (!needed[id]) continue;
    const graph::Instruction& inst = kernel.instructions[id];
    b.needed_flops += costs[id].flops;
    auto need = [&](int operand) { needed[operand] = true; };
    if (graph::IsElementwise(inst.opcode)) {
      for (int operand : inst.operands) {
        const graph::Shape& s = kernel.instructions[operand].shape;
        if (!s.IsTuple() && !inst.shape.IsTuple() && s.NumElements() == inst.shape.NumElements()) {
          need(operand);
        }
      }
    } else if (inst.opcode == graph::HloOpcode::kReduce && !inst.operands.empty()) {
      need(inst.operands[0]);
    } else if (inst.opcode == graph::HloOpcode::kDot && inst.operands.size() == 2) {
      need(inst.operands[0]);
      need(inst.operands[1]);
    }
  }
  const graph::Shape& out = kernel.root_instruction().shape;
  b.output_bytes = static_cast<double>(out.ByteSize());
  if (target.peak_flops_all > 0) {
    b.compute_ns = b.needed_flops / (target.peak_flops_all * kPeakHeadroom) * 1e9;
  }
  double best_bandwidth = 0;
  for (const MemoryLevelDescription& level : target.memory) {
    best_bandwidth = std::max({best_bandwidth, level.bandwidth_1t_bytes_per_s,
                               level.bandwidth_all_bytes_per_s});
  }
  if (best_bandwidth > 0) b.memory_ns = b.output_bytes / best_bandwidth * 1e9;
  return b;
}

}  // namespace perfgraph::cost

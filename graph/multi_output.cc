#include "graph/multi_output.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"

namespace perfgraph::graph {

bool IsMultiOutput(const Kernel& kernel) {
  return kernel.root >= 0 && kernel.root < kernel.size() &&
         kernel.instructions[kernel.root].opcode == HloOpcode::kTuple;
}

absl::StatusOr<std::vector<Kernel>> OutputKernels(const Kernel& kernel) {
  RETURN_IF_ERROR(kernel.Validate());
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("OutputKernels: kernel '", kernel.name, "': ", why));
  };
  if (!IsMultiOutput(kernel)) return bad("its root is not a tuple");
  const Instruction& tuple = kernel.root_instruction();
  std::vector<Kernel> outputs;
  for (size_t i = 0; i < tuple.operands.size(); ++i) {
    const Instruction& out = kernel.instructions[tuple.operands[i]];
    if (out.opcode == HloOpcode::kParameter || out.opcode == HloOpcode::kConstant) continue;
    if (out.shape.IsTuple()) {
      return bad(absl::StrCat("output ", i, " ('", out.name, "') is tuple-shaped"));
    }
    // Instructions `out` depends on (ids are topological: operands come first).
    std::vector<bool> needed(kernel.size(), false);
    needed[out.id] = true;
    for (int id = out.id; id >= 0; --id) {
      if (!needed[id]) continue;
      for (int operand : kernel.instructions[id].operands) needed[operand] = true;
    }
    Kernel sub;
    sub.name = absl::StrCat(kernel.name, "#", i);
    sub.kind = kernel.kind;
    std::vector<int> new_id(kernel.size(), -1);
    int next_parameter = 0;
    for (int id = 0; id <= out.id; ++id) {
      if (!needed[id]) continue;
      Instruction inst = kernel.instructions[id];
      new_id[id] = sub.size();
      inst.id = sub.size();
      for (int& operand : inst.operands) operand = new_id[operand];
      if (inst.opcode == HloOpcode::kParameter) inst.attrs.parameter_number = next_parameter++;
      sub.instructions.push_back(std::move(inst));
      if (!kernel.origin.empty()) sub.origin.push_back(kernel.origin[id]);
    }
    sub.root = new_id[out.id];
    RETURN_IF_ERROR(sub.Validate());
    outputs.push_back(std::move(sub));
  }
  if (outputs.empty()) return bad("every output is a parameter or a constant: nothing is computed");
  return outputs;
}

int PrimaryOutput(const std::vector<Kernel>& outputs) {
  int best = 0;
  for (int i = 1; i < static_cast<int>(outputs.size()); ++i) {
    if (outputs[i].root_instruction().shape.NumElements() >
        outputs[best].root_instruction().shape.NumElements()) {
      best = i;
    }
  }
  return best;
}

}  // namespace perfgraph::graph

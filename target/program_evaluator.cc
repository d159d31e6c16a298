#include "target/program_evaluator.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "tiling/tile_config.h"

namespace perfgraph::target {
namespace {

using graph::HloOpcode;
using graph::Instruction;

// The value of a program instruction that no kernel computes: a parameter (from `inputs`) or a
// splat constant. Errors as EvaluateProgram's.
absl::StatusOr<std::vector<float>> LeafValue(const graph::Program& program, int id,
                                             const std::map<std::string, std::vector<float>>& inputs) {
  const Instruction& inst = program.at(id);
  const int64_t n = inst.shape.NumElements();
  if (inst.opcode == HloOpcode::kParameter) {
    auto it = inputs.find(inst.name);
    if (it == inputs.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("EvaluateProgram: no value for parameter '", inst.name, "' ",
                       inst.shape.ToString()));
    }
    if (static_cast<int64_t>(it->second.size()) != n) {
      return absl::InvalidArgumentError(absl::StrCat(
          "EvaluateProgram: parameter '", inst.name, "' ", inst.shape.ToString(), " needs ", n,
          " values, got ", it->second.size()));
    }
    return it->second;
  }
  if (inst.opcode == HloOpcode::kConstant && inst.attrs.constant_value.has_value()) {
    return std::vector<float>(n, static_cast<float>(*inst.attrs.constant_value));
  }
  if (inst.opcode == HloOpcode::kConstant) {
    return absl::UnimplementedError(absl::StrCat("EvaluateProgram: constant '", inst.name, "' ",
                                                 inst.shape.ToString(),
                                                 " is not a splat: the IR does not keep its data"));
  }
  return absl::InternalError(absl::StrCat("EvaluateProgram: instruction '", inst.name,
                                          "' is computed by no kernel"));
}

}  // namespace

absl::StatusOr<std::vector<std::vector<float>>> EvaluateProgram(
    const HalideCpuTarget& target, const graph::Program& program,
    const std::vector<graph::Kernel>& kernels,
    const std::map<std::string, std::vector<float>>& inputs) {
  std::map<int, std::vector<float>> values;  // program id -> value
  auto value_of = [&](int id) -> absl::StatusOr<const std::vector<float>*> {
    auto it = values.find(id);
    if (it == values.end()) {
      ASSIGN_OR_RETURN(std::vector<float> leaf, LeafValue(program, id, inputs));
      it = values.emplace(id, std::move(leaf)).first;
    }
    return &it->second;
  };
  for (const graph::Kernel& kernel : kernels) {
    std::vector<std::vector<float>> kernel_inputs(kernel.num_parameters());
    for (int i = 0; i < kernel.size(); ++i) {
      const Instruction& inst = kernel.instructions[i];
      if (inst.opcode != HloOpcode::kParameter) continue;
      auto value = value_of(kernel.origin[i]);
    if (!value.ok()) {
      return absl::Status(value.status().code(), absl::StrCat("kernel ", kernel.name, " reads ",
                                                              value.status().message()));
    }
      kernel_inputs.at(inst.attrs.parameter_number) = **value;
    }
    absl::StatusOr<std::vector<float>> out =
        target.Evaluate(kernel, tiling::Default(kernel), kernel_inputs);
    if (!out.ok()) {
      return absl::Status(out.status().code(), absl::StrCat("EvaluateProgram: kernel ", kernel.name,
                                                            ": ", out.status().message()));
    }
    values[kernel.origin[kernel.root]] = *std::move(out);
  }
  std::vector<std::vector<float>> outputs;
  for (int id : program.outputs) {
    ASSIGN_OR_RETURN(const std::vector<float>* value, value_of(id));
    outputs.push_back(*value);
  }
  return outputs;
}

}  // namespace perfgraph::target

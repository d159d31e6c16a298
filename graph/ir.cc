#include "graph/ir.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace perfgraph::graph {
namespace {

std::vector<std::vector<int>> UsersOf(const std::vector<Instruction>& instructions) {
  std::vector<std::vector<int>> users(instructions.size());
  for (const Instruction& inst : instructions) {
    for (int operand : inst.operands) {
      if (operand < 0 || operand >= static_cast<int>(instructions.size())) continue;
      auto& list = users[operand];
      if (list.empty() || list.back() != inst.id) list.push_back(inst.id);
    }
  }
  return users;
}

absl::Status ValidateInstructions(absl::string_view what, absl::string_view name,
                                  const std::vector<Instruction>& instructions) {
  for (size_t i = 0; i < instructions.size(); ++i) {
    const Instruction& inst = instructions[i];
    if (inst.id != static_cast<int>(i)) {
      return absl::InternalError(absl::StrCat(what, " '", name, "': instruction '", inst.name,
                                              "' at position ", i, " has id ", inst.id));
    }
    for (int operand : inst.operands) {
      if (operand < 0 || operand >= inst.id) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " '", name, "': instruction '", inst.name, "' (", i,
                         ") uses operand ", operand,
                         ", which is not an earlier instruction (cycle or dangling reference)"));
      }
    }
    absl::Status shape_status = inst.shape.Validate();
    if (!shape_status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(what, " '", name, "': instruction '", inst.name,
                                                     "': ", shape_status.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view ComparisonDirectionName(ComparisonDirection direction) {
  switch (direction) {
    case ComparisonDirection::kEq: return "EQ";
    case ComparisonDirection::kNe: return "NE";
    case ComparisonDirection::kLt: return "LT";
    case ComparisonDirection::kLe: return "LE";
    case ComparisonDirection::kGt: return "GT";
    case ComparisonDirection::kGe: return "GE";
  }
  return "EQ";
}

ConvolutionDimensionNumbers ConvolutionDimensionNumbers::Nchw(int num_spatial) {
  ConvolutionDimensionNumbers dnums;
  dnums.input_batch_dimension = 0;
  dnums.input_feature_dimension = 1;
  dnums.kernel_output_feature_dimension = 0;
  dnums.kernel_input_feature_dimension = 1;
  dnums.output_batch_dimension = 0;
  dnums.output_feature_dimension = 1;
  for (int i = 0; i < num_spatial; ++i) {
    dnums.input_spatial_dimensions.push_back(2 + i);
    dnums.kernel_spatial_dimensions.push_back(2 + i);
    dnums.output_spatial_dimensions.push_back(2 + i);
  }
  return dnums;
}

int Program::Add(HloOpcode opcode, Shape shape, std::vector<int> operands, Attributes attrs,
                 std::string name) {
  Instruction inst;
  inst.id = static_cast<int>(instructions.size());
  inst.opcode = opcode;
  inst.shape = std::move(shape);
  inst.operands = std::move(operands);
  inst.attrs = std::move(attrs);
  inst.name = name.empty() ? absl::StrCat(HloOpcodeName(opcode), ".", inst.id) : std::move(name);
  instructions.push_back(std::move(inst));
  return instructions.back().id;
}

std::vector<std::vector<int>> Program::Users() const { return UsersOf(instructions); }

absl::Status Program::Validate() const {
  absl::Status status = ValidateInstructions("program", name, instructions);
  if (!status.ok()) return status;
  for (int output : outputs) {
    if (output < 0 || output >= size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("program '", name, "': output id ", output, " is out of range"));
    }
  }
  return absl::OkStatus();
}

absl::string_view FusionKindName(FusionKind kind) {
  switch (kind) {
    case FusionKind::kLoop: return "kLoop";
    case FusionKind::kInput: return "kInput";
    case FusionKind::kOutput: return "kOutput";
    case FusionKind::kCustom: return "kCustom";
  }
  return "kCustom";
}

std::optional<FusionKind> FusionKindFromName(absl::string_view name) {
  if (name == "kLoop") return FusionKind::kLoop;
  if (name == "kInput") return FusionKind::kInput;
  if (name == "kOutput") return FusionKind::kOutput;
  if (name == "kCustom") return FusionKind::kCustom;
  return std::nullopt;
}

int Kernel::num_parameters() const {
  return static_cast<int>(std::count_if(instructions.begin(), instructions.end(), [](const auto& i) {
    return i.opcode == HloOpcode::kParameter;
  }));
}

std::vector<std::vector<int>> Kernel::Users() const { return UsersOf(instructions); }

absl::Status Kernel::Validate() const {
  absl::Status status = ValidateInstructions("kernel", name, instructions);
  if (!status.ok()) return status;
  if (root < 0 || root >= size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kernel '", name, "': root id ", root, " is out of range"));
  }
  if (!origin.empty() && origin.size() != instructions.size()) {
    return absl::InternalError(absl::StrCat("kernel '", name, "': origin has ", origin.size(),
                                            " entries for ", size(), " instructions"));
  }
  return absl::OkStatus();
}

}  // namespace perfgraph::graph

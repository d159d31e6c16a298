#include "graph/analysis.h"

#include "graph/library_ops.h"

namespace perfgraph::graph {
namespace {

double Product(const std::vector<int64_t>& dims, const std::vector<int64_t>& indices) {
  double product = 1;
  for (int64_t index : indices) {
    if (index >= 0 && index < static_cast<int64_t>(dims.size())) product *= dims[index];
  }
  return product;
}

template <typename InstructionList>
std::vector<OpCost> CostsOf(const InstructionList& instructions) {
  std::vector<OpCost> costs;
  costs.reserve(instructions.size());
  std::vector<const Shape*> operand_shapes;
  for (const Instruction& inst : instructions) {
    operand_shapes.clear();
    for (int operand : inst.operands) operand_shapes.push_back(&instructions[operand].shape);
    costs.push_back(InstructionCost(inst, operand_shapes));
  }
  return costs;
}

}  // namespace

OpCost InstructionCost(const Instruction& inst, const std::vector<const Shape*>& operand_shapes) {
  OpCost cost;
  if (inst.opcode == HloOpcode::kParameter || inst.opcode == HloOpcode::kConstant) return cost;
  for (const Shape* shape : operand_shapes) cost.bytes_read += shape->ByteSize();
  cost.bytes_written = inst.shape.ByteSize();
  const double out_elements = static_cast<double>(inst.shape.NumElements());

  if (IsElementwise(inst.opcode)) {
    if (IsTranscendental(inst.opcode)) {
      cost.transcendentals = out_elements;
    } else {
      cost.flops = out_elements;
    }
    return cost;
  }
  switch (inst.opcode) {
    case HloOpcode::kDot: {
      double contracted = 1;
      if (inst.attrs.dot_dimension_numbers && !operand_shapes.empty()) {
        contracted = Product(operand_shapes[0]->dims,
                             inst.attrs.dot_dimension_numbers->lhs_contracting_dimensions);
      }
      cost.flops = 2 * out_elements * contracted;
      break;
    }
    case HloOpcode::kConvolution: {
      if (inst.attrs.convolution_dimension_numbers && operand_shapes.size() >= 2) {
        const auto& dnums = *inst.attrs.convolution_dimension_numbers;
        const Shape& kernel = *operand_shapes[1];
        double taps = Product(kernel.dims, dnums.kernel_spatial_dimensions);
        double in_features = Product(kernel.dims, {dnums.kernel_input_feature_dimension});
        // The kernel's input-feature dim already holds input_features / feature_group_count.
        cost.flops = 2 * out_elements * taps * in_features;
      }
      break;
    }
    case HloOpcode::kReduce:
      if (!operand_shapes.empty()) cost.flops = static_cast<double>(operand_shapes[0]->NumElements());
      break;
    case HloOpcode::kReduceWindow: {
      double window = 1;
      for (const WindowDimension& dim : inst.attrs.window) window *= dim.size;
      cost.flops = out_elements * window;
      break;
    }
    default:
      if (LibraryOpOf(inst) != LibraryOp::kNone) {  // sort, scatter, fused attention, ...
        absl::StatusOr<LibraryWork> work = LibraryOpWork(inst, operand_shapes);
        if (work.ok()) cost.flops = work->flops;
      }
      break;  // data movement and opaque ops: bytes only
  }
  return cost;
}

std::vector<OpCost> ProgramCosts(const Program& program) { return CostsOf(program.instructions); }

std::vector<OpCost> KernelInstructionCosts(const Kernel& kernel) {
  return CostsOf(kernel.instructions);
}

OpCost KernelCost(const Kernel& kernel) {
  OpCost total;
  for (const OpCost& cost : KernelInstructionCosts(kernel)) {
    total.flops += cost.flops;
    total.transcendentals += cost.transcendentals;
  }
  for (const Instruction& inst : kernel.instructions) {
    if (inst.opcode == HloOpcode::kParameter) total.bytes_read += inst.shape.ByteSize();
  }
  if (kernel.root >= 0 && kernel.root < kernel.size()) {
    total.bytes_written = kernel.root_instruction().shape.ByteSize();
  }
  return total;
}

}  // namespace perfgraph::graph

// Test helper: builds a graph::Kernel instruction by instruction (ids in order, names
// "<opcode>.<id>", the last instruction as root). Shared by the tiling and target tests.
#ifndef PERFGRAPH_TESTS_GRAPH_KERNEL_BUILDER_H_
#define PERFGRAPH_TESTS_GRAPH_KERNEL_BUILDER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/hlo_opcode.h"
#include "graph/ir.h"
#include "graph/shape.h"

namespace perfgraph::test {

class KernelBuilder {
 public:
  explicit KernelBuilder(std::string name, graph::FusionKind kind = graph::FusionKind::kLoop) {
    kernel_.name = std::move(name);
    kernel_.kind = kind;
  }
  // The next parameter (parameter_number 0, 1, ...) of shape `dims`.
  int Parameter(std::vector<int64_t> dims, graph::PrimitiveType type = graph::PrimitiveType::kF32) {
    graph::Attributes attrs;
    attrs.parameter_number = num_parameters_++;
    return Add(graph::HloOpcode::kParameter, std::move(dims), {}, attrs, type);
  }
  // Splat constant of `dims` (a scalar by default).
  int Constant(double value, std::vector<int64_t> dims = {},
               graph::PrimitiveType type = graph::PrimitiveType::kF32) {
    graph::Attributes attrs;
    attrs.constant_value = value;
    return Add(graph::HloOpcode::kConstant, std::move(dims), {}, attrs, type);
  }
  // Appends an instruction; returns its id.
  int Add(graph::HloOpcode opcode, std::vector<int64_t> dims, std::vector<int> operands,
          graph::Attributes attrs = {}, graph::PrimitiveType type = graph::PrimitiveType::kF32) {
    graph::Instruction inst;
    inst.id = kernel_.size();
    inst.name = absl::StrCat(graph::HloOpcodeName(opcode), ".", inst.id);
    inst.opcode = opcode;
    inst.shape = graph::Shape::Make(type, std::move(dims));
    inst.operands = std::move(operands);
    inst.attrs = std::move(attrs);
    kernel_.instructions.push_back(std::move(inst));
    return kernel_.instructions.back().id;
  }
  // Matrix product lhs [M, K] x rhs [K, N] -> `dims` = [M, N] (lhs dim 1 contracted with rhs dim 0).
  int Dot(int lhs, int rhs, std::vector<int64_t> dims) {
    graph::Attributes attrs;
    graph::DotDimensionNumbers d;
    d.lhs_contracting_dimensions = {1};
    d.rhs_contracting_dimensions = {0};
    attrs.dot_dimension_numbers = d;
    return Add(graph::HloOpcode::kDot, std::move(dims), {lhs, rhs}, attrs);
  }
  const std::vector<int64_t>& dims(int id) const { return kernel_.instructions[id].shape.dims; }
  // The kernel with its last instruction as root.
  graph::Kernel Build() {
    kernel_.root = kernel_.size() - 1;
    return kernel_;
  }

 private:
  graph::Kernel kernel_;
  int num_parameters_ = 0;
};

}  // namespace perfgraph::test

#endif  // PERFGRAPH_TESTS_GRAPH_KERNEL_BUILDER_H_

#include "data/kernel_proto.h"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/perfgraph.pb.h"
#include "graph/kernel_hash.h"
#include "graph/status_macros.h"

namespace perfgraph::data {
namespace {

using graph::Attributes;
using graph::HloOpcode;
using graph::Instruction;
using graph::Kernel;
using graph::Shape;

// -------------------------------------------------------------------------------------------------
// Kernel -> proto

void ShapeToProto(const Shape& shape, ShapeProto* proto) {
  proto->set_element_type(std::string(graph::PrimitiveTypeName(shape.element_type)));
  proto->mutable_dims()->Assign(shape.dims.begin(), shape.dims.end());
  proto->mutable_minor_to_major()->Assign(shape.minor_to_major.begin(), shape.minor_to_major.end());
  proto->set_memory_space(shape.memory_space);
  for (const Shape& element : shape.tuple_shapes) ShapeToProto(element, proto->add_tuple_shapes());
}

template <typename Container, typename Repeated>
void AssignRepeated(const Container& from, Repeated* to) {
  to->Assign(from.begin(), from.end());
}

void AttributesToProto(const Attributes& attrs, AttributesProto* proto) {
  for (const graph::WindowDimension& w : attrs.window) {
    WindowDimensionProto* p = proto->add_window();
    p->set_size(w.size);
    p->set_stride(w.stride);
    p->set_padding_low(w.padding_low);
    p->set_padding_high(w.padding_high);
    p->set_window_dilation(w.window_dilation);
    p->set_base_dilation(w.base_dilation);
    p->set_window_reversal(w.window_reversal);
  }
  if (attrs.convolution_dimension_numbers.has_value()) {
    const graph::ConvolutionDimensionNumbers& d = *attrs.convolution_dimension_numbers;
    ConvolutionDimensionNumbersProto* p = proto->mutable_convolution_dimension_numbers();
    p->set_input_batch_dimension(d.input_batch_dimension);
    p->set_input_feature_dimension(d.input_feature_dimension);
    AssignRepeated(d.input_spatial_dimensions, p->mutable_input_spatial_dimensions());
    p->set_kernel_input_feature_dimension(d.kernel_input_feature_dimension);
    p->set_kernel_output_feature_dimension(d.kernel_output_feature_dimension);
    AssignRepeated(d.kernel_spatial_dimensions, p->mutable_kernel_spatial_dimensions());
    p->set_output_batch_dimension(d.output_batch_dimension);
    p->set_output_feature_dimension(d.output_feature_dimension);
    AssignRepeated(d.output_spatial_dimensions, p->mutable_output_spatial_dimensions());
  }
  if (attrs.dot_dimension_numbers.has_value()) {
    const graph::DotDimensionNumbers& d = *attrs.dot_dimension_numbers;
    DotDimensionNumbersProto* p = proto->mutable_dot_dimension_numbers();
    AssignRepeated(d.lhs_batch_dimensions, p->mutable_lhs_batch_dimensions());
    AssignRepeated(d.rhs_batch_dimensions, p->mutable_rhs_batch_dimensions());
    AssignRepeated(d.lhs_contracting_dimensions, p->mutable_lhs_contracting_dimensions());
    AssignRepeated(d.rhs_contracting_dimensions, p->mutable_rhs_contracting_dimensions());
  }
  AssignRepeated(attrs.dimensions, proto->mutable_dimensions());
  for (const graph::SliceDimension& s : attrs.slice) {
    SliceDimensionProto* p = proto->add_slice();
    p->set_start(s.start);
    p->set_limit(s.limit);
    p->set_stride(s.stride);
  }
  for (const graph::PaddingDimension& pd : attrs.padding) {
    PaddingDimensionProto* p = proto->add_padding();
    p->set_edge_padding_low(pd.edge_padding_low);
    p->set_edge_padding_high(pd.edge_padding_high);
    p->set_interior_padding(pd.interior_padding);
  }
  proto->set_feature_group_count(attrs.feature_group_count);
  proto->set_batch_group_count(attrs.batch_group_count);
  if (attrs.comparison_direction.has_value()) {
    proto->set_comparison_direction(
        std::string(graph::ComparisonDirectionName(*attrs.comparison_direction)));
  }
  proto->set_reduce_computation_opcode_id(graph::OpcodeId(attrs.reduce_computation));
  proto->set_custom_call_target(attrs.custom_call_target);
  proto->set_parameter_number(attrs.parameter_number);
  proto->set_tuple_index(attrs.tuple_index);
  if (attrs.constant_value.has_value()) proto->set_constant_value(*attrs.constant_value);
  proto->set_fusion_kind(attrs.fusion_kind);
  AssignRepeated(attrs.called_computations, proto->mutable_called_computations());
  proto->set_replica_group_size(attrs.replica_group_size);
}

// -------------------------------------------------------------------------------------------------
// proto -> Kernel

// Prefix for messages about instruction `index`.
std::string Where(absl::string_view context, int index, absl::string_view name) {
  return absl::StrCat("KernelFromProto(", context, "): instruction ", index, " '", name, "'");
}

absl::StatusOr<Shape> ShapeFromProto(const ShapeProto& proto, int depth, const std::string& where) {
  if (depth > kMaxTupleDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": tuple shapes nested deeper than ", kMaxTupleDepth));
  }
  Shape shape;
  std::optional<graph::PrimitiveType> type = graph::PrimitiveTypeFromName(proto.element_type());
  if (!type.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": unknown element type '", proto.element_type(), "'"));
  }
  shape.element_type = *type;
  if (proto.dims_size() > kMaxRank || proto.minor_to_major_size() > kMaxRank) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": rank ", proto.dims_size(), " (layout ",
                                                   proto.minor_to_major_size(),
                                                   " entries) exceeds ", kMaxRank));
  }
  shape.dims.assign(proto.dims().begin(), proto.dims().end());
  shape.minor_to_major.assign(proto.minor_to_major().begin(), proto.minor_to_major().end());
  shape.memory_space = proto.memory_space();
  if (!proto.tuple_shapes().empty() && !shape.IsTuple()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": non-tuple shape of type '",
                                                   proto.element_type(), "' has ",
                                                   proto.tuple_shapes_size(), " tuple elements"));
  }
  for (const ShapeProto& element : proto.tuple_shapes()) {
    ASSIGN_OR_RETURN(Shape s, ShapeFromProto(element, depth + 1, where));
    shape.tuple_shapes.push_back(std::move(s));
  }
  absl::Status status = shape.Validate();
  if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", status.message()));
  return shape;
}

absl::Status CheckAtLeast(int64_t value, int64_t minimum, absl::string_view field,
                          const std::string& where) {
  if (value < minimum) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", field, " is ", value, ", must be >= ", minimum));
  }
  return absl::OkStatus();
}

absl::StatusOr<Attributes> AttributesFromProto(const AttributesProto& proto,
                                               const std::string& where) {
  Attributes attrs;
  for (int i = 0; i < proto.window_size(); ++i) {
    const WindowDimensionProto& p = proto.window(i);
    const std::string field = absl::StrCat("window[", i, "].");
    RETURN_IF_ERROR(CheckAtLeast(p.size(), 0, field + "size", where));
    RETURN_IF_ERROR(CheckAtLeast(p.stride(), 1, field + "stride", where));
    RETURN_IF_ERROR(CheckAtLeast(p.window_dilation(), 1, field + "window_dilation", where));
    RETURN_IF_ERROR(CheckAtLeast(p.base_dilation(), 1, field + "base_dilation", where));
    graph::WindowDimension w;
    w.size = p.size();
    w.stride = p.stride();
    w.padding_low = p.padding_low();
    w.padding_high = p.padding_high();
    w.window_dilation = p.window_dilation();
    w.base_dilation = p.base_dilation();
    w.window_reversal = p.window_reversal();
    attrs.window.push_back(w);
  }
  if (proto.has_convolution_dimension_numbers()) {
    const ConvolutionDimensionNumbersProto& p = proto.convolution_dimension_numbers();
    graph::ConvolutionDimensionNumbers d;
    d.input_batch_dimension = p.input_batch_dimension();
    d.input_feature_dimension = p.input_feature_dimension();
    d.input_spatial_dimensions.assign(p.input_spatial_dimensions().begin(),
                                      p.input_spatial_dimensions().end());
    d.kernel_input_feature_dimension = p.kernel_input_feature_dimension();
    d.kernel_output_feature_dimension = p.kernel_output_feature_dimension();
    d.kernel_spatial_dimensions.assign(p.kernel_spatial_dimensions().begin(),
                                       p.kernel_spatial_dimensions().end());
    d.output_batch_dimension = p.output_batch_dimension();
    d.output_feature_dimension = p.output_feature_dimension();
    d.output_spatial_dimensions.assign(p.output_spatial_dimensions().begin(),
                                       p.output_spatial_dimensions().end());
    attrs.convolution_dimension_numbers = std::move(d);
  }
  if (proto.has_dot_dimension_numbers()) {
    const DotDimensionNumbersProto& p = proto.dot_dimension_numbers();
    graph::DotDimensionNumbers d;
    d.lhs_batch_dimensions.assign(p.lhs_batch_dimensions().begin(), p.lhs_batch_dimensions().end());
    d.rhs_batch_dimensions.assign(p.rhs_batch_dimensions().begin(), p.rhs_batch_dimensions().end());
    d.lhs_contracting_dimensions.assign(p.lhs_contracting_dimensions().begin(),
                                        p.lhs_contracting_dimensions().end());
    d.rhs_contracting_dimensions.assign(p.rhs_contracting_dimensions().begin(),
                                        p.rhs_contracting_dimensions().end());
    attrs.dot_dimension_numbers = std::move(d);
  }
  attrs.dimensions.assign(proto.dimensions().begin(), proto.dimensions().end());
  for (int i = 0; i < proto.slice_size(); ++i) {
    const SliceDimensionProto& p = proto.slice(i);
    RETURN_IF_ERROR(CheckAtLeast(p.stride(), 1, absl::StrCat("slice[", i, "].stride"), where));
    attrs.slice.push_back(graph::SliceDimension{p.start(), p.limit(), p.stride()});
  }
  for (const PaddingDimensionProto& p : proto.padding()) {
    attrs.padding.push_back(
        graph::PaddingDimension{p.edge_padding_low(), p.edge_padding_high(), p.interior_padding()});
  }
  RETURN_IF_ERROR(CheckAtLeast(proto.feature_group_count(), 1, "feature_group_count", where));
  RETURN_IF_ERROR(CheckAtLeast(proto.batch_group_count(), 1, "batch_group_count", where));
  attrs.feature_group_count = proto.feature_group_count();
  attrs.batch_group_count = proto.batch_group_count();
  if (!proto.comparison_direction().empty()) {
    bool found = false;
    for (graph::ComparisonDirection d :
         {graph::ComparisonDirection::kEq, graph::ComparisonDirection::kNe,
          graph::ComparisonDirection::kLt, graph::ComparisonDirection::kLe,
          graph::ComparisonDirection::kGt, graph::ComparisonDirection::kGe}) {
      if (graph::ComparisonDirectionName(d) == proto.comparison_direction()) {
        attrs.comparison_direction = d;
        found = true;
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": unknown comparison direction '",
                                                     proto.comparison_direction(), "'"));
    }
  }
  const int reduce_id = proto.reduce_computation_opcode_id();
  attrs.reduce_computation = graph::HloOpcodeFromId(reduce_id);
  if (reduce_id != 0 && attrs.reduce_computation == HloOpcode::kUnknown) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": unknown reduce computation opcode id ", reduce_id));
  }
  attrs.custom_call_target = proto.custom_call_target();
  attrs.parameter_number = proto.parameter_number();
  attrs.tuple_index = proto.tuple_index();
  if (proto.has_constant_value()) attrs.constant_value = proto.constant_value();
  attrs.fusion_kind = proto.fusion_kind();
  attrs.called_computations.assign(proto.called_computations().begin(),
                                   proto.called_computations().end());
  if (proto.replica_group_size() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": replica_group_size ",
                                                   proto.replica_group_size(), " is negative"));
  }
  attrs.replica_group_size = proto.replica_group_size();
  return attrs;
}

}  // namespace

void KernelToProto(const Kernel& kernel, KernelProto* proto) {
  proto->Clear();
  proto->set_name(kernel.name);
  proto->set_fusion_kind(std::string(graph::FusionKindName(kernel.kind)));
  proto->mutable_instructions()->Reserve(kernel.size());
  for (const Instruction& inst : kernel.instructions) {
    InstructionProto* p = proto->add_instructions();
    p->set_opcode_id(graph::OpcodeId(inst.opcode));
    p->set_opcode(std::string(graph::HloOpcodeName(inst.opcode)));
    p->set_name(inst.name);
    ShapeToProto(inst.shape, p->mutable_shape());
    p->mutable_operands()->Assign(inst.operands.begin(), inst.operands.end());
    AttributesToProto(inst.attrs, p->mutable_attrs());
  }
  proto->set_root(kernel.root);
  proto->mutable_origin()->Assign(kernel.origin.begin(), kernel.origin.end());
}

absl::StatusOr<Kernel> KernelFromProto(const KernelProto& proto, absl::string_view context) {
  Kernel kernel;
  kernel.name = proto.name();
  const std::string kernel_where =
      absl::StrCat("KernelFromProto(", context, "): kernel '", proto.name(), "'");
  std::optional<graph::FusionKind> kind = graph::FusionKindFromName(proto.fusion_kind());
  if (!kind.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(kernel_where, ": unknown fusion kind '", proto.fusion_kind(), "'"));
  }
  kernel.kind = *kind;
  if (proto.instructions_size() > kMaxKernelInstructions) {
    return absl::InvalidArgumentError(absl::StrCat(kernel_where, ": ", proto.instructions_size(),
                                                   " instructions exceed ",
                                                   kMaxKernelInstructions));
  }
  kernel.instructions.reserve(proto.instructions_size());
  for (int i = 0; i < proto.instructions_size(); ++i) {
    const InstructionProto& p = proto.instructions(i);
    const std::string where = Where(context, i, p.name());
    Instruction inst;
    inst.id = i;
    inst.name = p.name();
    inst.opcode = graph::HloOpcodeFromId(p.opcode_id());
    const bool id_is_unknown = p.opcode_id() == 0;
    if (inst.opcode == HloOpcode::kUnknown && !id_is_unknown) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": unknown opcode id ", p.opcode_id(), " (name '", p.opcode(), "')"));
    }
    if (!p.opcode().empty() && p.opcode() != graph::HloOpcodeName(inst.opcode)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": opcode name '", p.opcode(), "' disagrees with opcode id ",
                       p.opcode_id(), " ('", graph::HloOpcodeName(inst.opcode), "')"));
    }
    ASSIGN_OR_RETURN(inst.shape, ShapeFromProto(p.shape(), 0, where));
    if (p.operands_size() > kMaxOperands) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", p.operands_size(), " operands exceed ", kMaxOperands));
    }
    for (int operand : p.operands()) {
      if (operand < 0 || operand >= i) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": operand ", operand,
                                                       " is not an earlier instruction (valid: 0..",
                                                       i - 1, ")"));
      }
    }
    inst.operands.assign(p.operands().begin(), p.operands().end());
    ASSIGN_OR_RETURN(inst.attrs, AttributesFromProto(p.attrs(), where));
    kernel.instructions.push_back(std::move(inst));
  }
  if (proto.root() < 0 || proto.root() >= proto.instructions_size()) {
    return absl::InvalidArgumentError(absl::StrCat(kernel_where, ": root ", proto.root(),
                                                   " is out of range [0, ",
                                                   proto.instructions_size(), ")"));
  }
  kernel.root = proto.root();
  if (proto.origin_size() != 0 && proto.origin_size() != proto.instructions_size()) {
    return absl::InvalidArgumentError(absl::StrCat(kernel_where, ": origin has ",
                                                   proto.origin_size(), " entries for ",
                                                   proto.instructions_size(), " instructions"));
  }
  kernel.origin.assign(proto.origin().begin(), proto.origin().end());
  absl::Status status = kernel.Validate();
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("KernelFromProto(", context, "): ", status.message()));
  }
  return kernel;
}

absl::StatusOr<Kernel> DecodeRecordKernel(const Record& record, absl::string_view context) {
  ASSIGN_OR_RETURN(Kernel kernel, KernelFromProto(record.kernel(), context));
  const uint64_t hash = graph::CanonicalKernelHash(kernel);
  if (hash != record.kernel_hash()) {
    return absl::DataLossError(
        absl::StrFormat("DecodeRecordKernel(%s): kernel '%s' hashes to %016x but the record stores "
                        "kernel_hash %016x",
                        std::string(context), kernel.name, hash, record.kernel_hash()));
  }
  return kernel;
}

}  // namespace perfgraph::data

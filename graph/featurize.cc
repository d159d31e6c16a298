#include "graph/featurize.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "graph/analysis.h"

namespace perfgraph::graph {
namespace {

float Log1p(double value) { return static_cast<float>(std::log1p(value < 0 ? 0 : value)); }

std::vector<std::string> MakeNames() {
  std::vector<std::string> names(kNumNodeFeatures);
  for (int i = 0; i < kMaxFeatureDims; ++i) {
    names[kShapeDim0 + i] = absl::StrCat("shape_dim", i);
    names[kLayout0 + i] = absl::StrCat("layout_minor_to_major", i);
    names[kDimsMask0 + i] = absl::StrCat("dims_mask", i);
  }
  static const char* kWindowFields[] = {"size", "stride", "pad_low", "pad_high", "window_dilation",
                                        "base_dilation"};
  for (int d = 0; d < kMaxWindowDims; ++d) {
    for (int f = 0; f < 6; ++f) {
      names[kWindowBegin + 6 * d + f] = absl::StrCat("window", d, "_", kWindowFields[f]);
    }
  }
  names[kShapeDimSum] = "shape_dim_sum";
  names[kShapeDimProduct] = "shape_num_elements";
  names[kShapeRank] = "shape_rank";
  names[kDtypeBits] = "dtype_bits";
  names[kDtypeIsFloat] = "dtype_is_float";
  names[kDtypeIsInteger] = "dtype_is_integer";
  names[kDtypeIsPred] = "dtype_is_pred";
  names[kDtypeIsUnsigned] = "dtype_is_unsigned";
  names[kDtypeExponentBits] = "dtype_exponent_bits";
  names[kLayoutIsDefault] = "layout_is_default";
  names[kWindowSizeProduct] = "window_size_product";
  names[kConvInputBatchDim] = "conv_input_batch_dim";
  names[kConvInputFeatureDim] = "conv_input_feature_dim";
  names[kConvKernelInputFeatureDim] = "conv_kernel_input_feature_dim";
  names[kConvKernelOutputFeatureDim] = "conv_kernel_output_feature_dim";
  names[kConvOutputFeatureDim] = "conv_output_feature_dim";
  names[kConvFeatureGroupCount] = "conv_feature_group_count";
  names[kConvIsDepthwise] = "conv_is_depthwise";
  names[kDotNumBatchDims] = "dot_num_batch_dims";
  names[kDotNumContractingDims] = "dot_num_contracting_dims";
  names[kDotContractingSize] = "dot_contracting_size";
  names[kReduceAdd] = "reduce_add";
  names[kReduceMax] = "reduce_max";
  names[kReduceMin] = "reduce_min";
  names[kReduceOther] = "reduce_other";
  names[kCompareDirection] = "compare_direction";
  names[kSliceHasStride] = "slice_has_stride";
  names[kPadTotal] = "pad_total";
  names[kConstantIsSplat] = "constant_is_splat";
  names[kIsRoot] = "is_root";
  names[kNumOperands] = "num_operands";
  names[kNumUsers] = "num_users";
  names[kLogFlops] = "log_flops";
  names[kLogTranscendentals] = "log_transcendentals";
  names[kLogBytesRead] = "log_bytes_read";
  names[kLogBytesWritten] = "log_bytes_written";
  return names;
}

void SetMask(float* row, int64_t dim) {
  if (dim >= 0 && dim < kMaxFeatureDims) row[kDimsMask0 + dim] = 1;
}

void FeaturizeAttributes(const Instruction& inst, const std::vector<const Shape*>& operand_shapes,
                         float* row) {
  const Attributes& attrs = inst.attrs;
  // Window: the last kMaxWindowDims entries.
  if (!attrs.window.empty()) {
    const int n = static_cast<int>(attrs.window.size());
    const int first = n > kMaxWindowDims ? n - kMaxWindowDims : 0;
    double size_product = 1;
    for (const WindowDimension& w : attrs.window) size_product *= w.size;
    for (int i = first; i < n; ++i) {
      const WindowDimension& w = attrs.window[i];
      float* out = row + kWindowBegin + 6 * (i - first);
      out[0] = Log1p(w.size);
      out[1] = Log1p(w.stride);
      out[2] = Log1p(w.padding_low);
      out[3] = Log1p(w.padding_high);
      out[4] = Log1p(w.window_dilation - 1);
      out[5] = Log1p(w.base_dilation - 1);
    }
    row[kWindowSizeProduct] = Log1p(size_product);
  }
  if (attrs.convolution_dimension_numbers) {
    const auto& d = *attrs.convolution_dimension_numbers;
    row[kConvInputBatchDim] = d.input_batch_dimension;
    row[kConvInputFeatureDim] = d.input_feature_dimension;
    row[kConvKernelInputFeatureDim] = d.kernel_input_feature_dimension;
    row[kConvKernelOutputFeatureDim] = d.kernel_output_feature_dimension;
    row[kConvOutputFeatureDim] = d.output_feature_dimension;
    row[kConvFeatureGroupCount] = Log1p(attrs.feature_group_count);
    if (attrs.feature_group_count > 1 && !operand_shapes.empty()) {
      const Shape& input = *operand_shapes[0];
      if (d.input_feature_dimension < input.rank() &&
          input.dims[d.input_feature_dimension] == attrs.feature_group_count) {
        row[kConvIsDepthwise] = 1;
      }
    }
  }
  if (attrs.dot_dimension_numbers) {
    const auto& d = *attrs.dot_dimension_numbers;
    row[kDotNumBatchDims] = static_cast<float>(d.lhs_batch_dimensions.size());
    row[kDotNumContractingDims] = static_cast<float>(d.lhs_contracting_dimensions.size());
    if (!operand_shapes.empty()) {
      double size = 1;
      for (int64_t dim : d.lhs_contracting_dimensions) {
        if (dim >= 0 && dim < operand_shapes[0]->rank()) size *= operand_shapes[0]->dims[dim];
      }
      row[kDotContractingSize] = Log1p(size);
    }
  }
  switch (inst.opcode) {
    case HloOpcode::kBroadcast:
      for (int64_t dim : attrs.dimensions) SetMask(row, dim);
      break;
    case HloOpcode::kTranspose:
      for (size_t i = 0; i < attrs.dimensions.size(); ++i) {
        if (attrs.dimensions[i] != static_cast<int64_t>(i)) SetMask(row, static_cast<int64_t>(i));
      }
      break;
    default:
      for (int64_t dim : attrs.dimensions) SetMask(row, dim);
      break;
  }
  if (inst.opcode == HloOpcode::kReduce || inst.opcode == HloOpcode::kReduceWindow) {
    switch (attrs.reduce_computation) {
      case HloOpcode::kAdd: row[kReduceAdd] = 1; break;
      case HloOpcode::kMaximum: row[kReduceMax] = 1; break;
      case HloOpcode::kMinimum: row[kReduceMin] = 1; break;
      default: row[kReduceOther] = 1; break;
    }
  }
  if (attrs.comparison_direction) {
    row[kCompareDirection] = 1 + static_cast<int>(*attrs.comparison_direction);
  }
  for (const SliceDimension& s : attrs.slice) {
    if (s.stride > 1) row[kSliceHasStride] = 1;
  }
  if (!attrs.padding.empty()) {
    double total = 0;
    for (const PaddingDimension& p : attrs.padding) {
      total += std::llabs(p.edge_padding_low) + std::llabs(p.edge_padding_high) + p.interior_padding;
    }
    row[kPadTotal] = Log1p(total);
  }
  if (inst.opcode == HloOpcode::kConstant) {
    row[kConstantIsSplat] = attrs.constant_value.has_value() ? 1 : 0;
  }
}

}  // namespace

const std::vector<std::string>& NodeFeatureNames() {
  static const std::vector<std::string>* names = new std::vector<std::string>(MakeNames());
  return *names;
}

KernelTensors Featurize(const Kernel& kernel) {
  KernelTensors t;
  t.num_nodes = kernel.size();
  t.node_feat.assign(static_cast<size_t>(t.num_nodes) * kNumNodeFeatures, 0.0f);
  t.node_opcode.resize(t.num_nodes);
  const std::vector<OpCost> costs = KernelInstructionCosts(kernel);
  const std::vector<std::vector<int>> users = kernel.Users();
  std::vector<const Shape*> operand_shapes;

  for (const Instruction& inst : kernel.instructions) {
    float* row = t.node_feat.data() + static_cast<size_t>(inst.id) * kNumNodeFeatures;
    t.node_opcode[inst.id] = OpcodeId(inst.opcode);
    const Shape& shape = inst.shape;
    double dim_sum = 0;
    for (int64_t i = 0; i < shape.rank(); ++i) {
      dim_sum += shape.dims[i];
      if (i < kMaxFeatureDims) row[kShapeDim0 + i] = Log1p(shape.dims[i]);
    }
    row[kShapeDimSum] = Log1p(dim_sum);
    row[kShapeDimProduct] = Log1p(static_cast<double>(shape.NumElements()));
    row[kShapeRank] = static_cast<float>(shape.rank());
    row[kDtypeBits] = BitWidth(shape.element_type) / 32.0f;
    row[kDtypeIsFloat] = IsFloatingPoint(shape.element_type) ? 1 : 0;
    row[kDtypeIsInteger] = IsInteger(shape.element_type) ? 1 : 0;
    row[kDtypeIsPred] = shape.element_type == PrimitiveType::kPred ? 1 : 0;
    row[kDtypeIsUnsigned] = IsUnsignedInteger(shape.element_type) ? 1 : 0;
    row[kDtypeExponentBits] = ExponentBits(shape.element_type) / 8.0f;
    const std::vector<int64_t> layout = shape.EffectiveMinorToMajor();
    const float layout_scale = shape.rank() > 1 ? static_cast<float>(shape.rank() - 1) : 1.0f;
    for (int i = 0; i < kMaxFeatureDims; ++i) {
      row[kLayout0 + i] = i < static_cast<int>(layout.size()) ? layout[i] / layout_scale : -1.0f;
    }
    row[kLayoutIsDefault] = shape.HasDefaultLayout() ? 1 : 0;

    operand_shapes.clear();
    for (int operand : inst.operands) operand_shapes.push_back(&kernel.instructions[operand].shape);
    FeaturizeAttributes(inst, operand_shapes, row);

    row[kIsRoot] = inst.id == kernel.root ? 1 : 0;
    row[kNumOperands] = static_cast<float>(inst.operands.size());
    row[kNumUsers] = static_cast<float>(users[inst.id].size());
    const OpCost& cost = costs[inst.id];
    row[kLogFlops] = Log1p(cost.flops);
    row[kLogTranscendentals] = Log1p(cost.transcendentals);
    row[kLogBytesRead] = Log1p(static_cast<double>(cost.bytes_read));
    row[kLogBytesWritten] = Log1p(static_cast<double>(cost.bytes_written));

    for (size_t position = 0; position < inst.operands.size(); ++position) {
      t.edge_index.push_back(inst.operands[position]);
      t.edge_index.push_back(inst.id);
      t.edge_operand.push_back(static_cast<int32_t>(position));
    }
  }
  t.num_edges = static_cast<int>(t.edge_operand.size());
  return t;
}

}  // namespace perfgraph::graph

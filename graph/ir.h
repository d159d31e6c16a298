// The HLO-like kernel-graph IR: instructions with static shapes, whole programs and fused kernels.
//
// Semantics follow XLA's HLO (https://openxla.org/xla/operation_semantics): an Instruction is one HLO
// op, named by HloOpcode, with operands referring to earlier instructions of the same Program or
// Kernel. Both containers keep instructions in topological order (every operand id is smaller than the
// user's id), which Validate() checks.
#ifndef PERFGRAPH_GRAPH_IR_H_
#define PERFGRAPH_GRAPH_IR_H_

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "graph/hlo_opcode.h"
#include "graph/shape.h"

namespace perfgraph::graph {

enum class ComparisonDirection { kEq, kNe, kLt, kLe, kGt, kGe };
absl::string_view ComparisonDirectionName(ComparisonDirection direction);  // "EQ", "LT", ...

// One dimension of an XLA Window (convolution, reduce-window). Padding in elements.
struct WindowDimension {
  int64_t size = 1;
  int64_t stride = 1;
  int64_t padding_low = 0;
  int64_t padding_high = 0;
  int64_t window_dilation = 1;  // "rhs_dilation" for convolution
  int64_t base_dilation = 1;    // "lhs_dilation"; > 1 for transposed convolution
  bool window_reversal = false;
  // Padding or base dilation: positions outside the input are read as the pad value (the target
  // reads such windows from a padded copy of the input, target/halide_lowering.h).
  bool padded_or_dilated() const { return padding_low != 0 || padding_high != 0 || base_dilation != 1; }
  friend bool operator==(const WindowDimension& a, const WindowDimension& b) {
    return a.size == b.size && a.stride == b.stride && a.padding_low == b.padding_low &&
           a.padding_high == b.padding_high && a.window_dilation == b.window_dilation &&
           a.base_dilation == b.base_dilation && a.window_reversal == b.window_reversal;
  }
};

// XLA's ConvolutionDimensionNumbers (dim_labels in HLO text, e.g. b01f_01io->b01f).
struct ConvolutionDimensionNumbers {
  int64_t input_batch_dimension = 0;
  int64_t input_feature_dimension = 1;
  std::vector<int64_t> input_spatial_dimensions;
  int64_t kernel_input_feature_dimension = 1;
  int64_t kernel_output_feature_dimension = 0;
  std::vector<int64_t> kernel_spatial_dimensions;
  int64_t output_batch_dimension = 0;
  int64_t output_feature_dimension = 1;
  std::vector<int64_t> output_spatial_dimensions;
  // NCHW input, OIHW kernel, NCHW output for `num_spatial` spatial dims (ONNX's layout: bf01_oi01->bf01).
  static ConvolutionDimensionNumbers Nchw(int num_spatial);
};

// XLA's DotDimensionNumbers.
struct DotDimensionNumbers {
  std::vector<int64_t> lhs_batch_dimensions;
  std::vector<int64_t> rhs_batch_dimensions;
  std::vector<int64_t> lhs_contracting_dimensions;
  std::vector<int64_t> rhs_contracting_dimensions;
};

// One dimension of an HLO slice: [start, limit) with stride.
struct SliceDimension {
  int64_t start = 0;
  int64_t limit = 0;
  int64_t stride = 1;
};

// One dimension of an HLO PaddingConfig (negative edge padding crops).
struct PaddingDimension {
  int64_t edge_padding_low = 0;
  int64_t edge_padding_high = 0;
  int64_t interior_padding = 0;
};

// Per-opcode attributes; only the fields meaningful for the opcode are set.
struct Attributes {
  // convolution, reduce-window: one entry per spatial (conv) or operand (reduce-window) dimension.
  std::vector<WindowDimension> window;
  std::optional<ConvolutionDimensionNumbers> convolution_dimension_numbers;
  std::optional<DotDimensionNumbers> dot_dimension_numbers;
  // reduce: reduced operand dims; broadcast: operand dim -> output dim map; transpose: permutation;
  // concatenate, reverse, iota, sort: {dimension}(s); batch-norm-*: {feature_index}.
  std::vector<int64_t> dimensions;
  std::vector<SliceDimension> slice;      // slice
  std::vector<PaddingDimension> padding;  // pad
  int64_t feature_group_count = 1;        // convolution (grouped / depthwise)
  int64_t batch_group_count = 1;          // convolution
  std::optional<ComparisonDirection> comparison_direction;  // compare
  // reduce, reduce-window, scatter, select-and-scatter: root opcode of the to_apply computation
  // (add for sum, maximum for max pooling, ...).
  HloOpcode reduce_computation = HloOpcode::kUnknown;
  std::string custom_call_target;  // custom-call (unsupported ONNX ops keep their op type here)
  int64_t parameter_number = -1;   // parameter
  int64_t tuple_index = -1;        // get-tuple-element
  // constant: the value when the constant is a splat (every element equal), e.g. the zero of a ReLU.
  // batch-norm-*: epsilon (graph/expanders.h expands them at HLO import).
  std::optional<double> constant_value;
  std::string fusion_kind;         // fusion instructions of parsed HLO ("kLoop", ...)
  std::vector<std::string> called_computations;  // to_apply / calls / body / condition / branches
  // Collectives (graph::IsCollective): devices per replica group, from replica_groups (the largest
  // group of "{{0,1},{2,3}}", S of the iota form "[G,S]<=[N]"); 0 when not given or "{}", which
  // means every device of the system (cost::InterconnectDescription::devices).
  int64_t replica_group_size = 0;
};

struct Instruction {
  int id = -1;            // index in the owning Program or Kernel
  std::string name;       // unique within the owner ("conv1.convolution", "add.3")
  HloOpcode opcode = HloOpcode::kUnknown;
  Shape shape;
  std::vector<int> operands;  // ids of earlier instructions, in operand order
  Attributes attrs;
};

// A whole model: instructions of its entry computation in topological order.
struct Program {
  std::string name;
  std::vector<Instruction> instructions;  // instructions[i].id == i
  std::vector<int> outputs;               // ids of the program results

  // Appends an instruction (assigning its id) and returns the id. `operands` must be earlier ids.
  int Add(HloOpcode opcode, Shape shape, std::vector<int> operands, Attributes attrs = {},
          std::string name = "");
  const Instruction& at(int id) const { return instructions.at(id); }
  int size() const { return static_cast<int>(instructions.size()); }
  // users[i] = ids of the instructions that have i as an operand (each user listed once), ascending.
  std::vector<std::vector<int>> Users() const;
  // Checks ids, topological order, operand ranges, output ids and every shape. The message names the
  // program and the offending instruction.
  absl::Status Validate() const;
};

// XLA fusion kinds.
enum class FusionKind {
  kLoop,    // elementwise and data-movement ops fused into one loop nest
  kInput,   // a reduction with its elementwise producers
  kOutput,  // a convolution or dot with its elementwise consumers (bias, activation)
  kCustom,  // anything else (unfused custom-call, parsed kCustom fusions)
};
absl::string_view FusionKindName(FusionKind kind);  // "kLoop", ...
std::optional<FusionKind> FusionKindFromName(absl::string_view name);

// A fused computation: the unit that is compiled, tiled and timed. Its instructions are in topological
// order; parameters come first as `parameter` instructions (attrs.parameter_number = 0, 1, ...), one
// per distinct value read from outside the kernel. Every other instruction's operands are kernel ids.
struct Kernel {
  std::string name;
  FusionKind kind = FusionKind::kLoop;
  std::vector<Instruction> instructions;  // instructions[i].id == i
  int root = -1;                          // id of the output instruction
  // For each kernel instruction, the id of the Program instruction it came from (parameters: the
  // producer outside the kernel; -1 when not from a Program, e.g. a parsed HLO fusion).
  std::vector<int> origin;

  const Instruction& root_instruction() const { return instructions.at(root); }
  int num_parameters() const;
  int size() const { return static_cast<int>(instructions.size()); }
  std::vector<std::vector<int>> Users() const;
  absl::Status Validate() const;
};

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_IR_H_

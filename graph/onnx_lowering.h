// Internal to the ONNX importer (graph/onnx_import.cc): the value table and the per-node lowering of
// ONNX operators to HLO-like instructions. Not a public API; include only from graph/onnx_*.cc.
//
// Model of values:
//  - every ONNX tensor name maps to a Value with a static Shape;
//  - a Value may carry its data (Literal) when it is known at import time: Constant nodes, int
//    initializers (shapes/axes/pads) and every result of constant folding (Shape, Gather, Concat, ... on
//    known data). Folded values produce no instruction until a lowered op reads them as a runtime
//    operand; then they become a `constant` instruction (XLA's constant folding does the same);
//  - initializers are runtime inputs of the kernels (weights): they become `parameter` instructions
//    named "weight:<tensor>" on first use as an operand, numbered after the graph inputs.
//
// Lowering choices worth knowing (each Lower* function in onnx_lowering.cc documents its pattern):
//  - BatchNormalization (inference): x * s + o with s = scale/sqrt(var+eps) and o = B - mean*s as
//    two non-splat `constant` instructions of shape [C] ("...bn_scale", "...bn_offset") broadcast
//    along dim 1, i.e. the weights folded the way XLA folds constant weights.
//  - Resize/Upsample: nearest with integer up-factors -> broadcast + reshape; nearest with integer
//    down-factors -> strided slice; anything else (linear, cubic, fractional nearest) -> per resized
//    dim a dot with a constant [in, out] interpolation matrix + transpose (jax.image.resize's form).
//    Output dims are always ONNX's (sizes, or floor(in * scale)).
//  - Erf: clamp to [-4, 4], x^2, two Horner chains (multiply/add), multiply, divide: a rational
//    approximation x*P(x^2)/Q(x^2) with the op structure of XLA's erf expansion.
//  - Pad reflect/edge: per padded axis a concatenate of reversed / broadcast border slices.
//  - ArgMax/ArgMin: variadic reduce over (x, iota) with a tuple shape + get-tuple-element; TopK:
//    sort of (x, iota) + get-tuple-element + slice; CumSum: reduce-window spanning the axis.
//  - Gather with a constant scalar index: slice + reshape; otherwise `gather` with
//    attrs.dimensions = {axis}. ScatterND/ScatterElements: `scatter` (attrs.dimensions = {axis} for
//    ScatterElements, reduce_computation for reduction != none).
//  - Reshape/Flatten/Squeeze/Unsqueeze with unchanged dims and Identity/Dropout emit nothing.
//  - If / Loop / Scan (onnx_lower_control_flow.cc): conditional / while whose subgraphs are lowered
//    by a nested GraphLowerer into their own Program (ImportedModel::called_programs, call_sites),
//    sharing one ControlFlowContext; the form is documented in graph/onnx_import.h.
//  - Ops with an unsupported form (MaxPool Indices output, training-mode BatchNormalization, pads or
//    axes computed at run time, ...) report kUnimplemented, which --allow-unsupported turns into a
//    custom-call like ops without any lowering.
#ifndef PERFGRAPH_GRAPH_ONNX_LOWERING_H_
#define PERFGRAPH_GRAPH_ONNX_LOWERING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "graph/import.h"
#include "graph/ir.h"
#include "onnx/onnx_pb.h"

namespace perfgraph::graph::onnx_internal {

// Largest tensor (elements) whose data the importer keeps for constant folding. Bigger results of
// foldable ops are emitted as instructions instead. 2^20 elements (8 MiB as double) keeps e.g. the
// [64, 49, 49] shifted-window attention mask of Swin-T foldable.
inline constexpr int64_t kMaxFoldElements = int64_t{1} << 20;

// Tensor data known at import time. Integer and pred types use `ints`, floating types `floats`.
struct Literal {
  PrimitiveType type = PrimitiveType::kF32;
  std::vector<int64_t> dims;
  std::vector<int64_t> ints;
  std::vector<double> floats;

  bool is_float() const { return IsFloatingPoint(type); }
  int64_t size() const;
  double GetDouble(int64_t i) const { return is_float() ? floats[i] : static_cast<double>(ints[i]); }
  int64_t GetInt(int64_t i) const { return is_float() ? static_cast<int64_t>(floats[i]) : ints[i]; }
  // True when every element is equal (and there is at least one).
  bool IsSplat() const;
  static Literal FromInts(PrimitiveType type, std::vector<int64_t> dims, std::vector<int64_t> values);
  static Literal FromDoubles(PrimitiveType type, std::vector<int64_t> dims, std::vector<double> values);
};

struct Value {
  Shape shape;
  int id = -1;                     // instruction id once materialized
  std::optional<Literal> literal;  // data known at import time
  std::string weight_name;         // non-empty for initializers: materialize as a weight parameter
  bool has_external_data = false;  // an initializer / Constant whose data lives in an (absent) file
};

// ONNX element type (TensorProto::DataType) -> PrimitiveType; nullopt for undefined/string/unknown.
std::optional<PrimitiveType> PrimitiveTypeFromOnnx(int32_t elem_type);

// Reads the data of `tensor` (raw_data or typed fields). Returns nullopt (not an error) when the data
// is external or the tensor has more than `max_elements` elements; errors (kInvalidArgument) for an
// unknown element type or a data size that does not match the dims.
absl::StatusOr<std::optional<Literal>> LiteralFromTensor(const onnx::TensorProto& tensor,
                                                         int64_t max_elements);

// True when a lowering exists for op `op_type` of `domain` ("" is ai.onnx).
bool HasLowering(const std::string& domain, const std::string& op_type);

// Names a subgraph (an If branch, a Loop / Scan body) reads from enclosing scopes (ONNX's implicit
// captures): tensor names used by its nodes, or by subgraphs nested in them, that the subgraph
// itself does not define (as input, initializer or node output). In first-use order, no repeats.
std::vector<std::string> OuterReferences(const onnx::GraphProto& graph);

// Deepest nesting of If / Loop / Scan subgraphs the importer lowers (bounds the recursion).
inline constexpr int kMaxSubgraphDepth = 32;

// State shared by the lowerers of a model's main graph and of all its subgraphs (onnx_lower_
// control_flow.cc): subgraphs become called programs of `model`, with their call sites.
struct ControlFlowContext {
  ImportedModel* model = nullptr;  // receives called_programs and call_sites
  bool allow_unsupported = false;  // passed on to the lowering of subgraph nodes
  // Unsupported subgraph nodes kept as custom-calls (op type, node name), like the main graph's.
  std::vector<std::pair<std::string, std::string>>* unsupported = nullptr;
  // Called computation names taken so far (unique within the model), and the order they were taken
  // in, so that a node whose lowering is rolled back also drops the computations it created.
  absl::flat_hash_set<std::string> computation_names;
  std::vector<std::string> taken;
};

// Lowers one graph, node by node. The driver (onnx_import.cc) adds inputs and initializers, then calls
// LowerNode for each node in topological order.
class GraphLowerer {
 public:
  // `inferred`: ONNX shape-inference result by tensor name (inputs, value_info, outputs), used to
  // cross-check computed shapes and as the shape of custom-calls. `shape_data`: ONNX data propagation
  // results (values of 1-D int64 shape tensors), used when our own folding cannot see the data.
  // `declared`: names whose shape the file itself states (graph outputs, value_info); a mismatch
  // with those is bad input (kInvalidArgument), a mismatch with a shape ONNX inferred is a lowering
  // bug (kInternal).
  GraphLowerer(Program* program, int opset,
               const std::unordered_map<std::string, const onnx::TypeProto*>* inferred,
               const std::unordered_map<std::string, onnx::TensorShapeProto>* shape_data,
               const absl::flat_hash_set<std::string>* declared)
      : program_(program),
        opset_(opset),
        inferred_(inferred),
        shape_data_(shape_data),
        declared_(declared) {}

  // A graph input: a parameter instruction numbered in call order.
  void AddInput(const std::string& name, const Shape& shape);
  // An initializer: lazily a "weight:<name>" parameter; `literal` is kept for folding if given.
  void AddInitializer(const std::string& name, const Shape& shape, std::optional<Literal> literal,
                      bool external);
  bool HasValue(const std::string& name) const { return values_.contains(name); }
  const Value* FindValue(const std::string& name) const;

  // Lowers `node`. With `allow_unsupported`, ops without a lowering (or with an unsupported form,
  // reported by the lowering as kUnimplemented) become custom-calls and are recorded in
  // `unsupported`; their partial instructions are rolled back.
  absl::Status LowerNode(const onnx::NodeProto& node, bool allow_unsupported,
                         std::vector<std::pair<std::string, std::string>>* unsupported);

  // Instruction id of the value `name`, materializing constants and weights.
  absl::StatusOr<int> Materialize(const std::string& name);

  // Appends an instruction named `name` (made unique within the program) and returns its id; used
  // by the control-flow lowering for the instructions of called programs.
  int AddInstruction(HloOpcode opcode, Shape shape, std::vector<int> operands, Attributes attrs,
                     absl::string_view name);
  // Binds the ONNX tensor `name` to `value` (a subgraph's inputs and captured values).
  void Bind(const std::string& name, Value value) { values_[name] = std::move(value); }

  // Enables If / Loop / Scan: this lowerer fills computation `computation` ("" = the entry program)
  // at subgraph nesting depth `depth`; the subgraphs it meets are lowered into `context->model`.
  // Without it those ops fail with kInternal.
  void SetControlFlow(ControlFlowContext* context, std::string computation, int depth) {
    control_flow_ = context;
    computation_ = std::move(computation);
    depth_ = depth;
  }

 private:
  friend class NodeLowering;
  absl::Status EmitCustomCall(const onnx::NodeProto& node);
  absl::Status CheckOutputs(const onnx::NodeProto& node);
  absl::StatusOr<int> MaterializeValue(const std::string& name, Value& value);

  Program* program_;
  int opset_;
  const std::unordered_map<std::string, const onnx::TypeProto*>* inferred_;
  const std::unordered_map<std::string, onnx::TensorShapeProto>* shape_data_;
  const absl::flat_hash_set<std::string>* declared_;
  absl::flat_hash_map<std::string, Value> values_;
  absl::flat_hash_set<std::string> used_names_;
  int next_parameter_ = 0;
  // Names materialized while lowering the current node (rolled back with its instructions).
  std::vector<std::string> materialized_in_node_;
  // Instruction names taken while lowering the current node (rolled back with its instructions).
  std::vector<std::string> names_in_node_;
  ControlFlowContext* control_flow_ = nullptr;
  std::string computation_;
  int depth_ = 0;
};

}  // namespace perfgraph::graph::onnx_internal

#endif  // PERFGRAPH_GRAPH_ONNX_LOWERING_H_

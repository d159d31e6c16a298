// ONNX control flow: If -> HLO conditional, Loop and Scan -> HLO while. Every subgraph (If branch,
// Loop / Scan body) is lowered like the main graph, but into its own Program, registered in
// ImportedModel::called_programs with its CallSite, the way the HLO importer registers the
// computations of while and conditional instructions. The produced form is documented in
// graph/onnx_import.h.
//
// Semantics: ONNX operator specs (https://onnx.ai/onnx/operators/onnx__If.html, onnx__Loop.html,
// onnx__Scan.html, opset 9+ Scan) and XLA's operation semantics (Conditional, While,
// DynamicSlice, DynamicUpdateSlice: https://openxla.org/xla/operation_semantics).
//
// Conventions (how XLA's front ends lower the same loops, e.g. jax.lax.scan / fori_loop):
//  - a while's state is one tuple: (iteration counter s64[], ...); its condition compares the
//    counter with the trip count (LT), its body returns the next state tuple;
//  - values a subgraph reads from enclosing graphs (ONNX implicit captures) are extra elements of
//    the parameter: a branch takes one operand (the captured value itself when there is exactly
//    one, else a tuple of them, `()` when none), a body carries them through the state unchanged.
//    Captured values known at import time (constants, folded shapes) are not passed: they become
//    constants inside the subgraph, as XLA's constant sinking into loops and branches does;
//  - per-iteration (scan) outputs are stacked with dynamic-update-slice into a zero-initialised
//    accumulator carried in the state; Scan inputs are sliced with dynamic-slice + reshape.
#include "graph/onnx_lowering.h"
#include "graph/onnx_node_lowering.h"

#include <memory>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "graph/status_macros.h"

namespace perfgraph::graph::onnx_internal {
namespace {

void CollectOuterReferences(const onnx::GraphProto& graph, std::vector<std::string>* refs,
                            absl::flat_hash_set<std::string>* seen) {
  absl::flat_hash_set<std::string> defined;
  for (const auto& v : graph.input()) defined.insert(v.name());
  for (const auto& t : graph.initializer()) defined.insert(t.name());
  for (const auto& t : graph.sparse_initializer()) defined.insert(t.values().name());
  for (const auto& node : graph.node()) {
    for (const std::string& out : node.output()) {
      if (!out.empty()) defined.insert(out);
    }
  }
  auto use = [&](const std::string& name) {
    if (name.empty() || defined.contains(name)) return;
    if (seen->insert(name).second) refs->push_back(name);
  };
  for (const auto& node : graph.node()) {
    for (const std::string& in : node.input()) use(in);
    for (const auto& a : node.attribute()) {
      if (a.has_g()) {
        for (const std::string& r : OuterReferences(a.g())) use(r);
      }
      for (const auto& g : a.graphs()) {
        for (const std::string& r : OuterReferences(g)) use(r);
      }
    }
  }
  // A subgraph output may be an enclosing graph's tensor itself.
  for (const auto& out : graph.output()) use(out.name());
}

bool IsSingleBool(const Shape& shape) {
  return shape.element_type == PrimitiveType::kPred && shape.NumElements() == 1;
}

// `dims` with `value` inserted before position `at`.
Dims Inserted(Dims dims, int64_t at, int64_t value) {
  dims.insert(dims.begin() + at, value);
  return dims;
}

// Condition program of a counted while: compare(state[0], limit) LT, and-ed with the pred state
// element `cond_index` when >= 0. `limit_index` >= 0 reads the limit from the state instead of the
// constant `limit`; `counted` false leaves out the comparison.
Program ConditionProgram(const std::string& name, const Shape& state, bool counted, int64_t limit,
                         int limit_index, int cond_index) {
  Program p;
  p.name = name;
  Attributes param;
  param.parameter_number = 0;
  const int state_id = p.Add(HloOpcode::kParameter, state, {}, std::move(param), "param");
  auto element = [&](int index, const std::string& label) {
    Attributes a;
    a.tuple_index = index;
    return p.Add(HloOpcode::kGetTupleElement, state.tuple_shapes[index], {state_id}, std::move(a),
                 label);
  };
  const Shape scalar_pred = Shape::Make(PrimitiveType::kPred, {});
  int root = -1;
  if (counted) {
    const int i = element(0, "iteration");
    int bound;
    if (limit_index >= 0) {
      bound = element(limit_index, "trip_count");
    } else {
      Attributes c;
      c.constant_value = static_cast<double>(limit);
      bound = p.Add(HloOpcode::kConstant, Shape::Make(PrimitiveType::kS64, {}), {}, std::move(c),
                    "trip_count");
    }
    Attributes cmp;
    cmp.comparison_direction = ComparisonDirection::kLt;
    root = p.Add(HloOpcode::kCompare, scalar_pred, {i, bound}, std::move(cmp), "compare");
  }
  if (cond_index >= 0) {
    const int c = element(cond_index, "cond");
    root = root < 0 ? c : p.Add(HloOpcode::kAnd, scalar_pred, {root, c}, {}, "and");
  }
  if (root < 0) {
    Attributes t;
    t.constant_value = 1;
    root = p.Add(HloOpcode::kConstant, scalar_pred, {}, std::move(t), "true");
  }
  p.outputs = {root};
  return p;
}

}  // namespace

std::vector<std::string> OuterReferences(const onnx::GraphProto& graph) {
  std::vector<std::string> refs;
  absl::flat_hash_set<std::string> seen;
  CollectOuterReferences(graph, &refs, &seen);
  return refs;
}

// A subgraph being lowered into its own Program. Not movable once `lowerer` exists (it points at
// `program`, `inferred` and `shape_data`): always held by unique_ptr.
struct NodeLowering::Body {
  std::string attr;  // the node attribute holding the subgraph ("then_branch", "body")
  const onnx::GraphProto* graph = nullptr;
  std::string computation;  // name in ImportedModel::called_programs
  Program program;
  std::unordered_map<std::string, const onnx::TypeProto*> inferred;
  std::unordered_map<std::string, onnx::TensorShapeProto> shape_data;  // none for subgraphs
  std::unique_ptr<GraphLowerer> lowerer;
  bool tuple = false;               // parameter(0) is a tuple of `element_shapes`
  int param = -1;                   // parameter(0)
  std::vector<Shape> element_shapes;
  std::vector<int> elements;        // per element: its get-tuple-element (or the parameter)

  int Emit(HloOpcode opcode, Shape shape, std::vector<int> operands, Attributes attrs,
           absl::string_view name) {
    return lowerer->AddInstruction(opcode, std::move(shape), std::move(operands), std::move(attrs),
                                   name);
  }
  const Shape& ShapeOf(int id) const { return program.at(id).shape; }
  int Constant(PrimitiveType type, double value, absl::string_view name) {
    Attributes a;
    a.constant_value = value;
    return Emit(HloOpcode::kConstant, Shape::Make(type, {}), {}, std::move(a), name);
  }
  int Reshape(int x, const Dims& dims, absl::string_view name) {
    if (ShapeOf(x).dims == dims) return x;
    return Emit(HloOpcode::kReshape, Shape::Make(ShapeOf(x).element_type, dims), {x}, {}, name);
  }
  // Appends an element to the (tuple) parameter and returns its get-tuple-element. Nothing lowered
  // so far reads the parameter's own shape, so widening it afterwards is sound.
  int AddElement(const Shape& shape, absl::string_view name) {
    element_shapes.push_back(shape);
    program.instructions[param].shape = Shape::Tuple(element_shapes);
    Attributes a;
    a.tuple_index = static_cast<int64_t>(element_shapes.size()) - 1;
    const int id = Emit(HloOpcode::kGetTupleElement, shape, {param}, std::move(a), name);
    elements.push_back(id);
    return id;
  }
  int Tuple(const std::vector<int>& ids, absl::string_view name) {
    std::vector<Shape> shapes;
    for (int id : ids) shapes.push_back(ShapeOf(id));
    return Emit(HloOpcode::kTuple, Shape::Tuple(std::move(shapes)), ids, {}, name);
  }
  // The next iteration counter: add(counter, 1).
  int NextIteration() {
    const int one = Constant(PrimitiveType::kS64, 1, "one");
    return Emit(HloOpcode::kAdd, Shape::Make(PrimitiveType::kS64, {}), {elements[0], one}, {},
                "next_iteration");
  }
  // dynamic-update-slice of `update` (`update_dims` = the accumulator's dims with 1 at `axis`) into
  // `acc` at `index` along `axis`, 0 elsewhere.
  int StackInto(int acc, int elem, int64_t axis, int index) {
    const Shape acc_shape = ShapeOf(acc);
    const int update = Reshape(elem, Inserted(ShapeOf(elem).dims, axis, 1), "reshape");
    const int zero = Constant(PrimitiveType::kS64, 0, "zero");
    std::vector<int> operands = {acc, update};
    for (int64_t d = 0; d < acc_shape.rank(); ++d) operands.push_back(d == axis ? index : zero);
    return Emit(HloOpcode::kDynamicUpdateSlice, acc_shape, std::move(operands), {},
                "dynamic-update-slice");
  }
};

absl::StatusOr<const onnx::GraphProto*> NodeLowering::GraphAttr(absl::string_view name) const {
  const onnx::AttributeProto* a = Attr(name);
  if (a == nullptr || !a->has_g()) {
    return absl::InvalidArgumentError(
        absl::StrCat(node_.op_type(), " has no '", name, "' graph attribute"));
  }
  return &a->g();
}

absl::Status NodeLowering::CaptureOuter(const onnx::GraphProto& graph, absl::string_view attr,
                                        std::vector<std::string>* runtime,
                                        std::vector<std::pair<std::string, Value>>* literal) {
  for (const std::string& name : OuterReferences(graph)) {
    const Value* v = g_.FindValue(name);
    if (v == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          attr, " reads tensor '", name, "', which no enclosing graph defines before this node"));
    }
    if (v->literal.has_value()) {
      Value copy = *v;
      copy.id = -1;  // a constant of the subgraph's own program
      copy.weight_name.clear();
      literal->emplace_back(name, std::move(copy));
    } else {
      runtime->push_back(name);
    }
  }
  return absl::OkStatus();
}

std::string NodeLowering::TakeComputationName(absl::string_view suffix) {
  // Kernels of called programs are named "<computation>/<kernel>" downstream (inspect, predict,
  // plan split at the first '/'), so computation names hold no '/'.
  std::string base = absl::StrReplaceAll(prefix_, {{"/", "."}});
  const std::string name = absl::StrCat(base, ".", suffix);
  std::string unique = name;
  ControlFlowContext& cf = *g_.control_flow_;
  for (int k = 1; cf.computation_names.contains(unique); ++k) unique = absl::StrCat(name, ".", k);
  cf.computation_names.insert(unique);
  cf.taken.push_back(unique);
  return unique;
}

absl::StatusOr<std::unique_ptr<NodeLowering::Body>> NodeLowering::StartBody(
    absl::string_view attr, const onnx::GraphProto& graph, absl::string_view suffix,
    const std::vector<BodyParam>& params, bool tuple,
    const std::vector<std::pair<std::string, Value>>& literal_captures) {
  if (g_.depth_ + 1 > kMaxSubgraphDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("subgraphs nested deeper than ", kMaxSubgraphDepth, " levels"));
  }
  auto body = std::make_unique<Body>();
  body->attr = std::string(attr);
  body->graph = &graph;
  body->computation = TakeComputationName(suffix);
  body->program.name = body->computation;
  for (const auto& v : graph.input()) body->inferred[v.name()] = &v.type();
  for (const auto& v : graph.value_info()) body->inferred[v.name()] = &v.type();
  for (const auto& v : graph.output()) body->inferred[v.name()] = &v.type();
  body->lowerer = std::make_unique<GraphLowerer>(&body->program, g_.opset_, &body->inferred,
                                                 &body->shape_data, g_.declared_);
  body->lowerer->SetControlFlow(g_.control_flow_, body->computation, g_.depth_ + 1);
  body->tuple = tuple || params.size() != 1;
  auto label = [&](size_t k) {
    if (!params[k].label.empty()) return params[k].label;
    if (!params[k].onnx_name.empty()) return params[k].onnx_name;
    return absl::StrCat("param.", k);
  };
  Attributes param_attrs;
  param_attrs.parameter_number = 0;
  if (!body->tuple) {
    body->param = body->Emit(HloOpcode::kParameter, params[0].shape, {}, std::move(param_attrs),
                             label(0));
    body->element_shapes = {params[0].shape};
    body->elements = {body->param};
  } else {
    body->param = body->Emit(HloOpcode::kParameter, Shape::Tuple({}), {}, std::move(param_attrs),
                             "param");
    for (size_t k = 0; k < params.size(); ++k) body->AddElement(params[k].shape, label(k));
  }
  for (size_t k = 0; k < params.size(); ++k) {
    if (params[k].onnx_name.empty()) continue;
    Value v;
    v.shape = params[k].shape;
    v.id = body->elements[k];
    body->lowerer->Bind(params[k].onnx_name, std::move(v));
  }
  for (const auto& [name, value] : literal_captures) body->lowerer->Bind(name, value);
  // The subgraph's own initializers are constants of its program (XLA has no per-computation
  // weights); their data is kept for folding when small enough.
  for (const onnx::TensorProto& init : graph.initializer()) {
    std::optional<PrimitiveType> type = PrimitiveTypeFromOnnx(init.data_type());
    if (!type.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(attr, ": initializer '", init.name(),
                                                     "' has unknown or unsupported element type ",
                                                     init.data_type()));
    }
    Value v;
    v.shape = Shape::Make(*type, Dims(init.dims().begin(), init.dims().end()));
    absl::Status valid = v.shape.Validate();
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(attr, ": initializer '", init.name(), "': ", valid.message()));
    }
    auto lit = LiteralFromTensor(init, kMaxFoldElements);
    if (!lit.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(attr, ": initializer: ", lit.status().message()));
    }
    v.literal = std::move(*lit);
    v.has_external_data = init.data_location() == onnx::TensorProto::EXTERNAL;
    if (!body->lowerer->HasValue(init.name())) body->lowerer->Bind(init.name(), std::move(v));
  }
  return body;
}

// The subgraph's declared type of its input `index` (when it states one) must match what it gets.
absl::Status NodeLowering::CheckDeclaredInput(const Body& body, int index,
                                              const Shape& actual) const {
  const onnx::ValueInfoProto& in = body.graph->input(index);
  if (!in.type().has_tensor_type()) return absl::OkStatus();
  const auto& tt = in.type().tensor_type();
  std::optional<PrimitiveType> type = PrimitiveTypeFromOnnx(tt.elem_type());
  bool mismatch = tt.elem_type() != 0 && type != actual.element_type;
  std::vector<std::string> dims;
  if (tt.has_shape()) {
    mismatch |= tt.shape().dim_size() != actual.rank();
    for (int d = 0; d < tt.shape().dim_size(); ++d) {
      const auto& dim = tt.shape().dim(d);
      if (dim.has_dim_value()) {
        dims.push_back(absl::StrCat(dim.dim_value()));
        mismatch |= d < actual.rank() && dim.dim_value() != actual.dims[d];
      } else {
        dims.push_back(dim.dim_param().empty() ? "?" : dim.dim_param());
      }
    }
  }
  if (!mismatch) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      body.attr, " input ", index, " '", in.name(), "' is declared as ",
      type.has_value() ? PrimitiveTypeName(*type) : "?",
      tt.has_shape() ? absl::StrCat("[", absl::StrJoin(dims, ","), "]") : "", " but receives ",
      actual.ToString(false)));
}

absl::Status NodeLowering::LowerBodyNodes(Body& body) {
  ControlFlowContext& cf = *g_.control_flow_;
  for (int i = 0; i < body.graph->node_size(); ++i) {
    const onnx::NodeProto& node = body.graph->node(i);
    absl::Status status = body.lowerer->LowerNode(node, cf.allow_unsupported, cf.unsupported);
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat(body.attr, ": node '",
                                       node.name().empty() ? absl::StrCat("#", i) : node.name(),
                                       "' (", node.op_type(), "): ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> NodeLowering::BodyOutput(Body& body, int index, absl::string_view what) {
  const std::string& name = body.graph->output(index).name();
  auto id = body.lowerer->Materialize(name);
  if (!id.ok()) {
    return absl::Status(id.status().code(), absl::StrCat(body.attr, " output ", index, " '", name,
                                                         "' (", what, "): ", id.status().message()));
  }
  return *id;
}

absl::Status NodeLowering::Register(Program program, int root, const std::string& instruction,
                                    absl::string_view role, std::optional<int64_t> executions,
                                    const std::string& how) {
  program.outputs = {root};
  absl::Status valid = program.Validate();
  if (!valid.ok()) {
    return absl::InternalError(absl::StrCat("lowered ", role, " is invalid: ", valid.message()));
  }
  ImportedModel& model = *g_.control_flow_->model;
  CallSite site;
  site.caller = g_.computation_;
  site.instruction = instruction;
  site.role = std::string(role);
  site.executions = executions;
  site.how = how;
  const std::string name = program.name;
  model.call_sites[name] = std::move(site);
  model.called_programs[name] = std::move(program);
  return absl::OkStatus();
}

int NodeLowering::Tuple(const std::vector<int>& elements) {
  std::vector<Shape> shapes;
  for (int id : elements) shapes.push_back(ShapeOf(id));
  return Emit(HloOpcode::kTuple, Shape::Tuple(std::move(shapes)), elements, {}, "tuple");
}

// ---------------------------------------------------------------------------------------------------
// If (cond, then_branch, else_branch) -> conditional(pred[], then_operand, else_operand),
// branch_computations = {then, else}. Each branch's operand holds the runtime values it captures.
// Several outputs: the conditional yields a tuple, read with get-tuple-element.

absl::Status NodeLowering::LowerIf() {
  if (g_.control_flow_ == nullptr) return absl::InternalError("control flow is not enabled");
  ASSIGN_OR_RETURN(const onnx::GraphProto* then_graph, GraphAttr("then_branch"));
  ASSIGN_OR_RETURN(const onnx::GraphProto* else_graph, GraphAttr("else_branch"));
  ASSIGN_OR_RETURN(const Value* cond, InValue(0));
  if (!IsSingleBool(cond->shape)) {
    return absl::InvalidArgumentError(absl::StrCat("condition '", node_.input(0), "' is ",
                                                   cond->shape.ToString(false),
                                                   "; If needs a single bool"));
  }
  if (then_graph->output_size() != else_graph->output_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "then_branch has ", then_graph->output_size(), " outputs but else_branch has ",
        else_graph->output_size()));
  }
  if (then_graph->output_size() == 0 || node_.output_size() > then_graph->output_size()) {
    return absl::InvalidArgumentError(absl::StrCat("the node has ", node_.output_size(),
                                                   " outputs but its branches have ",
                                                   then_graph->output_size()));
  }
  ASSIGN_OR_RETURN(int pred, Op(0));
  pred = Reshape(pred, {});

  const onnx::GraphProto* graphs[2] = {then_graph, else_graph};
  const char* attrs[2] = {"then_branch", "else_branch"};
  std::unique_ptr<Body> bodies[2];
  int operands[2];
  int roots[2];
  for (int b = 0; b < 2; ++b) {
    std::vector<std::string> runtime;
    std::vector<std::pair<std::string, Value>> literal;
    RETURN_IF_ERROR(CaptureOuter(*graphs[b], attrs[b], &runtime, &literal));
    std::vector<BodyParam> params;
    std::vector<int> ids;
    for (const std::string& name : runtime) {
      ASSIGN_OR_RETURN(int id, g_.Materialize(name));
      ids.push_back(id);
      params.push_back(BodyParam{name, "", ShapeOf(id)});
    }
    operands[b] = ids.size() == 1 ? ids[0] : Tuple(ids);
    ASSIGN_OR_RETURN(bodies[b], StartBody(attrs[b], *graphs[b], attrs[b], params,
                                          /*tuple=*/runtime.size() != 1, literal));
    RETURN_IF_ERROR(LowerBodyNodes(*bodies[b]));
    std::vector<int> outs;
    for (int k = 0; k < graphs[b]->output_size(); ++k) {
      ASSIGN_OR_RETURN(int id, BodyOutput(*bodies[b], k, "branch result"));
      outs.push_back(id);
    }
    roots[b] = outs.size() == 1 ? outs[0] : bodies[b]->Tuple(outs, "tuple");
  }
  const Shape then_shape = bodies[0]->ShapeOf(roots[0]);
  const Shape else_shape = bodies[1]->ShapeOf(roots[1]);
  if (!(then_shape == else_shape)) {
    for (int k = 0; k < then_graph->output_size(); ++k) {
      const Shape& a = then_shape.IsTuple() ? then_shape.tuple_shapes[k] : then_shape;
      const Shape& b = else_shape.IsTuple() ? else_shape.tuple_shapes[k] : else_shape;
      if (a == b) continue;
      const std::string detail = absl::StrCat(
          "then_branch output ", k, " '", then_graph->output(k).name(), "' is ", a.ToString(false),
          " but else_branch output ", k, " '", else_graph->output(k).name(), "' is ",
          b.ToString(false));
      if (a.element_type != b.element_type) return absl::InvalidArgumentError(detail);
      return absl::UnimplementedError(absl::StrCat(
          detail, "; ONNX allows branch results of different shapes, the static-shape IR (like an "
                  "HLO conditional) needs both branches to produce the same shapes"));
    }
  }
  Attributes cattrs;
  cattrs.called_computations = {bodies[0]->computation, bodies[1]->computation};
  const int conditional = Emit(HloOpcode::kConditional, then_shape, {pred, operands[0], operands[1]},
                               std::move(cattrs), "conditional");
  const std::string instruction = g_.program_->at(conditional).name;
  if (!then_shape.IsTuple()) {
    SetOut(0, conditional);
  } else {
    for (int k = 0; k < node_.output_size(); ++k) {
      if (!WantsOut(k)) continue;
      Attributes gte;
      gte.tuple_index = k;
      SetOut(k, Emit(HloOpcode::kGetTupleElement, then_shape.tuple_shapes[k], {conditional},
                     std::move(gte), "get-tuple-element"));
    }
  }
  for (int b = 0; b < 2; ++b) {
    RETURN_IF_ERROR(Register(std::move(bodies[b]->program), roots[b], instruction,
                             "conditional branch", 1, "branch"));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------------
// While loops (Loop, Scan). The state tuple starts with the iteration counter s64[]; `init` holds
// the caller's value of every element, `next` the body's value for the next iteration.

struct NodeLowering::WhileState {
  std::vector<int> init;  // caller instruction per element
  std::vector<int> next;  // body instruction per element
  // Condition: counter < limit (the constant `limit`, or element `limit_index` when >= 0) when
  // `counted`, and-ed with the pred element `cond_index` when >= 0.
  bool counted = true;
  int64_t limit = 0;
  int limit_index = -1;
  int cond_index = -1;
  std::vector<std::pair<int, int>> outputs;  // (node output, state element)
};

absl::Status NodeLowering::CaptureIntoState(
    const onnx::GraphProto& body, WhileState& state, std::vector<BodyParam>& params,
    std::vector<std::pair<std::string, Value>>& literal) {
  std::vector<std::string> runtime;
  RETURN_IF_ERROR(CaptureOuter(body, "body", &runtime, &literal));
  for (const std::string& name : runtime) {
    ASSIGN_OR_RETURN(int id, g_.Materialize(name));
    state.init.push_back(id);
    params.push_back(BodyParam{name, "", ShapeOf(id)});
  }
  return absl::OkStatus();
}

absl::Status NodeLowering::CheckCarried(Body& body, int body_output, const Shape& initial,
                                        absl::string_view initial_name, int* out) {
  ASSIGN_OR_RETURN(*out, BodyOutput(body, body_output, "loop-carried value"));
  const Shape& next = body.ShapeOf(*out);
  if (next == initial) return absl::OkStatus();
  const std::string detail = absl::StrCat(
      "loop-carried value '", initial_name, "' is ", initial.ToString(false), " but ", body.attr,
      " output ", body_output, " '", body.graph->output(body_output).name(), "' gives ",
      next.ToString(false));
  if (next.element_type != initial.element_type) return absl::InvalidArgumentError(detail);
  return absl::UnimplementedError(absl::StrCat(
      detail, "; ONNX lets loop-carried values change shape across iterations, the static-shape IR "
              "(like an HLO while) needs the same shape in every iteration"));
}

absl::Status NodeLowering::EmitWhile(Body& body, WhileState& state, std::optional<int64_t> trips,
                                     const std::string& how) {
  const int root = body.Tuple(state.next, "tuple");
  const Shape state_shape = Shape::Tuple(body.element_shapes);
  const int init = Tuple(state.init);
  if (!(body.ShapeOf(root) == state_shape) || !(ShapeOf(init) == state_shape)) {
    return absl::InternalError(absl::StrCat(
        "while state mismatch: parameter ", state_shape.ToString(false), ", body result ",
        body.ShapeOf(root).ToString(false), ", initial value ", ShapeOf(init).ToString(false)));
  }
  Program condition =
      ConditionProgram(TakeComputationName("condition"), state_shape, state.counted, state.limit,
                       state.limit_index, state.cond_index);
  Attributes wattrs;
  wattrs.called_computations = {condition.name, body.computation};
  const int loop = Emit(HloOpcode::kWhile, state_shape, {init}, std::move(wattrs), "while");
  for (const auto& [output, element] : state.outputs) {
    if (!WantsOut(output)) continue;
    Attributes gte;
    gte.tuple_index = element;
    SetOut(output, Emit(HloOpcode::kGetTupleElement, state_shape.tuple_shapes[element], {loop},
                        std::move(gte), "get-tuple-element"));
  }
  const std::string instruction = g_.program_->at(loop).name;
  const int condition_root = condition.outputs[0];
  RETURN_IF_ERROR(Register(std::move(body.program), root, instruction, "while body", trips, how));
  std::optional<int64_t> tests;
  if (trips.has_value()) tests = *trips + 1;
  return Register(std::move(condition), condition_root, instruction, "while condition", tests, how);
}

// ---------------------------------------------------------------------------------------------------
// Loop (M, cond, v_initial...; body(iteration_num, cond_in, v...) -> (cond_out, v..., scan...)).
// State: (iteration s64[], cond pred[], carried..., captured..., [M s64[] when computed at run
// time], stacked scan outputs...). The condition is `iteration < M` (when M is given) and `cond`
// (when given and not provably always true). Scan output k of shape S stacks into [trips, S...].

absl::Status NodeLowering::LowerLoop() {
  if (g_.control_flow_ == nullptr) return absl::InternalError("control flow is not enabled");
  ASSIGN_OR_RETURN(const onnx::GraphProto* graph, GraphAttr("body"));
  const int n = num_inputs() - 2;
  if (n < 0) {
    return absl::InvalidArgumentError(
        "Loop needs the inputs M and cond (either may be the empty name)");
  }
  if (graph->input_size() != n + 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "body has ", graph->input_size(), " inputs; expected iteration_num, cond and the ", n,
        " loop-carried values"));
  }
  const int k = graph->output_size() - 1 - n;
  if (k < 0 || node_.output_size() > n + k) {
    return absl::InvalidArgumentError(absl::StrCat(
        "body has ", graph->output_size(), " outputs and the node ", node_.output_size(),
        "; expected cond plus the ", n, " loop-carried values, then the scan outputs"));
  }
  const PrimitiveType s64 = PrimitiveType::kS64;
  const Shape scalar_s64 = Shape::Make(s64, {});
  const Shape scalar_pred = Shape::Make(PrimitiveType::kPred, {});

  // Trip count M.
  std::optional<int64_t> max_trips;
  int m_id = -1;
  if (HasIn(0)) {
    ASSIGN_OR_RETURN(const Value* m, InValue(0));
    if (IsFloatingPoint(m->shape.element_type) || m->shape.element_type == PrimitiveType::kPred ||
        m->shape.NumElements() != 1) {
      return absl::InvalidArgumentError(absl::StrCat("trip count M '", node_.input(0), "' is ",
                                                     m->shape.ToString(false),
                                                     "; Loop needs a single int64"));
    }
    if (m->literal.has_value()) {
      max_trips = std::max<int64_t>(0, m->literal->GetInt(0));
    } else {
      ASSIGN_OR_RETURN(m_id, Op(0));
      m_id = Convert(Reshape(m_id, {}), s64);
    }
  }
  // Condition.
  const bool has_cond = HasIn(1);
  std::optional<bool> cond_init;
  int cond_id;
  if (has_cond) {
    ASSIGN_OR_RETURN(const Value* c, InValue(1));
    if (!IsSingleBool(c->shape)) {
      return absl::InvalidArgumentError(absl::StrCat("condition '", node_.input(1), "' is ",
                                                     c->shape.ToString(false),
                                                     "; Loop needs a single bool"));
    }
    if (c->literal.has_value()) cond_init = c->literal->GetInt(0) != 0;
    ASSIGN_OR_RETURN(cond_id, Op(1));
    cond_id = Reshape(cond_id, {});
  } else {
    cond_id = ScalarConst(PrimitiveType::kPred, 1);
  }
  WhileState state;
  state.init = {ScalarConst(s64, 0), cond_id};
  std::vector<BodyParam> params = {{"", "iteration", scalar_s64}, {"", "cond", scalar_pred}};
  for (int j = 0; j < n; ++j) {
    ASSIGN_OR_RETURN(int id, Op(2 + j));
    state.init.push_back(id);
    params.push_back(BodyParam{graph->input(2 + j).name(), "", ShapeOf(id)});
  }
  std::vector<std::pair<std::string, Value>> literal;
  RETURN_IF_ERROR(CaptureIntoState(*graph, state, params, literal));
  if (m_id >= 0) {
    state.limit_index = static_cast<int>(state.init.size());
    state.init.push_back(m_id);
    params.push_back(BodyParam{"", "trip_count", scalar_s64});
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Body> b, StartBody("body", *graph, "body", params,
                                                      /*tuple=*/true, literal));
  Body& body = *b;
  // iteration_num and cond_in: scalars, or the one-element shape the body declares for them.
  int bound[2];
  for (int i = 0; i < 2; ++i) {
    const auto& tt = graph->input(i).type().tensor_type();
    Dims dims;
    bool one_element = tt.has_shape();
    for (const auto& d : tt.shape().dim()) {
      one_element &= d.has_dim_value() && d.dim_value() == 1;
      dims.push_back(1);
    }
    bound[i] = body.Reshape(body.elements[i], one_element ? dims : Dims{}, "reshape");
    RETURN_IF_ERROR(CheckDeclaredInput(body, i, body.ShapeOf(bound[i])));
    Value v;
    v.shape = body.ShapeOf(bound[i]);
    v.id = bound[i];
    body.lowerer->Bind(graph->input(i).name(), std::move(v));
  }
  for (int j = 0; j < n; ++j) {
    RETURN_IF_ERROR(CheckDeclaredInput(body, 2 + j, body.element_shapes[2 + j]));
  }
  RETURN_IF_ERROR(LowerBodyNodes(body));

  // Does the condition stay true? (cond absent; or initially true and the body returns a constant
  // true or cond_in itself.)
  int cond_out = body.elements[1];
  bool stays_true = !has_cond;
  bool body_keeps = true;  // the body returns a constant true or cond_in itself
  if (has_cond) {
    const Value* out = body.lowerer->FindValue(graph->output(0).name());
    const bool literal_true = out != nullptr && out->literal.has_value() &&
                              out->literal->size() == 1 && out->literal->GetInt(0) != 0;
    const bool passthrough = out != nullptr && !out->literal.has_value() &&
                             (out->id == bound[1] || out->id == body.elements[1]);
    body_keeps = literal_true || passthrough;
    stays_true = cond_init == true && body_keeps;
    ASSIGN_OR_RETURN(cond_out, BodyOutput(body, 0, "cond_out"));
    if (!IsSingleBool(body.ShapeOf(cond_out))) {
      return absl::InvalidArgumentError(absl::StrCat("body output 0 '", graph->output(0).name(),
                                                     "' (cond_out) is ",
                                                     body.ShapeOf(cond_out).ToString(false),
                                                     "; Loop needs a single bool"));
    }
    cond_out = body.Reshape(cond_out, {}, "reshape");
  }
  std::optional<int64_t> trips;
  std::string how;
  if (has_cond && cond_init == false) {
    trips = 0;
    how = "ONNX Loop whose initial condition is false";
  } else if (stays_true && max_trips.has_value()) {
    trips = *max_trips;
    how = absl::StrCat("ONNX Loop trip count M = ", *max_trips);
  } else if (stays_true && !HasIn(0)) {
    how = "ONNX Loop without a trip count M whose condition never becomes false";
  } else if (m_id >= 0) {
    how = absl::StrCat("ONNX Loop trip count M ('", node_.input(0), "') computed at run time",
                       stays_true   ? ""
                       : body_keeps ? ", as is its initial condition"
                                    : ", with a data-dependent condition");
  } else if (body_keeps && max_trips.has_value()) {
    how = absl::StrCat("ONNX Loop whose initial condition '", node_.input(1),
                       "' is computed at run time (M = ", *max_trips, " iterations when true)");
  } else if (max_trips.has_value()) {
    how = absl::StrCat("ONNX Loop with a data-dependent condition (at most M = ", *max_trips,
                       " iterations)");
  } else {
    how = "ONNX Loop with a data-dependent condition and no trip count M";
  }
  state.counted = HasIn(0);
  state.limit = max_trips.value_or(0);
  state.cond_index = stays_true ? -1 : 1;

  state.next = {body.NextIteration(), cond_out};
  for (int j = 0; j < n; ++j) {
    int next;
    RETURN_IF_ERROR(CheckCarried(body, 1 + j, body.element_shapes[2 + j], node_.input(2 + j), &next));
    state.next.push_back(next);
    state.outputs.emplace_back(j, 2 + j);
  }
  for (size_t e = 2 + n; e < body.elements.size(); ++e) state.next.push_back(body.elements[e]);
  if (k > 0 && !trips.has_value()) {
    return absl::UnimplementedError(absl::StrCat(
        "scan output '", graph->output(1 + n).name(),
        "' needs a static trip count (its stacked length) but this Loop's is unknown: ", how));
  }
  for (int s = 0; s < k; ++s) {
    ASSIGN_OR_RETURN(int elem, BodyOutput(body, 1 + n + s, "scan output"));
    const Shape elem_shape = body.ShapeOf(elem);
    const Shape acc_shape = Shape::Make(elem_shape.element_type, Inserted(elem_shape.dims, 0, *trips));
    RETURN_IF_ERROR(acc_shape.Validate());
    state.outputs.emplace_back(n + s, static_cast<int>(body.elements.size()));
    const int acc = body.AddElement(acc_shape, absl::StrCat(graph->output(1 + n + s).name(), ".stacked"));
    state.next.push_back(body.StackInto(acc, elem, 0, body.elements[0]));
    state.init.push_back(SplatConst(acc_shape.element_type, 0, acc_shape.dims));
  }
  return EmitWhile(body, state, trips, how);
}

// ---------------------------------------------------------------------------------------------------
// Scan (opset 9+: initial states..., scan inputs...; body(states..., slices...) -> (states...,
// scan output elements...)). State: (iteration s64[], states..., scan inputs..., captured...,
// stacked scan outputs...); trips = the length of the scan axis. Slice j of a scan input is
// reshape(dynamic-slice(input, index on its axis)), index = iteration, or trips-1-iteration for
// reverse directions; output elements are stacked with dynamic-update-slice on their axis.

absl::Status NodeLowering::LowerScan() {
  if (g_.control_flow_ == nullptr) return absl::InternalError("control flow is not enabled");
  if (g_.opset_ < 9) {
    return absl::UnimplementedError(
        "Scan before opset 9 (batch axis and sequence_lens input) is not supported");
  }
  ASSIGN_OR_RETURN(const onnx::GraphProto* graph, GraphAttr("body"));
  const int64_t m = AttrInt("num_scan_inputs", -1);
  if (m < 1 || m > num_inputs()) {
    return absl::InvalidArgumentError(absl::StrCat("num_scan_inputs is ", m, " with ",
                                                   num_inputs(), " inputs"));
  }
  const int n = num_inputs() - static_cast<int>(m);
  if (graph->input_size() != num_inputs()) {
    return absl::InvalidArgumentError(absl::StrCat("body has ", graph->input_size(),
                                                   " inputs; expected ", n, " states and ", m,
                                                   " scan slices"));
  }
  const int k = graph->output_size() - n;
  if (k < 0 || node_.output_size() > n + k) {
    return absl::InvalidArgumentError(absl::StrCat(
        "body has ", graph->output_size(), " outputs and the node ", node_.output_size(),
        "; expected the ", n, " states, then the scan outputs"));
  }
  auto list = [&](absl::string_view name, int64_t size) -> absl::StatusOr<Dims> {
    std::optional<Dims> v = AttrInts(name);
    if (!v.has_value()) return Dims(size, 0);
    if (static_cast<int64_t>(v->size()) != size) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " has ", v->size(), " entries; expected ", size));
    }
    return *v;
  };
  ASSIGN_OR_RETURN(Dims in_axes, list("scan_input_axes", m));
  ASSIGN_OR_RETURN(Dims in_dirs, list("scan_input_directions", m));
  ASSIGN_OR_RETURN(Dims out_axes, list("scan_output_axes", k));
  ASSIGN_OR_RETURN(Dims out_dirs, list("scan_output_directions", k));
  for (const Dims* dirs : {&in_dirs, &out_dirs}) {
    for (int64_t d : *dirs) {
      if (d != 0 && d != 1) {
        return absl::InvalidArgumentError(absl::StrCat("scan direction ", d, " is not 0 or 1"));
      }
    }
  }
  const PrimitiveType s64 = PrimitiveType::kS64;
  WhileState state;
  state.init = {ScalarConst(s64, 0)};
  std::vector<BodyParam> params = {{"", "iteration", Shape::Make(s64, {})}};
  for (int j = 0; j < n; ++j) {
    ASSIGN_OR_RETURN(int id, Op(j));
    state.init.push_back(id);
    params.push_back(BodyParam{graph->input(j).name(), "", ShapeOf(id)});
  }
  int64_t trips = -1;
  std::string trips_from;
  for (int j = 0; j < m; ++j) {
    ASSIGN_OR_RETURN(const Value* v, InValue(n + j));
    const int64_t rank = v->shape.rank();
    in_axes[j] = NormalizeAxis(in_axes[j], rank);
    RETURN_IF_ERROR(CheckAxis(in_axes[j], rank, absl::StrCat("scan_input_axes[", j, "]")));
    const int64_t length = v->shape.dims[in_axes[j]];
    if (trips < 0) {
      trips = length;
      trips_from = absl::StrCat("axis ", in_axes[j], " of '", node_.input(n + j), "'");
    } else if (length != trips) {
      return absl::InvalidArgumentError(absl::StrCat(
          "scan input '", node_.input(n + j), "' has ", length, " slices along axis ", in_axes[j],
          " but ", trips_from, " has ", trips));
    }
    ASSIGN_OR_RETURN(int id, Op(n + j));
    state.init.push_back(id);
    params.push_back(BodyParam{"", absl::StrCat(node_.input(n + j), ".all"), ShapeOf(id)});
  }
  std::vector<std::pair<std::string, Value>> literal;
  RETURN_IF_ERROR(CaptureIntoState(*graph, state, params, literal));
  ASSIGN_OR_RETURN(std::unique_ptr<Body> b, StartBody("body", *graph, "body", params,
                                                      /*tuple=*/true, literal));
  Body& body = *b;
  const int iteration = body.elements[0];
  int reversed = -1;  // trips - 1 - iteration, built once when a direction is reverse
  auto index = [&](int64_t direction) {
    if (direction == 0) return iteration;
    if (reversed < 0) {
      const int last = body.Constant(s64, static_cast<double>(trips - 1), "last");
      reversed = body.Emit(HloOpcode::kSubtract, Shape::Make(s64, {}), {last, iteration}, {},
                           "reversed_iteration");
    }
    return reversed;
  };
  for (int j = 0; j < n; ++j) {
    RETURN_IF_ERROR(CheckDeclaredInput(body, j, body.element_shapes[1 + j]));
  }
  for (int j = 0; j < m; ++j) {
    const int all = body.elements[1 + n + j];
    const Shape& full = body.element_shapes[1 + n + j];
    Dims slice_dims = full.dims;
    slice_dims[in_axes[j]] = 1;
    const int zero = body.Constant(s64, 0, "zero");
    std::vector<int> operands = {all};
    for (int64_t d = 0; d < full.rank(); ++d) {
      operands.push_back(d == in_axes[j] ? index(in_dirs[j]) : zero);
    }
    const int slice = body.Emit(HloOpcode::kDynamicSlice, Shape::Make(full.element_type, slice_dims),
                                std::move(operands), {}, "dynamic-slice");
    Dims elem_dims = full.dims;
    elem_dims.erase(elem_dims.begin() + in_axes[j]);
    const int elem = body.Reshape(slice, elem_dims, "reshape");
    RETURN_IF_ERROR(CheckDeclaredInput(body, n + j, body.ShapeOf(elem)));
    Value v;
    v.shape = body.ShapeOf(elem);
    v.id = elem;
    body.lowerer->Bind(graph->input(n + j).name(), std::move(v));
  }
  RETURN_IF_ERROR(LowerBodyNodes(body));

  state.next = {body.NextIteration()};
  for (int j = 0; j < n; ++j) {
    int next;
    RETURN_IF_ERROR(CheckCarried(body, j, body.element_shapes[1 + j], node_.input(j), &next));
    state.next.push_back(next);
    state.outputs.emplace_back(j, 1 + j);
  }
  for (size_t e = 1 + n; e < body.elements.size(); ++e) state.next.push_back(body.elements[e]);
  for (int s = 0; s < k; ++s) {
    ASSIGN_OR_RETURN(int elem, BodyOutput(body, n + s, "scan output"));
    const Shape elem_shape = body.ShapeOf(elem);
    const int64_t axis = NormalizeAxis(out_axes[s], elem_shape.rank() + 1);
    RETURN_IF_ERROR(CheckAxis(axis, elem_shape.rank() + 1, absl::StrCat("scan_output_axes[", s, "]")));
    const Shape acc_shape =
        Shape::Make(elem_shape.element_type, Inserted(elem_shape.dims, axis, trips));
    RETURN_IF_ERROR(acc_shape.Validate());
    state.outputs.emplace_back(n + s, static_cast<int>(body.elements.size()));
    const int acc = body.AddElement(acc_shape, absl::StrCat(graph->output(n + s).name(), ".stacked"));
    state.next.push_back(body.StackInto(acc, elem, axis, index(out_dirs[s])));
    state.init.push_back(SplatConst(acc_shape.element_type, 0, acc_shape.dims));
  }
  state.limit = trips;
  return EmitWhile(body, state, trips,
                   absl::StrCat("ONNX Scan over ", trips, " slices (", trips_from, ")"));
}

}  // namespace perfgraph::graph::onnx_internal

// ONNX control flow (If, Loop, Scan) import: conditional / while instructions whose subgraphs are
// called programs with call sites, on small models built here with the ONNX protobuf API (the
// project has no Python onnx to generate .onnx files), serialized and imported with ImportOnnxBytes
// exactly like a file's bytes.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fusion/default_fusion.h"
#include "gmock/gmock.h"
#include "graph/import.h"
#include "graph/onnx_import.h"
#include "gtest/gtest.h"
#include "onnx/onnx_pb.h"
#include "tests/status_matchers.h"

namespace perfgraph::graph {
namespace {

using ::perfgraph::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr int kF32 = onnx::TensorProto::FLOAT;
constexpr int kI64 = onnx::TensorProto::INT64;
constexpr int kBool = onnx::TensorProto::BOOL;

// dims < 0: a symbolic dim "n".
onnx::ValueInfoProto Info(const std::string& name, int elem, const std::vector<int64_t>& dims) {
  onnx::ValueInfoProto v;
  v.set_name(name);
  auto* tt = v.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    if (d < 0) {
      shape->add_dim()->set_dim_param("n");
    } else {
      shape->add_dim()->set_dim_value(d);
    }
  }
  return v;
}

// A value info with an element type and no shape (ONNX allows it for subgraph inputs/outputs).
onnx::ValueInfoProto Untyped(const std::string& name, int elem) {
  onnx::ValueInfoProto v;
  v.set_name(name);
  v.mutable_type()->mutable_tensor_type()->set_elem_type(elem);
  return v;
}

onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op,
                         const std::vector<std::string>& inputs,
                         const std::vector<std::string>& outputs, const std::string& name) {
  onnx::NodeProto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

void SetGraph(onnx::NodeProto* n, const std::string& name, const onnx::GraphProto& graph) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::GRAPH);
  *a->mutable_g() = graph;
  if (graph.name().empty()) a->mutable_g()->set_name(name);  // the checker wants graph names
}

void SetInt(onnx::NodeProto* n, const std::string& name, int64_t value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void SetInts(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& values) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void AddInt64(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
              const std::vector<int64_t>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(kI64);
  for (int64_t d : dims) t->add_dims(d);
  for (int64_t v : values) t->add_int64_data(v);
}

void AddBool(onnx::GraphProto* g, const std::string& name, bool value) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(kBool);
  t->add_int32_data(value ? 1 : 0);
}

void AddFloats(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
               const std::vector<float>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(kF32);
  for (int64_t d : dims) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
}

std::string Serialize(const onnx::GraphProto& graph, int opset = 13) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("onnx_control_flow_test");
  auto* op = model.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  *model.mutable_graph() = graph;
  if (graph.name().empty()) model.mutable_graph()->set_name("main");
  return model.SerializeAsString();
}

absl::StatusOr<ImportedModel> Import(const onnx::GraphProto& graph, const std::string& name,
                                     int opset = 13) {
  return ImportOnnxBytes(Serialize(graph, opset), name, {});
}

const Instruction* Find(const Program& program, HloOpcode opcode) {
  for (const Instruction& inst : program.instructions) {
    if (inst.opcode == opcode) return &inst;
  }
  return nullptr;
}

int Count(const Program& program, HloOpcode opcode) {
  int n = 0;
  for (const Instruction& inst : program.instructions) n += inst.opcode == opcode;
  return n;
}

const Instruction& Root(const Program& program) { return program.at(program.outputs.at(0)); }

// Every program (entry and called) fuses with the default fusion; returns kernels per program
// ("" = entry) and checks each kernel validates.
std::map<std::string, int> FuseAll(const ImportedModel& model) {
  std::map<std::string, int> kernels;
  std::vector<std::pair<std::string, const Program*>> programs = {{"", &model.program}};
  for (const auto& [name, body] : model.called_programs) programs.emplace_back(name, &body);
  for (const auto& [name, program] : programs) {
    auto fused = fusion::DefaultFusion(*program);
    EXPECT_OK(fused) << name;
    if (!fused.ok()) continue;
    for (const Kernel& k : *fused) EXPECT_OK(k.Validate()) << name << "/" << k.name;
    kernels[name] = static_cast<int>(fused->size());
  }
  return kernels;
}

// ---------------------------------------------------------------------------------------------------
// If

// x f32[4], y f32[4], c bool: (a, b) = If(c) then (exp(x), x + y) else (neg(x), constant 2).
// The branches read x (both) and y (then only) from the main graph.
onnx::GraphProto IfModel(const std::vector<int64_t>& else_constant_dims = {4}) {
  onnx::GraphProto g;
  g.set_name("if_model");
  *g.add_input() = Info("x", kF32, {4});
  *g.add_input() = Info("y", kF32, {4});
  *g.add_input() = Info("c", kBool, {});
  onnx::GraphProto then_g;
  then_g.set_name("then");
  AddNode(&then_g, "Exp", {"x"}, {"t0"}, "then_exp");
  AddNode(&then_g, "Add", {"x", "y"}, {"t1"}, "then_add");
  *then_g.add_output() = Info("t0", kF32, {4});
  *then_g.add_output() = Untyped("t1", kF32);
  onnx::GraphProto else_g;
  else_g.set_name("else");
  AddNode(&else_g, "Neg", {"x"}, {"e0"}, "else_neg");
  int64_t n = 1;
  for (int64_t d : else_constant_dims) n *= d;
  AddFloats(&else_g, "two", else_constant_dims, std::vector<float>(n, 2.0f));
  AddNode(&else_g, "Identity", {"two"}, {"e1"}, "else_identity");
  *else_g.add_output() = Info("e0", kF32, {4});
  *else_g.add_output() = Untyped("e1", kF32);
  onnx::NodeProto* node = AddNode(&g, "If", {"c"}, {"a", "b"}, "/model/choose");
  SetGraph(node, "then_branch", then_g);
  SetGraph(node, "else_branch", else_g);
  AddNode(&g, "Mul", {"a", "b"}, {"out"}, "mul");
  *g.add_output() = Info("out", kF32, {4});
  return g;
}

TEST(OnnxControlFlowTest, IfBecomesConditionalWithBranchPrograms) {
  auto model = Import(IfModel(), "if_model.onnx");
  ASSERT_OK(model);
  const Program& main = model->program;
  const Instruction* cond = Find(main, HloOpcode::kConditional);
  ASSERT_NE(cond, nullptr);
  // Names hold no '/' (kernels of called programs are "<computation>/<kernel>").
  EXPECT_THAT(cond->attrs.called_computations,
              ElementsAre("model.choose.then_branch", "model.choose.else_branch"));
  EXPECT_EQ(cond->shape.ToString(false), "(f32[4], f32[4])");
  // Operands: the predicate, then the then-branch's captures as a tuple (x, y), then the
  // else-branch's single capture x itself.
  ASSERT_THAT(cond->operands, SizeIs(3));
  EXPECT_EQ(main.at(cond->operands[0]).shape.ToString(false), "pred[]");
  const Instruction& then_operand = main.at(cond->operands[1]);
  EXPECT_EQ(then_operand.opcode, HloOpcode::kTuple);
  EXPECT_EQ(then_operand.shape.ToString(false), "(f32[4], f32[4])");
  EXPECT_EQ(main.at(cond->operands[2]).opcode, HloOpcode::kParameter);
  EXPECT_EQ(main.at(cond->operands[2]).name, "x");
  EXPECT_EQ(Count(main, HloOpcode::kGetTupleElement), 2);
  EXPECT_EQ(Root(main).opcode, HloOpcode::kMultiply);

  ASSERT_THAT(model->called_programs, SizeIs(2));
  const Program& then_p = model->called_programs.at("model.choose.then_branch");
  const Program& else_p = model->called_programs.at("model.choose.else_branch");
  // then: parameter (f32[4], f32[4]) -> get-tuple-element x, y -> exp, add -> tuple.
  EXPECT_EQ(then_p.at(0).opcode, HloOpcode::kParameter);
  EXPECT_EQ(then_p.at(0).shape.ToString(false), "(f32[4], f32[4])");
  EXPECT_EQ(Count(then_p, HloOpcode::kExponential), 1);
  EXPECT_EQ(Count(then_p, HloOpcode::kAdd), 1);
  EXPECT_EQ(Root(then_p).opcode, HloOpcode::kTuple);
  // else: its one capture is the parameter itself; the initializer is a constant of the branch.
  EXPECT_EQ(else_p.at(0).opcode, HloOpcode::kParameter);
  EXPECT_EQ(else_p.at(0).name, "x");
  EXPECT_EQ(else_p.at(0).shape.ToString(false), "f32[4]");
  EXPECT_EQ(Count(else_p, HloOpcode::kNegate), 1);
  EXPECT_EQ(Count(else_p, HloOpcode::kParameter), 1);
  EXPECT_EQ(Root(else_p).shape, Root(then_p).shape);

  for (const std::string branch : {"model.choose.then_branch", "model.choose.else_branch"}) {
    const CallSite& site = model->call_sites.at(branch);
    EXPECT_EQ(site.caller, "");
    EXPECT_EQ(site.instruction, cond->name);
    EXPECT_EQ(site.role, "conditional branch");
    EXPECT_EQ(site.executions, std::optional<int64_t>(1));
    EXPECT_EQ(ExecutionsPerRun(*model, branch), std::optional<int64_t>(1));
  }
  std::map<std::string, int> kernels = FuseAll(*model);
  EXPECT_EQ(kernels["model.choose.then_branch"], 2);  // exp, add
  EXPECT_GE(kernels["model.choose.else_branch"], 1);  // negate (+ the constant's broadcast)
  EXPECT_EQ(kernels[""], 1);                          // multiply
}

TEST(OnnxControlFlowTest, IfBranchesOfDifferentShapesNameTheNode) {
  // else gives b as f32[2] while then gives f32[4].
  auto model = Import(IfModel({2}), "if_bad.onnx");
  EXPECT_THAT(model, StatusIs(absl::StatusCode::kUnimplemented,
                              AllOf(HasSubstr("if_bad.onnx"), HasSubstr("/model/choose"),
                                    HasSubstr("then_branch output 1 't1' is f32[4]"),
                                    HasSubstr("else_branch output 1 'e1' is f32[2]"))));
}

TEST(OnnxControlFlowTest, IfWithoutElseBranchIsAnError) {
  onnx::GraphProto g = IfModel();
  auto* attrs = g.mutable_node(0)->mutable_attribute();
  attrs->erase(attrs->begin() + 1);
  auto model = Import(g, "if_no_else.onnx");
  EXPECT_THAT(model, StatusIs(absl::StatusCode::kInvalidArgument,
                              AllOf(HasSubstr("if_no_else.onnx"), HasSubstr("else_branch"))));
}

TEST(OnnxControlFlowTest, NodesAreOrderedByWhatTheirSubgraphsCapture) {
  // The If comes first in the file but its branches read z, produced by a later node.
  onnx::GraphProto g;
  *g.add_input() = Info("x", kF32, {4});
  *g.add_input() = Info("c", kBool, {});
  onnx::GraphProto then_g, else_g;
  AddNode(&then_g, "Exp", {"z"}, {"t"}, "then_exp");
  *then_g.add_output() = Info("t", kF32, {4});
  AddNode(&else_g, "Neg", {"z"}, {"e"}, "else_neg");
  *else_g.add_output() = Info("e", kF32, {4});
  onnx::NodeProto* node = AddNode(&g, "If", {"c"}, {"out"}, "choose");
  SetGraph(node, "then_branch", then_g);
  SetGraph(node, "else_branch", else_g);
  AddNode(&g, "Sqrt", {"x"}, {"z"}, "make_z");
  *g.add_output() = Info("out", kF32, {4});
  auto model = Import(g, "if_unsorted.onnx");
  ASSERT_OK(model);
  const Instruction* cond = Find(model->program, HloOpcode::kConditional);
  ASSERT_NE(cond, nullptr);
  EXPECT_EQ(model->program.at(cond->operands[1]).opcode, HloOpcode::kSqrt);
  EXPECT_EQ(cond->shape.ToString(false), "f32[4]");  // one output: no tuple
  EXPECT_EQ(model->program.outputs[0], cond->id);
}

// ---------------------------------------------------------------------------------------------------
// Loop

// v f32[3]; w f32[3] weight; Loop(M, cond, v) with body (i, c, v) -> (cond_out, v + w + float(i),
// scan: v + w + float(i)). `cond_out` is Identity(c) (constant trip count) or
// ReduceSum(v_next) < 100 (data-dependent).
onnx::GraphProto LoopModel(bool data_dependent, bool with_scan_output, bool grow = false,
                           bool with_m = true) {
  onnx::GraphProto g;
  *g.add_input() = Info("v0", kF32, {3});
  AddFloats(&g, "w", {3}, {1, 2, 3});
  AddInt64(&g, "M", {}, {5});
  AddBool(&g, "keep_going", true);
  onnx::GraphProto body;
  body.set_name("body");
  *body.add_input() = Info("i", kI64, {});
  *body.add_input() = Info("c_in", kBool, {});
  *body.add_input() = Untyped("v", kF32);
  AddNode(&body, "Add", {"v", "w"}, {"vw"}, "add_w");
  onnx::NodeProto* cast = AddNode(&body, "Cast", {"i"}, {"fi"}, "cast_i");
  SetInt(cast, "to", kF32);
  AddNode(&body, "Add", {"vw", "fi"}, {"v_next"}, "add_i");
  if (grow) {
    onnx::NodeProto* cat = AddNode(&body, "Concat", {"v_next", "v_next"}, {"v_grown"}, "grow");
    SetInt(cat, "axis", 0);
  }
  if (data_dependent) {
    SetInt(AddNode(&body, "ReduceSum", {"v_next"}, {"sum"}, "sum"), "keepdims", 0);
    AddFloats(&g, "limit", {}, {100});
    AddNode(&body, "Less", {"sum", "limit"}, {"c_out"}, "less");
  } else {
    AddNode(&body, "Identity", {"c_in"}, {"c_out"}, "keep");
  }
  *body.add_output() = Info("c_out", kBool, {});
  *body.add_output() = Untyped(grow ? "v_grown" : "v_next", kF32);
  if (with_scan_output) {
    AddNode(&body, "Identity", {"v_next"}, {"v_scan"}, "scan_out");
    *body.add_output() = Untyped("v_scan", kF32);
  }
  std::vector<std::string> outs = {"v_final"};
  if (with_scan_output) outs.push_back("v_all");
  onnx::NodeProto* loop = AddNode(&g, "Loop", {with_m ? "M" : "", "keep_going", "v0"}, outs, "loop");
  SetGraph(loop, "body", body);
  *g.add_output() = Info("v_final", kF32, {3});
  if (with_scan_output) *g.add_output() = Info("v_all", kF32, {-1, 3});
  return g;
}

TEST(OnnxControlFlowTest, LoopWithConstantTripCountRunsItsBodyMTimes) {
  auto model = Import(LoopModel(/*data_dependent=*/false, /*with_scan_output=*/true), "loop5.onnx");
  ASSERT_OK(model);
  const Program& main = model->program;
  const Instruction* loop = Find(main, HloOpcode::kWhile);
  ASSERT_NE(loop, nullptr);
  EXPECT_THAT(loop->attrs.called_computations, ElementsAre("loop.condition", "loop.body"));
  // State: (iteration, cond, v, captured weight w, stacked scan output).
  EXPECT_EQ(loop->shape.ToString(false), "(s64[], pred[], f32[3], f32[3], f32[5,3])");
  EXPECT_EQ(main.at(loop->operands[0]).opcode, HloOpcode::kTuple);
  ASSERT_THAT(main.outputs, SizeIs(2));
  EXPECT_EQ(main.at(main.outputs[0]).shape.ToString(false), "f32[3]");
  EXPECT_EQ(main.at(main.outputs[1]).shape.ToString(false), "f32[5,3]");
  EXPECT_EQ(main.at(main.outputs[1]).attrs.tuple_index, 4);

  const CallSite& body = model->call_sites.at("loop.body");
  EXPECT_EQ(body.role, "while body");
  EXPECT_EQ(body.caller, "");
  EXPECT_EQ(body.instruction, loop->name);
  EXPECT_EQ(body.executions, std::optional<int64_t>(5));
  EXPECT_EQ(body.how, "ONNX Loop trip count M = 5");
  const CallSite& condition = model->call_sites.at("loop.condition");
  EXPECT_EQ(condition.role, "while condition");
  EXPECT_EQ(condition.executions, std::optional<int64_t>(6));
  EXPECT_EQ(ExecutionsPerRun(*model, "loop.body"), std::optional<int64_t>(5));

  // The condition is `iteration < 5` only: the cond stays true.
  const Program& cond_p = model->called_programs.at("loop.condition");
  const Instruction& lt = Root(cond_p);
  EXPECT_EQ(lt.opcode, HloOpcode::kCompare);
  EXPECT_EQ(lt.attrs.comparison_direction, ComparisonDirection::kLt);
  EXPECT_EQ(cond_p.at(lt.operands[1]).attrs.constant_value, std::optional<double>(5));
  // The body: adds, the counter increment, the scan output stacked with dynamic-update-slice.
  const Program& body_p = model->called_programs.at("loop.body");
  EXPECT_EQ(Root(body_p).opcode, HloOpcode::kTuple);
  EXPECT_EQ(Root(body_p).shape, loop->shape);
  EXPECT_EQ(body_p.at(0).shape, loop->shape);
  EXPECT_EQ(Count(body_p, HloOpcode::kDynamicUpdateSlice), 1);
  EXPECT_EQ(Count(body_p, HloOpcode::kConvert), 1);  // Cast(i)
  std::map<std::string, int> kernels = FuseAll(*model);
  EXPECT_GE(kernels["loop.body"], 2);
  EXPECT_EQ(kernels["loop.condition"], 1);
}

TEST(OnnxControlFlowTest, LoopWithDataDependentConditionHasUnknownTripCount) {
  auto model = Import(LoopModel(/*data_dependent=*/true, /*with_scan_output=*/false), "loop_dd.onnx");
  ASSERT_OK(model);
  const CallSite& body = model->call_sites.at("loop.body");
  EXPECT_EQ(body.executions, std::nullopt);
  EXPECT_EQ(body.how, "ONNX Loop with a data-dependent condition (at most M = 5 iterations)");
  EXPECT_EQ(model->call_sites.at("loop.condition").executions, std::nullopt);
  std::string why;
  EXPECT_EQ(ExecutionsPerRun(*model, "loop.body", &why), std::nullopt);
  EXPECT_THAT(why, AllOf(HasSubstr("while body of 'loop.while'"), HasSubstr("data-dependent")));
  // The condition tests both the counter and the carried cond.
  const Program& cond_p = model->called_programs.at("loop.condition");
  EXPECT_EQ(Root(cond_p).opcode, HloOpcode::kAnd);
  // Float initializers are weights (parameters of the entry): w and the limit travel in the state.
  const Instruction* loop = Find(model->program, HloOpcode::kWhile);
  EXPECT_EQ(loop->shape.ToString(false), "(s64[], pred[], f32[3], f32[3], f32[])");
  EXPECT_EQ(model->program.at(model->program.at(loop->operands[0]).operands[4]).name,
            "weight:limit");
  FuseAll(*model);
}

TEST(OnnxControlFlowTest, LoopWithoutTripCountAndDataDependentCondition) {
  auto model = Import(LoopModel(true, false, false, /*with_m=*/false), "loop_nom.onnx");
  ASSERT_OK(model);
  EXPECT_EQ(model->call_sites.at("loop.body").how,
            "ONNX Loop with a data-dependent condition and no trip count M");
  // No counter test: the condition is the carried cond itself.
  const Program& cond_p = model->called_programs.at("loop.condition");
  EXPECT_EQ(Root(cond_p).opcode, HloOpcode::kGetTupleElement);
}

TEST(OnnxControlFlowTest, LoopScanOutputNeedsAKnownTripCount) {
  auto model = Import(LoopModel(/*data_dependent=*/true, /*with_scan_output=*/true), "loop_scan.onnx");
  EXPECT_THAT(model, StatusIs(absl::StatusCode::kUnimplemented,
                              AllOf(HasSubstr("loop_scan.onnx"), HasSubstr("node 'loop' (Loop)"),
                                    HasSubstr("scan output 'v_scan' needs a static trip count"),
                                    HasSubstr("data-dependent condition"))));
}

TEST(OnnxControlFlowTest, LoopCarriedValueMustKeepItsShape) {
  auto model = Import(LoopModel(false, false, /*grow=*/true), "loop_grow.onnx");
  EXPECT_THAT(model, StatusIs(absl::StatusCode::kUnimplemented,
                              AllOf(HasSubstr("loop_grow.onnx"), HasSubstr("node 'loop' (Loop)"),
                                    HasSubstr("loop-carried value 'v0' is f32[3]"),
                                    HasSubstr("'v_grown' gives f32[6]"))));
}

TEST(OnnxControlFlowTest, IfInsideLoopBodyRunsOncePerIteration) {
  // The body of the M = 5 loop holds an If on (i < 2) whose branches read the body's v and the main
  // graph's w (captured through the body).
  onnx::GraphProto g = LoopModel(false, false);
  onnx::GraphProto* body = g.mutable_node(0)->mutable_attribute(0)->mutable_g();
  AddInt64(&g, "two", {}, {2});
  AddNode(body, "Less", {"i", "two"}, {"early"}, "early");
  onnx::GraphProto then_g, else_g;
  AddNode(&then_g, "Mul", {"v", "w"}, {"t"}, "then_mul");
  *then_g.add_output() = Untyped("t", kF32);
  AddNode(&else_g, "Sub", {"v", "w"}, {"e"}, "else_sub");
  *else_g.add_output() = Untyped("e", kF32);
  onnx::NodeProto* node = AddNode(body, "If", {"early"}, {"branch_out"}, "inner_if");
  SetGraph(node, "then_branch", then_g);
  SetGraph(node, "else_branch", else_g);
  AddNode(body, "Add", {"v_next", "branch_out"}, {"v_mixed"}, "mix");
  body->mutable_output(1)->set_name("v_mixed");
  auto model = Import(g, "loop_if.onnx");
  ASSERT_OK(model);
  ASSERT_EQ(model->call_sites.count("inner_if.then_branch"), 1u);
  const CallSite& branch = model->call_sites.at("inner_if.then_branch");
  EXPECT_EQ(branch.caller, "loop.body");
  EXPECT_EQ(branch.role, "conditional branch");
  EXPECT_EQ(ExecutionsPerRun(*model, "inner_if.then_branch"), std::optional<int64_t>(5));
  // Each branch captures (v, w): one tuple parameter.
  EXPECT_EQ(model->called_programs.at("inner_if.else_branch").at(0).shape.ToString(false),
            "(f32[3], f32[3])");
  // The body's conditional reads them from the body's state.
  const Instruction* cond = Find(model->called_programs.at("loop.body"), HloOpcode::kConditional);
  ASSERT_NE(cond, nullptr);
  std::map<std::string, int> kernels = FuseAll(*model);
  EXPECT_EQ(kernels["inner_if.then_branch"], 1);
  EXPECT_EQ(kernels["inner_if.else_branch"], 1);
}

// ---------------------------------------------------------------------------------------------------
// Scan

// s0 f32[3], xs f32[7,3]: Scan(s0, xs) with body (s, x) -> (s + x, x * x, x * x) and
// scan_output_axes (0, 1): outputs s_final f32[3], ys f32[7,3], zs f32[3,7].
onnx::GraphProto ScanModel(int64_t xs_len = 7, bool reverse = false) {
  onnx::GraphProto g;
  *g.add_input() = Info("s0", kF32, {3});
  *g.add_input() = Info("xs", kF32, {xs_len, 3});
  onnx::GraphProto body;
  *body.add_input() = Untyped("s", kF32);
  *body.add_input() = Untyped("x", kF32);
  AddNode(&body, "Add", {"s", "x"}, {"s_next"}, "acc");
  AddNode(&body, "Mul", {"x", "x"}, {"sq"}, "square");
  AddNode(&body, "Identity", {"sq"}, {"sq2"}, "copy");
  *body.add_output() = Untyped("s_next", kF32);
  *body.add_output() = Untyped("sq", kF32);
  *body.add_output() = Untyped("sq2", kF32);
  onnx::NodeProto* scan = AddNode(&g, "Scan", {"s0", "xs"}, {"s_final", "ys", "zs"}, "scan");
  SetGraph(scan, "body", body);
  SetInt(scan, "num_scan_inputs", 1);
  SetInts(scan, "scan_output_axes", {0, 1});
  if (reverse) SetInts(scan, "scan_input_directions", {1});
  *g.add_output() = Info("s_final", kF32, {3});
  *g.add_output() = Info("ys", kF32, {xs_len, 3});
  *g.add_output() = Info("zs", kF32, {3, xs_len});
  return g;
}

TEST(OnnxControlFlowTest, ScanRunsItsBodyOncePerSlice) {
  auto model = Import(ScanModel(), "scan.onnx");
  ASSERT_OK(model);
  const Program& main = model->program;
  const Instruction* loop = Find(main, HloOpcode::kWhile);
  ASSERT_NE(loop, nullptr);
  // State: (iteration, s, xs, ys accumulator, zs accumulator).
  EXPECT_EQ(loop->shape.ToString(false), "(s64[], f32[3], f32[7,3], f32[7,3], f32[3,7])");
  ASSERT_THAT(main.outputs, SizeIs(3));
  EXPECT_EQ(main.at(main.outputs[0]).shape.ToString(false), "f32[3]");
  EXPECT_EQ(main.at(main.outputs[1]).shape.ToString(false), "f32[7,3]");
  EXPECT_EQ(main.at(main.outputs[2]).shape.ToString(false), "f32[3,7]");
  const CallSite& body = model->call_sites.at("scan.body");
  EXPECT_EQ(body.role, "while body");
  EXPECT_EQ(body.executions, std::optional<int64_t>(7));
  EXPECT_EQ(body.how, "ONNX Scan over 7 slices (axis 0 of 'xs')");
  EXPECT_EQ(model->call_sites.at("scan.condition").executions, std::optional<int64_t>(8));
  const Program& body_p = model->called_programs.at("scan.body");
  const Instruction* slice = Find(body_p, HloOpcode::kDynamicSlice);
  ASSERT_NE(slice, nullptr);
  EXPECT_EQ(slice->shape.ToString(false), "f32[1,3]");
  EXPECT_EQ(Count(body_p, HloOpcode::kDynamicUpdateSlice), 2);
  EXPECT_EQ(Count(body_p, HloOpcode::kSubtract), 0);  // forward: index = iteration
  std::map<std::string, int> kernels = FuseAll(*model);
  EXPECT_GE(kernels["scan.body"], 2);
}

TEST(OnnxControlFlowTest, ReverseScanIndexesFromTheEnd) {
  auto model = Import(ScanModel(7, /*reverse=*/true), "scan_reverse.onnx");
  ASSERT_OK(model);
  const Program& body_p = model->called_programs.at("scan.body");
  const Instruction* sub = Find(body_p, HloOpcode::kSubtract);
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(body_p.at(sub->operands[0]).attrs.constant_value, std::optional<double>(6));
  EXPECT_EQ(body_p.at(Find(body_p, HloOpcode::kDynamicSlice)->operands[1]).name, sub->name);
}

TEST(OnnxControlFlowTest, ScanBeforeOpset9IsUnimplemented) {
  // Scan-8: (sequence_lens, states with a batch dim, scan inputs [batch, seq, ...]).
  onnx::GraphProto g;
  *g.add_input() = Info("s0", kF32, {1, 3});
  *g.add_input() = Info("xs", kF32, {1, 7, 3});
  onnx::GraphProto body;
  *body.add_input() = Info("s", kF32, {3});
  *body.add_input() = Info("x", kF32, {3});
  AddNode(&body, "Add", {"s", "x"}, {"s_next"}, "acc");
  *body.add_output() = Info("s_next", kF32, {3});
  onnx::NodeProto* scan = AddNode(&g, "Scan", {"", "s0", "xs"}, {"s_final"}, "scan8");
  SetGraph(scan, "body", body);
  SetInt(scan, "num_scan_inputs", 1);
  *g.add_output() = Info("s_final", kF32, {1, 3});
  auto model = Import(g, "scan8.onnx", /*opset=*/8);
  EXPECT_THAT(model, StatusIs(absl::StatusCode::kUnimplemented,
                              AllOf(HasSubstr("scan8.onnx"), HasSubstr("node 'scan8' (Scan)"),
                                    HasSubstr("Scan before opset 9"))));
}

// IfModel with then_branch's exp replaced by Hardmax (no lowering) and, optionally, wrapped in a
// nested If (then: Hardmax(x), else: x) so that then_branch calls a computation of its own.
onnx::GraphProto IfModelWithHardmax(bool nested, const std::vector<int64_t>& else_dims = {4}) {
  onnx::GraphProto g = IfModel(else_dims);
  onnx::GraphProto* then_g = g.mutable_node(0)->mutable_attribute(0)->mutable_g();
  onnx::NodeProto* first = then_g->mutable_node(0);
  if (!nested) {
    first->set_op_type("Hardmax");
    first->set_name("then_hardmax");
    return g;
  }
  onnx::GraphProto inner_then, inner_else;
  AddNode(&inner_then, "Hardmax", {"x"}, {"h"}, "inner_hardmax");
  *inner_then.add_output() = Info("h", kF32, {4});
  AddNode(&inner_else, "Identity", {"x"}, {"h2"}, "inner_identity");
  *inner_else.add_output() = Info("h2", kF32, {4});
  onnx::NodeProto inner;
  inner.set_op_type("If");
  inner.set_name("inner");
  inner.add_input("c");
  inner.add_output("t0");
  SetGraph(&inner, "then_branch", inner_then);
  SetGraph(&inner, "else_branch", inner_else);
  *first = inner;
  // The If's second output keeps a declared static shape, so --allow-unsupported can keep the
  // whole If as a custom-call when its branches disagree.
  *g.add_value_info() = Info("b", kF32, {4});
  *g.add_value_info() = Info("a", kF32, {4});
  return g;
}

TEST(OnnxControlFlowTest, UnsupportedOpInsideABranch) {
  const onnx::GraphProto g = IfModelWithHardmax(/*nested=*/false);
  // Listed with its path through the If.
  EXPECT_THAT(Import(g, "if_hardmax.onnx"),
              StatusIs(absl::StatusCode::kUnimplemented,
                       AllOf(HasSubstr("if_hardmax.onnx"), HasSubstr("Hardmax x1"),
                             HasSubstr("/model/choose/then_branch/then_hardmax"))));
  ImportOptions options;
  options.allow_unsupported = true;
  auto model = ImportOnnxBytes(Serialize(g), "if_hardmax.onnx", options);
  ASSERT_OK(model);
  ASSERT_THAT(model->unsupported_ops, SizeIs(1));
  EXPECT_EQ(model->unsupported_ops[0].op_type, "Hardmax");
  EXPECT_THAT(model->unsupported_ops[0].node_names, ElementsAre("then_hardmax"));
  const Instruction* call =
      Find(model->called_programs.at("model.choose.then_branch"), HloOpcode::kCustomCall);
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->attrs.custom_call_target, "Hardmax");
}

TEST(OnnxControlFlowTest, IfKeptAsCustomCallDropsItsNestedComputations) {
  ImportOptions options;
  options.allow_unsupported = true;
  // Consistent branches: the nested If's branches are called from then_branch.
  auto good = ImportOnnxBytes(Serialize(IfModelWithHardmax(true)), "nested.onnx", options);
  ASSERT_OK(good);
  EXPECT_THAT(good->called_programs, SizeIs(4));
  EXPECT_EQ(good->call_sites.at("inner.then_branch").caller, "model.choose.then_branch");
  EXPECT_EQ(Root(good->called_programs.at("inner.then_branch")).opcode, HloOpcode::kCustomCall);
  // Branch results of different shapes: the If becomes a custom-call, and the computations (and the
  // unsupported Hardmax) of its branches go with it.
  auto bad = ImportOnnxBytes(Serialize(IfModelWithHardmax(true, {2})), "nested_bad.onnx", options);
  ASSERT_OK(bad);
  EXPECT_THAT(bad->called_programs, SizeIs(0));
  EXPECT_THAT(bad->call_sites, SizeIs(0));
  ASSERT_THAT(bad->unsupported_ops, SizeIs(1));
  EXPECT_EQ(bad->unsupported_ops[0].op_type, "If");
  const Instruction* call = Find(bad->program, HloOpcode::kCustomCall);
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->attrs.custom_call_target, "If");
}

// ONNX's own backend test models (Debian's libonnx-testdata), when installed.
constexpr char kNodeTests[] = "/usr/share/libonnx-testdata/data/node/";

absl::StatusOr<ImportedModel> ImportNodeTest(const std::string& name) {
  return ImportOnnxFile(absl::StrCat(kNodeTests, name, "/model.onnx"), {});
}

TEST(OnnxControlFlowTest, BackendIfAndScanModelsImport) {
  if (!std::filesystem::is_directory(absl::StrCat(kNodeTests, "test_if"))) {
    GTEST_SKIP() << kNodeTests << " is absent (libonnx-testdata)";
  }
  // test_if: If(cond) then Constant [5] else Constant [5]; the branches capture nothing.
  auto if_model = ImportNodeTest("test_if");
  ASSERT_OK(if_model);
  const Instruction* cond = Find(if_model->program, HloOpcode::kConditional);
  ASSERT_NE(cond, nullptr);
  EXPECT_EQ(cond->shape.ToString(false), "f32[5]");
  EXPECT_EQ(if_model->program.at(cond->operands[1]).shape.ToString(false), "()");
  ASSERT_THAT(if_model->called_programs, SizeIs(2));
  for (const auto& [name, branch] : if_model->called_programs) {
    EXPECT_EQ(branch.at(0).shape.ToString(false), "()") << name;
    EXPECT_EQ(Root(branch).opcode, HloOpcode::kConstant) << name;
    EXPECT_EQ(if_model->call_sites.at(name).role, "conditional branch");
  }
  // test_scan9_sum: Scan over x [3, 2] summing rows into the state.
  auto scan = ImportNodeTest("test_scan9_sum");
  ASSERT_OK(scan);
  ASSERT_THAT(scan->call_sites, SizeIs(2));
  for (const auto& [name, site] : scan->call_sites) {
    EXPECT_EQ(site.executions, std::optional<int64_t>(site.role == "while body" ? 3 : 4)) << name;
    EXPECT_EQ(site.how, "ONNX Scan over 3 slices (axis 0 of 'x')");
  }
  FuseAll(*scan);
}

TEST(OnnxControlFlowTest, BackendRangeLoopNeedsItsRunTimeTripCount) {
  const std::string name = "test_range_float_type_positive_delta_expanded";
  if (!std::filesystem::is_directory(absl::StrCat(kNodeTests, name))) {
    GTEST_SKIP() << kNodeTests << " is absent (libonnx-testdata)";
  }
  // Range expanded into a Loop whose M and initial condition come from the inputs start, limit and
  // delta: its stacked output has no static length.
  EXPECT_THAT(ImportNodeTest(name),
              StatusIs(absl::StatusCode::kUnimplemented,
                       AllOf(HasSubstr(name), HasSubstr("(Loop)"),
                             HasSubstr("needs a static trip count"),
                             HasSubstr("computed at run time, as is its initial condition"))));
}

}  // namespace
}  // namespace perfgraph::graph

#include "graph/hlo_parser.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace perfgraph::graph {
namespace {

using ::perfgraph::testing::IsOk;
using ::perfgraph::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

const char kTestData[] = "tests/testdata/hlo/";

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Id of the instruction named `name`, or -1.
int Find(const std::vector<Instruction>& instructions, const std::string& name) {
  for (const Instruction& inst : instructions) {
    if (inst.name == name) return inst.id;
  }
  return -1;
}

const Instruction& Get(const Program& program, const std::string& name) {
  const int id = Find(program.instructions, name);
  EXPECT_GE(id, 0) << "no instruction " << name;
  return program.instructions.at(std::max(id, 0));
}

const Kernel* FindKernel(const ImportedModel& model, const std::string& name) {
  for (const Kernel& k : model.prefused_kernels) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::vector<std::string> KernelNames(const ImportedModel& model) {
  std::vector<std::string> names;
  for (const Kernel& k : model.prefused_kernels) names.push_back(k.name);
  return names;
}

ImportedModel ParseOne(absl::string_view text, const ImportOptions& options = {}) {
  auto models = ParseHloText(text, "inline.hlo", options);
  EXPECT_THAT(models, IsOk());
  if (!models.ok() || models->empty()) return {};
  EXPECT_THAT(*models, SizeIs(1));
  return std::move(models->front());
}

TEST(HloParserTest, UnoptimizedConvnetKeepsEveryInstructionAndAttribute) {
  auto parsed = ParseHloFile(absl::StrCat(kTestData, "unoptimized_convnet.hlo"), {});
  ASSERT_OK(parsed);
  const Program& p = parsed->program;
  EXPECT_EQ(p.name, "convnet");
  EXPECT_OK(p.Validate());
  // 30 entry instructions; the call is replaced by the 2 non-parameter instructions of its callee.
  EXPECT_EQ(p.size(), 31);
  EXPECT_TRUE(parsed->prefused_kernels.empty());  // no fusion: an unoptimised module
  EXPECT_TRUE(parsed->unsupported_ops.empty());

  const Instruction& input = Get(p, "input");
  EXPECT_EQ(input.opcode, HloOpcode::kParameter);
  EXPECT_EQ(input.attrs.parameter_number, 0);
  EXPECT_EQ(input.shape, Shape::Make(PrimitiveType::kF32, {1, 8, 8, 3}));

  const Instruction& conv = Get(p, "conv");
  EXPECT_EQ(conv.opcode, HloOpcode::kConvolution);
  EXPECT_EQ(conv.shape, Shape::Make(PrimitiveType::kF32, {1, 8, 8, 16}));
  EXPECT_THAT(conv.operands,
              ElementsAre(Find(p.instructions, "input"), Find(p.instructions, "filter")));
  ASSERT_THAT(conv.attrs.window, SizeIs(2));
  for (const WindowDimension& w : conv.attrs.window) {
    EXPECT_EQ(w.size, 3);
    EXPECT_EQ(w.stride, 1);
    EXPECT_EQ(w.padding_low, 1);
    EXPECT_EQ(w.padding_high, 1);
  }
  ASSERT_TRUE(conv.attrs.convolution_dimension_numbers.has_value());
  const ConvolutionDimensionNumbers& d = *conv.attrs.convolution_dimension_numbers;
  EXPECT_EQ(d.input_batch_dimension, 0);
  EXPECT_EQ(d.input_feature_dimension, 3);
  EXPECT_THAT(d.input_spatial_dimensions, ElementsAre(1, 2));
  EXPECT_EQ(d.kernel_input_feature_dimension, 2);
  EXPECT_EQ(d.kernel_output_feature_dimension, 3);
  EXPECT_THAT(d.kernel_spatial_dimensions, ElementsAre(0, 1));
  EXPECT_EQ(d.output_batch_dimension, 0);
  EXPECT_EQ(d.output_feature_dimension, 3);
  EXPECT_THAT(d.output_spatial_dimensions, ElementsAre(1, 2));
  EXPECT_EQ(conv.attrs.feature_group_count, 1);

  EXPECT_EQ(Get(p, "zero").attrs.constant_value, 0.0);
  EXPECT_EQ(Get(p, "neg_inf").attrs.constant_value, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(Get(p, "limit").attrs.constant_value, 2.0);  // splat array {2, 2, 2, 2}
  EXPECT_THAT(Get(p, "zeros").attrs.dimensions, ::testing::IsEmpty());

  const Instruction& pool = Get(p, "pool");
  EXPECT_EQ(pool.opcode, HloOpcode::kReduceWindow);
  EXPECT_EQ(pool.attrs.reduce_computation, HloOpcode::kMaximum);
  EXPECT_THAT(pool.attrs.called_computations, ElementsAre("max_f32"));
  ASSERT_THAT(pool.attrs.window, SizeIs(4));
  EXPECT_EQ(pool.attrs.window[1].size, 2);
  EXPECT_EQ(pool.attrs.window[1].stride, 2);
  EXPECT_EQ(pool.attrs.window[0].size, 1);

  const Instruction& head = Get(p, "head");
  ASSERT_THAT(head.attrs.slice, SizeIs(2));
  EXPECT_EQ(head.attrs.slice[1].start, 0);
  EXPECT_EQ(head.attrs.slice[1].limit, 128);
  EXPECT_EQ(head.attrs.slice[1].stride, 2);
  EXPECT_EQ(head.attrs.slice[0].stride, 1);

  const Instruction& logits = Get(p, "logits");
  ASSERT_TRUE(logits.attrs.dot_dimension_numbers.has_value());
  EXPECT_THAT(logits.attrs.dot_dimension_numbers->lhs_contracting_dimensions, ElementsAre(1));
  EXPECT_THAT(logits.attrs.dot_dimension_numbers->rhs_contracting_dimensions, ElementsAre(0));
  EXPECT_TRUE(logits.attrs.dot_dimension_numbers->lhs_batch_dimensions.empty());

  // call(%logits, %two), to_apply=%scale_and_shift is inlined.
  EXPECT_EQ(Find(p.instructions, "scaled"), -1);
  const Instruction& scaled_b = Get(p, "scaled/sb");
  EXPECT_EQ(scaled_b.opcode, HloOpcode::kBroadcast);
  EXPECT_THAT(scaled_b.operands, ElementsAre(Find(p.instructions, "two")));
  const Instruction& scaled = Get(p, "scaled/y");
  EXPECT_EQ(scaled.opcode, HloOpcode::kMultiply);
  EXPECT_THAT(scaled.operands, ElementsAre(Find(p.instructions, "logits"), scaled_b.id));
  EXPECT_THAT(Get(p, "row_max").operands, ElementsAre(scaled.id, Find(p.instructions, "neg_inf")));

  const Instruction& denominator = Get(p, "denominator");
  EXPECT_EQ(denominator.opcode, HloOpcode::kReduce);
  EXPECT_THAT(denominator.attrs.dimensions, ElementsAre(1));
  EXPECT_EQ(denominator.attrs.reduce_computation, HloOpcode::kAdd);

  EXPECT_THAT(Get(p, "iota").attrs.dimensions, ElementsAre(0));
  EXPECT_EQ(Get(p, "lt").attrs.comparison_direction, ComparisonDirection::kLt);
  EXPECT_EQ(Get(p, "lt").shape.element_type, PrimitiveType::kPred);

  // %padded is written before its operands: the program is sorted topologically.
  const Instruction& padded = Get(p, "padded");
  EXPECT_GT(padded.id, Find(p.instructions, "iota_small"));
  EXPECT_GT(padded.id, Find(p.instructions, "pad_value"));
  ASSERT_THAT(padded.attrs.padding, SizeIs(1));
  EXPECT_EQ(padded.attrs.padding[0].edge_padding_low, 1);
  EXPECT_EQ(padded.attrs.padding[0].edge_padding_high, 1);
  EXPECT_EQ(padded.attrs.padding[0].interior_padding, 0);

  const Instruction& transposed = Get(p, "weights_t");
  EXPECT_THAT(transposed.attrs.dimensions, ElementsAre(1, 0));
  EXPECT_THAT(transposed.shape.minor_to_major, ElementsAre(0, 1));

  const Instruction& out = Get(p, "out");
  EXPECT_EQ(out.opcode, HloOpcode::kTuple);
  EXPECT_THAT(p.outputs, ElementsAre(out.id));
  EXPECT_EQ(out.shape.ToString(), "(f32[1,10]{1,0}, s32[4]{0})");
}

TEST(HloParserTest, OptimizedModuleFusionsAndBareOpsBecomeKernels) {
  auto parsed = ParseHloFile(absl::StrCat(kTestData, "optimized_fusions.hlo"), {});
  ASSERT_OK(parsed);
  const Program& p = parsed->program;
  EXPECT_EQ(p.size(), 9);
  EXPECT_OK(p.Validate());

  const Instruction& in = Get(p, "in");
  EXPECT_THAT(in.shape.minor_to_major, ElementsAre(1, 0));  // tiles T(8,128) are not kept
  const Instruction& copy = Get(p, "copy");
  EXPECT_EQ(copy.shape.memory_space, 1);  // S(1)
  EXPECT_EQ(Get(p, "dot.fusion").opcode, HloOpcode::kFusion);
  EXPECT_EQ(Get(p, "dot.fusion").attrs.fusion_kind, "kOutput");
  EXPECT_THAT(Get(p, "dot.fusion").attrs.called_computations, ElementsAre("fused_dot"));
  EXPECT_EQ(Get(p, "cc").attrs.custom_call_target, "__cublas$gemm");

  // Program order; parameters, constants and the bitcast are not kernels.
  EXPECT_THAT(KernelNames(*parsed),
              ElementsAre("scale.fusion", "dot.fusion", "copy", "gemm", "cc", "reduce.fusion"));

  const Kernel* scale = FindKernel(*parsed, "scale.fusion");
  ASSERT_NE(scale, nullptr);
  EXPECT_EQ(scale->kind, FusionKind::kLoop);
  EXPECT_EQ(scale->num_parameters(), 1);
  EXPECT_EQ(scale->root_instruction().opcode, HloOpcode::kMultiply);
  EXPECT_EQ(scale->size(), 4);
  EXPECT_THAT(scale->origin, ElementsAre(Find(p.instructions, "in"), -1, -1, -1));
  EXPECT_EQ(scale->instructions[1].attrs.constant_value, 0.5);

  const Kernel* dot = FindKernel(*parsed, "dot.fusion");
  ASSERT_NE(dot, nullptr);
  EXPECT_EQ(dot->kind, FusionKind::kOutput);
  ASSERT_EQ(dot->num_parameters(), 2);
  // Parameters in parameter_number order although the text lists parameter(1) first.
  EXPECT_EQ(dot->instructions[0].name, "param_0");
  EXPECT_EQ(dot->instructions[0].attrs.parameter_number, 0);
  EXPECT_EQ(dot->instructions[0].shape, Shape::Make(PrimitiveType::kF32, {128, 256}));
  EXPECT_EQ(dot->instructions[1].name, "param_1");
  EXPECT_THAT(dot->origin,
              ElementsAre(Find(p.instructions, "scale.fusion"), Find(p.instructions, "w"), -1, -1));
  // The nested fusion %inner is flattened into the kernel.
  ASSERT_EQ(dot->size(), 4);
  EXPECT_EQ(dot->instructions[2].opcode, HloOpcode::kDot);
  EXPECT_THAT(dot->instructions[2].operands, ElementsAre(0, 1));
  EXPECT_EQ(dot->root_instruction().opcode, HloOpcode::kTanh);
  EXPECT_EQ(dot->root_instruction().name, "inner/t");
  EXPECT_OK(dot->Validate());

  const Kernel* copy_kernel = FindKernel(*parsed, "copy");
  ASSERT_NE(copy_kernel, nullptr);
  EXPECT_EQ(copy_kernel->kind, FusionKind::kLoop);
  EXPECT_EQ(copy_kernel->size(), 2);
  EXPECT_THAT(copy_kernel->origin, ElementsAre(Find(p.instructions, "dot.fusion"), copy.id));

  const Kernel* gemm = FindKernel(*parsed, "gemm");
  ASSERT_NE(gemm, nullptr);
  EXPECT_EQ(gemm->kind, FusionKind::kCustom);
  EXPECT_EQ(gemm->num_parameters(), 2);  // the fusion passes %copy twice: two parameters

  const Kernel* cc = FindKernel(*parsed, "cc");
  ASSERT_NE(cc, nullptr);
  EXPECT_EQ(cc->kind, FusionKind::kCustom);
  EXPECT_EQ(cc->num_parameters(), 1);  // one parameter per distinct operand
  EXPECT_THAT(cc->root_instruction().operands, ElementsAre(0, 0));

  const Kernel* reduce = FindKernel(*parsed, "reduce.fusion");
  ASSERT_NE(reduce, nullptr);
  EXPECT_EQ(reduce->kind, FusionKind::kInput);
  EXPECT_EQ(reduce->root_instruction().opcode, HloOpcode::kReduce);
  EXPECT_EQ(reduce->root_instruction().attrs.reduce_computation, HloOpcode::kAdd);
  EXPECT_EQ(reduce->instructions[0].shape.memory_space, 1);
  EXPECT_THAT(p.outputs, ElementsAre(Find(p.instructions, "reduce.fusion")));
}

TEST(HloParserTest, MultiModuleFileYieldsOneModelPerModule) {
  const std::string path = absl::StrCat(kTestData, "multi_module.hlo");
  auto all = ParseHloFileAll(path, {});
  ASSERT_OK(all);
  ASSERT_THAT(*all, SizeIs(3));
  EXPECT_EQ((*all)[0].program.name, "first");
  EXPECT_EQ((*all)[0].program.size(), 2);
  EXPECT_EQ((*all)[1].program.name, "second_entry");  // no header: named after its ENTRY
  const Instruction& r = Get((*all)[1].program, "r");
  EXPECT_EQ(r.shape, Shape::Make(PrimitiveType::kBF16, {2}));
  EXPECT_EQ(r.attrs.reduce_computation, HloOpcode::kAdd);
  EXPECT_EQ((*all)[2].program.name, "third");
  EXPECT_EQ(Get((*all)[2].program, "b").shape.element_type, PrimitiveType::kF8E4M3FN);
  // ParseHloFile returns the first module only.
  auto first = ParseHloFile(path, {});
  ASSERT_OK(first);
  EXPECT_EQ(first->program.name, "first");
}

TEST(HloParserTest, WhileStaysInProgramAndBodyFusionsBecomePrefixedKernels) {
  const std::string text = ReadText(absl::StrCat(kTestData, "while_loop.hlo"));
  auto modules = ParseHloModules(text, "while_loop.hlo", {});
  ASSERT_OK(modules);
  ASSERT_THAT(*modules, SizeIs(1));
  const ParsedHloModule& m = modules->front();
  const Instruction& loop = Get(m.model.program, "loop");
  EXPECT_EQ(loop.opcode, HloOpcode::kWhile);
  EXPECT_THAT(loop.attrs.called_computations, ElementsAre("cond", "body"));
  EXPECT_EQ(loop.shape.tuple_shapes.size(), 3u);
  EXPECT_EQ(Get(m.model.program, "result").attrs.tuple_index, 1);
  EXPECT_THAT(KernelNames(m.model), ElementsAre("cond/lt", "body/i.next", "body/h.next"));
  const Kernel* step = FindKernel(m.model, "body/h.next");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->kind, FusionKind::kOutput);
  EXPECT_EQ(step->root_instruction().opcode, HloOpcode::kTanh);
  EXPECT_THAT(step->origin, ElementsAre(-1, -1, -1, -1));
  ASSERT_EQ(m.model.called_programs.count("body"), 1u);
  ASSERT_EQ(m.model.called_programs.count("cond"), 1u);
  EXPECT_EQ(m.model.called_programs.at("body").size(), 7);
  EXPECT_EQ(m.model.called_programs.at("cond").at(m.model.called_programs.at("cond").outputs[0]).opcode,
            HloOpcode::kCompare);
}

TEST(HloParserTest, ShapesWithTuplesLayoutsAndDynamicDims) {
  ImportedModel m = ParseOne(R"(
ENTRY e {
  p = (f32[2]{0}, (s32[], bf16[3,4]{0,1:T(2,128)(2,1)E(16)S(2)})) parameter(0)
  q = f32[<=8,2] parameter(1)
  t = token[] after-all()
  c = c64[2] constant({(1, 2), (1, 2)})
  ROOT g = (s32[], bf16[3,4]{0,1}) get-tuple-element(p), index=1
})");
  const Shape& p = Get(m.program, "p").shape;
  ASSERT_TRUE(p.IsTuple());
  ASSERT_THAT(p.tuple_shapes, SizeIs(2));
  ASSERT_TRUE(p.tuple_shapes[1].IsTuple());
  const Shape& inner = p.tuple_shapes[1].tuple_shapes[1];
  EXPECT_EQ(inner.element_type, PrimitiveType::kBF16);
  EXPECT_THAT(inner.dims, ElementsAre(3, 4));
  EXPECT_THAT(inner.minor_to_major, ElementsAre(0, 1));
  EXPECT_EQ(inner.memory_space, 2);
  EXPECT_THAT(Get(m.program, "q").shape.dims, ElementsAre(8, 2));  // bounded dim: its bound
  EXPECT_EQ(Get(m.program, "t").shape.element_type, PrimitiveType::kToken);
  EXPECT_FALSE(Get(m.program, "c").attrs.constant_value.has_value());  // complex: no scalar value
  EXPECT_EQ(Get(m.program, "g").attrs.tuple_index, 1);
}

TEST(HloParserTest, ConvolutionWindowWithDilationAndGroups) {
  ImportedModel m = ParseOne(R"(HloModule m
ENTRY e {
  x = f32[1,16,9,9] parameter(0)
  k = f32[16,1,3,3] parameter(1)
  ROOT c = f32[1,16,4,7] convolution(x, k), window={size=3x3 stride=2x2 pad=1_2x0_-1 lhs_dilate=1x2 rhs_dilate=2x1 rhs_reversal=0x1}, dim_labels=bf01_oi01->bf01, feature_group_count=16, batch_group_count=1
})");
  const Instruction& c = Get(m.program, "c");
  ASSERT_THAT(c.attrs.window, SizeIs(2));
  WindowDimension w0{3, 2, 1, 2, 2, 1, false};
  WindowDimension w1{3, 2, 0, -1, 1, 2, true};
  EXPECT_EQ(c.attrs.window[0], w0);
  EXPECT_EQ(c.attrs.window[1], w1);
  EXPECT_EQ(c.attrs.feature_group_count, 16);
  ASSERT_TRUE(c.attrs.convolution_dimension_numbers.has_value());
  const ConvolutionDimensionNumbers nchw = ConvolutionDimensionNumbers::Nchw(2);
  const ConvolutionDimensionNumbers& d = *c.attrs.convolution_dimension_numbers;
  EXPECT_EQ(d.input_feature_dimension, nchw.input_feature_dimension);
  EXPECT_EQ(d.kernel_output_feature_dimension, nchw.kernel_output_feature_dimension);
  EXPECT_EQ(d.kernel_input_feature_dimension, nchw.kernel_input_feature_dimension);
  EXPECT_EQ(d.input_spatial_dimensions, nchw.input_spatial_dimensions);
  EXPECT_EQ(d.output_spatial_dimensions, nchw.output_spatial_dimensions);
}

TEST(HloParserTest, ConstantsSplatsAndLiterals) {
  ImportedModel m = ParseOne(R"(
ENTRY e {
  a = f32[2,2] constant({ { 1.5, 1.5 }, { 1.5, 1.5 } })
  b = f32[3] constant({1, 2, 3})
  c = pred[] constant(true)
  d = f32[] constant(nan)
  e = f32[1000] constant({...})
  f = s64[] constant(-1000000000000)
  g = f32[0] constant({})
  h = f32[2] constant({/*index=0*/3, 3})
  ROOT t = (f32[2,2], f32[3]) tuple(a, b)
})");
  EXPECT_EQ(Get(m.program, "a").attrs.constant_value, 1.5);
  EXPECT_FALSE(Get(m.program, "b").attrs.constant_value.has_value());
  EXPECT_EQ(Get(m.program, "c").attrs.constant_value, 1.0);
  ASSERT_TRUE(Get(m.program, "d").attrs.constant_value.has_value());
  EXPECT_TRUE(std::isnan(*Get(m.program, "d").attrs.constant_value));
  EXPECT_FALSE(Get(m.program, "e").attrs.constant_value.has_value());  // elided literal
  EXPECT_EQ(Get(m.program, "f").attrs.constant_value, -1e12);
  EXPECT_FALSE(Get(m.program, "g").attrs.constant_value.has_value());
  EXPECT_EQ(Get(m.program, "h").attrs.constant_value, 3.0);
}

TEST(HloParserTest, UnknownAttributesWithNestedBracesAndStringsAreSkipped) {
  ImportedModel m =
      ParseOne(R"(HloModule m, input_output_alias={ {0}: (0, {}, may-alias) }, replica_count=2
ENTRY e {
  p = f32[4] parameter(0), sharding={devices=[2,1]<=[2] last_tile_dim_replicate}
  ROOT n = f32[4] negate(p), backend_config={a = 1 : i64, s = "x}y\"{"}, replica_groups=[2,64]<=[2,64]T(1,0), frontend_attributes={k="v"}, metadata={op_name="n" source_line=3}, unknown_flag=true
})");
  EXPECT_EQ(m.program.size(), 2);
  EXPECT_EQ(Get(m.program, "n").opcode, HloOpcode::kNegate);
}

TEST(HloParserTest, ReduceAndSortRecordTheirComputationRoot) {
  ImportedModel m = ParseOne(R"(
less {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT lt = pred[] compare(a, b), direction=LT
}
ge {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT r = pred[] compare(a, b), direction=GE
}
sum {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT r = f32[] add(a, b)
}
ENTRY e {
  x = f32[8] parameter(0)
  s = f32[8] sort(x), dimensions={0}, is_stable=true, to_apply=less
  src = f32[4] parameter(1)
  z = f32[] constant(0)
  ROOT sas = f32[8] select-and-scatter(s, src, z), window={size=2 stride=2}, select=ge, scatter=sum
})");
  const Instruction& s = Get(m.program, "s");
  EXPECT_EQ(s.attrs.reduce_computation, HloOpcode::kCompare);
  EXPECT_THAT(s.attrs.dimensions, ElementsAre(0));
  const Instruction& sas = Get(m.program, "sas");
  EXPECT_EQ(sas.attrs.reduce_computation, HloOpcode::kAdd);
  EXPECT_THAT(sas.attrs.called_computations, ElementsAre("ge", "sum"));
}

TEST(HloParserTest, UnknownOpcodeNeedsAllowUnsupported) {
  const char kText[] = "ENTRY e {\n  p = f32[4] parameter(0)\n  ROOT r = f32[4] frobnicate(p)\n}\n";
  EXPECT_THAT(ParseHloText(kText, "x.hlo", {}),
              StatusIs(absl::StatusCode::kUnimplemented,
                       HasSubstr("x.hlo:3:19: unsupported HLO opcode 'frobnicate'")));
  ImportOptions options;
  options.allow_unsupported = true;
  ImportedModel m = ParseOne(kText, options);
  const Instruction& r = Get(m.program, "r");
  EXPECT_EQ(r.opcode, HloOpcode::kUnknown);
  EXPECT_EQ(r.attrs.custom_call_target, "frobnicate");
  ASSERT_THAT(m.unsupported_ops, SizeIs(1));
  EXPECT_EQ(m.unsupported_ops[0].op_type, "frobnicate");
  EXPECT_THAT(m.unsupported_ops[0].node_names, ElementsAre("r"));
}

TEST(HloParserTest, InputShapesResolveUnboundedDims) {
  const char kText[] = "ENTRY e {\n  x = f32[?,4] parameter(0)\n  ROOT n = f32[4] negate(x)\n}\n";
  EXPECT_THAT(ParseHloText(kText, "dyn.hlo", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--input-shape x=")));
  ImportOptions options;
  options.input_shapes["x"] = {2, 4};
  ImportedModel m = ParseOne(kText, options);
  EXPECT_THAT(Get(m.program, "x").shape.dims, ElementsAre(2, 4));
  options.input_shapes["nope"] = {1};
  EXPECT_THAT(ParseHloText(kText, "dyn.hlo", options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--input-shape 'nope': no ENTRY parameter")));
}

struct MalformedCase {
  std::string file;
  std::string expected_message;
  friend void PrintTo(const MalformedCase& c, std::ostream* os) { *os << c.file; }
};

class MalformedFileTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedFileTest, ReportsLineColumnAndWhatWasExpected) {
  const std::string path = absl::StrCat(kTestData, GetParam().file);
  EXPECT_THAT(ParseHloFile(path, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat(path, ":", GetParam().expected_message))));
}

INSTANTIATE_TEST_SUITE_P(
    HloParserTest, MalformedFileTest,
    ::testing::Values(
        MalformedCase{"malformed_unknown_type.hlo", "5:12: expected an element type"},
        MalformedCase{"malformed_missing_paren.hlo",
                      "6:1: expected ',' or ')' after an operand, got '}'"},
        MalformedCase{"malformed_unknown_operand.hlo", "5:26: unknown operand 'missing' of 'n'"},
        MalformedCase{"malformed_cycle.hlo", "5:3: cycle in computation 'main'"},
        MalformedCase{"malformed_truncated.hlo",
                      "6:1: expected ',' or '}' in a list of integers, got end of input"}));

struct InlineErrorCase {
  std::string text;
  std::string expected_message;
  friend void PrintTo(const InlineErrorCase& c, std::ostream* os) { *os << c.expected_message; }
};

class MalformedTextTest : public ::testing::TestWithParam<InlineErrorCase> {};

TEST_P(MalformedTextTest, IsInvalidArgumentWithPosition) {
  EXPECT_THAT(ParseHloText(GetParam().text, "t.hlo", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().expected_message)));
}

INSTANTIATE_TEST_SUITE_P(
    HloParserTest, MalformedTextTest,
    ::testing::Values(
        InlineErrorCase{"", "t.hlo: expected at least one HLO computation"},
        InlineErrorCase{"HloModule m\n", "t.hlo:2:1: expected a computation, got end of input"},
        InlineErrorCase{"ENTRY e {\n  p = f32[2] parameter(0)\n  p = f32[2] negate(p)\n}\n",
                        "t.hlo:3:3: duplicate instruction name 'p'"},
        InlineErrorCase{"ENTRY e {\n  p = f32[2] parameter(0)\n  ROOT a = f32[2] negate(p)\n"
                        "  ROOT b = f32[2] negate(p)\n}\n",
                        "t.hlo:4:8: second ROOT instruction 'b'"},
        InlineErrorCase{"ENTRY e {\n  p = f32[2] parameter(0)\n  ROOT f = f32[2] fusion(p), "
                        "kind=kLoop, calls=nowhere\n}\n",
                        "t.hlo:3:8: unknown computation 'nowhere'"},
        InlineErrorCase{"c {\n  a = f32[] parameter(0)\n  b = f32[] parameter(1)\n  ROOT r = f32[] "
                        "add(a, b)\n}\nENTRY e {\n  p = f32[] parameter(0)\n  ROOT f = f32[] "
                        "fusion(p), kind=kLoop, calls=c\n}\n",
                        "t.hlo:8:8: 'f' passes 1 operands to computation 'c', which has 2"},
        InlineErrorCase{
            "c {\n  a = f32[] parameter(0)\n  ROOT r = f32[] negate(a)\n}\nENTRY e {\n  p "
            "= f32[] parameter(0)\n  ROOT f = f32[] fusion(p), calls=c\n}\n",
            "t.hlo:7:8: expected kind=kLoop|kInput|kOutput|kCustom"},
        InlineErrorCase{"ENTRY e {\n  p = f32[2] parameter(0)\n  ROOT f = f32[2] fusion(p), "
                        "kind=kFancy, calls=e\n}\n",
                        "t.hlo:3:35: expected a fusion kind (kLoop, kInput, kOutput, kCustom), got "
                        "'kFancy'"},
        InlineErrorCase{
            "c {\n  a = f32[] parameter(0)\n  ROOT r = f32[] call(a), to_apply=c\n}\n"
            "ENTRY e {\n  p = f32[] parameter(0)\n  ROOT f = f32[] call(p), to_apply=c\n}\n",
            "computation 'c' calls itself"},
        InlineErrorCase{"ENTRY e {\n  p = f32[2]{0,1} parameter(0)\n}\n",
                        "t.hlo:2:7: expected a layout with 1 entries, got 2"},
        InlineErrorCase{"ENTRY e {\n  p = f32[2,2]{0,0} parameter(0)\n}\n",
                        "t.hlo:2:7: invalid shape"},
        InlineErrorCase{"ENTRY e {\n  p = f32[2] parameter(0)\n  ROOT c = pred[2] compare(p, p), "
                        "direction=SIDEWAYS\n}\n",
                        "t.hlo:3:45: expected a comparison direction"},
        InlineErrorCase{"ENTRY e {\n  ROOT c = f32[] constant(abc)\n}\n",
                        "t.hlo:2:27: expected a literal value"},
        InlineErrorCase{"ENTRY e {\n  p = f32[99999999999999999999] parameter(0)\n}\n",
                        "t.hlo:2:11: expected a dimension size, got an integer that overflows"},
        InlineErrorCase{
            "ENTRY e {\n  ROOT c = f32[1,2] convolution(c, c), dim_labels=bf01\n}\n",
            "t.hlo:2:51: expected dim_labels like b01f_01io->b01f, got 'bf01' (no '->')"},
        InlineErrorCase{"ENTRY e {\n  p = f32[2] parameter(1)\n  ROOT n = f32[2] negate(p)\n}\n",
                        "computation 'e' has no parameter(0)"},
        InlineErrorCase{"ENTRY e {\n  p = f32[2] parameter(0), backend_config=\"abc\n}\n",
                        "t.hlo:2:43: expected a closing '\"'"}));

// Random bytes, truncations and single-byte mutations of valid files must give a result or an
// error, never a crash or a hang. Fixed seed for reproducibility.
TEST(HloParserTest, GarbageNeverCrashes) {
  std::mt19937 rng(1234);
  const char kAlphabet[] = "()[]{}%=,:;_-><x.\"\\/* \n\tabcfsuEROTNYHlo0123456789";
  for (int i = 0; i < 3000; ++i) {
    std::string text(rng() % 200, ' ');
    for (char& c : text) {
      c = (i % 2 == 0) ? static_cast<char>(rng() % 256)
                       : kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
    }
    auto result = ParseHloText(text, "fuzz.hlo", {});
    if (!result.ok()) {
      EXPECT_FALSE(result.status().message().empty());
    }
  }
  for (const char* file :
       {"unoptimized_convnet.hlo", "optimized_fusions.hlo", "while_loop.hlo", "multi_module.hlo"}) {
    const std::string text = ReadText(absl::StrCat(kTestData, file));
    ASSERT_FALSE(text.empty()) << file;
    EXPECT_OK(ParseHloText(text, file, {}));
    for (size_t cut = 0; cut < text.size(); cut += 7) {
      (void)ParseHloText(text.substr(0, cut), file, {});
    }
    for (int i = 0; i < 300; ++i) {
      std::string mutated = text;
      mutated[rng() % mutated.size()] = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
      (void)ParseHloText(mutated, file, {});
    }
  }
}

TEST(HloParserTest, DeepNestingIsAnErrorNotAStackOverflow) {
  std::string text = "ENTRY e {\n  p = " + std::string(100000, '(') + " parameter(0)\n}\n";
  EXPECT_THAT(ParseHloText(text, "deep.hlo", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nested tuple shapes")));
}

// Every real module from openxla/xla under ../shared/hlo parses; each fusion becomes a kernel.
TEST(HloParserTest, ParsesEverySharedXlaModule) {
  const std::filesystem::path dir = std::filesystem::path(PERFGRAPH_SOURCE_DIR) / "../shared/hlo";
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) GTEST_SKIP() << dir << " is absent";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".hlo") continue;
    ++files;
    const std::string path = entry.path().string();
    const std::string text = ReadText(path);
    auto modules = ParseHloModules(text, path, {});
    ASSERT_OK(modules) << path;
    ASSERT_FALSE(modules->empty()) << path;
    for (const ParsedHloModule& m : *modules) {
      EXPECT_GT(m.model.program.size(), 0) << path;
      EXPECT_OK(m.model.program.Validate()) << path;
      auto check_fusions = [&](const Program& program, const std::string& prefix) {
        for (const Instruction& inst : program.instructions) {
          if (inst.opcode != HloOpcode::kFusion) continue;
          const Kernel* kernel = FindKernel(m.model, prefix + inst.name);
          ASSERT_NE(kernel, nullptr)
              << path << ": fusion " << prefix + inst.name << " has no kernel";
          EXPECT_EQ(FusionKindName(kernel->kind), inst.attrs.fusion_kind) << path;
          EXPECT_OK(kernel->Validate()) << path;
          EXPECT_GT(kernel->size(), kernel->num_parameters()) << path;
        }
      };
      check_fusions(m.model.program, "");
      for (const auto& [name, program] : m.model.called_programs) check_fusions(program, name + "/");
    }
  }
  EXPECT_GE(files, 20);
}

// tests/testdata/hlo/loops.hlo: a counted loop (init 0, i < 12, i += 3: 4 trips) around a
// conditional, the same loop with XLA's known_trip_count annotation, and one whose bound is a
// parameter (unknown trip count).
std::string LoopsText() { return ReadText(absl::StrCat(kTestData, "loops.hlo")); }

TEST(HloParserTest, WhileTripCountsAndCallSites) {
  const ImportedModel model = ParseOne(LoopsText());
  ASSERT_EQ(model.call_sites.count("body"), 1u);
  const CallSite& body = model.call_sites.at("body");
  EXPECT_EQ(body.caller, "");
  EXPECT_EQ(body.instruction, "w");  // the first call site; `annotated` reuses the computations
  EXPECT_EQ(body.role, "while body");
  EXPECT_EQ(body.executions, std::optional<int64_t>(4));  // 0, 3, 6, 9
  EXPECT_THAT(body.how, HasSubstr("0 to 12 step 3"));
  EXPECT_EQ(model.call_sites.at("cond").role, "while condition");
  EXPECT_EQ(model.call_sites.at("cond").executions, std::optional<int64_t>(5));
  // The branches run once per iteration of the body: 4 times per run.
  EXPECT_EQ(model.call_sites.at("then").role, "conditional branch");
  EXPECT_EQ(model.call_sites.at("then").caller, "body");
  EXPECT_EQ(ExecutionsPerRun(model, "then"), std::optional<int64_t>(4));
  EXPECT_EQ(ExecutionsPerRun(model, ""), std::optional<int64_t>(1));
  // A bound read from a parameter: unknown, and the reason names the while.
  std::string why;
  EXPECT_EQ(ExecutionsPerRun(model, "body2", &why), std::nullopt);
  EXPECT_THAT(why, HasSubstr("while body of 'w2'"));
  EXPECT_THAT(why, HasSubstr("not 'induction variable < constant'"));
}

TEST(HloParserTest, KnownTripCountBackendConfigWins) {
  std::string text = LoopsText();
  // Make `annotated` the first call site of cond/body.
  const std::string annotated =
      "  annotated = (s32[], f32[256]) while(init), condition=cond, body=body, "
      "backend_config={\"known_trip_count\":{\"n\":\"7\"}}\n";
  const size_t at = text.find("  annotated =");
  ASSERT_NE(at, std::string::npos);
  text.erase(at, text.find('\n', at) + 1 - at);
  text.insert(text.find("  w = "), annotated);
  const ImportedModel model = ParseOne(text);
  const CallSite& body = model.call_sites.at("body");
  EXPECT_EQ(body.instruction, "annotated");
  EXPECT_EQ(body.executions, std::optional<int64_t>(7));
  EXPECT_EQ(body.how, "known_trip_count backend config");
}

TEST(HloParserTest, CublasGemmCustomCallsBecomeTheDotTheyDescribe) {
  const ImportedModel model = ParseOne(R"(
HloModule gemms
ENTRY main {
  a = f32[5,7] parameter(0)
  b = f32[3,7] parameter(1)
  g = f32[5,3] custom-call(a, b), custom_call_target="__cublas$gemm", backend_config="{\"gemm_backend_config\":{\"alpha_real\":1,\"dot_dimension_numbers\":{\"lhs_contracting_dimensions\":[\"1\"],\"rhs_contracting_dimensions\":[\"1\"],\"lhs_batch_dimensions\":[],\"rhs_batch_dimensions\":[]}}}"
  c = f32[5,3] parameter(2)
  h = f32[5,3] custom-call(a, b, c), custom_call_target="__cublas$gemm", backend_config="{\"gemm_backend_config\":{\"beta\":1,\"dot_dimension_numbers\":{\"lhs_contracting_dimensions\":[\"1\"],\"rhs_contracting_dimensions\":[\"1\"],\"lhs_batch_dimensions\":[],\"rhs_batch_dimensions\":[]}}}"
  ROOT r = f32[5,3] add(g, h)
}
)");
  const Program& p = model.program;
  auto find = [&](const std::string& name) -> const Instruction& {
    return *std::find_if(p.instructions.begin(), p.instructions.end(),
                         [&](const Instruction& i) { return i.name == name; });
  };
  const Instruction& g = find("g");
  EXPECT_EQ(g.opcode, HloOpcode::kDot);
  ASSERT_TRUE(g.attrs.dot_dimension_numbers.has_value());
  EXPECT_THAT(g.attrs.dot_dimension_numbers->lhs_contracting_dimensions, ElementsAre(1));
  EXPECT_THAT(g.attrs.dot_dimension_numbers->rhs_contracting_dimensions, ElementsAre(1));
  EXPECT_TRUE(g.attrs.dot_dimension_numbers->lhs_batch_dimensions.empty());
  EXPECT_EQ(g.attrs.custom_call_target, "");
  // With a bias (beta != 0) operand it stays an opaque custom-call.
  EXPECT_EQ(find("h").opcode, HloOpcode::kCustomCall);
  EXPECT_EQ(find("h").attrs.custom_call_target, "__cublas$gemm");
}

TEST(HloParserTest, ParsesLlama31TrainingStep) {
  const std::string path =
      std::string(PERFGRAPH_SOURCE_DIR) + "/../shared/hlo/hlo_llama31_70b_bf16_16x8.hlo";
  std::error_code error;
  if (!std::filesystem::exists(path, error)) GTEST_SKIP() << path << " is absent";
  auto modules = ParseHloModules(ReadText(path), path, {});
  ASSERT_OK(modules);
  ASSERT_THAT(*modules, SizeIs(1));
  const ParsedHloModule& m = modules->front();
  const Program& p = m.model.program;
  EXPECT_EQ(p.name, "jit_train_step");
  EXPECT_GT(p.size(), 200);
  auto count = [](const Program& program, auto predicate) {
    return std::count_if(program.instructions.begin(), program.instructions.end(), predicate);
  };
  EXPECT_GT(
      count(p, [](const Instruction& i) { return i.shape.element_type == PrimitiveType::kBF16; }),
      0);
  EXPECT_GT(count(p, [](const Instruction& i) { return i.opcode == HloOpcode::kDot; }), 0);
  EXPECT_EQ(count(p, [](const Instruction& i) { return i.opcode == HloOpcode::kWhile; }), 2);
  // Unoptimised (no fusion instruction): no prefused kernels; the loop bodies come separately.
  EXPECT_TRUE(m.model.prefused_kernels.empty());
  ASSERT_EQ(m.model.called_programs.count("region_3.423_spmd"), 1u);
  ASSERT_EQ(m.model.called_programs.count("region_14.1138_spmd"), 1u);
  // Both layer loops run 80 times (induction variable 0 to 80, step 1): one per layer.
  for (const char* loop : {"region_3.423_spmd", "region_14.1138_spmd"}) {
    ASSERT_EQ(m.model.call_sites.count(loop), 1u) << loop;
    EXPECT_EQ(m.model.call_sites.at(loop).executions, std::optional<int64_t>(80))
        << loop << ": " << m.model.call_sites.at(loop).how;
  }
  const Program& body = m.model.called_programs.at("region_14.1138_spmd");
  EXPECT_GT(count(body, [](const Instruction& i) { return i.opcode == HloOpcode::kDot; }), 0);
  EXPECT_GT(count(body,
                  [](const Instruction& i) {
                    return i.opcode == HloOpcode::kCustomCall &&
                           i.attrs.custom_call_target == "te_fused_attn_backward_ffi";
                  }),
            0);
  const Instruction& dot = *std::find_if(p.instructions.begin(), p.instructions.end(),
                                         [](const Instruction& i) { return i.name == "dot.32"; });
  EXPECT_EQ(dot.shape, Shape::Make(PrimitiveType::kBF16, {2, 8192, 8192}));
  ASSERT_TRUE(dot.attrs.dot_dimension_numbers.has_value());
  EXPECT_THAT(dot.attrs.dot_dimension_numbers->lhs_contracting_dimensions, ElementsAre(2));
  // Every reduce names its combiner.
  for (const auto* program : {&p, &body}) {
    for (const Instruction& i : program->instructions) {
      if (i.opcode == HloOpcode::kReduce) {
        EXPECT_NE(i.attrs.reduce_computation, HloOpcode::kUnknown) << i.name;
      }
    }
  }
}

}  // namespace
}  // namespace perfgraph::graph

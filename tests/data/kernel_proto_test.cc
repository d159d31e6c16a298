#include "data/kernel_proto.h"
#include "graph/kernel_hash.h"

#include <string>
#include <utility>

#include "data/perfgraph.pb.h"
#include "gmock/gmock.h"
#include "graph/featurize.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace perfgraph::data {
namespace {

using graph::Attributes;
using graph::HloOpcode;
using graph::Instruction;
using graph::Kernel;
using graph::PrimitiveType;
using graph::Shape;
using ::perfgraph::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

Shape F32(std::vector<int64_t> dims) { return Shape::Make(PrimitiveType::kF32, std::move(dims)); }

int Add(Kernel& k, HloOpcode opcode, Shape shape, std::vector<int> operands, Attributes attrs = {},
        std::string name = "") {
  Instruction inst;
  inst.id = k.size();
  inst.opcode = opcode;
  inst.shape = std::move(shape);
  inst.operands = std::move(operands);
  inst.attrs = std::move(attrs);
  inst.name = name.empty()
                  ? std::string(graph::HloOpcodeName(opcode)) + "." + std::to_string(inst.id)
                  : std::move(name);
  const int id = inst.id;
  k.instructions.push_back(std::move(inst));
  k.origin.push_back(100 + id);
  return id;
}

int Param(Kernel& k, std::vector<int64_t> dims, int number) {
  Attributes attrs;
  attrs.parameter_number = number;
  return Add(k, HloOpcode::kParameter, F32(std::move(dims)), {}, attrs,
             "p" + std::to_string(number));
}

// conv(x, w) + broadcast(b), then max(., 0): a kOutput fusion with a window, conv dimension
// numbers, broadcast dimensions and a splat constant.
Kernel ConvBiasRelu(int64_t stride = 1) {
  Kernel k;
  k.name = "fusion.conv_bias_relu";
  k.kind = graph::FusionKind::kOutput;
  int x = Param(k, {1, 3, 8, 8}, 0);
  int w = Param(k, {4, 3, 3, 3}, 1);
  int b = Param(k, {4}, 2);
  Attributes conv;
  conv.convolution_dimension_numbers = graph::ConvolutionDimensionNumbers::Nchw(2);
  for (int i = 0; i < 2; ++i) {
    graph::WindowDimension d;
    d.size = 3;
    d.stride = stride;
    d.padding_low = d.padding_high = 1;
    conv.window.push_back(d);
  }
  const int64_t out = stride == 1 ? 8 : 4;
  int c = Add(k, HloOpcode::kConvolution, F32({1, 4, out, out}), {x, w}, conv, "conv");
  Attributes bcast;
  bcast.dimensions = {1};
  int bb = Add(k, HloOpcode::kBroadcast, F32({1, 4, out, out}), {b}, bcast);
  int sum = Add(k, HloOpcode::kAdd, F32({1, 4, out, out}), {c, bb}, {}, "bias_add");
  Attributes zero_attrs;
  zero_attrs.constant_value = 0.0;
  int zero = Add(k, HloOpcode::kConstant, F32({}), {}, zero_attrs);
  int zb = Add(k, HloOpcode::kBroadcast, F32({1, 4, out, out}), {zero});
  k.root = Add(k, HloOpcode::kMaximum, F32({1, 4, out, out}), {sum, zb}, {}, "relu");
  return k;
}

// A kernel whose last instruction sets every Attributes field (and a tuple shape with a non-default
// layout and memory space) to a non-default value.
Kernel EveryAttributeKernel() {
  Kernel k;
  k.name = "every_attribute";
  k.kind = graph::FusionKind::kCustom;
  int a = Param(k, {2, 3}, 0);
  int b = Param(k, {3, 2}, 1);
  Attributes attrs;
  graph::WindowDimension w;
  w.size = 3;
  w.stride = 2;
  w.padding_low = 1;
  w.padding_high = -1;
  w.window_dilation = 2;
  w.base_dilation = 3;
  w.window_reversal = true;
  attrs.window = {w, graph::WindowDimension()};
  graph::ConvolutionDimensionNumbers conv;
  conv.input_batch_dimension = 3;
  conv.input_feature_dimension = 2;
  conv.input_spatial_dimensions = {0, 1};
  conv.kernel_input_feature_dimension = 2;
  conv.kernel_output_feature_dimension = 3;
  conv.kernel_spatial_dimensions = {1, 0};
  conv.output_batch_dimension = 1;
  conv.output_feature_dimension = 0;
  conv.output_spatial_dimensions = {2, 3};
  attrs.convolution_dimension_numbers = conv;
  graph::DotDimensionNumbers dot;
  dot.lhs_batch_dimensions = {0};
  dot.rhs_batch_dimensions = {1};
  dot.lhs_contracting_dimensions = {1, 2};
  dot.rhs_contracting_dimensions = {0, 3};
  attrs.dot_dimension_numbers = dot;
  attrs.dimensions = {1, 0, 5};
  attrs.slice = {{1, 7, 2}, {0, 3, 1}};
  attrs.padding = {{-1, 2, 1}, {0, 0, 3}};
  attrs.feature_group_count = 4;
  attrs.batch_group_count = 2;
  attrs.comparison_direction = graph::ComparisonDirection::kLe;
  attrs.reduce_computation = HloOpcode::kMaximum;
  attrs.custom_call_target = "MyCustomOp";
  attrs.parameter_number = 7;
  attrs.tuple_index = 1;
  attrs.constant_value = -0.25;
  attrs.fusion_kind = "kLoop";
  attrs.called_computations = {"max.1", "body.2"};
  attrs.replica_group_size = 64;
  Shape element = Shape::Make(PrimitiveType::kBF16, {4, 5, 6});
  element.minor_to_major = {0, 2, 1};
  element.memory_space = 1;
  Shape tuple = Shape::Tuple({element, Shape::Make(PrimitiveType::kS32, {})});
  k.root = Add(k, HloOpcode::kCustomCall, tuple, {b, a}, attrs, "custom");
  return k;
}

void ExpectShapesEqual(const Shape& a, const Shape& b) {
  EXPECT_EQ(a.element_type, b.element_type);
  EXPECT_EQ(a.dims, b.dims);
  EXPECT_EQ(a.minor_to_major, b.minor_to_major);
  EXPECT_EQ(a.memory_space, b.memory_space);
  ASSERT_EQ(a.tuple_shapes.size(), b.tuple_shapes.size());
  for (size_t i = 0; i < a.tuple_shapes.size(); ++i)
    ExpectShapesEqual(a.tuple_shapes[i], b.tuple_shapes[i]);
}

void ExpectAttributesEqual(const Attributes& a, const Attributes& b) {
  EXPECT_EQ(a.window, b.window);
  ASSERT_EQ(a.convolution_dimension_numbers.has_value(),
            b.convolution_dimension_numbers.has_value());
  if (a.convolution_dimension_numbers) {
    const auto& x = *a.convolution_dimension_numbers;
    const auto& y = *b.convolution_dimension_numbers;
    EXPECT_EQ(x.input_batch_dimension, y.input_batch_dimension);
    EXPECT_EQ(x.input_feature_dimension, y.input_feature_dimension);
    EXPECT_EQ(x.input_spatial_dimensions, y.input_spatial_dimensions);
    EXPECT_EQ(x.kernel_input_feature_dimension, y.kernel_input_feature_dimension);
    EXPECT_EQ(x.kernel_output_feature_dimension, y.kernel_output_feature_dimension);
    EXPECT_EQ(x.kernel_spatial_dimensions, y.kernel_spatial_dimensions);
    EXPECT_EQ(x.output_batch_dimension, y.output_batch_dimension);
    EXPECT_EQ(x.output_feature_dimension, y.output_feature_dimension);
    EXPECT_EQ(x.output_spatial_dimensions, y.output_spatial_dimensions);
  }
  ASSERT_EQ(a.dot_dimension_numbers.has_value(), b.dot_dimension_numbers.has_value());
  if (a.dot_dimension_numbers) {
    const auto& x = *a.dot_dimension_numbers;
    const auto& y = *b.dot_dimension_numbers;
    EXPECT_EQ(x.lhs_batch_dimensions, y.lhs_batch_dimensions);
    EXPECT_EQ(x.rhs_batch_dimensions, y.rhs_batch_dimensions);
    EXPECT_EQ(x.lhs_contracting_dimensions, y.lhs_contracting_dimensions);
    EXPECT_EQ(x.rhs_contracting_dimensions, y.rhs_contracting_dimensions);
  }
  EXPECT_EQ(a.dimensions, b.dimensions);
  ASSERT_EQ(a.slice.size(), b.slice.size());
  for (size_t i = 0; i < a.slice.size(); ++i) {
    EXPECT_EQ(a.slice[i].start, b.slice[i].start);
    EXPECT_EQ(a.slice[i].limit, b.slice[i].limit);
    EXPECT_EQ(a.slice[i].stride, b.slice[i].stride);
  }
  ASSERT_EQ(a.padding.size(), b.padding.size());
  for (size_t i = 0; i < a.padding.size(); ++i) {
    EXPECT_EQ(a.padding[i].edge_padding_low, b.padding[i].edge_padding_low);
    EXPECT_EQ(a.padding[i].edge_padding_high, b.padding[i].edge_padding_high);
    EXPECT_EQ(a.padding[i].interior_padding, b.padding[i].interior_padding);
  }
  EXPECT_EQ(a.feature_group_count, b.feature_group_count);
  EXPECT_EQ(a.batch_group_count, b.batch_group_count);
  EXPECT_EQ(a.comparison_direction, b.comparison_direction);
  EXPECT_EQ(a.reduce_computation, b.reduce_computation);
  EXPECT_EQ(a.custom_call_target, b.custom_call_target);
  EXPECT_EQ(a.parameter_number, b.parameter_number);
  EXPECT_EQ(a.tuple_index, b.tuple_index);
  EXPECT_EQ(a.constant_value, b.constant_value);
  EXPECT_EQ(a.fusion_kind, b.fusion_kind);
  EXPECT_EQ(a.called_computations, b.called_computations);
  EXPECT_EQ(a.replica_group_size, b.replica_group_size);
}

void ExpectKernelsEqual(const Kernel& a, const Kernel& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.root, b.root);
  EXPECT_EQ(a.origin, b.origin);
  ASSERT_EQ(a.size(), b.size());
  for (int i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("instruction " + std::to_string(i));
    const Instruction& x = a.instructions[i];
    const Instruction& y = b.instructions[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.opcode, y.opcode);
    ExpectShapesEqual(x.shape, y.shape);
    EXPECT_EQ(x.operands, y.operands);
    ExpectAttributesEqual(x.attrs, y.attrs);
  }
}

// Kernel -> proto -> bytes -> proto -> Kernel.
absl::StatusOr<Kernel> RoundTrip(const Kernel& kernel) {
  KernelProto proto;
  KernelToProto(kernel, &proto);
  KernelProto parsed;
  if (!parsed.ParseFromString(proto.SerializeAsString())) return absl::InternalError("parse");
  return KernelFromProto(parsed, "round trip");
}

TEST(KernelProtoTest, EveryAttributesFieldSurvivesTheRoundTrip) {
  const Kernel kernel = EveryAttributeKernel();
  ASSERT_OK(kernel.Validate());
  absl::StatusOr<Kernel> back = RoundTrip(kernel);
  ASSERT_OK(back);
  ExpectKernelsEqual(kernel, *back);
}

TEST(KernelProtoTest, DefaultAttributesSurviveTheRoundTrip) {
  // C++ defaults that are not proto3 zeros (stride 1, feature_group_count 1, parameter_number -1,
  // tuple_index -1, nullopt constant) must come back as they were.
  const Kernel kernel = ConvBiasRelu();
  absl::StatusOr<Kernel> back = RoundTrip(kernel);
  ASSERT_OK(back);
  ExpectKernelsEqual(kernel, *back);
  EXPECT_EQ(back->instructions[3].attrs.window[0].stride, 1);
  EXPECT_EQ(back->instructions[4].attrs.parameter_number, -1);
  EXPECT_EQ(back->instructions[4].attrs.tuple_index, -1);
  EXPECT_FALSE(back->instructions[4].attrs.constant_value.has_value());
  EXPECT_EQ(back->instructions[6].attrs.constant_value, 0.0);
}

TEST(KernelProtoTest, OpcodesAreStoredByTpuGraphsIdAndName) {
  KernelProto proto;
  KernelToProto(ConvBiasRelu(), &proto);
  EXPECT_EQ(proto.instructions(3).opcode_id(), 26);  // TpuGraphs id of convolution
  EXPECT_EQ(proto.instructions(3).opcode(), "convolution");
  EXPECT_EQ(proto.instructions(3).shape().element_type(), "f32");
  EXPECT_EQ(proto.fusion_kind(), "kOutput");
}

// -------------------------------------------------------------------------------------------------
// Malformed protos

KernelProto ValidProto() {
  KernelProto proto;
  KernelToProto(ConvBiasRelu(), &proto);
  return proto;
}

TEST(KernelProtoTest, UnknownOpcodeIdIsInvalidArgumentNamingRecordAndInstruction) {
  KernelProto proto = ValidProto();
  proto.mutable_instructions(5)->set_opcode_id(97);  // "trace": retired, never produced
  proto.mutable_instructions(5)->clear_opcode();
  EXPECT_THAT(KernelFromProto(proto, "record 7 of a.pgd"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("record 7 of a.pgd"), HasSubstr("instruction 5 'bias_add'"),
                             HasSubstr("unknown opcode id 97"))));
  proto.mutable_instructions(5)->set_opcode_id(500);
  EXPECT_THAT(KernelFromProto(proto, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown opcode id 500")));
}

TEST(KernelProtoTest, OpcodeNameThatDisagreesWithTheIdIsInvalidArgument) {
  KernelProto proto = ValidProto();
  proto.mutable_instructions(5)->set_opcode("multiply");
  EXPECT_THAT(KernelFromProto(proto, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("'multiply'"), HasSubstr("opcode id 2"))));
}

TEST(KernelProtoTest, OperandOutOfRangeIsInvalidArgument) {
  KernelProto proto = ValidProto();
  proto.mutable_instructions(5)->set_operands(1, 9);  // only 9 instructions (0..8)
  EXPECT_THAT(
      KernelFromProto(proto, "record 3"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("record 3"), HasSubstr("instruction 5"), HasSubstr("operand 9"))));
  proto.mutable_instructions(5)->set_operands(1, 5);  // a self-reference (cycle)
  EXPECT_THAT(KernelFromProto(proto, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("operand 5")));
  proto.mutable_instructions(5)->set_operands(1, -1);
  EXPECT_THAT(KernelFromProto(proto, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("operand -1")));
}

TEST(KernelProtoTest, AbsurdOrNegativeDimsAreInvalidArgument) {
  KernelProto proto = ValidProto();
  proto.mutable_instructions(0)->mutable_shape()->set_dims(1, int64_t{1} << 50);
  EXPECT_THAT(KernelFromProto(proto, "record 1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("record 1"), HasSubstr("instruction 0 'p0'"),
                             HasSubstr("1125899906842624"))));
  proto = ValidProto();
  proto.mutable_instructions(0)->mutable_shape()->set_dims(2, -3);
  EXPECT_THAT(KernelFromProto(proto, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("-3")));
  // Every dim allowed, but the element count overflows 2^40.
  proto = ValidProto();
  auto* dims = proto.mutable_instructions(0)->mutable_shape()->mutable_dims();
  for (int i = 0; i < dims->size(); ++i) dims->Set(i, int64_t{1} << 20);
  EXPECT_THAT(KernelFromProto(proto, "r"), StatusIs(absl::StatusCode::kInvalidArgument));
  proto = ValidProto();
  for (int i = 0; i < 100; ++i) proto.mutable_instructions(0)->mutable_shape()->add_dims(1);
  EXPECT_THAT(KernelFromProto(proto, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rank 104")));
}

TEST(KernelProtoTest, BadEnumsAndLayoutsAreInvalidArgument) {
  KernelProto proto = ValidProto();
  proto.mutable_instructions(2)->mutable_shape()->set_element_type("f31");
  EXPECT_THAT(KernelFromProto(proto, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'f31'")));
  proto = ValidProto();
  proto.set_fusion_kind("kWhatever");
  EXPECT_THAT(KernelFromProto(proto, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'kWhatever'")));
  proto = ValidProto();
  proto.mutable_instructions(3)->mutable_attrs()->set_comparison_direction("XX");
  EXPECT_THAT(KernelFromProto(proto, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'XX'")));
  proto = ValidProto();
  proto.mutable_instructions(3)->mutable_attrs()->set_reduce_computation_opcode_id(101);
  EXPECT_THAT(KernelFromProto(proto, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("opcode id 101")));
  proto = ValidProto();
  proto.mutable_instructions(3)->mutable_shape()->add_minor_to_major(0);  // not a permutation
  EXPECT_THAT(KernelFromProto(proto, "r"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KernelProtoTest, ForbiddenAttributeValuesAreInvalidArgument) {
  KernelProto proto = ValidProto();
  proto.mutable_instructions(3)->mutable_attrs()->mutable_window(1)->set_stride(0);
  EXPECT_THAT(KernelFromProto(proto, "r"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    AllOf(HasSubstr("instruction 3 'conv'"),
                                                          HasSubstr("window[1].stride is 0"))));
  proto = ValidProto();
  proto.mutable_instructions(3)->mutable_attrs()->set_feature_group_count(0);
  EXPECT_THAT(KernelFromProto(proto, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("feature_group_count is 0")));
}

TEST(KernelProtoTest, RootAndOriginMustMatchTheInstructions) {
  KernelProto proto = ValidProto();
  proto.set_root(9);
  EXPECT_THAT(KernelFromProto(proto, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("root 9")));
  proto = ValidProto();
  proto.add_origin(3);
  EXPECT_THAT(KernelFromProto(proto, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("origin has 10 entries")));
}

TEST(KernelProtoTest, DeeplyNestedTupleShapeIsRejectedWithoutRecursingForever) {
  KernelProto proto = ValidProto();
  ShapeProto* shape = proto.mutable_instructions(0)->mutable_shape();
  shape->Clear();
  for (int i = 0; i < 1000; ++i) {
    shape->set_element_type("tuple");
    shape = shape->add_tuple_shapes();
  }
  shape->set_element_type("f32");
  EXPECT_THAT(KernelFromProto(proto, "r"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nested deeper")));
}

TEST(KernelProtoTest, DecodeRecordKernelChecksTheStoredHash) {
  Record record;
  KernelToProto(ConvBiasRelu(), record.mutable_kernel());
  record.set_kernel_hash(graph::CanonicalKernelHash(ConvBiasRelu()));
  ASSERT_OK(DecodeRecordKernel(record, "record 0"));
  record.set_kernel_hash(record.kernel_hash() ^ 1);
  EXPECT_THAT(DecodeRecordKernel(record, "record 0"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("record 0")));
}

// -------------------------------------------------------------------------------------------------
// Canonical hash

TEST(CanonicalKernelHashTest, KernelsThatDifferOnlyInNamesAndOriginHashEqual) {
  Kernel a = ConvBiasRelu();
  Kernel b = ConvBiasRelu();
  b.name = "fusion.42";
  for (Instruction& inst : b.instructions) inst.name = "renamed_" + inst.name;
  for (int& o : b.origin) o += 1000;
  b.instructions[3].attrs.called_computations = {"some_computation.7"};
  EXPECT_EQ(graph::CanonicalKernelHash(a), graph::CanonicalKernelHash(b));
}

TEST(CanonicalKernelHashTest, EmptyLayoutEqualsExplicitRowMajorLayout) {
  Kernel a = ConvBiasRelu();
  Kernel b = ConvBiasRelu();
  b.instructions[3].shape.minor_to_major = {3, 2, 1, 0};
  EXPECT_EQ(graph::CanonicalKernelHash(a), graph::CanonicalKernelHash(b));
}

TEST(CanonicalKernelHashTest, StructuralChangesChangeTheHash) {
  const uint64_t base = graph::CanonicalKernelHash(ConvBiasRelu());
  {
    Kernel k = ConvBiasRelu();
    k.instructions[0].shape.dims[3] = 9;  // a dim
    EXPECT_NE(graph::CanonicalKernelHash(k), base) << "dim";
  }
  {
    Kernel k = ConvBiasRelu();
    k.instructions[0].shape.minor_to_major = {2, 3, 1, 0};  // a layout
    EXPECT_NE(graph::CanonicalKernelHash(k), base) << "layout";
  }
  {
    Kernel k = ConvBiasRelu();
    k.instructions[0].shape.element_type = PrimitiveType::kBF16;  // a dtype
    EXPECT_NE(graph::CanonicalKernelHash(k), base) << "dtype";
  }
  {
    Kernel k = ConvBiasRelu();
    k.instructions[3].attrs.window[0].stride = 2;  // an attribute
    EXPECT_NE(graph::CanonicalKernelHash(k), base) << "window stride";
  }
  {
    Kernel k = ConvBiasRelu();
    std::swap(k.instructions[5].operands[0], k.instructions[5].operands[1]);  // operand order
    EXPECT_NE(graph::CanonicalKernelHash(k), base) << "operand order";
  }
  {
    Kernel k = ConvBiasRelu();
    k.instructions[6].attrs.constant_value = 1.0;
    EXPECT_NE(graph::CanonicalKernelHash(k), base) << "constant value";
  }
  {
    Kernel k = ConvBiasRelu();
    k.instructions[8].opcode = HloOpcode::kMinimum;
    EXPECT_NE(graph::CanonicalKernelHash(k), base) << "opcode";
  }
  {
    Kernel k = ConvBiasRelu();
    k.kind = graph::FusionKind::kLoop;
    EXPECT_NE(graph::CanonicalKernelHash(k), base) << "fusion kind";
  }
  {
    Kernel k = ConvBiasRelu();
    k.root = 5;
    EXPECT_NE(graph::CanonicalKernelHash(k), base) << "root";
  }
  {
    // Moving a dimension index between adjacent lists must not collide (length prefixes).
    Kernel a = EveryAttributeKernel();
    Kernel b = EveryAttributeKernel();
    auto& dot = *b.instructions[2].attrs.dot_dimension_numbers;
    dot.lhs_batch_dimensions.clear();
    dot.rhs_batch_dimensions.insert(dot.rhs_batch_dimensions.begin(), 0);
    EXPECT_NE(graph::CanonicalKernelHash(a), graph::CanonicalKernelHash(b)) << "list boundary";
  }
}

TEST(CanonicalKernelHashTest, HashIsAFixedFunctionOfTheKernel) {
  // Datasets store this hash, so it must not change between builds or processes. The constant was
  // produced by this implementation; if this fails the hash definition changed: bump the domain tag
  // ("perfgraph.kernel.v1") and re-measure or re-hash existing datasets.
  EXPECT_EQ(graph::CanonicalKernelHash(ConvBiasRelu()), uint64_t{0xf8d9a1dfb07aee4e});
  EXPECT_NE(graph::CanonicalKernelHash(ConvBiasRelu()), graph::CanonicalKernelHash(ConvBiasRelu(2)));
}

}  // namespace
}  // namespace perfgraph::data

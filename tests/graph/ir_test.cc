#include "graph/ir.h"

#include "gmock/gmock.h"
#include "graph/hlo_opcode.h"
#include "graph/shape.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace perfgraph::graph {
namespace {

using ::perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

TEST(HloOpcodeTest, IdsFollowTpuGraphsNumbering) {
  // Spot checks against the TpuGraphs opcode table.
  EXPECT_EQ(OpcodeId(HloOpcode::kAbs), 1);
  EXPECT_EQ(OpcodeId(HloOpcode::kConvolution), 26);
  EXPECT_EQ(OpcodeId(HloOpcode::kDot), 34);
  EXPECT_EQ(OpcodeId(HloOpcode::kParameter), 63);
  EXPECT_EQ(OpcodeId(HloOpcode::kReduceWindow), 72);
  EXPECT_EQ(OpcodeId(HloOpcode::kTranspose), 98);
  EXPECT_EQ(OpcodeId(HloOpcode::kTan), 120);
  EXPECT_EQ(HloOpcodeFromId(97), HloOpcode::kUnknown);   // retired "trace"
  EXPECT_EQ(HloOpcodeFromId(101), HloOpcode::kUnknown);  // retired "tuple-select"
  EXPECT_EQ(HloOpcodeFromId(0), HloOpcode::kUnknown);
  EXPECT_EQ(HloOpcodeFromId(kNumOpcodeIds), HloOpcode::kUnknown);
}

TEST(HloOpcodeTest, NamesRoundTripForEveryId) {
  int known = 0;
  for (int id = 1; id < kNumOpcodeIds; ++id) {
    HloOpcode opcode = HloOpcodeFromId(id);
    if (opcode == HloOpcode::kUnknown) continue;
    ++known;
    EXPECT_EQ(HloOpcodeFromName(HloOpcodeName(opcode)), opcode) << id;
  }
  EXPECT_EQ(known, kNumOpcodeIds - 1 - 2);  // all ids but 0, 97 and 101
  EXPECT_EQ(HloOpcodeName(HloOpcode::kReduceWindow), "reduce-window");
  EXPECT_EQ(HloOpcodeFromName("not-an-op"), HloOpcode::kUnknown);
}

TEST(HloOpcodeTest, Classification) {
  EXPECT_TRUE(IsElementwise(HloOpcode::kAdd));
  EXPECT_TRUE(IsElementwise(HloOpcode::kSelect));
  EXPECT_TRUE(IsElementwiseUnary(HloOpcode::kExponential));
  EXPECT_TRUE(IsTranscendental(HloOpcode::kExponential));
  EXPECT_FALSE(IsElementwise(HloOpcode::kDot));
  EXPECT_FALSE(IsElementwise(HloOpcode::kBroadcast));
  EXPECT_TRUE(IsDataMovement(HloOpcode::kTranspose));
}

TEST(ShapeTest, SizesAndText) {
  Shape s = Shape::Make(PrimitiveType::kF32, {1, 3, 224, 224});
  EXPECT_EQ(s.NumElements(), 150528);
  EXPECT_EQ(s.ByteSize(), 602112);
  EXPECT_EQ(s.ToString(), "f32[1,3,224,224]{3,2,1,0}");
  EXPECT_TRUE(s.HasDefaultLayout());
  s.minor_to_major = {1, 3, 2, 0};
  EXPECT_FALSE(s.HasDefaultLayout());
  EXPECT_EQ(s.ToString(false), "f32[1,3,224,224]");
  EXPECT_EQ(Shape::Make(PrimitiveType::kBF16, {7}).ByteSize(), 14);
  EXPECT_EQ(Shape::Make(PrimitiveType::kS4, {3}).ByteSize(), 2);  // 12 bits round up
  EXPECT_EQ(Shape::Make(PrimitiveType::kPred, {}).ToString(), "pred[]");
  Shape tuple = Shape::Tuple({Shape::Make(PrimitiveType::kF32, {2}), Shape::Make(PrimitiveType::kS32, {})});
  EXPECT_EQ(tuple.ToString(), "(f32[2]{0}, s32[])");
  EXPECT_EQ(tuple.ByteSize(), 12);
}

TEST(ShapeTest, TypeNamesRoundTrip) {
  for (int i = 1; i < kNumPrimitiveTypes; ++i) {
    auto type = static_cast<PrimitiveType>(i);
    EXPECT_EQ(PrimitiveTypeFromName(PrimitiveTypeName(type)), type) << i;
  }
  EXPECT_FALSE(PrimitiveTypeFromName("f33").has_value());
  EXPECT_EQ(BitWidth(PrimitiveType::kF8E4M3FN), 8);
}

TEST(ShapeTest, ValidateRejectsAbsurdShapes) {
  EXPECT_THAT(Shape::Make(PrimitiveType::kF32, {-1, 3}).Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("-1")));
  EXPECT_THAT(Shape::Make(PrimitiveType::kF32, {1 << 30, 1 << 30, 4}).Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2^40")));
  Shape bad_layout = Shape::Make(PrimitiveType::kF32, {2, 3});
  bad_layout.minor_to_major = {0, 0};
  EXPECT_THAT(bad_layout.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("permutation")));
  EXPECT_OK(Shape::Make(PrimitiveType::kF32, {0, 5}).Validate());
}

TEST(ProgramTest, AddAssignsIdsAndUsers) {
  Program p;
  p.name = "tiny";
  int x = p.Add(HloOpcode::kParameter, Shape::Make(PrimitiveType::kF32, {4}), {});
  int e = p.Add(HloOpcode::kExponential, Shape::Make(PrimitiveType::kF32, {4}), {x});
  int s = p.Add(HloOpcode::kAdd, Shape::Make(PrimitiveType::kF32, {4}), {e, e});
  p.outputs = {s};
  EXPECT_EQ(p.at(e).name, "exponential.1");
  EXPECT_OK(p.Validate());
  auto users = p.Users();
  EXPECT_THAT(users[x], ::testing::ElementsAre(e));
  EXPECT_THAT(users[e], ::testing::ElementsAre(s));  // listed once although used twice
  EXPECT_TRUE(users[s].empty());
}

TEST(ProgramTest, ValidateRejectsForwardReferenceAndBadOutput) {
  Program p;
  p.name = "cyclic";
  p.Add(HloOpcode::kNegate, Shape::Make(PrimitiveType::kF32, {4}), {1});
  p.Add(HloOpcode::kNegate, Shape::Make(PrimitiveType::kF32, {4}), {0});
  EXPECT_THAT(p.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cycle")));
  Program q;
  q.name = "q";
  q.Add(HloOpcode::kParameter, Shape::Make(PrimitiveType::kF32, {4}), {});
  q.outputs = {3};
  EXPECT_THAT(q.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("output id 3")));
}

TEST(KernelTest, FusionKindNamesRoundTrip) {
  for (FusionKind kind : {FusionKind::kLoop, FusionKind::kInput, FusionKind::kOutput,
                          FusionKind::kCustom}) {
    EXPECT_EQ(FusionKindFromName(FusionKindName(kind)), kind);
  }
  EXPECT_FALSE(FusionKindFromName("kWhatever").has_value());
}

TEST(ShapeTest, SameNonUnitDimsIgnoresOnlyUnitDims) {
  EXPECT_TRUE(SameNonUnitDims({1, 50, 768}, {50, 1, 768, 1}));
  EXPECT_TRUE(SameNonUnitDims({}, {1, 1}));
  EXPECT_FALSE(SameNonUnitDims({50, 12, 64}, {50, 768}));
  EXPECT_FALSE(SameNonUnitDims({768, 50}, {50, 768}));
  EXPECT_FALSE(SameNonUnitDims({50, 768}, {50}));
}

TEST(WindowDimensionTest, PaddedOrDilated) {
  WindowDimension w;
  w.size = 3;
  EXPECT_FALSE(w.padded_or_dilated());
  w.padding_high = 1;
  EXPECT_TRUE(w.padded_or_dilated());
  w.padding_high = 0;
  w.base_dilation = 2;
  EXPECT_TRUE(w.padded_or_dilated());
  w.base_dilation = 1;
  w.window_dilation = 2;
  EXPECT_FALSE(w.padded_or_dilated());
}

}  // namespace
}  // namespace perfgraph::graph

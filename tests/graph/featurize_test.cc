#include "graph/featurize.h"

#include <cmath>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/graph/test_programs.h"

namespace perfgraph::graph {
namespace {

TEST(FeaturizeTest, FeatureNamesAreUniqueAndComplete) {
  const auto& names = NodeFeatureNames();
  ASSERT_EQ(names.size(), static_cast<size_t>(kNumNodeFeatures));
  std::set<std::string> unique(names.begin(), names.end());
  EXPECT_EQ(unique.size(), names.size());
  EXPECT_EQ(unique.count(""), 0u);
  EXPECT_EQ(names[kLogFlops], "log_flops");
  EXPECT_EQ(names[kWindowBegin + 6], "window1_size");
}

TEST(FeaturizeTest, ConvBiasReluExactValues) {
  Kernel k = test::WholeProgramKernel(test::ConvBiasRelu(), FusionKind::kOutput);
  KernelTensors t = Featurize(k);
  ASSERT_EQ(t.num_nodes, 9);
  ASSERT_EQ(t.node_feat.size(), 9u * kNumNodeFeatures);
  EXPECT_THAT(t.node_opcode, ::testing::ElementsAre(63, 63, 63, 26, 13, 2, 24, 13, 57));

  const int conv = 3;
  EXPECT_FLOAT_EQ(t.feat(conv, kShapeDim0), std::log1p(1.0f));
  EXPECT_FLOAT_EQ(t.feat(conv, kShapeDim0 + 1), std::log1p(4.0f));
  EXPECT_FLOAT_EQ(t.feat(conv, kShapeDim0 + 4), 0.0f);  // rank 4: dim 4 is padding
  EXPECT_FLOAT_EQ(t.feat(conv, kShapeDimSum), std::log1p(21.0f));
  EXPECT_FLOAT_EQ(t.feat(conv, kShapeDimProduct), std::log1p(256.0f));
  EXPECT_FLOAT_EQ(t.feat(conv, kShapeRank), 4.0f);
  EXPECT_FLOAT_EQ(t.feat(conv, kDtypeBits), 1.0f);
  EXPECT_FLOAT_EQ(t.feat(conv, kDtypeIsFloat), 1.0f);
  EXPECT_FLOAT_EQ(t.feat(conv, kDtypeExponentBits), 1.0f);
  // Default layout {3,2,1,0} scaled by rank-1 = 3; dims 4 and 5 absent.
  EXPECT_FLOAT_EQ(t.feat(conv, kLayout0), 1.0f);
  EXPECT_FLOAT_EQ(t.feat(conv, kLayout0 + 3), 0.0f);
  EXPECT_FLOAT_EQ(t.feat(conv, kLayout0 + 4), -1.0f);
  EXPECT_FLOAT_EQ(t.feat(conv, kLayoutIsDefault), 1.0f);
  // Two spatial window dims: 3x3, stride 1, pad 1/1, written to window slots 0 and 1.
  EXPECT_FLOAT_EQ(t.feat(conv, kWindowBegin + 0), std::log1p(3.0f));
  EXPECT_FLOAT_EQ(t.feat(conv, kWindowBegin + 1), std::log1p(1.0f));
  EXPECT_FLOAT_EQ(t.feat(conv, kWindowBegin + 2), std::log1p(1.0f));
  EXPECT_FLOAT_EQ(t.feat(conv, kWindowBegin + 4), 0.0f);
  EXPECT_FLOAT_EQ(t.feat(conv, kWindowBegin + 6), std::log1p(3.0f));
  EXPECT_FLOAT_EQ(t.feat(conv, kWindowBegin + 12), 0.0f);
  EXPECT_FLOAT_EQ(t.feat(conv, kWindowSizeProduct), std::log1p(9.0f));
  EXPECT_FLOAT_EQ(t.feat(conv, kConvInputFeatureDim), 1.0f);
  EXPECT_FLOAT_EQ(t.feat(conv, kConvKernelOutputFeatureDim), 0.0f);
  EXPECT_FLOAT_EQ(t.feat(conv, kConvFeatureGroupCount), std::log1p(1.0f));
  EXPECT_FLOAT_EQ(t.feat(conv, kConvIsDepthwise), 0.0f);
  EXPECT_FLOAT_EQ(t.feat(conv, kNumOperands), 2.0f);
  EXPECT_FLOAT_EQ(t.feat(conv, kNumUsers), 1.0f);
  EXPECT_FLOAT_EQ(t.feat(conv, kIsRoot), 0.0f);
  EXPECT_FLOAT_EQ(t.feat(conv, kLogFlops), std::log1p(2.0f * 256 * 9 * 3));
  EXPECT_FLOAT_EQ(t.feat(conv, kLogBytesWritten), std::log1p(1024.0f));

  const int bias_broadcast = 4;
  EXPECT_FLOAT_EQ(t.feat(bias_broadcast, kDimsMask0 + 1), 1.0f);
  EXPECT_FLOAT_EQ(t.feat(bias_broadcast, kDimsMask0 + 0), 0.0f);
  const int zero = 6;
  EXPECT_FLOAT_EQ(t.feat(zero, kConstantIsSplat), 1.0f);
  EXPECT_FLOAT_EQ(t.feat(zero, kShapeRank), 0.0f);
  EXPECT_FLOAT_EQ(t.feat(zero, kLayout0), -1.0f);
  const int relu = 8;
  EXPECT_FLOAT_EQ(t.feat(relu, kIsRoot), 1.0f);
  EXPECT_FLOAT_EQ(t.feat(relu, kLogFlops), std::log1p(256.0f));
}

TEST(FeaturizeTest, EdgesListOperandPositionsInTopologicalOrder) {
  Kernel k = test::WholeProgramKernel(test::ConvBiasRelu(), FusionKind::kOutput);
  KernelTensors t = Featurize(k);
  // conv(x, w), broadcast(b), add(conv, bcast), broadcast(zero), maximum(add, bcast).
  EXPECT_EQ(t.num_edges, 8);
  EXPECT_THAT(t.edge_index,
              ::testing::ElementsAre(0, 3, 1, 3, 2, 4, 3, 5, 4, 5, 6, 7, 5, 8, 7, 8));
  EXPECT_THAT(t.edge_operand, ::testing::ElementsAre(0, 1, 0, 0, 1, 0, 0, 1));
  for (int e = 0; e < t.num_edges; ++e) {
    EXPECT_LT(t.edge_index[2 * e], t.edge_index[2 * e + 1]);
  }
}

TEST(FeaturizeTest, ReduceFeaturesAndTranscendentals) {
  Kernel k = test::WholeProgramKernel(test::Softmax(), FusionKind::kInput);
  KernelTensors t = Featurize(k);
  const int max = 2, exp = 5, sum = 7;
  EXPECT_FLOAT_EQ(t.feat(max, kReduceMax), 1.0f);
  EXPECT_FLOAT_EQ(t.feat(max, kReduceAdd), 0.0f);
  EXPECT_FLOAT_EQ(t.feat(max, kDimsMask0 + 1), 1.0f);
  EXPECT_FLOAT_EQ(t.feat(sum, kReduceAdd), 1.0f);
  EXPECT_FLOAT_EQ(t.feat(exp, kLogTranscendentals), std::log1p(32.0f));
  EXPECT_FLOAT_EQ(t.feat(exp, kLogFlops), 0.0f);
  EXPECT_FLOAT_EQ(t.feat(exp, kNumUsers), 2.0f);
}

TEST(FeaturizeTest, TypesOfEqualWidthAreDistinguished) {
  auto row_of = [](PrimitiveType type) {
    Program p;
    p.name = "one";
    Attributes pa;
    pa.parameter_number = 0;
    p.Add(HloOpcode::kParameter, Shape::Make(type, {4}), {}, pa);
    p.outputs = {0};
    KernelTensors t = Featurize(test::WholeProgramKernel(p, FusionKind::kLoop));
    return std::vector<float>(t.node_feat.begin(), t.node_feat.end());
  };
  EXPECT_NE(row_of(PrimitiveType::kF16), row_of(PrimitiveType::kBF16));
  EXPECT_NE(row_of(PrimitiveType::kF8E4M3FN), row_of(PrimitiveType::kF8E5M2));
  EXPECT_NE(row_of(PrimitiveType::kS8), row_of(PrimitiveType::kF8E4M3FN));
  EXPECT_NE(row_of(PrimitiveType::kS16), row_of(PrimitiveType::kU16));
}

TEST(FeaturizeTest, DepthwiseConvolutionAndDtypes) {
  Program p;
  p.name = "dw";
  Attributes pa;
  pa.parameter_number = 0;
  int x = p.Add(HloOpcode::kParameter, Shape::Make(PrimitiveType::kBF16, {1, 8, 6, 6}), {}, pa);
  pa.parameter_number = 1;
  int w = p.Add(HloOpcode::kParameter, Shape::Make(PrimitiveType::kBF16, {8, 1, 3, 3}), {}, pa);
  Attributes conv;
  conv.convolution_dimension_numbers = ConvolutionDimensionNumbers::Nchw(2);
  conv.window.resize(2);
  conv.window[0].size = conv.window[1].size = 3;
  conv.feature_group_count = 8;
  int c = p.Add(HloOpcode::kConvolution, Shape::Make(PrimitiveType::kBF16, {1, 8, 4, 4}), {x, w},
                conv);
  p.outputs = {c};
  KernelTensors t = Featurize(test::WholeProgramKernel(p, FusionKind::kOutput));
  EXPECT_FLOAT_EQ(t.feat(c, kConvIsDepthwise), 1.0f);
  EXPECT_FLOAT_EQ(t.feat(c, kConvFeatureGroupCount), std::log1p(8.0f));
  EXPECT_FLOAT_EQ(t.feat(c, kDtypeBits), 0.5f);
  EXPECT_FLOAT_EQ(t.feat(c, kDtypeExponentBits), 1.0f);  // bf16: 8 exponent bits, unlike f16
  // Depthwise: kernel input-feature dim is 1, so 2 * 128 outputs * 9 taps * 1.
  EXPECT_FLOAT_EQ(t.feat(c, kLogFlops), std::log1p(2.0f * 128 * 9));
}

}  // namespace
}  // namespace perfgraph::graph

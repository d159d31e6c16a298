#include "graph/analysis.h"

#include "gtest/gtest.h"
#include "tests/graph/test_programs.h"

namespace perfgraph::graph {
namespace {

TEST(AnalysisTest, ConvolutionCountsTwoFlopsPerMacIncludingPaddingTaps) {
  Program p = test::ConvBiasRelu();
  std::vector<OpCost> costs = ProgramCosts(p);
  const int conv = 3;
  ASSERT_EQ(p.at(conv).opcode, HloOpcode::kConvolution);
  // 2 * (1*4*8*8 outputs) * (3*3 taps) * (3 input features).
  EXPECT_DOUBLE_EQ(costs[conv].flops, 2.0 * 256 * 9 * 3);
  EXPECT_EQ(costs[conv].bytes_read, (192 + 108) * 4);
  EXPECT_EQ(costs[conv].bytes_written, 256 * 4);
}

TEST(AnalysisTest, ElementwiseAndDataMovement) {
  Program p = test::ConvBiasRelu();
  std::vector<OpCost> costs = ProgramCosts(p);
  EXPECT_DOUBLE_EQ(costs[4].flops, 0);    // broadcast
  EXPECT_DOUBLE_EQ(costs[5].flops, 256);  // bias add: one per output element
  EXPECT_DOUBLE_EQ(costs[0].flops, 0);    // parameter
  EXPECT_EQ(costs[0].bytes_read, 0);
}

TEST(AnalysisTest, TranscendentalsAndReductions) {
  Program p = test::Softmax();
  std::vector<OpCost> costs = ProgramCosts(p);
  EXPECT_DOUBLE_EQ(costs[2].flops, 32);  // reduce max over 2x16 inputs
  EXPECT_DOUBLE_EQ(costs[5].flops, 0);   // exponential
  EXPECT_DOUBLE_EQ(costs[5].transcendentals, 32);
}

TEST(AnalysisTest, DotCountsContractingDimension) {
  Program p;
  p.name = "dot";
  int a = test::Param(p, {8, 32, 64}, "a");
  int b = test::Param(p, {8, 64, 16}, "b");
  Attributes attrs;
  attrs.dot_dimension_numbers = DotDimensionNumbers{{0}, {0}, {2}, {1}};
  int d = p.Add(HloOpcode::kDot, test::F32({8, 32, 16}), {a, b}, attrs);
  EXPECT_DOUBLE_EQ(ProgramCosts(p)[d].flops, 2.0 * 8 * 32 * 16 * 64);
}

TEST(AnalysisTest, ReduceWindowCountsWindowPerOutput) {
  Program p;
  p.name = "pool";
  int x = test::Param(p, {1, 4, 8, 8}, "x");
  int init = test::Splat(p, 0);
  Attributes attrs;
  attrs.window.resize(4);
  attrs.window[2].size = attrs.window[3].size = 2;
  attrs.window[2].stride = attrs.window[3].stride = 2;
  attrs.reduce_computation = HloOpcode::kAdd;
  int r = p.Add(HloOpcode::kReduceWindow, test::F32({1, 4, 4, 4}), {x, init}, attrs);
  EXPECT_DOUBLE_EQ(ProgramCosts(p)[r].flops, 64.0 * 4);
}

TEST(AnalysisTest, KernelCostCountsOnlyParametersAndRootAsMemoryTraffic) {
  Kernel k = test::WholeProgramKernel(test::ConvBiasRelu(), FusionKind::kOutput);
  OpCost cost = KernelCost(k);
  EXPECT_DOUBLE_EQ(cost.flops, 2.0 * 256 * 9 * 3 + 256 + 256);
  EXPECT_EQ(cost.bytes_read, (192 + 108 + 4) * 4);
  EXPECT_EQ(cost.bytes_written, 256 * 4);
}

}  // namespace
}  // namespace perfgraph::graph

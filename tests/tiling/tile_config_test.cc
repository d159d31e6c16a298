// Tile configuration space, validity rules, default heuristic and the config feature encoding.
#include "tiling/tile_config.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/graph/kernel_builder.h"
#include "tests/status_matchers.h"

namespace perfgraph::tiling {
namespace {

using graph::Attributes;
using graph::HloOpcode;
using graph::Kernel;
using graph::Shape;
using perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

using Builder = test::KernelBuilder;

// conv 3x3 pad 1: [1,16,28,28] x [32,16,3,3] -> [1,32,28,28], plus a ReLU root.
Kernel ConvKernel() {
  Builder b("conv_relu");
  int x = b.Parameter({1, 16, 28, 28}), w = b.Parameter({32, 16, 3, 3});
  Attributes a;
  a.convolution_dimension_numbers = graph::ConvolutionDimensionNumbers::Nchw(2);
  graph::WindowDimension win;
  win.size = 3;
  win.padding_low = win.padding_high = 1;
  a.window = {win, win};
  int conv = b.Add(HloOpcode::kConvolution, {1, 32, 28, 28}, {x, w}, a);
  Attributes zero;
  zero.constant_value = 0.0;
  int z = b.Add(HloOpcode::kConstant, {1, 32, 28, 28}, {}, zero);
  b.Add(HloOpcode::kMaximum, {1, 32, 28, 28}, {conv, z});
  return b.Build();
}

// dot [100,300] x [300,512] -> [100,512].
Kernel DotKernel() {
  Builder b("dot");
  int x = b.Parameter({100, 300}), y = b.Parameter({300, 512});
  b.Dot(x, y, {100, 512});
  return b.Build();
}

// reduce-sum of [8,1,50] over dim 2 -> [8,1].
Kernel ReduceKernel() {
  Builder b("reduce");
  int x = b.Parameter({8, 1, 50});
  Attributes init;
  init.constant_value = 0.0;
  int z = b.Add(HloOpcode::kConstant, {}, {}, init);
  Attributes a;
  a.dimensions = {2};
  a.reduce_computation = HloOpcode::kAdd;
  b.Add(HloOpcode::kReduce, {8, 1}, {x, z}, a);
  return b.Build();
}

// add of two [6,5] tensors.
Kernel ElementwiseKernel() {
  Builder b("add");
  int x = b.Parameter({6, 5}), y = b.Parameter({6, 5});
  b.Add(HloOpcode::kAdd, {6, 5}, {x, y});
  return b.Build();
}

struct SpaceCase {
  std::string name;
  Kernel (*build)();
  std::vector<int> tiled_dims;
  int primary_reduction;
  int64_t split_extent;
  size_t space_size;
};

class ConfigSpaceTest : public ::testing::TestWithParam<SpaceCase> {};

TEST_P(ConfigSpaceTest, HasTheDocumentedSizeAndOnlyValidDistinctConfigs) {
  const SpaceCase& c = GetParam();
  const Kernel kernel = c.build();
  EXPECT_EQ(TiledDims(kernel), c.tiled_dims);
  EXPECT_EQ(PrimaryReduction(kernel), c.primary_reduction);
  if (c.primary_reduction >= 0) {
    EXPECT_EQ(SplitReductionExtent(kernel, c.primary_reduction), c.split_extent);
  }
  absl::StatusOr<std::vector<TileConfig>> space = ConfigSpace(kernel);
  ASSERT_OK(space);
  EXPECT_EQ(space->size(), c.space_size);
  std::set<std::string> seen;
  for (const TileConfig& config : *space) {
    ASSERT_OK(Validate(kernel, config)) << config.ToString();
    EXPECT_TRUE(seen.insert(config.ToString()).second) << "duplicate " << config.ToString();
  }
  const TileConfig def = Default(kernel);
  EXPECT_OK(Validate(kernel, def));
  EXPECT_NE(std::find(space->begin(), space->end(), def), space->end()) << def.ToString();
}

// Sizes follow from the candidate rules in tile_config.h:
//  conv [1,32,28,28]: slot0 (28) {8,16,28} x slot1 (28) {1,2,4,8,16,28} x slot2 (32) {1,2,4,8,16,32};
//    vector widths: tile 8 -> {1,4,8}, 16 and 28 -> {1,4,8,16} (11 per slot1 x slot2 pair);
//    splits below 16 input features {1,4}; parallel {-1,0,1,2}: 11*36*2*4 = 3168.
//  dot [100,512]: slot0 (512) {8..256, 256 as divisor} = {8,16,32,64,128,256}; slot1 (100)
//    {1,2,4,8,16,32,64,100}; vector widths 3+4*5 = 23; splits below 300 {1,4,16,64}; parallel
//    {-1,0,1}: 23*8*4*3 = 2208.
//  reduce [8,1]: slot0 (8) {8}; vector widths {1,4,8}; splits below 50 {1,4,16}; parallel {-1,0}:
//    3*3*2 = 18.
//  add [6,5]: slot0 (5 < 8) {1,2,4,5}, slot1 (6) {1,2,4,6}; vector widths 1+1+2+2 = 6 per slot1;
//    no split; parallel {-1,0,1}: 6*4*3 = 72.
INSTANTIATE_TEST_SUITE_P(
    Kernels, ConfigSpaceTest,
    ::testing::Values(SpaceCase{"Conv", ConvKernel, {3, 2, 1}, 2, 16, 3168},
                      SpaceCase{"Dot", DotKernel, {1, 0}, 2, 300, 2208},
                      SpaceCase{"Reduce", ReduceKernel, {0}, 2, 50, 18},
                      SpaceCase{"Elementwise", ElementwiseKernel, {1, 0}, -1, 1, 72}),
    [](const ::testing::TestParamInfo<SpaceCase>& info) { return info.param.name; });

TEST(TileConfigTest, DefaultPicksTheDocumentedHeuristic) {
  const TileConfig conv = Default(ConvKernel());
  EXPECT_EQ(conv.ToString(), "tile=28,8,4;dims=3,2,1;split=1;vec=8;par=2");
  const TileConfig dot = Default(DotKernel());
  EXPECT_EQ(dot.ToString(), "tile=64,8,0;dims=1,0,-1;split=1;vec=8;par=1");
  const TileConfig add = Default(ElementwiseKernel());
  EXPECT_EQ(add.ToString(), "tile=5,6,0;dims=1,0,-1;split=1;vec=4;par=1");
}

TEST(TileConfigTest, ToStringParsesBack) {
  TileConfig c;
  c.tiled_dims = {3, 2, -1};
  c.tile = {32, 4, 0};
  c.reduction_split = 16;
  c.vector_width = 8;
  c.parallel_loop = 1;
  absl::StatusOr<TileConfig> parsed = TileConfig::Parse(c.ToString());
  ASSERT_OK(parsed);
  EXPECT_EQ(*parsed, c);
}

TEST(TileConfigTest, ParseRejectsMalformedText) {
  EXPECT_THAT(TileConfig::Parse("tile=1,2;dims=0,1,-1;split=1;vec=1;par=-1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs 3 values")));
  EXPECT_THAT(TileConfig::Parse("tile=1,2,0;dims=0,1,-1;split=x;vec=1;par=-1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'x'")));
  EXPECT_THAT(TileConfig::Parse("vec=1;tile=1,2,0;dims=0,1,-1;split=1;par=-1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected key 'tile'")));
  EXPECT_THAT(TileConfig::Parse(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TileConfigTest, ValidateNamesTheViolatedRule) {
  const Kernel kernel = DotKernel();
  TileConfig c = Default(kernel);
  c.tile[0] = 513;
  EXPECT_THAT(Validate(kernel, c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tile 513 of slot 0")));
  c = Default(kernel);
  c.tiled_dims[1] = 1;
  EXPECT_THAT(Validate(kernel, c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tiled by two slots")));
  c = Default(kernel);
  c.vector_width = 128;
  EXPECT_THAT(Validate(kernel, c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vector width 128")));
  c = Default(kernel);
  c.parallel_loop = 2;
  EXPECT_THAT(Validate(kernel, c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parallel loop 2")));
  c = Default(kernel);
  c.reduction_split = 300;
  EXPECT_THAT(Validate(kernel, c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reduction split 300")));
  c = Default(ElementwiseKernel());
  c.reduction_split = 2;
  EXPECT_THAT(Validate(ElementwiseKernel(), c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no reduction")));
  c = Default(kernel);
  c.tile[2] = 4;
  EXPECT_THAT(Validate(kernel, c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unused slot 2")));
}

// ValidateConfig is Validate without re-validating the kernel (callers that check many configs of
// one valid kernel): on a valid kernel the two agree config by config, message included.
TEST(TileConfigTest, ValidateConfigAgreesWithValidateOnAValidKernel) {
  for (const Kernel& kernel : {DotKernel(), ElementwiseKernel()}) {
    ASSERT_OK(kernel.Validate());
    std::vector<TileConfig> configs = ConfigSpace(kernel).value();
    TileConfig c = Default(kernel);
    c.tile[0] = 513;
    configs.push_back(c);
    c = Default(kernel);
    c.vector_width = 128;
    configs.push_back(c);
    c = Default(kernel);
    c.reduction_split = 2;
    configs.push_back(c);
    for (const TileConfig& config : configs) {
      EXPECT_EQ(ValidateConfig(kernel, config), Validate(kernel, config)) << config.ToString();
    }
  }
}

TEST(TileConfigTest, FeaturesHaveExactValuesForAHandBuiltDotConfig) {
  // dot [100,512], K = 300: tile 64 of dim 1 (512) and 8 of dim 0 (100), split 16, vec 8,
  // parallel over slot 1.
  const Kernel kernel = DotKernel();
  TileConfig c;
  c.tiled_dims = {1, 0, -1};
  c.tile = {64, 8, 0};
  c.reduction_split = 16;
  c.vector_width = 8;
  c.parallel_loop = 1;
  ASSERT_OK(Validate(kernel, c));
  std::vector<float> f(kNumConfigFeatures, -1.0f);
  ConfigFeatures(kernel, c, f.data());
  const std::vector<float> expected = {
      // slot 0: used, log2 64, 64/512, log2(8 tiles), divides
      1, 6, 0.125f, 3, 1,
      // slot 1: used, log2 8, 8/100, log2(ceil(100/8) = 13), 100 % 8 != 0
      1, 3, 0.08f, static_cast<float>(std::log2(13.0)), 0,
      // slot 2 unused
      0, 0, 0, 0, 0,
      // log2 vec 8, log2 split 16, 16/300
      3, 4, 16.0f / 300.0f,
      // parallel one-hot: slot 1
      0, 0, 1, 0,
      // log2(64*8), log2(8*13 tiles), log2(13 parallel iterations)
      9, static_cast<float>(std::log2(104.0)), static_cast<float>(std::log2(13.0))};
  ASSERT_EQ(expected.size(), static_cast<size_t>(kNumConfigFeatures));
  const std::vector<std::string> names = ConfigFeatureNames();
  ASSERT_EQ(names.size(), static_cast<size_t>(kNumConfigFeatures));
  for (int i = 0; i < kNumConfigFeatures; ++i) {
    EXPECT_FLOAT_EQ(f[i], expected[i]) << names[i];
  }
  EXPECT_EQ(names.front(), "slot0_used");
  EXPECT_EQ(names.back(), "log2_parallel_iterations");
}

TEST(TileConfigTest, ConfigSpaceRejectsAnInvalidKernel) {
  Kernel kernel = ElementwiseKernel();
  kernel.root = 17;
  EXPECT_THAT(ConfigSpace(kernel), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("root")));
}

}  // namespace
}  // namespace perfgraph::tiling

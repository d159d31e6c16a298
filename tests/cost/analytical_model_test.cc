#include "cost/analytical_model.h"

#include <vector>

#include "cost/cost_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cost/cost_test_util.h"
#include "tests/status_matchers.h"

namespace perfgraph::cost {
namespace {

using perfgraph::testing::IsOk;
using perfgraph::testing::StatusIs;
using ::testing::HasSubstr;
using tiling::TileConfig;

AnalyticalModel Model(int threads = 1) {
  absl::StatusOr<AnalyticalModel> model =
      AnalyticalModel::Create(test::SyntheticTarget(), {threads});
  EXPECT_THAT(model, IsOk());
  return *model;
}

// Slot 0 = dim `d0` with tile t0, slot 1 = dim `d1` with tile t1 (2-D kernels).
TileConfig Config2d(int d0, int64_t t0, int d1, int64_t t1, int vec, int par, int64_t split = 1) {
  TileConfig c;
  c.tiled_dims = {d0, d1, -1};
  c.tile = {t0, t1, 0};
  c.vector_width = vec;
  c.parallel_loop = par;
  c.reduction_split = split;
  return c;
}

double Ns(const AnalyticalModel& model, const graph::Kernel& kernel, const TileConfig& config) {
  absl::StatusOr<CostBreakdown> b = model.Explain(kernel, config);
  EXPECT_THAT(b, IsOk());
  return b.ok() ? b->total_ns : -1;
}

TEST(AnalyticalModelTest, MoreFlopsTakeMoreTime) {
  const AnalyticalModel model = Model();
  const TileConfig config = Config2d(1, 64, 0, 8, 8, -1);
  EXPECT_LT(Ns(model, test::Dot(64, 64, 256), config), Ns(model, test::Dot(64, 256, 256), config));
  EXPECT_LT(Ns(model, test::Dot(64, 256, 256), config), Ns(model, test::Dot(128, 256, 256), config));
}

TEST(AnalyticalModelTest, VectorWidthThatFillsLanesBeatsScalar) {
  const AnalyticalModel model = Model();
  const graph::Kernel dot = test::Dot(64, 256, 256);
  // A 4-wide tile: shorter than one native vector, so LLVM leaves the scalar loop scalar.
  absl::StatusOr<CostBreakdown> scalar = model.Explain(dot, Config2d(1, 4, 0, 8, 1, -1));
  absl::StatusOr<CostBreakdown> half = model.Explain(dot, Config2d(1, 4, 0, 8, 4, -1));
  absl::StatusOr<CostBreakdown> full = model.Explain(dot, Config2d(1, 64, 0, 8, 8, -1));
  ASSERT_THAT(scalar, IsOk());
  ASSERT_THAT(half, IsOk());
  ASSERT_THAT(full, IsOk());
  EXPECT_LT(full->total_ns, half->total_ns);
  EXPECT_LT(half->total_ns, scalar->total_ns);
  // 8 lanes of 8 are used by the full width, 4 of 8 by the half width, 1 of 8 by the scalar loop.
  EXPECT_DOUBLE_EQ(full->vector_efficiency, 1.0);
  EXPECT_DOUBLE_EQ(half->vector_efficiency, 0.5);
  EXPECT_DOUBLE_EQ(scalar->vector_efficiency, 1.0 / 8);
}

TEST(AnalyticalModelTest, LlvmVectorisesAScalarScheduleOfAtLeastOneNativeVector) {
  const AnalyticalModel model = Model();
  const graph::Kernel dot = test::Dot(64, 256, 256);
  // vector_width 1 over a 64-wide tile: LLVM's loop vectoriser gives the native width anyway.
  absl::StatusOr<CostBreakdown> scalar = model.Explain(dot, Config2d(1, 64, 0, 8, 1, -1));
  absl::StatusOr<CostBreakdown> full = model.Explain(dot, Config2d(1, 64, 0, 8, 8, -1));
  ASSERT_THAT(scalar, IsOk());
  ASSERT_THAT(full, IsOk());
  EXPECT_DOUBLE_EQ(scalar->vector_efficiency, 1.0);
  EXPECT_DOUBLE_EQ(scalar->reduction_ns, full->reduction_ns);
}

// Sums of f32[rows, cols] over dim `reduced` (0 or 1). Over dim 1, the contiguous one, the output
// row walks the strided dim of the input, so a vector loop over it gathers (softmax and layer-norm
// statistics look like this).
graph::Kernel Sum(int64_t rows, int64_t cols, int64_t reduced) {
  test::KernelBuilder b("sum", graph::FusionKind::kInput);
  const int x = b.Parameter({rows, cols});
  graph::Attributes zero;
  zero.constant_value = 0.0;
  const int init = b.Add(graph::HloOpcode::kConstant, {}, {}, zero);
  graph::Attributes attrs;
  attrs.dimensions = {reduced};
  b.Add(graph::HloOpcode::kReduce, {reduced == 1 ? rows : cols}, {x, init}, attrs);
  return b.Build();
}

TEST(AnalyticalModelTest, LlvmLeavesAScalarLoopThatWouldGatherScalar) {
  const AnalyticalModel model = Model();
  const graph::Kernel kernel = Sum(64, 256, /*reduced=*/1);
  TileConfig config;
  config.tiled_dims = {0, -1, -1};
  config.tile = {16, 0, 0};
  config.vector_width = 1;
  absl::StatusOr<CostBreakdown> scalar = model.Explain(kernel, config);
  config.vector_width = 8;
  absl::StatusOr<CostBreakdown> gathered = model.Explain(kernel, config);
  ASSERT_THAT(scalar, IsOk());
  ASSERT_THAT(gathered, IsOk());
  // Not auto-vectorised: one lane of 8 used; the 16 scalar accumulators stay in registers, and
  // a scalar load per update beats a scalarised gather (load + insert per lane), as the v2 tile
  // labels measure for such reductions.
  EXPECT_DOUBLE_EQ(scalar->vector_efficiency, 1.0 / 8);
  EXPECT_DOUBLE_EQ(gathered->vector_efficiency, 1.0);
  EXPECT_LT(scalar->reduction_ns, gathered->reduction_ns);
  // The same schedule over the contiguous dim (column sums) is auto-vectorised as before.
  const graph::Kernel columns = Sum(256, 64, /*reduced=*/0);
  config.vector_width = 1;
  absl::StatusOr<CostBreakdown> vectorised = model.Explain(columns, config);
  ASSERT_THAT(vectorised, IsOk());
  EXPECT_DOUBLE_EQ(vectorised->vector_efficiency, 1.0);
}

// x[1, 4, width] conv1d with 8 filters of 3 taps -> [1, 8, out].
graph::Kernel Conv1d(int64_t width, int64_t out, int64_t stride, int64_t padding) {
  test::KernelBuilder b("conv1d", graph::FusionKind::kOutput);
  const int x = b.Parameter({1, 4, width});
  const int w = b.Parameter({8, 4, 3});
  graph::Attributes attrs;
  attrs.convolution_dimension_numbers = graph::ConvolutionDimensionNumbers::Nchw(1);
  graph::WindowDimension window;
  window.size = 3;
  window.stride = stride;
  window.padding_low = window.padding_high = padding;
  attrs.window = {window};
  b.Add(graph::HloOpcode::kConvolution, {1, 8, out}, {x, w}, attrs);
  return b.Build();
}

TileConfig Conv1dConfig(int vec) {
  TileConfig c;
  c.tiled_dims = {2, 1, -1};
  c.tile = {8, 8, 0};
  c.vector_width = vec;
  return c;
}

TEST(AnalyticalModelTest, LlvmLeavesAScalarLoopWithAStridedLoadScalar) {
  // Stride 2: the input is read at every other element along the output row.
  absl::StatusOr<CostBreakdown> strided = Model().Explain(Conv1d(66, 32, 2, 0), Conv1dConfig(1));
  absl::StatusOr<CostBreakdown> dense = Model().Explain(Conv1d(34, 32, 1, 0), Conv1dConfig(1));
  ASSERT_THAT(strided, IsOk());
  ASSERT_THAT(dense, IsOk());
  EXPECT_DOUBLE_EQ(strided->vector_efficiency, 1.0 / 8);
  EXPECT_DOUBLE_EQ(dense->vector_efficiency, 1.0);
}

TEST(AnalyticalModelTest, PaddedWindowCopiesItsInputOncePerTileInsteadOfGuardingEveryTap) {
  // Same output [1, 8, 32] from a padded input of 32 and an unpadded one of 34: the updates cost
  // the same; the padded kernel adds the copy of each tile's [4, 8 + 2] input region: 4 rows of
  // ceil(10 / 8) = 2 vectors, 4 tiles, 3 ops per vector at 100e9 / (2 x 8) ops/s = 15.36 ns.
  absl::StatusOr<CostBreakdown> padded = Model().Explain(Conv1d(32, 32, 1, 1), Conv1dConfig(8));
  absl::StatusOr<CostBreakdown> unpadded = Model().Explain(Conv1d(34, 32, 1, 0), Conv1dConfig(8));
  ASSERT_THAT(padded, IsOk());
  ASSERT_THAT(unpadded, IsOk());
  EXPECT_EQ(padded->num_tiles, 4);
  EXPECT_DOUBLE_EQ(padded->reduction_ns, unpadded->reduction_ns);
  EXPECT_NEAR(padded->output_stage_ns - unpadded->output_stage_ns, 4 * 4 * 2 * 3 / 6.25, 1e-9);
}

TEST(AnalyticalModelTest, FewAccumulatorVectorsStayInRegisters) {
  const AnalyticalModel model = Model();
  // The same work per update; 2 accumulator vectors per row are promoted to registers (no
  // accumulator load/store per update), 32 are not.
  absl::StatusOr<CostBreakdown> promoted =
      model.Explain(test::Dot(256, 64, 16), Config2d(1, 16, 0, 256, 8, -1));
  absl::StatusOr<CostBreakdown> in_memory =
      model.Explain(test::Dot(16, 64, 256), Config2d(1, 256, 0, 16, 8, -1));
  ASSERT_THAT(promoted, IsOk());
  ASSERT_THAT(in_memory, IsOk());
  EXPECT_DOUBLE_EQ(promoted->executed_flops, in_memory->executed_flops);
  EXPECT_LT(promoted->reduction_ns, 0.5 * in_memory->reduction_ns);
}

TEST(AnalyticalModelTest, OpsWithoutACostFormulaAreUnimplemented) {
  graph::Kernel kernel = test::Add({64});
  graph::Instruction& root = kernel.instructions[kernel.root];
  root.opcode = graph::HloOpcode::kCustomCall;
  root.attrs.custom_call_target = "__onednn$matmul";
  EXPECT_THAT(Model().Explain(kernel, tiling::Default(kernel)),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("__onednn$matmul")));
}

TEST(AnalyticalModelTest, RaggedVectorTailCostsScalarIterations) {
  const AnalyticalModel model = Model();
  // 12 columns with 8 lanes: the reported efficiency counts one vector and the 4 tail lanes one
  // update each (the tail's cost is its stall: RaggedRowsPredicatedTailStallsEveryReductionStep).
  absl::StatusOr<CostBreakdown> b = model.Explain(test::Dot(16, 64, 12), Config2d(1, 12, 0, 16, 8, -1));
  ASSERT_THAT(b, IsOk());
  EXPECT_DOUBLE_EQ(b->vector_efficiency, 12.0 / (8 + 4 * 8));
}

// Hand-computed: the 12-wide row of RaggedVectorTailCostsScalarIterations is one vector plus a
// predicated one; the masked store stalls each of the 64 x 16 row steps for 12 calibrated updates
// (12 x 0.5 ns), more than its two vector updates (2 x 0.5 ns). Init: 192 / 8 stores at 6.25 G
// native ops/s. A 16-wide row (two vectors, promoted to registers) does 4/3 the work 10x faster.
TEST(AnalyticalModelTest, RaggedRowsPredicatedTailStallsEveryReductionStep) {
  const AnalyticalModel model = Model();
  absl::StatusOr<CostBreakdown> ragged =
      model.Explain(test::Dot(16, 64, 12), Config2d(1, 12, 0, 16, 8, -1));
  absl::StatusOr<CostBreakdown> even =
      model.Explain(test::Dot(16, 64, 16), Config2d(1, 16, 0, 16, 8, -1));
  ASSERT_THAT(ragged, IsOk());
  ASSERT_THAT(even, IsOk());
  EXPECT_NEAR(ragged->reduction_ns, 64 * 16 * 12 * 0.5 + 192.0 / 8 / 6.25, 1e-9);
  EXPECT_GT(ragged->reduction_ns, 10 * even->reduction_ns);
  // A description that measured the stall (calibrate's ragged-row probe) is charged that instead.
  TargetDescription t = test::SyntheticTarget();
  t.masked_tail_ns = 3.0;
  absl::StatusOr<AnalyticalModel> measured = AnalyticalModel::Create(t, {1});
  ASSERT_THAT(measured, IsOk());
  ragged = measured->Explain(test::Dot(16, 64, 12), Config2d(1, 12, 0, 16, 8, -1));
  ASSERT_THAT(ragged, IsOk());
  EXPECT_NEAR(ragged->reduction_ns, 64 * 16 * 3.0 + 192.0 / 8 / 6.25, 1e-9);
}

TEST(AnalyticalModelTest, ParallelLoopOverTwoTilesOnTwoCoresBeatsSerialWhenComputeBound) {
  const graph::Kernel dot = test::Dot(64, 256, 256);
  const AnalyticalModel model = Model(/*threads=*/2);
  // Slot 1 (m = 64) split into 2 tiles of 32; its outer loop is parallel.
  absl::StatusOr<CostBreakdown> serial = model.Explain(dot, Config2d(1, 256, 0, 32, 8, -1));
  absl::StatusOr<CostBreakdown> parallel = model.Explain(dot, Config2d(1, 256, 0, 32, 8, 1));
  ASSERT_THAT(serial, IsOk());
  ASSERT_THAT(parallel, IsOk());
  EXPECT_GT(serial->compute_ns, serial->memory_ns) << serial->ToString();
  EXPECT_EQ(parallel->parallel_iterations, 2);
  EXPECT_EQ(parallel->parallel_launches, 1);
  EXPECT_DOUBLE_EQ(parallel->parallel_speedup, 2.0);
  EXPECT_LT(parallel->total_ns, serial->total_ns);
  // The same config on a 1-thread pool gains nothing and pays the launch.
  absl::StatusOr<CostBreakdown> one_thread = Model(1).Explain(dot, Config2d(1, 256, 0, 32, 8, 1));
  ASSERT_THAT(one_thread, IsOk());
  EXPECT_GT(one_thread->total_ns, serial->total_ns);
}

TEST(AnalyticalModelTest, ParallelLoadImbalanceLimitsSpeedup) {
  const AnalyticalModel model = Model(2);
  // m = 96 in tiles of 32: 3 tiles on 2 threads take 2 rounds, speedup 1.5.
  absl::StatusOr<CostBreakdown> b = model.Explain(test::Dot(96, 256, 256), Config2d(1, 256, 0, 32, 8, 1));
  ASSERT_THAT(b, IsOk());
  EXPECT_DOUBLE_EQ(b->parallel_speedup, 1.5);
}

TEST(AnalyticalModelTest, MeasuredParallelScalingScalesTheSpeedup) {
  TargetDescription t = test::SyntheticTarget();
  t.parallel_scaling = 0.8;
  absl::StatusOr<AnalyticalModel> model = AnalyticalModel::Create(t, {2});
  ASSERT_THAT(model, IsOk());
  absl::StatusOr<CostBreakdown> b = model->Explain(test::Dot(64, 256, 256), Config2d(1, 256, 0, 32, 8, 1));
  ASSERT_THAT(b, IsOk());
  // Two tiles on two threads: load-balance bound 2, times the measured scaling.
  EXPECT_DOUBLE_EQ(b->parallel_speedup, 1.6);
}

TEST(AnalyticalModelTest, SmallDotTilesLoadEachRowsOperandLinesOnceNotPerReductionStep) {
  // [128, 512] x [512, 2048] in 8 x 8 tiles. Neither a tile (A: 8 rows = 16 KiB, B: 512 rows at one
  // line each = 32 KiB) nor one accumulator row (A's row 2 KiB + B's panel) fits the usable half of
  // L1, so one reduction step is the largest sub-nest that fits. Consecutive steps share A's lines
  // (16 steps per line): per row, L1 fills are A's row once and B's panel once (2 KiB + 32 KiB + the
  // accumulator row's line), not three lines per step (A, B, accumulator) as when every step was
  // charged on its own.
  const AnalyticalModel model = Model();
  const graph::Kernel dot = test::Dot(128, 512, 2048);
  absl::StatusOr<CostBreakdown> b = model.Explain(dot, Config2d(1, 8, 0, 8, 8, -1));
  ASSERT_THAT(b, IsOk());
  const double rows = 128 * (2048 / 8);  // accumulator rows over all tiles
  const double per_row_lines = 512 * 4 + 512 * 64 + 64;
  const double per_step_charge = 3 * 64.0 * 512;
  const double beyond_l1 = b->bytes_served[kL2] + b->bytes_served[kL3] + b->bytes_served[kDram];
  EXPECT_NEAR(beyond_l1, rows * per_row_lines, 0.01 * rows * per_row_lines) << b->ToString();
  EXPECT_LT(beyond_l1, 0.5 * rows * per_step_charge) << b->ToString();
}

TEST(AnalyticalModelTest, WorkingSetBeyondL2MovesToALowerBandwidthTier) {
  const AnalyticalModel model = Model();
  const graph::Kernel add = test::Add({2048, 2048});
  absl::StatusOr<CostBreakdown> small = model.Explain(add, Config2d(1, 256, 0, 16, 8, -1));
  absl::StatusOr<CostBreakdown> whole = model.Explain(add, Config2d(1, 2048, 0, 2048, 8, -1));
  ASSERT_THAT(small, IsOk());
  ASSERT_THAT(whole, IsOk());
  // 3 x 256 x 16 x 4 B = 48 KiB: L2 (usable half of 1 MiB). 3 x 16 MiB: beyond L3 -> DRAM.
  EXPECT_EQ(small->tile_working_set_level, kL2);
  EXPECT_EQ(whole->tile_working_set_level, kDram);
  EXPECT_GT(whole->bytes_served[kDram], 0);
}

TEST(AnalyticalModelTest, DotOperandRereadsGrowAsTilesShrink) {
  const AnalyticalModel model = Model();
  const graph::Kernel dot = test::Dot(512, 512, 512);
  auto reread_bytes = [&](int64_t tile) {
    absl::StatusOr<CostBreakdown> b = model.Explain(dot, Config2d(1, tile, 0, tile, 8, -1));
    EXPECT_THAT(b, IsOk());
    // Everything that misses L1 (3 MiB of data fit L3, so nothing comes from DRAM when warm).
    return b->bytes_served[kL2] + b->bytes_served[kL3] + b->bytes_served[kDram];
  };
  const double big = reread_bytes(64);
  const double small = reread_bytes(16);
  EXPECT_GT(small, big);
  // Every operand byte is read at least once from beyond L1.
  EXPECT_GE(big, 2.0 * 512 * 512 * 4);
}

TEST(AnalyticalModelTest, ConvolutionHaloIsCountedInTheTileFootprint) {
  // x[1, 4, 32, 32] conv 3x3 (no padding) with 8 filters -> [1, 8, 30, 30].
  test::KernelBuilder b("conv", graph::FusionKind::kOutput);
  const int x = b.Parameter({1, 4, 32, 32});
  const int w = b.Parameter({8, 4, 3, 3});
  graph::Attributes attrs;
  attrs.convolution_dimension_numbers = graph::ConvolutionDimensionNumbers::Nchw(2);
  attrs.window = {graph::WindowDimension{3}, graph::WindowDimension{3}};
  b.Add(graph::HloOpcode::kConvolution, {1, 8, 30, 30}, {x, w}, attrs);
  const graph::Kernel conv = b.Build();
  TileConfig c;
  c.tiled_dims = {3, 2, 1};
  c.tile = {10, 10, 8};
  c.vector_width = 8;
  absl::StatusOr<CostBreakdown> breakdown = Model().Explain(conv, c);
  ASSERT_THAT(breakdown, IsOk());
  // One tile: input 4 x 12 x 12 (halo of 2), weights 8 x 4 x 3 x 3, accumulator and output 8 x 10 x 10.
  const double expected = 4.0 * (4 * 12 * 12 + 8 * 4 * 9 + 8 * 10 * 10 + 8 * 10 * 10);
  // Line-granular footprints round each innermost row up to whole 64-byte lines.
  EXPECT_GE(breakdown->tile_working_set_bytes, expected);
  EXPECT_EQ(breakdown->num_tiles, 9);
}

// Hand-computed: add of two f32[64] with one untiled slot, 8 lanes on the 8-lane synthetic target.
TEST(AnalyticalModelTest, ElementwiseFormulaMatchesHandComputation) {
  TileConfig c;
  c.tiled_dims = {0, -1, -1};
  c.tile = {64, 0, 0};
  c.vector_width = 8;
  absl::StatusOr<CostBreakdown> b = Model().Explain(test::Add({64}), c);
  ASSERT_THAT(b, IsOk());
  // Output stage: 8 vectors x (1 add + 2 loads + 1 store) = 32 ops at 100e9 / (2 x 8) ops/s.
  EXPECT_NEAR(b->output_stage_ns, 5.12, 1e-9);
  EXPECT_DOUBLE_EQ(b->reduction_ns, 0);
  // 768 bytes stay in L1 between runs: no traffic.
  EXPECT_DOUBLE_EQ(b->memory_ns, 0);
  // launch 1000 + one tile 10 + compute 5.12.
  EXPECT_NEAR(b->total_ns, 1015.12, 1e-9);
}

// Hand-computed: [4,16] x [16,32] dot, untiled (compute_root accumulator), 8 lanes.
TEST(AnalyticalModelTest, DotFormulaMatchesHandComputation) {
  absl::StatusOr<CostBreakdown> b =
      Model().Explain(test::Dot(4, 16, 32), Config2d(1, 32, 0, 4, 8, -1));
  ASSERT_THAT(b, IsOk());
  // Updates: rows = 16 (k) x 4 (m) = 64 innermost loops of 32 / 8 = 4 vector updates. 4 vectors
  // stay in registers: each update is 1 load + 1/4 broadcast at the FMA rate of
  // 100e9 / (2 x 8) = 6.25e9 per second = 0.2 ns: 51.2 ns. Accumulator init: 128 / 8 = 16 stores
  // at 6.25e9 ops/s = 2.56 ns.
  EXPECT_NEAR(b->reduction_ns, 53.76, 1e-9);
  // Output stage: 4 rows x 4 vectors x (1 load + 1 store) = 32 ops = 5.12 ns.
  EXPECT_NEAR(b->output_stage_ns, 5.12, 1e-9);
  EXPECT_DOUBLE_EQ(b->executed_flops, 2.0 * 4 * 16 * 32);
  EXPECT_NEAR(b->total_ns, 1000 + 10 + 53.76 + 5.12, 1e-9);
}

// dot [12, 8, 16] x [12, 16, 64] -> [12, 8, 64], transposed to [8, 12, 64] and reshaped to [8, 768]
// (a transformer's attention output). The target's reshape de-linearises the output index with / and
// %, and Halide's interval arithmetic covers every head and column of the dot for any output tile, so
// the accumulator realised per [4, 8] tile is [12, 4, 64]: 96x the tile. (vit_b_32's instance of
// this kernel measured 30.2 ms on this host where the tile-sized view estimated 11.5 us.)
graph::Kernel AttentionOutput(std::vector<int64_t> reshaped) {
  test::KernelBuilder b("attention_output", graph::FusionKind::kOutput);
  const int lhs = b.Parameter({12, 8, 16});
  const int rhs = b.Parameter({12, 16, 64});
  graph::Attributes dot_attrs;
  dot_attrs.dot_dimension_numbers = graph::DotDimensionNumbers{{0}, {0}, {2}, {1}};
  const int dot = b.Add(graph::HloOpcode::kDot, {12, 8, 64}, {lhs, rhs}, dot_attrs);
  graph::Attributes perm;
  perm.dimensions = {1, 0, 2};
  const int t = b.Add(graph::HloOpcode::kTranspose, {8, 12, 64}, {dot}, perm);
  b.Add(graph::HloOpcode::kReshape, std::move(reshaped), {t});
  return b.Build();
}

TEST(AnalyticalModelTest, ReshapeAfterAReductionComputesHalidesBoundingBoxPerTile) {
  const double dot_flops = 2.0 * 12 * 8 * 64 * 16;
  absl::StatusOr<CostBreakdown> flat =
      Model().Explain(AttentionOutput({8, 768}), Config2d(1, 8, 0, 4, 8, -1));
  ASSERT_THAT(flat, IsOk());
  EXPECT_EQ(flat->num_tiles, (768 / 8) * (8 / 4));
  // Per tile: [12, 4, 64] of the [12, 8, 64] dot (the outermost dim spans the tile's 4 rows).
  EXPECT_DOUBLE_EQ(flat->executed_flops, dot_flops * 192 * (12 * 4 * 64) / (12 * 8 * 64))
      << flat->ToString();
  // A reshape that only inserts a unit dim maps dims one to one: the accumulator is the tile.
  absl::StatusOr<CostBreakdown> unit =
      Model().Explain(AttentionOutput({8, 1, 12, 64}), [] {
        TileConfig c;
        c.tiled_dims = {3, 0, -1};
        c.tile = {8, 4, 0};
        c.vector_width = 8;
        return c;
      }());
  ASSERT_THAT(unit, IsOk());
  EXPECT_DOUBLE_EQ(unit->executed_flops, dot_flops) << unit->ToString();
}

// Hand-computed: [2,16] x [16,128] dot, untiled, 8 lanes: 16 accumulator vectors per row are too
// many for registers, so every update pays the calibrated load-FMA-store (0.5 ns).
TEST(AnalyticalModelTest, DotWithAccumulatorInMemoryMatchesHandComputation) {
  absl::StatusOr<CostBreakdown> b =
      Model().Explain(test::Dot(2, 16, 128), Config2d(1, 128, 0, 2, 8, -1));
  ASSERT_THAT(b, IsOk());
  // 16 (k) x 2 (m) rows x 16 vector updates x 0.5 ns = 256 ns; init 256 / 8 = 32 stores = 5.12 ns.
  EXPECT_NEAR(b->reduction_ns, 261.12, 1e-9);
}

// The calibrated update is of ReductionUpdateLanes lanes, whatever the native width: the dot above
// on a description with 4 native lanes (the reference description's) still pays 0.5 ns per 8-lane
// update (32 rows x 32 native vectors of 0.25 ns; init 64 native stores at 12.5 G ops/s), where
// charging 0.5 ns per native vector made it twice as slow as on 8 lanes. A probe of 16-lane updates
// makes each 8-lane update half as long (32 rows x 16 vectors x 0.25 ns).
TEST(AnalyticalModelTest, CalibratedUpdateIsScaledFromTheProbesLanesToNativeVectors) {
  TargetDescription t = test::SyntheticTarget();
  t.native_f32_lanes = 4;
  absl::StatusOr<AnalyticalModel> four = AnalyticalModel::Create(t, {1});
  ASSERT_THAT(four, IsOk());
  absl::StatusOr<CostBreakdown> b = four->Explain(test::Dot(2, 16, 128), Config2d(1, 128, 0, 2, 8, -1));
  ASSERT_THAT(b, IsOk());
  EXPECT_NEAR(b->reduction_ns, 32 * 32 * 0.25 + 64 / 12.5, 1e-9);
  t.native_f32_lanes = 8;
  t.reduction_update_lanes = 16;
  absl::StatusOr<AnalyticalModel> wide_probe = AnalyticalModel::Create(t, {1});
  ASSERT_THAT(wide_probe, IsOk());
  b = wide_probe->Explain(test::Dot(2, 16, 128), Config2d(1, 128, 0, 2, 8, -1));
  ASSERT_THAT(b, IsOk());
  EXPECT_NEAR(b->reduction_ns, 32 * 16 * 0.25 + 32 / 6.25, 1e-9);
}

// The dot of DotFormulaMatchesHandComputation with 4 elementwise ops fused into its left operand,
// which does not vary along the vectorised output dim: Halide and LLVM hoist it out of that loop, so
// its 4 ops per element run once per row of 4 vector updates (1 op per update), under the 1.25 ops
// per update the promoted update takes; per update, 4 ops would make the update 3.2x slower.
TEST(AnalyticalModelTest, OperandInvariantAlongTheVectorLoopIsHoistedOutOfIt) {
  test::KernelBuilder b("dot_of_scaled", graph::FusionKind::kOutput);
  const int p = b.Parameter({4, 16});
  int x = p;
  for (int i = 0; i < 4; ++i) x = b.Add(graph::HloOpcode::kMultiply, {4, 16}, {x, p});
  const int rhs = b.Parameter({16, 32});
  graph::Attributes attrs;
  attrs.dot_dimension_numbers = graph::DotDimensionNumbers{{}, {}, {1}, {0}};
  b.Add(graph::HloOpcode::kDot, {4, 32}, {x, rhs}, attrs);
  absl::StatusOr<CostBreakdown> hoisted = Model().Explain(b.Build(), Config2d(1, 32, 0, 4, 8, -1));
  ASSERT_THAT(hoisted, IsOk());
  EXPECT_NEAR(hoisted->reduction_ns, 53.76, 1e-9) << hoisted->ToString();
}

// A reshape that splits a dim ([4, 48] -> [4, 6, 8]) de-linearises every output index with a
// remainder (by 48) and a division (by 48): 2 x kDivModOps = 4 ops per vector, and its vector
// loads gather (15 extra ops: a load and an insert per lane, less the one load counted). Output
// stage: 24 vectors x (4 + 1 load + 1 store + 15) = 504 ops at 6.25e9 ops/s = 80.64 ns. The same
// elements through a reshape that only inserts a unit dim ([4, 48] -> [4, 1, 48]) are 24 dense
// vectors of 1 load + 1 store: 7.68 ns.
TEST(AnalyticalModelTest, DelinearisingReshapeCostsDivisionsAndGathers) {
  auto reshape_of = [](std::vector<int64_t> out) {
    test::KernelBuilder b("reshape");
    const int p = b.Parameter({4, 48});
    b.Add(graph::HloOpcode::kReshape, std::move(out), {p});
    return b.Build();
  };
  TileConfig split;
  split.tiled_dims = {2, 1, -1};
  split.tile = {8, 6, 0};
  split.vector_width = 8;
  absl::StatusOr<CostBreakdown> delinearised = Model().Explain(reshape_of({4, 6, 8}), split);
  ASSERT_THAT(delinearised, IsOk());
  EXPECT_NEAR(delinearised->output_stage_ns, 80.64, 1e-9) << delinearised->ToString();
  TileConfig unit = split;
  unit.tile = {48, 1, 0};
  absl::StatusOr<CostBreakdown> one_to_one = Model().Explain(reshape_of({4, 1, 48}), unit);
  ASSERT_THAT(one_to_one, IsOk());
  EXPECT_NEAR(one_to_one->output_stage_ns, 7.68, 1e-9) << one_to_one->ToString();
}

// A matrix-vector product [8, 16] x [16, 1]: the accumulator's innermost dim has extent 1, so the
// 8-wide vectorisation the config asks for has nothing to vectorise and each of the 16 x 8 rows is
// one scalar update kept in a register: (1 load + 1 / 1 store) ops at 6.25e9 ops/s = 0.32 ns, 40.96
// ns, plus 8 scalar initialising stores (1.28 ns). (regnet_y_800mf's squeeze-and-excitation
// convolution [1, 784] -> [1, 80, 1, 1] measured 6.5 us on the 2026-12-03 host where the
// vector-update estimate gave 65.6 us.)
TEST(AnalyticalModelTest, UnitInnermostAccumulatorDimUpdatesAScalarInARegister) {
  TileConfig c;
  c.tiled_dims = {0, -1, -1};
  c.tile = {8, 0, 0};
  c.vector_width = 8;
  absl::StatusOr<CostBreakdown> b = Model().Explain(test::Dot(8, 16, 1), c);
  ASSERT_THAT(b, IsOk());
  EXPECT_NEAR(b->reduction_ns, 42.24, 1e-9) << b->ToString();
}

// A matrix-vector product with transposed weights: [1, 1024] x [16, 1024]^T. The vector loop walks
// the weights' outer dim, rows 4 KiB apart, which all map to one L1 set (8 ways on the synthetic
// 32 KiB L1). An 8-row tile fits: each vector update is 1 load + 1 / 1 store + a 15-op gather =
// 17 ops at 6.25e9 ops/s = 2.72 ns, 1024 per tile, 2 tiles, plus one store each to initialise:
// 5570.88 ns. A 16-row tile does not: 2 updates per row, each (1 + 1 / 2 + 15 + 4 x 8 missed lanes)
// = 48.5 ops = 7.76 ns, 2048 of them, plus 2 stores: 15892.8 ns.
TEST(AnalyticalModelTest, RowsAMultipleOf4KiBApartConflictInL1BeyondItsWays) {
  test::KernelBuilder b("matvec_transposed", graph::FusionKind::kOutput);
  const int x = b.Parameter({1, 1024});
  const int w = b.Parameter({16, 1024});
  graph::Attributes attrs;
  attrs.dot_dimension_numbers = graph::DotDimensionNumbers{{}, {}, {1}, {1}};
  b.Add(graph::HloOpcode::kDot, {1, 16}, {x, w}, attrs);
  const graph::Kernel kernel = b.Build();
  absl::StatusOr<CostBreakdown> fits = Model().Explain(kernel, Config2d(1, 8, 0, 1, 8, -1));
  ASSERT_THAT(fits, IsOk());
  EXPECT_NEAR(fits->reduction_ns, 5570.88, 1e-6) << fits->ToString();
  absl::StatusOr<CostBreakdown> conflicts = Model().Explain(kernel, Config2d(1, 16, 0, 1, 8, -1));
  ASSERT_THAT(conflicts, IsOk());
  EXPECT_NEAR(conflicts->reduction_ns, 15892.8, 1e-6) << conflicts->ToString();
}

TEST(AnalyticalModelTest, BatchedEstimateGivesPerPairErrors) {
  AnalyticalModel model = Model();
  const graph::Kernel dot = test::Dot(64, 64, 64);
  TileConfig bad = Config2d(1, 64, 0, 8, 8, -1);
  bad.vector_width = 128;  // wider than the tile
  CostBatch batch;
  const int a = batch.Enqueue(dot, Config2d(1, 64, 0, 8, 8, -1));
  const int b = batch.Enqueue(dot, bad);
  const int c = batch.Enqueue(dot, tiling::Default(dot));
  std::vector<absl::StatusOr<double>> ns = batch.Evaluate(model);
  ASSERT_EQ(ns.size(), 3u);
  ASSERT_THAT(ns[a], IsOk());
  EXPECT_GT(*ns[a], 0);
  EXPECT_THAT(ns[b], StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dot")));
  ASSERT_THAT(ns[c], IsOk());
  EXPECT_GT(*ns[c], 0);
  // A null kernel is an error for that query only.
  std::vector<CostQuery> queries = {{nullptr, TileConfig{}}, {&dot, tiling::Default(dot)}};
  std::vector<absl::StatusOr<double>> more = model.EstimateNs(queries);
  EXPECT_THAT(more[0], StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no kernel")));
  EXPECT_THAT(more[1], IsOk());
}

TEST(AnalyticalModelTest, EveryConfigOfTheSpaceGetsAPositiveEstimate) {
  AnalyticalModel model = Model(2);
  const graph::Kernel dot = test::Dot(48, 96, 40);
  absl::StatusOr<std::vector<TileConfig>> space = tiling::ConfigSpace(dot);
  ASSERT_THAT(space, IsOk());
  std::vector<CostQuery> queries;
  for (const TileConfig& c : *space) queries.push_back({&dot, c});
  for (const absl::StatusOr<double>& ns : model.EstimateNs(queries)) {
    ASSERT_THAT(ns, IsOk());
    EXPECT_GT(*ns, 0);
  }
}

// ExplainAll analyses the kernel once and reuses its storage across configs: every config must
// still get exactly what Explain gives it alone, in either order, errors included.
TEST(AnalyticalModelTest, ExplainAllGivesEachConfigWhatExplainGivesIt) {
  AnalyticalModel model = Model(2);
  graph::Kernel unimplemented = test::Add({64});
  unimplemented.instructions[unimplemented.root].opcode = graph::HloOpcode::kCustomCall;
  unimplemented.instructions[unimplemented.root].attrs.custom_call_target = "__onednn$matmul";
  graph::Kernel invalid = test::Dot(16, 16, 16);
  invalid.root = 99;  // fails Kernel::Validate
  for (const graph::Kernel& kernel : {test::Dot(48, 96, 40), Sum(24, 300, 1), Sum(300, 24, 0),
                                      test::Add({8, 130}), unimplemented, invalid}) {
    SCOPED_TRACE(kernel.name);
    std::vector<TileConfig> configs;
    if (absl::StatusOr<std::vector<TileConfig>> space = tiling::ConfigSpace(kernel); space.ok()) {
      configs = *space;
    } else {
      configs.push_back(TileConfig{});
    }
    TileConfig bad = configs.front();
    bad.vector_width = 3;  // not a power of two: this config alone is invalid
    configs.insert(configs.begin() + static_cast<std::ptrdiff_t>(configs.size() / 2), bad);
    std::vector<TileConfig> reversed(configs.rbegin(), configs.rend());
    for (const std::vector<TileConfig>* order : {&configs, &reversed}) {
      const std::vector<absl::StatusOr<CostBreakdown>> all = model.ExplainAll(kernel, *order);
      ASSERT_EQ(all.size(), order->size());
      for (size_t c = 0; c < order->size(); ++c) {
        const absl::StatusOr<CostBreakdown> one = model.Explain(kernel, (*order)[c]);
        ASSERT_EQ(all[c].status(), one.status()) << (*order)[c].ToString();
        if (one.ok()) {
          EXPECT_EQ(all[c]->total_ns, one->total_ns) << (*order)[c].ToString();
          EXPECT_EQ(all[c]->ToString(), one->ToString()) << (*order)[c].ToString();
        }
      }
    }
  }
  EXPECT_THAT(model.Explain(unimplemented, tiling::Default(unimplemented)),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("__onednn$matmul")));
}

TEST(AnalyticalModelTest, CreateRejectsBadOptionsAndDescriptions) {
  EXPECT_THAT(AnalyticalModel::Create(test::SyntheticTarget(), {0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_threads")));
  TargetDescription t = test::SyntheticTarget();
  t.peak_flops_1t = 0;
  EXPECT_THAT(AnalyticalModel::Create(t),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("peak_flops_1t")));
}

TEST(AnalyticalModelTest, DefaultModelLoadsTheCommittedReferenceDescription) {
  absl::StatusOr<AnalyticalModel> model = AnalyticalModel::CreateDefault();
  ASSERT_THAT(model, IsOk());
  EXPECT_EQ(model->name(), "analytical");
  const graph::Kernel dot = test::Dot(32, 32, 32);
  absl::StatusOr<CostBreakdown> b = model->Explain(dot, tiling::Default(dot));
  ASSERT_THAT(b, IsOk());
  EXPECT_GT(b->total_ns, 0);
}

}  // namespace
}  // namespace perfgraph::cost

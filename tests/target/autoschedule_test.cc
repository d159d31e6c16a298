// target/autoschedule.h: each of Halide's autoschedulers (Adams2019, Mullapudi2016, Li2018)
// compiles small conv / dot / elementwise / softmax kernels to the same output as our default
// TileConfig schedule on the same seeded inputs; the measurement protocol runs on autoscheduled
// kernels; names, machine parameters and plugin errors.
#include "target/autoschedule.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "target/halide_cpu_target.h"
#include "target/measurement.h"
#include "tests/graph/kernel_builder.h"
#include "tests/status_matchers.h"
#include "tiling/tile_config.h"

namespace perfgraph::target {
namespace {

using graph::Attributes;
using graph::HloOpcode;
using graph::Kernel;
using graph::PrimitiveType;
using graph::Shape;
using perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

using test::KernelBuilder;

Attributes Dims(std::vector<int64_t> dims) {
  Attributes a;
  a.dimensions = std::move(dims);
  return a;
}

graph::WindowDimension Win(int64_t size, int64_t pad) {
  graph::WindowDimension w;
  w.size = size;
  w.stride = 1;
  w.padding_low = pad;
  w.padding_high = pad;
  return w;
}

// 3x3 convolution (padding 1) + bias + ReLU, NCHW: an output fusion with a padded input.
Kernel ConvBiasReluKernel() {
  KernelBuilder b("conv_bias_relu", graph::FusionKind::kOutput);
  int x = b.Parameter({1, 4, 10, 12}), w = b.Parameter({8, 4, 3, 3}), bias = b.Parameter({8});
  Attributes conv_attrs;
  conv_attrs.window = {Win(3, 1), Win(3, 1)};
  conv_attrs.feature_group_count = 1;
  conv_attrs.convolution_dimension_numbers = graph::ConvolutionDimensionNumbers::Nchw(2);
  int conv = b.Add(HloOpcode::kConvolution, {1, 8, 10, 12}, {x, w}, conv_attrs);
  int bb = b.Add(HloOpcode::kBroadcast, {1, 8, 10, 12}, {bias}, Dims({1}));
  int sum = b.Add(HloOpcode::kAdd, {1, 8, 10, 12}, {conv, bb});
  int zero = b.Constant(0, {1, 8, 10, 12});
  b.Add(HloOpcode::kMaximum, {1, 8, 10, 12}, {sum, zero});
  return b.Build();
}

// [24, 40] x [40, 20] matrix product plus a residual.
Kernel DotAddKernel() {
  KernelBuilder b("dot_add", graph::FusionKind::kOutput);
  int x = b.Parameter({24, 40}), y = b.Parameter({40, 20}), r = b.Parameter({24, 20});
  int dot = b.Dot(x, y, {24, 20});
  b.Add(HloOpcode::kAdd, {24, 20}, {dot, r});
  return b.Build();
}

// tanh(x) * y + exp(-x): a loop fusion of elementwise ops only.
Kernel ElementwiseKernel() {
  KernelBuilder b("elementwise", graph::FusionKind::kLoop);
  int x = b.Parameter({16, 64}), y = b.Parameter({16, 64});
  int t = b.Add(HloOpcode::kTanh, {16, 64}, {x});
  int m = b.Add(HloOpcode::kMultiply, {16, 64}, {t, y});
  int n = b.Add(HloOpcode::kNegate, {16, 64}, {x});
  int e = b.Add(HloOpcode::kExponential, {16, 64}, {n});
  b.Add(HloOpcode::kAdd, {16, 64}, {m, e});
  return b.Build();
}

// Softmax over the last axis: two reductions in one kernel, the second reading the first.
Kernel SoftmaxKernel() {
  KernelBuilder b("softmax", graph::FusionKind::kInput);
  int x = b.Parameter({6, 30});
  int ninf = b.Constant(-std::numeric_limits<double>::infinity()), zero = b.Constant(0);
  Attributes max_attrs = Dims({1});
  max_attrs.reduce_computation = HloOpcode::kMaximum;
  Attributes sum_attrs = Dims({1});
  sum_attrs.reduce_computation = HloOpcode::kAdd;
  int mx = b.Add(HloOpcode::kReduce, {6}, {x, ninf}, max_attrs);
  int mxb = b.Add(HloOpcode::kBroadcast, {6, 30}, {mx}, Dims({0}));
  int sub = b.Add(HloOpcode::kSubtract, {6, 30}, {x, mxb});
  int e = b.Add(HloOpcode::kExponential, {6, 30}, {sub});
  int s = b.Add(HloOpcode::kReduce, {6}, {e, zero}, sum_attrs);
  int sb = b.Add(HloOpcode::kBroadcast, {6, 30}, {s}, Dims({0}));
  b.Add(HloOpcode::kDivide, {6, 30}, {e, sb});
  return b.Build();
}

const HalideCpuTarget& Target() {
  static const HalideCpuTarget* target = [] {
    HalideCpuTargetOptions options;
    options.num_threads = 2;
    options.seed = 7;
    return new HalideCpuTarget(*HalideCpuTarget::Create(options));
  }();
  return *target;
}

struct Case {
  Autoscheduler scheduler;
  std::string kernel_name;
  std::function<Kernel()> build;
};

class AutoscheduleEquivalenceTest : public ::testing::TestWithParam<Case> {};

TEST_P(AutoscheduleEquivalenceTest, SameOutputAsTheDefaultTileConfigSchedule) {
  const Kernel kernel = GetParam().build();
  absl::StatusOr<CompiledKernel> reference = Target().Compile(kernel, tiling::Default(kernel));
  ASSERT_OK(reference);
  absl::StatusOr<std::vector<float>> expected = Target().Run(*reference);
  ASSERT_OK(expected);

  absl::StatusOr<CompiledKernel> compiled =
      CompileAutoscheduled(Target(), kernel, GetParam().scheduler);
  ASSERT_OK(compiled);
  EXPECT_EQ(compiled->kernel_name(), kernel.name);
  EXPECT_EQ(compiled->config(), tiling::TileConfig());
  EXPECT_EQ(compiled->parameter_shapes(), reference->parameter_shapes());
  EXPECT_GT(compiled->compile_time(), absl::ZeroDuration());
  // Run() without inputs uses the seeded inputs, which depend only on the target's seed.
  absl::StatusOr<std::vector<float>> out = Target().Run(*compiled);
  ASSERT_OK(out);
  ASSERT_EQ(out->size(), expected->size());
  // Autoschedulers may reorder float reductions (Li2018 splits them atomically): relative 1e-4.
  float max_abs = 0;
  for (float v : *expected) max_abs = std::max(max_abs, std::fabs(v));
  EXPECT_GT(max_abs, 0.0f);  // the seeded inputs give a non-trivial output
  for (size_t i = 0; i < out->size(); ++i) {
    ASSERT_NEAR((*out)[i], (*expected)[i], 1e-4f * std::max(1.0f, std::fabs((*expected)[i])))
        << "element " << i;
  }
  // Explicit inputs flow through the autoscheduled kernel too.
  std::vector<std::vector<float>> inputs;
  for (const Shape& s : compiled->parameter_shapes()) {
    inputs.emplace_back(s.NumElements(), 0.5f);
  }
  absl::StatusOr<std::vector<float>> a = Target().Run(*compiled, inputs);
  absl::StatusOr<std::vector<float>> b = Target().Run(*reference, inputs);
  ASSERT_OK(a);
  ASSERT_OK(b);
  for (size_t i = 0; i < a->size(); ++i) {
    ASSERT_NEAR((*a)[i], (*b)[i], 1e-4f * std::max(1.0f, std::fabs((*b)[i]))) << "element " << i;
  }
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  const std::vector<std::pair<std::string, std::function<Kernel()>>> kernels = {
      {"ConvBiasRelu", ConvBiasReluKernel},
      {"DotAdd", DotAddKernel},
      {"Elementwise", ElementwiseKernel},
      {"Softmax", SoftmaxKernel}};
  for (Autoscheduler s : AllAutoschedulers()) {
    for (const auto& [name, build] : kernels) {
      // Li2018 cannot compile softmax (LiTwoReductionsFailWithHalidesMessage).
      if (s == Autoscheduler::kLi2018 && name == "Softmax") continue;
      cases.push_back({s, name, build});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllAutoschedulers, AutoscheduleEquivalenceTest,
                         ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return absl::StrCat(AutoschedulerName(info.param.scheduler), "_",
                                               info.param.kernel_name);
                         });

TEST(AutoscheduleTest, NamesRoundTripAndBadNameIsInvalidArgument) {
  for (Autoscheduler s : AllAutoschedulers()) {
    absl::StatusOr<Autoscheduler> parsed = ParseAutoscheduler(AutoschedulerName(s));
    ASSERT_OK(parsed);
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(AutoschedulerPluginFile(Autoscheduler::kMullapudi2016),
            "libautoschedule_mullapudi2016.so");
  EXPECT_THAT(ParseAutoscheduler("Adams2020"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("'Adams2020'"), HasSubstr("Mullapudi2016"))));
  // Case-sensitive, as Halide's registry.
  EXPECT_THAT(ParseAutoscheduler("adams2019"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(AutoscheduleTest, MachineParamsDefaultToTheTargetThreadsAndAKnownCacheSize) {
  absl::StatusOr<ResolvedMachineParams> params = ResolveMachineParams(Target());
  ASSERT_OK(params);
  EXPECT_EQ(params->parallelism, 2);
  EXPECT_GT(params->last_level_cache_bytes, 0u);
  EXPECT_FALSE(params->last_level_cache_source.empty());
  EXPECT_EQ(params->balance, kHalideGenericBalance);
  EXPECT_THAT(params->ToString(), HasSubstr("2,"));

  AutoscheduleOptions options;
  options.parallelism = 5;
  options.last_level_cache_bytes = 1 << 20;
  params = ResolveMachineParams(Target(), options);
  ASSERT_OK(params);
  EXPECT_EQ(params->parallelism, 5);
  EXPECT_EQ(params->last_level_cache_bytes, 1u << 20);
  EXPECT_EQ(params->last_level_cache_source, "option");

  options.parallelism = -1;
  EXPECT_THAT(ResolveMachineParams(Target(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parallelism -1")));
  options.parallelism = 0;
  options.balance = 0;
  EXPECT_THAT(ResolveMachineParams(Target(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("balance 0")));
}

TEST(AutoscheduleTest, MissingPluginIsFailedPreconditionNamingThePath) {
  AutoscheduleOptions options;
  options.plugin_dir = "/nonexistent/halide-plugins";
  const Kernel kernel = ElementwiseKernel();
  EXPECT_THAT(CompileAutoscheduled(Target(), kernel, Autoscheduler::kLi2018, options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("/nonexistent/halide-plugins/libautoschedule_li2018.so")));
  const Measurement m =
      MeasureAutoscheduled(Target(), kernel, Autoscheduler::kLi2018, 0, {}, options);
  EXPECT_EQ(m.status, MeasureStatus::kInvalid);
  EXPECT_THAT(m.error, HasSubstr("libautoschedule_li2018.so"));
}

TEST(AutoscheduleTest, UnsupportedOpIsUnimplementedNotACrash) {
  KernelBuilder b("custom", graph::FusionKind::kCustom);
  int x = b.Parameter({4});
  Attributes a;
  a.custom_call_target = "NonMaxSuppression";
  b.Add(HloOpcode::kCustomCall, {4}, {x}, a);
  EXPECT_THAT(CompileAutoscheduled(Target(), b.Build(), Autoscheduler::kMullapudi2016),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("NonMaxSuppression")));
}

// A known Halide 14 limitation: Li2018 parallelises the softmax reductions with atomic() updates
// whose ragged tails need predicated stores, which Halide's lowering rejects. It must surface as a
// Status carrying Halide's message (and an INVALID measurement), never a crash.
TEST(AutoscheduleTest, Li2018SoftmaxFailsWithHalidesMessage) {
  EXPECT_THAT(CompileAutoscheduled(Target(), SoftmaxKernel(), Autoscheduler::kLi2018),
              StatusIs(absl::StatusCode::kInternal,
                       AllOf(HasSubstr("kernel 'softmax' with autoscheduler Li2018"),
                             HasSubstr("Atomic predicated store is not supported"))));
  const Measurement m = MeasureAutoscheduled(Target(), SoftmaxKernel(), Autoscheduler::kLi2018);
  EXPECT_EQ(m.status, MeasureStatus::kInvalid);
  EXPECT_THAT(m.error, HasSubstr("compile: INTERNAL"));
  EXPECT_TRUE(m.samples_ns.empty());
}

TEST(AutoscheduleTest, MeasurementProtocolRunsOnAnAutoscheduledKernel) {
  ProtocolOptions protocol;
  protocol.warmup_runs = 1;
  protocol.min_runs = 3;
  protocol.max_runs = 5;
  const Measurement m =
      MeasureAutoscheduled(Target(), DotAddKernel(), Autoscheduler::kMullapudi2016, 0, protocol);
  ASSERT_EQ(m.status, MeasureStatus::kOk) << m.error;
  EXPECT_GE(m.samples_ns.size(), 3u);
  EXPECT_LE(m.samples_ns.size(), 5u);
  EXPECT_EQ(m.label_ns, *std::min_element(m.samples_ns.begin(), m.samples_ns.end()));
  EXPECT_GT(m.compile_time, absl::ZeroDuration());

  // MeasureCompiled can re-time one compiled kernel (compare's repetitions).
  absl::StatusOr<CompiledKernel> compiled =
      CompileAutoscheduled(Target(), ElementwiseKernel(), Autoscheduler::kAdams2019);
  ASSERT_OK(compiled);
  for (int rep = 0; rep < 2; ++rep) {
    const Measurement again = MeasureCompiled(Target(), *compiled, 0, protocol);
    ASSERT_EQ(again.status, MeasureStatus::kOk) << again.error;
    EXPECT_GT(again.label_ns, 0);
    EXPECT_EQ(again.compile_time, compiled->compile_time());
  }
}

}  // namespace
}  // namespace perfgraph::target

#include "cost/target_description.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cost/cost_test_util.h"
#include "tests/status_matchers.h"

namespace perfgraph::cost {
namespace {

using perfgraph::testing::IsOk;
using perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/" + name;
}

void ExpectSame(const TargetDescription& a, const TargetDescription& b) {
  EXPECT_EQ(a.machine, b.machine);
  EXPECT_EQ(a.halide_target, b.halide_target);
  EXPECT_EQ(a.native_f32_lanes, b.native_f32_lanes);
  EXPECT_EQ(a.all_threads, b.all_threads);
  EXPECT_DOUBLE_EQ(a.peak_flops_1t, b.peak_flops_1t);
  EXPECT_DOUBLE_EQ(a.peak_flops_all, b.peak_flops_all);
  for (int l = 0; l < kNumMemoryLevels; ++l) {
    EXPECT_EQ(a.memory[l].capacity_bytes, b.memory[l].capacity_bytes);
    EXPECT_EQ(a.memory[l].measured_working_set_bytes, b.memory[l].measured_working_set_bytes);
    EXPECT_DOUBLE_EQ(a.memory[l].bandwidth_1t_bytes_per_s, b.memory[l].bandwidth_1t_bytes_per_s);
    EXPECT_DOUBLE_EQ(a.memory[l].bandwidth_all_bytes_per_s, b.memory[l].bandwidth_all_bytes_per_s);
  }
  EXPECT_DOUBLE_EQ(a.reduction_update_ns, b.reduction_update_ns);
  EXPECT_EQ(a.reduction_update_lanes, b.reduction_update_lanes);
  EXPECT_DOUBLE_EQ(a.masked_tail_ns, b.masked_tail_ns);
  EXPECT_DOUBLE_EQ(a.kernel_launch_ns, b.kernel_launch_ns);
  EXPECT_DOUBLE_EQ(a.parallel_launch_ns, b.parallel_launch_ns);
  EXPECT_DOUBLE_EQ(a.tile_overhead_ns, b.tile_overhead_ns);
  EXPECT_DOUBLE_EQ(a.parallel_scaling, b.parallel_scaling);
  EXPECT_EQ(a.created_unix_seconds, b.created_unix_seconds);
  EXPECT_EQ(a.notes, b.notes);
  ASSERT_EQ(a.calibration.size(), b.calibration.size());
  for (size_t i = 0; i < a.calibration.size(); ++i) {
    EXPECT_EQ(a.calibration[i].name, b.calibration[i].name);
    EXPECT_EQ(a.calibration[i].unit, b.calibration[i].unit);
    EXPECT_DOUBLE_EQ(a.calibration[i].value, b.calibration[i].value);
    EXPECT_DOUBLE_EQ(a.calibration[i].spread, b.calibration[i].spread);
    EXPECT_EQ(a.calibration[i].pass_values, b.calibration[i].pass_values);
    EXPECT_DOUBLE_EQ(a.calibration[i].pass_disagreement, b.calibration[i].pass_disagreement);
  }
}

// SyntheticTarget plus what only calibrate fills: ISA, parallel scaling and the report.
TargetDescription CalibratedSyntheticTarget() {
  TargetDescription t = test::SyntheticTarget();
  t.machine.isa = "sse4_1 sse4_2 avx avx2 fma";
  t.parallel_scaling = 0.85;
  t.reduction_update_lanes = 8;
  t.masked_tail_ns = 6.0;
  CalibratedConstant c;
  c.name = "L2 bandwidth_1t";
  c.unit = "B/s";
  c.value = 200e9;
  c.spread = 0.012;
  c.pass_values = {199e9, 201e9};
  c.pass_disagreement = 0.01;
  t.calibration.push_back(c);
  return t;
}

TEST(TargetDescriptionTest, TextRoundTripKeepsEveryField) {
  const TargetDescription t = CalibratedSyntheticTarget();
  const std::string text = TargetDescriptionToText(t);
  EXPECT_THAT(text, HasSubstr("peak_flops_1t"));
  absl::StatusOr<TargetDescription> parsed = ParseTargetDescription(text, "memory");
  ASSERT_THAT(parsed, IsOk());
  ExpectSame(t, *parsed);
}

TEST(TargetDescriptionTest, FileRoundTripOnTheSameMachineDoesNotWarn) {
  const TargetDescription t = test::SyntheticTarget();
  const std::string path = TempPath("same_machine.textproto");
  ASSERT_THAT(SaveTargetDescription(t, path), IsOk());
  ::testing::internal::CaptureStderr();
  absl::StatusOr<TargetDescription> loaded = LoadTargetDescription(path, t.machine);
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_THAT(loaded, IsOk());
  ExpectSame(t, *loaded);
  EXPECT_EQ(err, "");
}

TEST(TargetDescriptionTest, DescriptionFromAnotherCpuWarnsOnceNamingBothMachines) {
  const TargetDescription t = test::SyntheticTarget();
  const std::string path = TempPath("other_machine.textproto");
  ASSERT_THAT(SaveTargetDescription(t, path), IsOk());
  data::MachineFingerprint here = t.machine;
  here.cpu_model = "Other CPU 9000";
  here.l2_cache_bytes = 2 << 20;
  EXPECT_THAT(MachineMismatch(t, here, path), HasSubstr("Synthetic CPU"));
  ::testing::internal::CaptureStderr();
  ASSERT_THAT(LoadTargetDescription(path, here), IsOk());
  ASSERT_THAT(LoadTargetDescription(path, here), IsOk());
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("warning"));
  EXPECT_THAT(err, HasSubstr("Synthetic CPU"));
  EXPECT_THAT(err, HasSubstr("Other CPU 9000"));
  EXPECT_THAT(err, HasSubstr(path));
  // Once: the second load of the same file on the same machine is silent.
  EXPECT_EQ(err.find("warning"), err.rfind("warning")) << err;
}

TEST(TargetDescriptionTest, ThreadCountAndToolchainDifferencesAreNotAMismatch) {
  const TargetDescription t = test::SyntheticTarget();
  data::MachineFingerprint here = t.machine;
  here.num_threads = 1;
  here.compiler_version = "Clang 99";
  here.os = "Linux 9";
  EXPECT_EQ(MachineMismatch(t, here, "x"), "");
}

TEST(TargetDescriptionTest, AnotherVectorIsaIsAMismatch) {
  const TargetDescription t = CalibratedSyntheticTarget();
  data::MachineFingerprint here = t.machine;
  here.isa = "sse4_1 sse4_2 avx avx2 fma avx512f";
  EXPECT_THAT(MachineMismatch(t, here, "x"), HasSubstr("isa"));
  here.isa = "";  // unknown: not compared
  EXPECT_EQ(MachineMismatch(t, here, "x"), "");
}

TEST(TargetDescriptionTest, CompareConstantsPairsEveryNamedConstant) {
  const TargetDescription a = CalibratedSyntheticTarget();
  TargetDescription b = a;
  b.memory[kL2].bandwidth_1t_bytes_per_s = 220e9;  // 200 -> 220 GB/s: 9.5 % of the mean
  b.tile_overhead_ns = 0;
  const std::vector<ConstantDifference> diff = CompareConstants(a, b);
  ASSERT_EQ(diff.size(), NamedConstants(a).size());
  ASSERT_EQ(diff.size(), 2u + 2u * kNumMemoryLevels + 6u);  // with the measured masked_tail_ns
  for (const ConstantDifference& d : diff) {
    if (d.name == "L2 bandwidth_1t") {
      EXPECT_NEAR(d.relative, 20.0 / 210.0, 1e-12);
    } else if (d.name == "tile_overhead_ns") {
      EXPECT_DOUBLE_EQ(d.relative, 2.0);  // 10 ns vs 0: |a - b| over their mean
    } else {
      EXPECT_EQ(d.relative, 0) << d.name;
    }
  }
  EXPECT_EQ(diff[diff.size() - 2].name, "parallel_scaling");
  EXPECT_DOUBLE_EQ(diff[diff.size() - 2].a, 0.85);
  EXPECT_EQ(diff.back().name, "masked_tail_ns");
}

TEST(TargetDescriptionTest, ConstantsAgreeWithinTheToleranceOrTheClocksResolution) {
  EXPECT_TRUE(ConstantsAgree("L2 bandwidth_1t", 200e9, 209e9, 0.05));
  EXPECT_FALSE(ConstantsAgree("L2 bandwidth_1t", 200e9, 212e9, 0.05));
  EXPECT_FALSE(ConstantsAgree("reduction_update_ns", 0.60, 0.66, 0.05));
  // Overheads: 40 vs 45 ns is 12 % but within the clock's step; 40 vs 60 ns is not.
  EXPECT_TRUE(ConstantsAgree("parallel_launch_ns", 40, 45, 0.05));
  EXPECT_FALSE(ConstantsAgree("parallel_launch_ns", 40, 60, 0.05));
  EXPECT_TRUE(ConstantsAgree("tile_overhead_ns", 0, 0, 0.05));
}

TEST(TargetDescriptionTest, ParallelScalingOutsideZeroToOneIsRejected) {
  TargetDescription t = test::SyntheticTarget();
  t.parallel_scaling = 0;
  EXPECT_THAT(ValidateTargetDescription(t),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parallel_scaling")));
  t.parallel_scaling = 1.5;
  EXPECT_THAT(ValidateTargetDescription(t),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parallel_scaling")));
}

// The reduction probe's vector width: as recorded, else calibrate's rule on the Halide target (the
// widest vector, at most 8 lanes), which is what the committed reference description (AVX2, native
// width 4, written before the field existed) measured.
TEST(TargetDescriptionTest, ReductionUpdateLanesIsRecordedOrDerivedFromTheHalideTarget) {
  TargetDescription t = test::SyntheticTarget();
  t.native_f32_lanes = 4;
  t.halide_target = "x86-64-linux-avx-avx2-f16c-fma-jit-sse41";
  EXPECT_EQ(ReductionUpdateLanes(t), 8);
  t.halide_target = "x86-64-linux-avx-avx2-avx512-avx512_skylake-fma";
  EXPECT_EQ(ReductionUpdateLanes(t), 8);
  t.halide_target = "x86-64-linux-sse41";
  EXPECT_EQ(ReductionUpdateLanes(t), 4);
  t.halide_target = "arm-64-linux";
  t.native_f32_lanes = 16;
  EXPECT_EQ(ReductionUpdateLanes(t), 8);
  t.reduction_update_lanes = 16;
  EXPECT_EQ(ReductionUpdateLanes(t), 16);
  absl::StatusOr<TargetDescription> parsed =
      ParseTargetDescription(TargetDescriptionToText(t), "memory");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->reduction_update_lanes, 16);
  t.reduction_update_lanes = -8;
  EXPECT_THAT(ValidateTargetDescription(t),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reduction_update_lanes must be")));
}

// masked_tail_ns is compared (and reported) only when measured, so a description from before the
// probe still compares with a new one on every other constant.
TEST(TargetDescriptionTest, MaskedTailIsANamedConstantOnlyWhenMeasured) {
  TargetDescription t = test::SyntheticTarget();
  const size_t without = NamedConstants(t).size();
  t.masked_tail_ns = 5.9;
  const auto named = NamedConstants(t);
  ASSERT_EQ(named.size(), without + 1);
  EXPECT_EQ(named.back().first, "masked_tail_ns");
  EXPECT_DOUBLE_EQ(named.back().second, 5.9);
  EXPECT_EQ(CompareConstants(t, test::SyntheticTarget()).size(), without);
  t.masked_tail_ns = -1;
  EXPECT_THAT(ValidateTargetDescription(t),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("masked_tail_ns")));
}

TEST(TargetDescriptionTest, MissingFileIsNotFound) {
  EXPECT_THAT(LoadTargetDescription(TempPath("does_not_exist.textproto")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("does_not_exist.textproto")));
}

TEST(TargetDescriptionTest, MalformedTextNamesTheSourceAndLine) {
  EXPECT_THAT(ParseTargetDescription("format_version: 1\npeak_flops_1t: banana\n", "bad.textproto"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad.textproto")));
  EXPECT_THAT(ParseTargetDescription("no_such_field: 3\n", "bad.textproto"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1")));
}

TEST(TargetDescriptionTest, OtherFormatVersionIsFailedPrecondition) {
  std::string text = TargetDescriptionToText(test::SyntheticTarget());
  const size_t at = text.find("format_version: 2");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 17, "format_version: 7");
  EXPECT_THAT(ParseTargetDescription(text, "v7.textproto"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("format_version 7")));
  // Version 1 (before parallel_scaling was measured) asks for a new calibration.
  text.replace(at, 17, "format_version: 1");
  EXPECT_THAT(ParseTargetDescription(text, "v1.textproto"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("re-run `perfgraph calibrate`")));
}

TEST(TargetDescriptionTest, OutOfRangeConstantsAreRejected) {
  TargetDescription t = test::SyntheticTarget();
  t.memory[kL3].bandwidth_all_bytes_per_s = -1;
  EXPECT_THAT(ValidateTargetDescription(t),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("L3")));
  EXPECT_THAT(SaveTargetDescription(t, TempPath("invalid.textproto")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  t = test::SyntheticTarget();
  t.native_f32_lanes = 0;
  EXPECT_THAT(ParseTargetDescription(TargetDescriptionToText(t), "lanes.textproto"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("native_f32_lanes")));
}

TEST(TargetDescriptionTest, CommittedReferenceDescriptionParses) {
  std::ifstream in(DefaultTargetDescriptionPath());
  ASSERT_TRUE(in.good()) << DefaultTargetDescriptionPath();
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  absl::StatusOr<TargetDescription> t = ParseTargetDescription(text, DefaultTargetDescriptionPath());
  ASSERT_THAT(t, IsOk());
  EXPECT_GT(t->peak_flops_1t, 1e9);
  EXPECT_GT(t->memory[kL1].bandwidth_1t_bytes_per_s, t->memory[kDram].bandwidth_1t_bytes_per_s);
}

}  // namespace
}  // namespace perfgraph::cost

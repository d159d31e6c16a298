#include "cost/target_description.h"

#include <cstdio>
#include <fstream>
#include <string>

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
  EXPECT_DOUBLE_EQ(a.kernel_launch_ns, b.kernel_launch_ns);
  EXPECT_DOUBLE_EQ(a.parallel_launch_ns, b.parallel_launch_ns);
  EXPECT_DOUBLE_EQ(a.tile_overhead_ns, b.tile_overhead_ns);
  EXPECT_EQ(a.created_unix_seconds, b.created_unix_seconds);
  EXPECT_EQ(a.notes, b.notes);
}

TEST(TargetDescriptionTest, TextRoundTripKeepsEveryField) {
  const TargetDescription t = test::SyntheticTarget();
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
  const size_t at = text.find("format_version: 1");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 17, "format_version: 7");
  EXPECT_THAT(ParseTargetDescription(text, "v7.textproto"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("format_version 7")));
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

#include "cost/calibrate.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace perfgraph::cost {
namespace {

using perfgraph::testing::IsOk;
using perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

TEST(CalibrateTest, RejectsBadOptions) {
  CalibrationOptions options;
  options.all_threads = -1;
  EXPECT_THAT(Calibrate(options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("all_threads")));
  options = {};
  options.time_per_measurement = absl::ZeroDuration();
  EXPECT_THAT(Calibrate(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("time_per_measurement")));
  options = {};
  options.shrink = 0;
  EXPECT_THAT(Calibrate(options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shrink")));
  options = {};
  options.rounds = 2;
  EXPECT_THAT(Calibrate(options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rounds")));
  options = {};
  options.passes = 0;
  EXPECT_THAT(Calibrate(options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("passes")));
}

TEST(CalibrateTest, StreamProbesFitTheirLevelAndTheL3ProbeTheThreadsShareOfIt) {
  constexpr int64_t KiB = 1024, MiB = 1024 * KiB;
  // The reference machine (cost/targets/reference_cpu.textproto: 32 KiB L1d, 1 MiB L2, 32 MiB L3,
  // 2 threads): the sizes its file records as measured_working_set_bytes.
  EXPECT_EQ(StreamProbeBytes(kL1, 32 * KiB, MiB, 32 * MiB, 2, 1), 21844);
  EXPECT_EQ(StreamProbeBytes(kL2, 32 * KiB, MiB, 32 * MiB, 2, 1), MiB);
  EXPECT_EQ(StreamProbeBytes(kL3, 32 * KiB, MiB, 32 * MiB, 2, 1), 8 * MiB);
  EXPECT_EQ(StreamProbeBytes(kDram, 32 * KiB, MiB, 32 * MiB, 2, 1), 256 * MiB);
  // A VM that reports its host's whole last-level cache (2 vCPUs, 2 MiB L2 each, 480 MiB L3): the
  // L3 probe stays at four times the threads' L2s instead of a quarter of the L3 (120 MiB), still
  // above the L2 probe and below the DRAM one, which outgrows the reported L3.
  const int64_t l3 = StreamProbeBytes(kL3, 48 * KiB, 2 * MiB, 480 * MiB, 2, 1);
  EXPECT_EQ(l3, 16 * MiB);
  EXPECT_GT(l3, StreamProbeBytes(kL2, 48 * KiB, 2 * MiB, 480 * MiB, 2, 1));
  EXPECT_EQ(StreamProbeBytes(kDram, 48 * KiB, 2 * MiB, 480 * MiB, 2, 1), 4 * 480 * MiB);
  // shrink only shrinks the DRAM buffer, never below 4 x L3.
  EXPECT_EQ(StreamProbeBytes(kDram, 32 * KiB, MiB, 32 * MiB, 2, 16), 128 * MiB);
  EXPECT_EQ(StreamProbeBytes(kL3, 32 * KiB, MiB, 32 * MiB, 2, 16), 8 * MiB);
}

// A shrunken, fast calibration yields a description that passes validation, with every level
// measured and a progress line per measurement (no assertions on the measured values themselves).
TEST(CalibrateTest, QuickCalibrationProducesAValidDescription) {
  CalibrationOptions options;
  options.all_threads = 2;
  options.time_per_measurement = absl::Milliseconds(10);
  options.rounds = 3;
  options.passes = 2;
  options.shrink = 16;
  std::vector<std::string> lines;
  options.progress = [&](const std::string& line) { lines.push_back(line); };
  absl::StatusOr<TargetDescription> t = Calibrate(options);
  ASSERT_THAT(t, IsOk());
  EXPECT_THAT(ValidateTargetDescription(*t), IsOk());
  EXPECT_EQ(t->all_threads, 2);
  EXPECT_GE(t->native_f32_lanes, 4);
  EXPECT_FALSE(t->halide_target.empty());
  EXPECT_GT(t->parallel_scaling, 0);
  EXPECT_LE(t->parallel_scaling, 1);
  // The reduction probes' width (the widest vector, at most 8 lanes) and the ragged-row probe.
  EXPECT_GE(t->reduction_update_lanes, 4);
  EXPECT_LE(t->reduction_update_lanes, 8);
  EXPECT_EQ(ReductionUpdateLanes(*t), t->reduction_update_lanes);
  EXPECT_GT(t->masked_tail_ns, 0);
  for (int l = 0; l < kNumMemoryLevels; ++l) EXPECT_GT(t->memory[l].measured_working_set_bytes, 0);
  // One report per constant the model reads, in NamedConstants order, with both passes' values.
  const auto named = NamedConstants(*t);
  ASSERT_EQ(t->calibration.size(), named.size());
  for (size_t i = 0; i < named.size(); ++i) {
    const CalibratedConstant& c = t->calibration[i];
    EXPECT_EQ(c.name, named[i].first);
    EXPECT_DOUBLE_EQ(c.value, named[i].second) << c.name;
    EXPECT_EQ(c.pass_values.size(), 2u) << c.name;
    EXPECT_GE(c.spread, 0) << c.name;
    EXPECT_GE(c.pass_disagreement, 0) << c.name;
  }
  EXPECT_GE(lines.size(), named.size());
}

}  // namespace
}  // namespace perfgraph::cost

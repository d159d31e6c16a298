// Protocol v2 on real Halide kernels: interleaved rounds, the drift canary, censoring, and isolation
// in child processes (a config that crashes or hangs its child costs that config only).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <map>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "target/halide_cpu_target.h"
#include "target/isolated_measurement.h"
#include "target/machine_load.h"
#include "target/measurement.h"
#include "tiling/tile_config.h"

namespace perfgraph::target {
namespace {

using ::testing::Each;
using ::testing::Gt;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// Three configs of the canary dot: the default and two others of its ConfigSpace.
std::vector<tiling::TileConfig> ThreeConfigs(const graph::Kernel& kernel) {
  auto space = tiling::ConfigSpace(kernel);
  EXPECT_TRUE(space.ok());
  std::vector<tiling::TileConfig> configs = {tiling::Default(kernel)};
  for (const tiling::TileConfig& c : *space) {
    if (configs.size() == 3) break;
    if (c != configs.front() && c.vector_width >= 8) configs.push_back(c);
  }
  return configs;
}

InterleavedOptions FastOptions() {
  InterleavedOptions options;
  options.min_rounds = 3;
  options.max_rounds = 6;
  options.min_time_per_round = absl::Milliseconds(1);
  options.canary_tolerance = 10.0;  // a loaded test machine must not make the test repeat rounds
  return options;
}

TEST(RoundSpreadTest, InterquartileRangeOverMedian) {
  EXPECT_DOUBLE_EQ(RoundSpread({100}), 0);
  EXPECT_DOUBLE_EQ(RoundSpread({100, 100, 100, 100, 100}), 0);
  // Sorted 98 99 100 101 150: quartiles 99 and 101, median 100.
  EXPECT_NEAR(RoundSpread({150, 100, 99, 101, 98}), 0.02, 1e-12);
}

TEST(InterleavedTest, EveryConfigGetsSamplesInEveryRoundAndTheCanaryIsRecorded) {
  auto target = HalideCpuTarget::Create({1, 7});
  ASSERT_TRUE(target.ok());
  const graph::Kernel& kernel = CanaryKernel();
  const auto configs = ThreeConfigs(kernel);
  ASSERT_THAT(configs, SizeIs(3));
  auto canary = target->Compile(kernel, tiling::Default(kernel));
  ASSERT_TRUE(canary.ok()) << canary.status();
  std::vector<std::pair<int, ProtocolPhase>> events;
  ProtocolHooks hooks;
  hooks.on_event = [&](int index, ProtocolPhase phase) { events.emplace_back(index, phase); };
  auto result = MeasureKernelInterleaved(*target, kernel, configs, &*canary, 0, FastOptions(), hooks);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_THAT(result->configs, SizeIs(3));
  EXPECT_GE(result->rounds, 3);
  EXPECT_LE(result->rounds, 6);
  EXPECT_THAT(result->canary_ns, SizeIs(result->rounds));
  EXPECT_THAT(result->canary_ns, Each(Gt(0)));
  for (const ConfigMeasurement& m : result->configs) {
    if (m.status == MeasureStatus::kTimeout) continue;  // censored as 10x slower: allowed
    ASSERT_EQ(m.status, MeasureStatus::kOk) << m.error;
    ASSERT_EQ(m.samples_ns.size(), m.sample_round.size());
    // At least min_runs_per_round runs in each of the kept rounds.
    std::map<int, int> per_round;
    for (int r : m.sample_round) ++per_round[r];
    // Every config runs min_rounds rounds; a stable one retires, the others go on.
    EXPECT_GE(static_cast<int>(per_round.size()), 3);
    EXPECT_LE(static_cast<int>(per_round.size()), result->rounds);
    if (static_cast<int>(per_round.size()) < result->rounds) {
      EXPECT_TRUE(m.stable);
    }
    for (const auto& [round, count] : per_round) EXPECT_GE(count, 2) << "round " << round;
    EXPECT_GT(m.compile_time, absl::ZeroDuration());
  }
  // Compiles first, then every config announced before each of its runs.
  ASSERT_GE(events.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(events[i], std::make_pair(i, ProtocolPhase::kCompile));
  }
  int canary_runs = 0;
  for (const auto& e : events) canary_runs += e.first == -1;
  EXPECT_EQ(canary_runs, result->rounds);
}

TEST(InterleavedTest, ARunOverTheCapIsCensoredWithItsLowerBound) {
  auto target = HalideCpuTarget::Create({1, 7});
  ASSERT_TRUE(target.ok());
  const graph::Kernel& kernel = CanaryKernel();
  InterleavedOptions options = FastOptions();
  options.max_run_time = absl::Nanoseconds(1);  // every run is "too slow"
  auto result = MeasureKernelInterleaved(*target, kernel, ThreeConfigs(kernel), nullptr, 0, options);
  ASSERT_TRUE(result.ok()) << result.status();
  for (const ConfigMeasurement& m : result->configs) {
    EXPECT_EQ(m.status, MeasureStatus::kTimeout);
    EXPECT_GT(m.lower_bound_ns, 1);
    EXPECT_THAT(m.error, HasSubstr("cap"));
  }
}

TEST(InterleavedTest, AConfigThatDoesNotCompileIsInvalidAndTheOthersAreMeasured) {
  auto target = HalideCpuTarget::Create({1, 7});
  ASSERT_TRUE(target.ok());
  const graph::Kernel& kernel = CanaryKernel();
  std::vector<tiling::TileConfig> configs = ThreeConfigs(kernel);
  configs[1].tile[0] = 100000;  // larger than the dim: fails tiling::Validate
  auto result = MeasureKernelInterleaved(*target, kernel, configs, nullptr, 0, FastOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->configs[1].status, MeasureStatus::kInvalid);
  EXPECT_THAT(result->configs[1].error, HasSubstr("compile"));
  EXPECT_EQ(result->configs[0].status, MeasureStatus::kOk) << result->configs[0].error;
}

TEST(InterleavedTest, ParallelCompilationMeasuresEveryConfig) {
  auto target = HalideCpuTarget::Create({1, 7});
  ASSERT_TRUE(target.ok());
  const graph::Kernel& kernel = CanaryKernel();
  auto space = tiling::ConfigSpace(kernel);
  ASSERT_TRUE(space.ok());
  std::vector<tiling::TileConfig> configs(space->begin(), space->begin() + 12);
  InterleavedOptions options = FastOptions();
  options.compile_threads = 2;
  options.min_rounds = options.max_rounds = 1;
  std::vector<int> compiled;
  ProtocolHooks hooks;
  hooks.on_event = [&](int index, ProtocolPhase phase) {
    if (phase == ProtocolPhase::kCompile) compiled.push_back(index);
  };
  auto result = MeasureKernelInterleaved(*target, kernel, configs, nullptr, 0, options, hooks);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(compiled, SizeIs(12));
  for (const ConfigMeasurement& m : result->configs) {
    EXPECT_NE(m.status, MeasureStatus::kInvalid) << m.error;
    EXPECT_GT(m.compile_time, absl::ZeroDuration());
  }
}

TEST(InterleavedTest, InconsistentOptionsAreRejected) {
  auto target = HalideCpuTarget::Create({1, 7});
  ASSERT_TRUE(target.ok());
  InterleavedOptions options;
  options.min_rounds = 5;
  options.max_rounds = 2;
  auto result = MeasureKernelInterleaved(*target, CanaryKernel(), {}, nullptr, 0, options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
}

// Two groups of the canary kernel's configs, measured in child processes.
class IsolationTest : public ::testing::Test {
 protected:
  IsolationTest() {
    const graph::Kernel& kernel = CanaryKernel();
    groups_ = {{&kernel, ThreeConfigs(kernel)}, {&kernel, ThreeConfigs(kernel)}};
  }
  absl::StatusOr<std::map<int, GroupResult>> Run(const IsolationOptions& isolation) {
    IsolatedMeasurer measurer(FastOptions(), isolation);
    std::map<int, GroupResult> results;
    auto finished = measurer.Run(groups_, [&](int g, GroupResult r) {
      results[g] = std::move(r);
      return GroupVerdict::kKeep;
    });
    if (!finished.ok()) return finished.status();
    return results;
  }
  std::vector<MeasureGroup> groups_;
};

TEST_F(IsolationTest, CleanRunMeasuresEveryGroupInAChild) {
  IsolationOptions isolation;
  auto results = Run(isolation);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 2u);
  for (const auto& [g, r] : *results) {
    EXPECT_EQ(r.child_deaths, 0);
    EXPECT_GE(r.other_load_cores, 0);
    EXPECT_THAT(r.measurement.canary_ns, SizeIs(r.measurement.rounds));
    EXPECT_EQ(r.measurement.configs[0].status, MeasureStatus::kOk) << r.measurement.configs[0].error;
  }
}

TEST_F(IsolationTest, ACrashingConfigIsInvalidWithItsSignalAndTheRunGoesOn) {
  IsolationOptions isolation;
  isolation.child_hook = [](int group, int config, ProtocolPhase phase) {
    if (group == 0 && config == 1 && phase == ProtocolPhase::kRun) {
      // A real SIGSEGV with the default action, as a miscompiled kernel raises in a normal build
      // (a store through null would be reported and turned into SIGABRT by the sanitizers' own
      // handlers in `scripts/test.sh --sanitize`).
      std::signal(SIGSEGV, SIG_DFL);
      std::raise(SIGSEGV);
    }
  };
  auto results = Run(isolation);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 2u);
  const GroupResult& crashed = results->at(0);
  EXPECT_EQ(crashed.child_deaths, 1);
  EXPECT_EQ(crashed.measurement.configs[1].status, MeasureStatus::kInvalid);
  EXPECT_THAT(crashed.measurement.configs[1].error, HasSubstr("SIGSEGV"));
  EXPECT_THAT(crashed.measurement.configs[1].error, HasSubstr("running"));
  EXPECT_EQ(crashed.measurement.configs[0].status, MeasureStatus::kOk);
  // The second group, and config 1 of it, are unaffected.
  EXPECT_EQ(results->at(1).measurement.configs[1].status, MeasureStatus::kOk);
}

TEST_F(IsolationTest, AHangingConfigIsKilledAndRecordedAsATimeoutWithItsBound) {
  IsolationOptions isolation;
  isolation.hang_timeout = absl::Seconds(5);
  isolation.child_hook = [](int group, int config, ProtocolPhase phase) {
    if (group == 1 && config == 2 && phase == ProtocolPhase::kWarmup) {
      while (true) pause();  // hangs until killed
    }
  };
  auto results = Run(isolation);
  ASSERT_TRUE(results.ok()) << results.status();
  const ConfigMeasurement& hung = results->at(1).measurement.configs[2];
  EXPECT_EQ(hung.status, MeasureStatus::kTimeout);
  EXPECT_DOUBLE_EQ(hung.lower_bound_ns, 5e9);
  EXPECT_THAT(hung.error, HasSubstr("hung"));
  EXPECT_EQ(results->at(1).measurement.configs[0].status, MeasureStatus::kOk);
  EXPECT_EQ(results->at(0).child_deaths, 0);
}

TEST_F(IsolationTest, ConfigsHangingInCompilationShareOneCompileBudgetAcrossChildren) {
  // Every config of group 0 hangs while compiling (as LLVM can on a huge kernel). Each hang costs a
  // child and makes that config invalid; the group's compile budget counts from its first start, so
  // once it is spent the next child compiles nothing more of the group: the rest is "not compiled"
  // instead of one more hang per config.
  const graph::Kernel& kernel = CanaryKernel();
  auto space = tiling::ConfigSpace(kernel);
  ASSERT_TRUE(space.ok());
  groups_[0].configs.assign(space->begin(), space->begin() + 8);
  IsolationOptions isolation;
  // Long enough that a loaded machine (CI's 2 cores under ctest -j) never takes the canary's own
  // compile and run, which happen outside any config, for a hang: with 1 s this test failed beside
  // two busy loops and a build.
  isolation.hang_timeout = absl::Seconds(5);
  isolation.child_hook = [](int group, int config, ProtocolPhase phase) {
    if (group == 0 && config >= 0 && phase == ProtocolPhase::kCompile) {
      while (true) pause();  // hangs until killed
    }
  };
  InterleavedOptions protocol = FastOptions();
  protocol.max_compile_time = absl::Milliseconds(7500);  // 1.5 hang timeouts
  IsolatedMeasurer measurer(protocol, isolation);
  std::map<int, GroupResult> results;
  auto finished = measurer.Run(groups_, [&](int g, GroupResult r) {
    results[g] = std::move(r);
    return GroupVerdict::kKeep;
  });
  ASSERT_TRUE(finished.ok()) << finished.status();
  ASSERT_EQ(results.size(), 2u);
  const GroupResult& hung = results.at(0);
  EXPECT_GE(hung.child_deaths, 1);
  EXPECT_LE(hung.child_deaths, 3);  // 7.5 s of budget, 5 s per hang (plus start-up)
  int not_compiled = 0;
  for (const ConfigMeasurement& m : hung.measurement.configs) {
    EXPECT_EQ(m.status, MeasureStatus::kInvalid);
    if (m.error.find("not compiled") != std::string::npos) ++not_compiled;
  }
  EXPECT_EQ(not_compiled, 8 - hung.child_deaths);
  EXPECT_EQ(results.at(1).measurement.configs[0].status, MeasureStatus::kOk);
}

TEST(InterleavedTest, ASpentCompileBudgetLeavesTheRestNotCompiled) {
  auto target = HalideCpuTarget::Create({1, 7});
  ASSERT_TRUE(target.ok());
  const graph::Kernel& kernel = CanaryKernel();
  InterleavedOptions options = FastOptions();
  options.max_compile_time = absl::Nanoseconds(1);
  auto result = MeasureKernelInterleaved(*target, kernel, ThreeConfigs(kernel), nullptr, 0, options);
  ASSERT_TRUE(result.ok()) << result.status();
  for (const ConfigMeasurement& m : result->configs) {
    EXPECT_EQ(m.status, MeasureStatus::kInvalid);
    EXPECT_THAT(m.error, HasSubstr("not compiled"));
  }
  options.max_compile_time = absl::ZeroDuration();
  EXPECT_EQ(MeasureKernelInterleaved(*target, kernel, ThreeConfigs(kernel), nullptr, 0, options)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(IsolationTest, StopRequestEndsTheRunWithTheGroupsFinishedSoFar) {
  IsolationOptions isolation;
  int calls = 0;
  IsolatedMeasurer measurer(FastOptions(), isolation);
  auto finished = measurer.Run(groups_, [&](int, GroupResult) {
    ++calls;
    return GroupVerdict::kStop;
  });
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(*finished, 1);
  EXPECT_EQ(calls, 1);
  EXPECT_GT(measurer.canary_baseline_ns(), 0);
}

TEST_F(IsolationTest, RetryMeasuresTheGroupAgainInAFreshChild) {
  IsolationOptions isolation;
  std::vector<int> seen;
  IsolatedMeasurer measurer(FastOptions(), isolation);
  auto finished = measurer.Run(groups_, [&](int g, GroupResult) {
    seen.push_back(g);
    return seen.size() == 1 ? GroupVerdict::kRetry : GroupVerdict::kKeep;
  });
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(*finished, 2);
  EXPECT_EQ(seen, (std::vector<int>{0, 0, 1}));
}

TEST(MachineLoadTest, ABusyProcessIsSeenUnlessItIsOurOwnChild) {
  const pid_t spinner = fork();
  ASSERT_GE(spinner, 0);
  if (spinner == 0) {
    volatile uint64_t x = 0;
    while (true) x = x + 1;
  }
  // Every busy process listed: on a loaded machine (ctest -j beside a build) the spinner need not
  // be among the five busiest.
  constexpr int kEveryone = 1 << 20;
  // Excluding nobody: the spinner counts as another process.
  auto seen = SampleMachineLoad(absl::Milliseconds(700), /*exclude=*/0, kEveryone);
  // Excluding ourselves: the spinner is our child and does not count.
  auto own = SampleMachineLoad(absl::Milliseconds(700), getpid(), kEveryone);
  kill(spinner, SIGKILL);
  waitpid(spinner, nullptr, 0);
  ASSERT_TRUE(seen.ok()) << seen.status();
  ASSERT_TRUE(own.ok()) << own.status();
  bool found = false;
  for (const BusyProcess& p : seen->busiest) found = found || p.pid == spinner;
  EXPECT_TRUE(found) << seen->Describe();
  for (const BusyProcess& p : own->busiest) EXPECT_NE(p.pid, spinner) << own->Describe();
  EXPECT_GT(seen->other_cores, 0.05);
}

TEST(MachineLoadTest, PinningChoosesAllowedCpus) {
  auto cpus = PinToCpus(1);
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  EXPECT_THAT(*cpus, SizeIs(1));
  EXPECT_EQ(PinToCpus(100000).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace perfgraph::target

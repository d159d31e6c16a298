// End-to-end tests of `perfgraph measure` and `perfgraph dataset stats` on a tiny real model: the
// records are real Halide measurements of this machine (small kernels, a few seconds in total).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/tools/cli_runner.h"

namespace perfgraph::tools {
namespace {

using ::testing::HasSubstr;

using test::CliResult;
using test::RunPerfgraph;

const std::string kModel = std::string(PERFGRAPH_SOURCE_DIR) +
                           "/tests/testdata/cli/tiny_cnn_dynamic_batch.onnx --input-shape input=1,3,16,16";

// A file in this test process's own temporary directory (concurrent runs, e.g. two checkouts'
// suites on one machine, never share one).
std::string TempPath(const std::string& name) {
  static const std::string dir = [] {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "perfgraph_measure_test.XXXXXX").string();
    return std::string(mkdtemp(pattern.data()) != nullptr ? pattern : "");
  }();
  EXPECT_FALSE(dir.empty()) << "mkdtemp failed";
  auto path = std::filesystem::path(dir) / name;
  std::filesystem::remove(path);
  return path.string();
}

nlohmann::json Stats(const std::string& dataset) {
  CliResult r = RunPerfgraph("dataset stats --json " + dataset);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
}

TEST(MeasureTest, TileTaskMeasuresEveryKernelAtKConfigsAndResumes) {
  const std::string out = TempPath("tile.pgd");
  CliResult first = RunPerfgraph("measure --corpus " + kModel + " --out " + out + " --configs-per-kernel 3");
  ASSERT_EQ(first.exit_code, 0) << first.out;
  nlohmann::json stats = Stats(out);
  // tiny_cnn fuses into 3 kernels (conv+bias+relu, global average pool, gemm); 3 configs each.
  EXPECT_EQ(stats["kernels"], 3);
  EXPECT_EQ(stats["programs"], 1);
  EXPECT_EQ(stats["records"], 9);
  EXPECT_EQ(stats["configs_per_kernel_min"], 3);
  const auto& s = stats["statuses"];
  EXPECT_EQ(s["ok"].get<int>() + s["invalid"].get<int>() + s["timeout"].get<int>(), 9);
  EXPECT_GE(s["ok"].get<int>(), 3);  // at least the default config of each kernel runs
  EXPECT_FALSE(stats["machine"].is_null());

  // Same command again: every pair is already there, nothing is measured or duplicated.
  CliResult second = RunPerfgraph("measure --corpus " + kModel + " --out " + out + " --configs-per-kernel 3");
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_THAT(second.out, HasSubstr("0 (kernel, config) pairs to measure"));
  EXPECT_EQ(Stats(out)["records"], 9);

  // Asking for more configs measures only the new ones.
  CliResult third = RunPerfgraph("measure --corpus " + kModel + " --out " + out + " --configs-per-kernel 4");
  ASSERT_EQ(third.exit_code, 0) << third.out;
  EXPECT_EQ(Stats(out)["records"], 12);
}

TEST(MeasureTest, ProtocolTwoRecordsCarryRoundsCanaryAndLoad) {
  const std::string out = TempPath("v2.pgd");
  CliResult r = RunPerfgraph("measure --corpus " + kModel + " --out " + out +
                             " --configs-per-kernel 3 --min-rounds 3 --max-rounds 4");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json stats = Stats(out);
  const auto& p = stats["protocol"];
  EXPECT_EQ(p["v1_records"], 0);
  EXPECT_EQ(p["v2_records"], 9);
  // One canary value per kernel group: the three kernels.
  EXPECT_EQ(p["canary_groups"], 3);
  EXPECT_GT(p["canary_median_ns"].get<double>(), 0);
  EXPECT_GE(p["median_rounds"].get<double>(), 3);
  EXPECT_LE(p["median_rounds"].get<double>(), 4);
  EXPECT_GE(p["max_other_load_cores"].get<double>(), 0);
  // The protocol-1 path still works and is recorded as such.
  const std::string v1 = TempPath("v1.pgd");
  ASSERT_EQ(RunPerfgraph("measure --protocol 1 --corpus " + kModel + " --out " + v1 +
                         " --configs-per-kernel 2").exit_code, 0);
  EXPECT_EQ(Stats(v1)["protocol"]["v1_records"], 6);
  EXPECT_EQ(RunPerfgraph("measure --protocol 3 --corpus " + kModel + " --out " + v1).exit_code, 2);
}

TEST(MeasureTest, RequireIdleRefusesToStartBesideABusyProcess) {
  const pid_t spinner = fork();
  ASSERT_GE(spinner, 0);
  if (spinner == 0) {
    volatile uint64_t x = 0;
    while (true) x = x + 1;
  }
  const std::string out = TempPath("busy.pgd");
  // The spinner is not a child of the measuring process: it counts as another process's load.
  CliResult r = RunPerfgraph("measure --require-idle --max-other-load 0.05 --corpus " + kModel +
                             " --out " + out + " --configs-per-kernel 2");
  kill(spinner, SIGKILL);
  waitpid(spinner, nullptr, 0);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("busy"));
  EXPECT_THAT(r.out, HasSubstr("--require-idle"));
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(MeasureTest, RepeatReMeasuresWholeKernelsAndComparesThePasses) {
  const std::string out = TempPath("repeat.pgd");
  ASSERT_EQ(RunPerfgraph("measure --corpus " + kModel + " --out " + out + " --configs-per-kernel 3")
                .exit_code,
            0);
  CliResult r = RunPerfgraph("dataset repeat --json --sample 2 " + out);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto json = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  // Whole kernels are drawn until >= 2 pairs: at least one kernel, all of its OK configs.
  EXPECT_GE(json["pairs"].get<int>() + json["failed"].get<int>(), 2);
  EXPECT_GE(json["kernels"].get<int>(), 1);
  EXPECT_GE(json["median_relative_difference"].get<double>(), 0.0);
  EXPECT_EQ(json["threads"].get<int>(), static_cast<int>(std::thread::hardware_concurrency()));
}

TEST(MeasureTest, FusionTaskMeasuresVariantsAtDefaultConfig) {
  const std::string out = TempPath("fusion.pgd");
  CliResult r = RunPerfgraph("measure --task fusion --fusion-variants 3 --flip-probability 0.5 --corpus " +
                    kModel + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json stats = Stats(out);
  EXPECT_GE(stats["records"].get<int>(), 3);  // at least the 3 kernels of the default fusion
  EXPECT_EQ(stats["configs_per_kernel_min"], 1);
}

TEST(MeasureTest, InterruptLeavesAValidFileThatResumes) {
  const std::string out = TempPath("interrupted.pgd");
  const std::string binary = std::string(PERFGRAPH_BINARY_DIR) + "/perfgraph";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    freopen("/dev/null", "w", stderr);
    execl(binary.c_str(), binary.c_str(), "measure", "--corpus",
          (std::string(PERFGRAPH_SOURCE_DIR) + "/tests/testdata/cli/tiny_cnn_dynamic_batch.onnx").c_str(),
          "--input-shape", "input=1,3,16,16", "--out", out.c_str(), "--configs-per-kernel", "12",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait for the first records (however long a loaded machine takes), then Ctrl-C. A child that
  // finished everything first leaves nothing to interrupt; the resume checks still hold.
  auto size = [&] {
    std::error_code error;
    const auto bytes = std::filesystem::file_size(out, error);
    return error ? uintmax_t{0} : bytes;
  };
  int status = 0;
  bool exited = false;
  while (size() < 2000) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!exited) {
    kill(pid, SIGINT);
    waitpid(pid, &status, 0);
  }
  ASSERT_TRUE(WIFEXITED(status));
  nlohmann::json partial = Stats(out);
  const int partial_records = partial["records"].get<int>();
  EXPECT_GT(partial_records, 0);

  CliResult resumed = RunPerfgraph("measure --corpus " + kModel + " --out " + out + " --configs-per-kernel 12");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  nlohmann::json full = Stats(out);
  // Every pair exactly once: no pair measured before the interrupt is measured again.
  EXPECT_EQ(full["configs_per_kernel_min"], 12);
  EXPECT_EQ(full["records"], 36);
}

TEST(MeasureTest, BadArgumentsExitWithTwo) {
  EXPECT_EQ(RunPerfgraph("measure --corpus " + kModel).exit_code, 2);  // no --out
  const std::string out = TempPath("never_written.pgd");
  EXPECT_EQ(RunPerfgraph("measure --task nope --out " + out + " --corpus " + kModel).exit_code, 2);
  EXPECT_EQ(RunPerfgraph("measure --out " + out + " --corpus /nonexistent/dir").exit_code, 2);
  EXPECT_EQ(RunPerfgraph("dataset stats /nonexistent.pgd").exit_code, 2);
  EXPECT_EQ(RunPerfgraph("dataset stats " + std::string(PERFGRAPH_SOURCE_DIR) + "/README.md").exit_code, 2);
}

}  // namespace
}  // namespace perfgraph::tools

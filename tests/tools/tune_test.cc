// End-to-end tests of `perfgraph tune`: a real model tuned with --measure-command (a deterministic
// fake runtime, so the test needs no quiet machine), the budget, resume from the log, the replay
// benchmark on that log, the `tuned` column of `perfgraph compare`, and the usage errors.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/tools/cli_runner.h"

namespace perfgraph::tools {
namespace {

using test::CliResult;
using test::RunPerfgraph;
using ::testing::HasSubstr;

const std::string kSource = PERFGRAPH_SOURCE_DIR;
const std::string kTinyCnn = kSource + "/tests/testdata/cli/tiny_cnn_dynamic_batch.onnx";
const std::string kShape = " --input-shape input=1,3,16,16 ";
// A runtime that depends only on the config text (its checksum), between 1 and 101 us.
const std::string kFakeCommand =
    " --measure-command 'echo $(( $(printf %s \"$PERFGRAPH_CONFIG\" | cksum | cut -d\" \" -f1) "
    "% 100000 + 1000 ))' ";

nlohmann::json ParseJson(const std::string& out) {
  const size_t start = out.find("{\n");
  return nlohmann::json::parse(start == std::string::npos ? out : out.substr(start));
}

class TuneCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("perfgraph_tune_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(TuneCliTest, TunesWithinTheBudgetResumesAndReplays) {
  const std::string log = Path("tuning.pgd");
  CliResult r = RunPerfgraph("tune --json --strategy analytical --budget-measurements 6 --batch 4" +
                             kShape + kFakeCommand + "--out " + log + " " + kTinyCnn);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json first = ParseJson(r.out);
  EXPECT_EQ(first["strategy"], "analytical");
  ASSERT_GE(first["kernels"].size(), 2u);
  int expected = 0;
  for (const nlohmann::json& k : first["kernels"]) {
    const int budget = std::min(6, k["candidates"].get<int>());
    EXPECT_EQ(k["measured"].get<int>(), budget) << k.dump();
    expected += budget;
    ASSERT_TRUE(k.contains("best_ns")) << k.dump();
    // The default config is measured first, so the speed-up over it is known and >= 1.
    EXPECT_GE(k["speedup_vs_default"].get<double>(), 1.0) << k.dump();
  }
  EXPECT_EQ(first["measured"].get<int>(), expected);

  // The log is an ordinary dataset.
  CliResult stats = RunPerfgraph("dataset stats --json " + log);
  ASSERT_EQ(stats.exit_code, 0) << stats.out;
  EXPECT_THAT(stats.out, HasSubstr(std::to_string(expected)));

  // Same command again: every budget is spent, nothing is measured; a larger budget adds only the
  // difference.
  r = RunPerfgraph("tune --json --strategy analytical --budget-measurements 6 --batch 4" + kShape +
                   kFakeCommand + "--out " + log + " " + kTinyCnn);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(ParseJson(r.out)["measured"], 0);
  r = RunPerfgraph("tune --json --strategy xgboost --budget-measurements 8 --batch 4" + kShape +
                   kFakeCommand + "--out " + log + " " + kTinyCnn);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  int added = 0;
  const nlohmann::json resumed = ParseJson(r.out);
  for (const nlohmann::json& k : resumed["kernels"]) {
    EXPECT_EQ(k["resumed"].get<int>(), std::min(6, k["candidates"].get<int>()));
    added += k["measured"].get<int>() - k["resumed"].get<int>();
  }
  EXPECT_GT(added, 0);
  EXPECT_EQ(resumed["measured"].get<int>(), added);

  // Replay on the log: every strategy gets a row; random is the reference (ratio 1).
  r = RunPerfgraph("tune --json --replay " + log +
                   " --strategies random,analytical,xgboost --seeds 2 --out " + Path("report.json"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json report = ParseJson(r.out);
  EXPECT_GE(report["kernels"].get<int>(), 2);
  std::vector<std::string> names;
  for (const nlohmann::json& v : report["variants"]) names.push_back(v["name"]);
  EXPECT_THAT(names, ::testing::ElementsAre("random", "random + validity", "analytical",
                                            "analytical + validity", "xgboost", "xgboost + validity"));
  EXPECT_DOUBLE_EQ(report["variants"][0]["median_ratio_to_random"][0].get<double>(), 1.0);
  EXPECT_TRUE(std::filesystem::exists(Path("report.json")));
}

TEST_F(TuneCliTest, ATimedOutDefaultIsReportedAsALowerBound) {
  // The first config measured per kernel (the default) times out after "waiting" 1e9 ns; the
  // others take at most 101 us, so the speed-up over the default is at least 1e9 / best.
  const std::string marks = Path("marks");
  std::filesystem::create_directories(marks);
  const std::string command =
      " --measure-command 'm=" + marks +
      "/$PERFGRAPH_KERNEL_HASH; if [ ! -e $m ]; then touch $m; echo 1e9; exit 124; fi; "
      "echo $(( $(printf %s \"$PERFGRAPH_CONFIG\" | cksum | cut -d\" \" -f1) % 100000 + 1000 ))' ";
  CliResult r = RunPerfgraph("tune --json --strategy random --budget-measurements 4" + kShape +
                             command + "--out " + Path("tuning.pgd") + " " + kTinyCnn);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json tuning = ParseJson(r.out);
  int checked = 0;
  for (const nlohmann::json& k : tuning["kernels"]) {
    if (k["candidates"].get<int>() < 2) continue;
    EXPECT_EQ(k["default_status"], "timeout") << k.dump();
    EXPECT_FALSE(k.contains("speedup_vs_default")) << k.dump();
    EXPECT_DOUBLE_EQ(k["default_ns_at_least"].get<double>(), 1e9) << k.dump();
    EXPECT_DOUBLE_EQ(k["speedup_vs_default_at_least"].get<double>(),
                     1e9 / k["best_ns"].get<double>());
    ++checked;
  }
  EXPECT_GE(checked, 1) << r.out;
}

TEST_F(TuneCliTest, CompareUsesTheLogsBestConfigsInTheTunedColumn) {
  const std::string log = Path("tuning.pgd");
  CliResult r = RunPerfgraph("tune --json --strategy random --budget-measurements 3" + kShape +
                             kFakeCommand + "--out " + log + " " + kTinyCnn);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::map<std::string, std::string> best;  // kernel -> best config
  const nlohmann::json tuning = ParseJson(r.out);
  for (const nlohmann::json& k : tuning["kernels"]) best[k["kernel"]] = k["best_config"];
  r = RunPerfgraph("compare --json --schedulers default,tuned --repeats 1 --threads 1 --tuning-log " +
                   log + kShape + kTinyCnn);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json tuned = ParseJson(r.out)["programs"][0]["columns"]["tuned"];
  EXPECT_EQ(tuned["status"], "complete") << tuned.dump(2);
  int checked = 0;
  for (const nlohmann::json& t : tuned["kernel_times"]) {
    for (const nlohmann::json& name : t["kernels"]) {
      auto it = best.find(name.get<std::string>());
      if (it == best.end()) continue;  // an identical kernel tuned under another name
      EXPECT_EQ(t["schedule"], it->second) << name;
      ++checked;
    }
  }
  EXPECT_GE(checked, 1);
}

TEST_F(TuneCliTest, UsageErrorsExitWithStatus2) {
  const std::string log = Path("tuning.pgd");
  struct Case {
    std::string args;
    std::string message;
  } cases[] = {
      {"tune --strategy annealing --budget-measurements 2 --out " + log + kShape + kTinyCnn,
       "unknown tuning strategy 'annealing'"},
      {"tune --out " + log + kShape + kTinyCnn, "give a budget"},
      {"tune --budget-measurements 2" + kShape + kTinyCnn, "--out TUNING.pgd is required"},
      {"tune --budget-measurements 2 --batch 0 --out " + log + kShape + kTinyCnn,
       "--batch must be >= 1"},
      {"tune --budget-measurements 2 --out " + log, "give the MODEL or KERNELS.pgd files"},
      {"tune --replay " + Path("missing.pgd"), "missing.pgd"},
      {"compare --schedulers default,tuned" + kShape + kTinyCnn, "needs a tuning log"},
      {"tune --budget-measurements 2 --validity-model " + Path("nowhere") + " --out " + log + kShape +
           kTinyCnn,
       "--novalidity"},
      {"tune --train-validity --out " + Path("v"), "--train-validity needs --dataset"},
  };
  for (const Case& c : cases) {
    CliResult r = RunPerfgraph(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.out;
    EXPECT_THAT(r.out, HasSubstr(c.message)) << c.args;
  }
  EXPECT_FALSE(std::filesystem::exists(log));
}

}  // namespace
}  // namespace perfgraph::tools

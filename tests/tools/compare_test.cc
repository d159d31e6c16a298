// End-to-end tests of `perfgraph compare`: runs the real binary on small real models and checks the
// JSON columns and totals, failure reporting (a kernel the target cannot compile is listed, never
// dropped) and the usage errors (unknown scheduler, missing learned model, bad --repeats).
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
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kSource = PERFGRAPH_SOURCE_DIR;
const std::string kTinyCnn = kSource + "/tests/testdata/cli/tiny_cnn_dynamic_batch.onnx";
const std::string kShape = " --input-shape input=1,3,16,16 ";
// An unoptimised HLO classifier head whose argmax is a variadic reduce: its default fusion has a
// kernel with a tuple root, which the Halide target does not lower.
const std::string kArgmaxHlo = kSource + "/tests/testdata/hlo/argmax_head.hlo";

// The JSON document of `out` (progress lines on stderr come before it).
nlohmann::json ParseJson(const std::string& out) {
  const size_t start = out.find("{\n");
  return nlohmann::json::parse(start == std::string::npos ? out : out.substr(start));
}

TEST(CompareTest, JsonHasEveryColumnWithPositiveTotals) {
  CliResult r = RunPerfgraph(
      "compare --json --schedulers default,analytical,Mullapudi2016 "
      "--repeats 1 --threads 1" +
      kShape + kTinyCnn);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json report = ParseJson(r.out);
  EXPECT_THAT(report["schedulers"].get<std::vector<std::string>>(),
              ElementsAre("default", "analytical", "Mullapudi2016"));
  EXPECT_EQ(report["repeats"], 1);
  EXPECT_EQ(report["threads"], 1);
  EXPECT_EQ(report["machine_params"]["parallelism"], 1);
  ASSERT_EQ(report["programs"].size(), 1u);
  const nlohmann::json& program = report["programs"][0];
  EXPECT_EQ(program["program"], "tiny_cnn_dynamic_batch");
  for (const char* column : {"default", "analytical", "Mullapudi2016"}) {
    SCOPED_TRACE(column);
    ASSERT_TRUE(program["columns"].contains(column)) << program.dump(2);
    const nlohmann::json& c = program["columns"][column];
    EXPECT_EQ(c["status"], "complete") << c.dump(2);
    EXPECT_GT(c["total_ns"].get<double>(), 0);
    ASSERT_EQ(c["repetition_totals_ns"].size(), 1u);
    EXPECT_DOUBLE_EQ(c["repetition_totals_ns"][0].get<double>(), c["total_ns"].get<double>());
    EXPECT_EQ(c["kernels_failed"], 0);
    EXPECT_GE(c["kernels"].get<int>(), 1);
    EXPECT_EQ(c["kernels_measured"], c["kernels"]);
    EXPECT_TRUE(c["failures"].empty());
    // The total is the sum of the kernels' times (one repetition: medians are the samples).
    double sum = 0;
    int kernels = 0;
    for (const auto& k : c["kernel_times"]) {
      EXPECT_GT(k["median_ns"].get<double>(), 0);
      sum += k["median_ns"].get<double>() * k["kernels"].size();
      kernels += static_cast<int>(k["kernels"].size());
    }
    EXPECT_EQ(kernels, c["kernels"].get<int>());
    EXPECT_NEAR(sum, c["total_ns"].get<double>(), 1e-6 * sum);
    EXPECT_GT(c["speedup_vs_default"].get<double>(), 0);
  }
  // The autoscheduler column schedules the default fusion's kernels; analytical fuses on its own.
  EXPECT_EQ(program["columns"]["Mullapudi2016"]["fusion"], "default");
  EXPECT_EQ(program["columns"]["Mullapudi2016"]["kernels"],
            program["columns"]["default"]["kernels"]);
  EXPECT_EQ(program["columns"]["analytical"]["fusion"], "cost");
  EXPECT_DOUBLE_EQ(program["columns"]["default"]["speedup_vs_default"].get<double>(), 1.0);
  EXPECT_EQ(report["summary"]["Mullapudi2016"]["programs_complete"], 1);
}

TEST(CompareTest, KernelThatCannotBeCompiledIsListedAndMarksTheTotalIncomplete) {
  CliResult r =
      RunPerfgraph("compare --json --schedulers default --repeats 1 --threads 1 " + kArgmaxHlo);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json report = ParseJson(r.out);
  const nlohmann::json& c = report["programs"][0]["columns"]["default"];
  EXPECT_EQ(c["status"], "incomplete");
  EXPECT_GE(c["kernels_failed"].get<int>(), 1);
  EXPECT_EQ(c["kernels_measured"].get<int>() + c["kernels_failed"].get<int>(),
            c["kernels"].get<int>());
  ASSERT_FALSE(c["failures"].empty());
  EXPECT_EQ(c["failures"][0]["stage"], "compile");
  EXPECT_THAT(c["failures"][0]["error"].get<std::string>(), HasSubstr("tuple"));
  EXPECT_GT(c["total_ns"].get<double>(), 0);  // the measured kernels still add up
  EXPECT_EQ(report["summary"]["default"]["programs_complete"], 0);
  EXPECT_THAT(r.out, HasSubstr("warning"));
}

TEST(CompareTest, TableMarksIncompleteTotals) {
  CliResult r = RunPerfgraph("compare --schedulers default --repeats 1 --threads 1 " + kArgmaxHlo);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("program"));
  EXPECT_THAT(r.out, HasSubstr("argmax_head"));
  EXPECT_THAT(r.out, HasSubstr("! = incomplete"));
  EXPECT_THAT(r.out, HasSubstr("[compile]"));
}

TEST(CompareTest, UnknownSchedulerIsAUsageErrorNamingIt) {
  CliResult r = RunPerfgraph("compare --schedulers default,Adams2020 " + kTinyCnn);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("'Adams2020'"));
}

TEST(CompareTest, LearnedColumnWithoutAModelIsAUsageError) {
  CliResult r = RunPerfgraph("compare --schedulers default,learned --model /nonexistent/model " +
                             kShape + kTinyCnn);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("/nonexistent/model"));
  EXPECT_THAT(r.out, HasSubstr("leave 'learned' out of --schedulers"));
}

TEST(CompareTest, BadRepeatsAndMissingModelAreUsageErrors) {
  CliResult r = RunPerfgraph("compare --schedulers default --repeats 0 " + kTinyCnn);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--repeats must be >= 1, got 0"));
  r = RunPerfgraph("compare --schedulers default");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("MODEL"));
  r = RunPerfgraph("compare --schedulers default,default " + kTinyCnn);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("more than once"));
}

}  // namespace
}  // namespace perfgraph::tools

// End-to-end tests of `perfgraph plan`: runs the real binary on a small real ONNX model and checks the
// exit status, the JSON contract keys (DESIGN.md) and --measure.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/temp_dir.h"
#include "tests/tools/cli_runner.h"

namespace perfgraph::tools {
namespace {

using ::testing::HasSubstr;
using test::CliResult;
using test::RunPerfgraph;

const std::string kTinyCnn =
    std::string(PERFGRAPH_SOURCE_DIR) + "/tests/testdata/cli/tiny_cnn_dynamic_batch.onnx";
const std::string kShape = " --input-shape input=1,3,16,16 ";

// The JSON document of `out` (stderr lines such as progress come before it).
nlohmann::json ParseJson(const std::string& out) {
  const size_t start = out.find("{\n");
  return nlohmann::json::parse(start == std::string::npos ? out : out.substr(start));
}

TEST(PlanTest, JsonHasContractKeysAndAValidConfigPerKernel) {
  CliResult r = RunPerfgraph("plan --json --cost-model analytical" + kShape + kTinyCnn);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json report = ParseJson(r.out);
  EXPECT_EQ(report["program"], "tiny_cnn_dynamic_batch");
  EXPECT_EQ(report["cost_model"], "analytical");
  EXPECT_EQ(report["fusion"], "cost");
  EXPECT_FALSE(report.contains("total_measured_ns"));
  ASSERT_GE(report["kernels"].size(), 1u);
  double sum = 0;
  for (const auto& k : report["kernels"]) {
    for (const char* key : {"name", "config", "predicted_ns", "fusion_kind", "root_opcode",
                            "default_config", "default_predicted_ns"}) {
      EXPECT_TRUE(k.contains(key)) << key;
    }
    EXPECT_FALSE(k.contains("measured_ns"));
    EXPECT_THAT(k["config"].get<std::string>(), HasSubstr("tile="));
    EXPECT_GT(k["predicted_ns"].get<double>(), 0);
    // The chosen config is the argmin over a space that contains the default.
    EXPECT_LE(k["predicted_ns"].get<double>(), k["default_predicted_ns"].get<double>());
    sum += k["predicted_ns"].get<double>();
  }
  EXPECT_NEAR(report["total_predicted_ns"].get<double>(), sum, 1e-6 * sum);
  EXPECT_EQ(report["kernels_without_estimate"], 0);
  // The cost-driven fusion records a decision per visited instruction, each with a reason.
  const auto& d = report["decisions"];
  EXPECT_GT(d["fused"].get<int>() + d["declined_cost"].get<int>() +
                d["declined_legality"].get<int>(),
            0);
  ASSERT_GT(report["fusion_decisions"].size(), 0u);
  for (const auto& decision : report["fusion_decisions"]) {
    EXPECT_FALSE(decision["reason"].get<std::string>().empty());
  }
}

TEST(PlanTest, MeasureAddsPositiveMeasuredTimes) {
  CliResult r = RunPerfgraph("plan --json --measure --threads 1 --cost-model analytical" + kShape +
                             kTinyCnn);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json report = ParseJson(r.out);
  ASSERT_TRUE(report.contains("total_measured_ns")) << r.out;
  EXPECT_GT(report["total_measured_ns"].get<double>(), 0);
  EXPECT_EQ(report["kernels_measured"].get<size_t>(), report["kernels"].size());
  EXPECT_EQ(report["threads"], 1);
  for (const auto& k : report["kernels"]) {
    EXPECT_EQ(k["measure_status"], "ok") << k.dump();
    EXPECT_GT(k["measured_ns"].get<double>(), 0);
  }
}

TEST(PlanTest, CoverageCountsKernelsWithoutAnEstimateByKind) {
  // The classifier head's argmax is a variadic (tuple-shaped) reduce: no config space, no estimate.
  const std::string argmax =
      std::string(PERFGRAPH_SOURCE_DIR) + "/tests/testdata/hlo/argmax_head.hlo";
  CliResult r = RunPerfgraph("plan --json --fusion default --cost-model analytical " + argmax);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json report = ParseJson(r.out);
  const nlohmann::json& coverage = report["coverage"];
  EXPECT_EQ(coverage["kernels"], 2);
  EXPECT_EQ(coverage["estimated_kernels"], 1);
  EXPECT_EQ(coverage["missing"]["kInput reduce"], 1);
  // The dot + exponential kernel holds every FLOP but the argmax's comparisons.
  EXPECT_GT(coverage["estimated_flop_share"].get<double>(), 0.5);
  EXPECT_LT(coverage["estimated_flop_share"].get<double>(), 1.0);
  CliResult table = RunPerfgraph("plan --fusion default --cost-model analytical " + argmax);
  ASSERT_EQ(table.exit_code, 0) << table.out;
  EXPECT_THAT(table.out, HasSubstr("coverage: 1 of 2 kernels estimated"));
  EXPECT_THAT(table.out, HasSubstr("1 kInput reduce"));
}

TEST(PlanTest, TotalsCountLoopBodiesByTheirTripCount) {
  const std::string loops = std::string(PERFGRAPH_SOURCE_DIR) + "/tests/testdata/hlo/loops.hlo";
  CliResult r = RunPerfgraph("plan --json --fusion default --cost-model analytical " + loops);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json report = ParseJson(r.out);
  double outside = 0;
  std::map<std::string, double> branch;
  int unknown = 0;
  for (const auto& k : report["kernels"]) {
    const std::string name = k["name"].get<std::string>();
    const std::string computation = name.substr(0, name.find('/'));
    if (computation == "body") EXPECT_EQ(k["executions"], 4) << name;  // 0 to 12 step 3
    if (k["executions"].is_null()) {
      ++unknown;
      EXPECT_THAT(k["executions_note"].get<std::string>(), HasSubstr("'w2'"));
    }
    const double ns =
        k["predicted_ns"].get<double>() * (k["executions"].is_null() ? 1 : k["executions"].get<int>());
    if (computation == "then" || computation == "else") {
      branch[computation] += ns;
    } else {
      outside += ns;
    }
  }
  EXPECT_GT(unknown, 0);
  ASSERT_EQ(branch.size(), 2u);
  const double expected = outside + std::max(branch["then"], branch["else"]);
  EXPECT_NEAR(report["total_predicted_ns"].get<double>(), expected, 1e-9 * expected);
  EXPECT_THAT(report["total_notes"].dump(), HasSubstr("costliest branch"));
  EXPECT_THAT(report["total_notes"].dump(), HasSubstr("per iteration"));
}

TEST(PlanTest, DefaultFusionTableListsKernelsAndTotals) {
  CliResult r = RunPerfgraph("plan --fusion default --cost-model analytical" + kShape + kTinyCnn);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("program tiny_cnn_dynamic_batch"));
  EXPECT_THAT(r.out, HasSubstr("fusion default"));
  EXPECT_THAT(r.out, HasSubstr("predicted_us"));
  EXPECT_THAT(r.out, HasSubstr("tile="));
  EXPECT_THAT(r.out, HasSubstr("\ntotal "));
}

TEST(PlanTest, MissingLearnedModelSaysWhatToPass) {
  CliResult r = RunPerfgraph("plan --model /nonexistent/model_dir" + kShape + kTinyCnn);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("no learned model in /nonexistent/model_dir"));
  EXPECT_THAT(r.out, HasSubstr("--cost-model analytical"));
}

TEST(PlanTest, BadUsageIsExitTwoWithAMessage) {
  CliResult unknown_model = RunPerfgraph("plan --cost-model roofline" + kShape + kTinyCnn);
  EXPECT_EQ(unknown_model.exit_code, 2);
  EXPECT_THAT(unknown_model.out, HasSubstr("roofline"));
  CliResult bad_fusion =
      RunPerfgraph("plan --cost-model analytical --fusion greedy" + kShape + kTinyCnn);
  EXPECT_EQ(bad_fusion.exit_code, 2);
  EXPECT_THAT(bad_fusion.out, HasSubstr("--fusion must be cost or default"));
  CliResult missing = RunPerfgraph("plan --cost-model analytical /nonexistent/model.onnx");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.out, HasSubstr("/nonexistent/model.onnx"));
  CliResult no_model = RunPerfgraph("plan --cost-model analytical");
  EXPECT_EQ(no_model.exit_code, 2);
  EXPECT_THAT(no_model.out, HasSubstr("exactly one MODEL"));
}

TEST(PlanTest, PlotDrawsAPerKernelBarChartBesideTheReport) {
  const std::string dir = perfgraph::testing::FreshTempPath("plan_plot").string();
  std::filesystem::create_directories(dir);
  CliResult r = RunPerfgraph("plan --cost-model analytical --plot " + dir + "/plan.svg" + kShape +
                             kTinyCnn);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::ifstream svg(dir + "/plan.svg");
  const std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("<svg"));
  // The report it was drawn from, redrawable by hand; every kernel's name is a bar label.
  std::ifstream report_file(dir + "/plan.svg.json");
  ASSERT_TRUE(report_file.good());
  const nlohmann::json report = nlohmann::json::parse(report_file);
  ASSERT_GE(report["kernels"].size(), 1u);
  for (const auto& k : report["kernels"]) EXPECT_THAT(text, HasSubstr(k["name"].get<std::string>()));

  CliResult pdf = RunPerfgraph("plan --cost-model analytical --plot " + dir + "/plan.pdf" + kShape +
                               kTinyCnn);
  EXPECT_EQ(pdf.exit_code, 2);
  EXPECT_THAT(pdf.out, HasSubstr("must end in .png or .svg"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/plan.pdf.json"));
}

}  // namespace
}  // namespace perfgraph::tools

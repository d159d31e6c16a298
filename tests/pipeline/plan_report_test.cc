// pipeline::PlanReport: the JSON of `perfgraph plan --json` and of perfgraph.plan() (python/), built
// from a real plan of tests/testdata with the analytical model.
#include "pipeline/plan_report.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "graph/import.h"
#include "gtest/gtest.h"
#include "pipeline/cost_models.h"
#include "pipeline/plan.h"
#include "pipeline/plan_measure.h"

namespace perfgraph::pipeline {
namespace {

using ::testing::ElementsAre;

const std::string kTinyCnn =
    std::string(PERFGRAPH_SOURCE_DIR) + "/tests/testdata/cli/tiny_cnn_dynamic_batch.onnx";

ProgramPlan PlanTinyCnn(FusionMode fusion, double min_predicted_gain) {
  graph::ImportOptions import_options;
  import_options.input_shapes["input"] = {1, 3, 16, 16};
  absl::StatusOr<graph::ImportedModel> model = graph::ImportModelFile(kTinyCnn, import_options);
  EXPECT_TRUE(model.ok()) << model.status();
  CostModelOptions model_options;
  model_options.kind = CostModelKind::kAnalytical;
  absl::StatusOr<std::unique_ptr<cost::CostModel>> cost_model = MakeCostModel(model_options);
  EXPECT_TRUE(cost_model.ok()) << cost_model.status();
  PlanOptions options;
  options.fusion = fusion;
  options.tiling.min_predicted_gain = min_predicted_gain;
  absl::StatusOr<ProgramPlan> plan = PlanProgram(kTinyCnn, *model, **cost_model, options);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return *std::move(plan);
}

std::vector<std::string> Keys(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

TEST(PlanReportTest, HoldsThePlanUnderTheContractKeysInOrder) {
  const ProgramPlan plan = PlanTinyCnn(FusionMode::kCost, 0.05);
  ASSERT_FALSE(plan.kernels.empty());
  const nlohmann::ordered_json report = PlanReport(plan);
  EXPECT_THAT(Keys(report),
              ElementsAre("program", "model_file", "cost_model", "fusion", "threads", "kernels",
                          "total_predicted_ns", "total_default_predicted_ns", "total_notes",
                          "kernels_without_estimate", "coverage", "kernels_out_of_distribution",
                          "min_predicted_gain", "kernels_kept_default", "decisions",
                          "fusion_decisions"));
  EXPECT_EQ(report["program"], "tiny_cnn_dynamic_batch");
  EXPECT_EQ(report["model_file"], kTinyCnn);
  EXPECT_EQ(report["cost_model"], "analytical");
  EXPECT_EQ(report["fusion"], "cost");
  EXPECT_EQ(report["min_predicted_gain"].get<double>(), 0.05);
  EXPECT_EQ(report["total_predicted_ns"].get<double>(), plan.total_predicted_ns);
  ASSERT_EQ(report["kernels"].size(), plan.kernels.size());
  double sum = 0;
  for (size_t i = 0; i < plan.kernels.size(); ++i) {
    const nlohmann::ordered_json& k = report["kernels"][i];
    const KernelPlan& kp = plan.kernels[i];
    ASSERT_TRUE(kp.tiling.ok()) << kp.tiling.status();
    EXPECT_EQ(k["name"], kp.kernel.name);
    EXPECT_EQ(k["config"], kp.tiling->config.ToString());
    EXPECT_EQ(k["predicted_ns"].get<double>(), kp.tiling->predicted_ns);
    EXPECT_EQ(k["configs_scored"].get<int>(), kp.tiling->configs_scored);
    EXPECT_EQ(k["default_config"], kp.default_config.ToString());
    EXPECT_EQ(k["executions"].get<int>(), 1);
    EXPECT_FALSE(k.contains("measured_ns"));
    sum += kp.tiling->predicted_ns;
  }
  // Every kernel of this ONNX model runs once, so the total is the plain sum.
  EXPECT_DOUBLE_EQ(report["total_predicted_ns"].get<double>(), sum);
  EXPECT_EQ(report["coverage"]["kernels"].get<int>(), static_cast<int>(plan.kernels.size()));
  EXPECT_EQ(report["coverage"]["estimated_kernels"].get<int>(),
            static_cast<int>(plan.kernels.size()));
  EXPECT_EQ(report["decisions"]["fused"].get<int>(), plan.decision_counts.fused);
  EXPECT_EQ(report["fusion_decisions"].size(), plan.decisions.size());
}

TEST(PlanReportTest, DefaultFusionHasNoDecisionsAndMeasurementsAddTheirKeys) {
  const ProgramPlan plan = PlanTinyCnn(FusionMode::kDefault, 0);
  ASSERT_GE(plan.kernels.size(), 2u);
  EXPECT_FALSE(PlanReport(plan).contains("decisions"));
  PlanMeasurement measured;
  measured.kernels.resize(plan.kernels.size(), KernelMeasurement{"skipped", std::nullopt, ""});
  measured.kernels[0] = KernelMeasurement{"ok", 1234.5, ""};
  measured.kernels[1] = KernelMeasurement{"invalid", std::nullopt, "did not compile"};
  measured.total_measured_ns = 1234.5;
  measured.kernels_measured = 1;
  const nlohmann::ordered_json report = PlanReport(plan, &measured);
  EXPECT_EQ(report["kernels"][0]["measured_ns"].get<double>(), 1234.5);
  EXPECT_EQ(report["kernels"][0]["measure_status"], "ok");
  EXPECT_FALSE(report["kernels"][0].contains("measure_error"));
  EXPECT_TRUE(report["kernels"][1]["measured_ns"].is_null());
  EXPECT_EQ(report["kernels"][1]["measure_error"], "did not compile");
  EXPECT_EQ(report["total_measured_ns"].get<double>(), 1234.5);
  EXPECT_EQ(report["kernels_measured"].get<int>(), 1);
  // The measured totals follow total_notes, as the contract's table prints them.
  const std::vector<std::string> keys = Keys(report);
  const auto notes = std::find(keys.begin(), keys.end(), "total_notes");
  ASSERT_NE(notes, keys.end());
  EXPECT_EQ(*(notes + 1), "total_measured_ns");
}

}  // namespace
}  // namespace perfgraph::pipeline

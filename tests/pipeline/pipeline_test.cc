// The pipeline as a library (pipeline/): what a compiler pass linking perfgraph calls. Real models
// (tests/testdata) and the shipped cost models.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cost/shipped_files.h"
#include "data/config_proto.h"
#include "fusion/default_fusion.h"
#include "gmock/gmock.h"
#include "graph/import.h"
#include "gtest/gtest.h"
#include "pipeline/compare.h"
#include "pipeline/cost_models.h"
#include "pipeline/measurement_plan.h"
#include "pipeline/plan.h"
#include "pipeline/plan_measure.h"

namespace perfgraph::pipeline {
namespace {

using ::testing::HasSubstr;

const std::string kTinyCnn =
    std::string(PERFGRAPH_SOURCE_DIR) + "/tests/testdata/cli/tiny_cnn_dynamic_batch.onnx";

graph::ImportedModel ImportTinyCnn() {
  graph::ImportOptions options;
  options.input_shapes["input"] = {1, 3, 16, 16};
  absl::StatusOr<graph::ImportedModel> model = graph::ImportModelFile(kTinyCnn, options);
  EXPECT_TRUE(model.ok()) << model.status();
  return *std::move(model);
}

TEST(CostModelsTest, NamesRoundTripAndUnknownNamesAreRejected) {
  for (CostModelKind kind :
       {CostModelKind::kLearned, CostModelKind::kXgboost, CostModelKind::kAnalytical}) {
    absl::StatusOr<CostModelKind> parsed = ParseCostModelKind(CostModelKindName(kind));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, kind);
  }
  absl::StatusOr<CostModelKind> bad = ParseCostModelKind("oracle");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("'oracle'"));
}

TEST(CostModelsTest, EveryShippedModelLoadsAndEstimates) {
  const graph::ImportedModel model = ImportTinyCnn();
  absl::StatusOr<FusedModel> fused = FuseModel(kTinyCnn, model, FusionMode::kDefault, nullptr);
  ASSERT_TRUE(fused.ok()) << fused.status();
  ASSERT_FALSE(fused->kernels.empty());
  std::set<std::string> names;
  for (CostModelKind kind :
       {CostModelKind::kLearned, CostModelKind::kXgboost, CostModelKind::kAnalytical}) {
    CostModelOptions options;
    options.kind = kind;
    absl::StatusOr<std::unique_ptr<cost::CostModel>> cost_model = MakeCostModel(options);
    ASSERT_TRUE(cost_model.ok()) << CostModelKindName(kind) << ": " << cost_model.status();
    names.insert((*cost_model)->name());
    const graph::Kernel& kernel = fused->kernels[0];
    cost::CostBatch batch;
    batch.Enqueue(kernel, tiling::Default(kernel));
    std::vector<absl::StatusOr<double>> ns = batch.Evaluate(**cost_model);
    ASSERT_EQ(ns.size(), 1u);
    ASSERT_TRUE(ns[0].ok()) << ns[0].status();
    EXPECT_GT(*ns[0], 0);
  }
  EXPECT_EQ(names.size(), 3u);  // three different models, not one under three names
}

TEST(CostModelsTest, MissingModelDirectoriesAreFailedPreconditionsNamingTheDirectory) {
  CostModelOptions options;
  options.kind = CostModelKind::kLearned;
  options.model_dir = "/nonexistent/learned";
  absl::StatusOr<std::unique_ptr<cost::CostModel>> model = MakeCostModel(options);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(model.status().message(), HasSubstr("/nonexistent/learned/weights.pgw"));
  options.kind = CostModelKind::kXgboost;
  options.model_dir = "/nonexistent/xgb";
  model = MakeCostModel(options);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(model.status().message(), HasSubstr("/nonexistent/xgb"));
}

TEST(ShippedFilesTest, OverrideThenEnvironmentThenInstalledOrSourceTree) {
  cost::SetDataDirOverride("");
  unsetenv(cost::kDataDirEnv);
  // In a build tree nothing is installed: the source tree holds the shipped files.
  const std::string found = cost::DataDir();
  EXPECT_TRUE(std::filesystem::exists(found + "/" + cost::kShippedMarker)) << found;
  EXPECT_EQ(ShippedModelDir(CostModelKind::kLearned), found + "/models/default");

  setenv(cost::kDataDirEnv, "/from/env/", 1);
  EXPECT_EQ(cost::DataDir(), "/from/env");
  EXPECT_EQ(cost::DataDirSource(), cost::kDataDirEnv);
  cost::SetDataDirOverride("/from/flag");
  EXPECT_EQ(cost::DataDir(), "/from/flag");
  EXPECT_EQ(cost::ShippedPath("models/xgboost"), "/from/flag/models/xgboost");
  cost::SetDataDirOverride("");
  unsetenv(cost::kDataDirEnv);
  EXPECT_EQ(cost::DataDir(), found);
}

TEST(PlanTest, PlansEveryKernelAtItsArgminWithConsistentTotals) {
  const graph::ImportedModel model = ImportTinyCnn();
  CostModelOptions options;
  options.kind = CostModelKind::kAnalytical;
  absl::StatusOr<std::unique_ptr<cost::CostModel>> cost_model = MakeCostModel(options);
  ASSERT_TRUE(cost_model.ok()) << cost_model.status();
  for (FusionMode mode : {FusionMode::kCost, FusionMode::kDefault}) {
    SCOPED_TRACE(FusionModeName(mode));
    PlanOptions plan_options;
    plan_options.fusion = mode;
    absl::StatusOr<ProgramPlan> plan = PlanProgram(kTinyCnn, model, **cost_model, plan_options);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(plan->program, "tiny_cnn_dynamic_batch");
    EXPECT_EQ(plan->fusion, FusionModeName(mode));
    EXPECT_EQ(plan->cost_model, "analytical");
    ASSERT_FALSE(plan->kernels.empty());
    double total = 0, total_default = 0;
    for (const KernelPlan& k : plan->kernels) {
      ASSERT_TRUE(k.tiling.ok()) << k.kernel.name << ": " << k.tiling.status();
      ASSERT_TRUE(k.default_predicted_ns.has_value());
      // The whole space contains the default, so the argmin is never worse by the model's estimate.
      EXPECT_LE(k.tiling->predicted_ns, *k.default_predicted_ns);
      EXPECT_EQ(k.default_config.ToString(), tiling::Default(k.kernel).ToString());
      EXPECT_EQ(k.tiling->configs_scored, k.tiling->configs_in_space);
      total += k.tiling->predicted_ns;
      total_default += *k.default_predicted_ns;
    }
    EXPECT_DOUBLE_EQ(plan->total_predicted_ns, total);
    EXPECT_DOUBLE_EQ(plan->total_default_predicted_ns, total_default);
    EXPECT_EQ(plan->kernels_without_estimate, 0);
    if (mode == FusionMode::kCost) {
      const FusionDecisionCounts& c = plan->decision_counts;
      EXPECT_EQ(c.fused + c.declined_cost + c.declined_no_estimate + c.declined_legality,
                static_cast<int>(plan->decisions.size()));
      EXPECT_FALSE(plan->decisions.empty());
    } else {
      // Default fusion: the same kernels as fusion::DefaultFusion itself.
      absl::StatusOr<std::vector<graph::Kernel>> reference = fusion::DefaultFusion(model.program);
      ASSERT_TRUE(reference.ok());
      EXPECT_EQ(plan->kernels.size(), reference->size());
      EXPECT_TRUE(plan->decisions.empty());
    }
  }
}

TEST(PlanTest, CostFusionWithoutACostModelIsAnError) {
  const graph::ImportedModel model = ImportTinyCnn();
  absl::StatusOr<FusedModel> fused = FuseModel(kTinyCnn, model, FusionMode::kCost, nullptr);
  EXPECT_EQ(fused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(fused.status().message(), HasSubstr(kTinyCnn));
  EXPECT_EQ(ParseFusionMode("greedy").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PlanMeasureTest, MeasuresEveryPlannedKernelOnThisCpu) {
  const graph::ImportedModel model = ImportTinyCnn();
  CostModelOptions options;
  options.kind = CostModelKind::kAnalytical;
  absl::StatusOr<std::unique_ptr<cost::CostModel>> cost_model = MakeCostModel(options);
  ASSERT_TRUE(cost_model.ok()) << cost_model.status();
  PlanOptions plan_options;
  plan_options.fusion = FusionMode::kDefault;
  absl::StatusOr<ProgramPlan> plan = PlanProgram(kTinyCnn, model, **cost_model, plan_options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  int calls = 0;
  absl::StatusOr<PlanMeasurement> measured =
      MeasurePlan(*plan, [&calls](int done, const std::string&) { calls = done; });
  ASSERT_TRUE(measured.ok()) << measured.status();
  ASSERT_EQ(measured->kernels.size(), plan->kernels.size());
  EXPECT_EQ(calls, static_cast<int>(plan->kernels.size()));
  double total = 0;
  for (const KernelMeasurement& m : measured->kernels) {
    EXPECT_EQ(m.status, "ok") << m.error;
    ASSERT_TRUE(m.measured_ns.has_value());
    EXPECT_GT(*m.measured_ns, 0);
    total += *m.measured_ns;
  }
  EXPECT_EQ(measured->kernels_measured, static_cast<int>(plan->kernels.size()));
  EXPECT_DOUBLE_EQ(measured->total_measured_ns, total);
}

TEST(MeasurementPlanTest, ShardsParseAndRejectNonsense) {
  EXPECT_FALSE(ParseShard("")->has_value());
  absl::StatusOr<std::optional<Shard>> s = ParseShard("2/5");
  ASSERT_TRUE(s.ok() && s->has_value());
  EXPECT_EQ((*s)->index, 2);
  EXPECT_EQ((*s)->count, 5);
  for (const char* bad : {"5/5", "-1/2", "1", "a/b", "1/0"}) {
    EXPECT_EQ(ParseShard(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

MeasurementPlanOptions TinyPlanOptions() {
  MeasurementPlanOptions options;
  options.configs_per_kernel = 4;
  options.import_options.input_shapes["input"] = {1, 3, 16, 16};
  return options;
}

TEST(MeasurementPlanTest, TilePlanIsDeterministicStartsWithTheDefaultAndResumes) {
  const MeasurementPlanOptions options = TinyPlanOptions();
  absl::StatusOr<MeasurementPlan> a = PlanCorpusMeasurement({kTinyCnn}, options, {});
  absl::StatusOr<MeasurementPlan> b = PlanCorpusMeasurement({kTinyCnn}, options, {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->programs, 1);
  ASSERT_FALSE(a->work.empty());
  ASSERT_EQ(a->work.size(), b->work.size());
  for (size_t i = 0; i < a->work.size(); ++i) {
    EXPECT_EQ(a->work[i].hash, b->work[i].hash);
    EXPECT_EQ(a->work[i].config.ToString(), b->work[i].config.ToString());
  }
  // Each kernel's first pair is its default config; no more than configs_per_kernel per kernel.
  std::map<uint64_t, int> per_kernel;
  for (const MeasurementWork& w : a->work) {
    if (per_kernel[w.hash]++ == 0) {
      EXPECT_TRUE(w.is_default);
    }
    EXPECT_EQ(w.is_default, w.config == tiling::Default(*w.kernel));
  }
  for (const auto& [hash, n] : per_kernel) EXPECT_LE(n, options.configs_per_kernel);

  // Resume: the pairs of existing records are not planned again.
  std::vector<data::Record> existing;
  for (size_t i = 0; i < a->work.size() / 2; ++i) {
    data::Record r;
    r.set_task(data::Record::TASK_TILE);
    r.set_kernel_hash(a->work[i].hash);
    data::ConfigToProto(a->work[i].config, a->work[i].is_default, r.mutable_config());
    existing.push_back(r);
  }
  absl::StatusOr<MeasurementPlan> rest = PlanCorpusMeasurement({kTinyCnn}, options, existing);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->work.size(), a->work.size() - existing.size());
}

TEST(MeasurementPlanTest, ShardsPartitionThePlan) {
  MeasurementPlanOptions options = TinyPlanOptions();
  absl::StatusOr<MeasurementPlan> all = PlanCorpusMeasurement({kTinyCnn}, options, {});
  ASSERT_TRUE(all.ok());
  size_t total = 0;
  for (int k = 0; k < 3; ++k) {
    options.shard = Shard{k, 3};
    absl::StatusOr<MeasurementPlan> part = PlanCorpusMeasurement({kTinyCnn}, options, {});
    ASSERT_TRUE(part.ok());
    for (const MeasurementWork& w : part->work) EXPECT_EQ(w.hash % 3, static_cast<uint64_t>(k));
    total += part->work.size();
  }
  EXPECT_EQ(total, all->work.size());
}

TEST(MeasurementPlanTest, FusionVariantsAndUnreadableFilesAreSkippedNotFatal) {
  MeasurementPlanOptions options = TinyPlanOptions();
  options.task = MeasureTask::kFusion;
  options.fusion_variants = 3;
  options.flip_probability = 0.5;
  absl::StatusOr<MeasurementPlan> plan =
      PlanCorpusMeasurement({kTinyCnn, "/nonexistent/model.onnx"}, options, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->programs, 1);
  ASSERT_EQ(plan->skipped.size(), 1u);
  EXPECT_THAT(plan->skipped[0], HasSubstr("/nonexistent/model.onnx"));
  std::set<int> variants;
  for (const MeasurementWork& w : plan->work) {
    variants.insert(w.variant);
    EXPECT_TRUE(w.is_default);  // fusion kernels are measured at their default config
  }
  EXPECT_TRUE(variants.count(0));
  options.configs_per_kernel = 0;
  EXPECT_EQ(PlanCorpusMeasurement({kTinyCnn}, options, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CompareTest, BadSchedulerListsFailBeforeAnythingIsMeasured) {
  CompareOptions options;
  options.schedulers = {"default", "Adams2020"};
  absl::StatusOr<Comparison> r = ComparePrograms({kTinyCnn}, options);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("'Adams2020'"));
  options.schedulers = {"default", "default"};
  r = ComparePrograms({kTinyCnn}, options);
  EXPECT_THAT(r.status().message(), HasSubstr("more than once"));
  options.schedulers = {};
  EXPECT_EQ(ComparePrograms({kTinyCnn}, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.schedulers = {"default"};
  options.repeats = 0;
  EXPECT_THAT(ComparePrograms({kTinyCnn}, options).status().message(), HasSubstr("repeats"));
}

TEST(CompareTest, DefaultAndAnalyticalColumnsOfARealModel) {
  CompareOptions options;
  options.schedulers = {"default", "analytical"};
  options.repeats = 1;
  options.import_options.input_shapes["input"] = {1, 3, 16, 16};
  std::vector<std::string> warnings;
  CompareProgress progress;
  int64_t planned_units = -1, done_units = 0;
  progress.measuring_started = [&](int64_t units) { planned_units = units; };
  progress.advanced = [&](int64_t units, const std::string&) { done_units += units; };
  progress.warning = [&](const std::string& w) { warnings.push_back(w); };
  absl::StatusOr<Comparison> r = ComparePrograms({kTinyCnn}, options, progress);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->programs.size(), 1u);
  ASSERT_EQ(r->programs[0].columns.size(), 2u);
  for (const ColumnResult& col : r->programs[0].columns) {
    EXPECT_EQ(col.status, ColumnStatus::kComplete);
    ASSERT_TRUE(col.total_ns.has_value());
    double sum = 0;  // one repetition: the total is the sum of the kernels' times x occurrences
    for (const KernelTime& t : col.kernel_times) sum += t.median_ns * t.kernels.size();
    EXPECT_NEAR(*col.total_ns, sum, 1e-6 * sum);
    EXPECT_EQ(col.kernels_measured, col.kernels);
    ASSERT_TRUE(col.speedup_vs_default.has_value());
  }
  EXPECT_DOUBLE_EQ(*r->programs[0].columns[0].speedup_vs_default, 1.0);
  EXPECT_EQ(done_units, planned_units);  // progress accounts for every compile and timing
  EXPECT_TRUE(warnings.empty());
  ASSERT_EQ(r->summary.size(), 2u);
  EXPECT_EQ(r->summary[1].programs_compared, 1);
}

}  // namespace
}  // namespace perfgraph::pipeline

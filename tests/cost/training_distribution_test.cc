// cost::TrainingDistribution: what counts as outside the training kernels, the JSON round trip and
// its refusals.
#include "cost/training_distribution.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "cost/analytical_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cost/cost_test_util.h"
#include "tests/status_matchers.h"
#include "tests/temp_dir.h"

namespace perfgraph::cost {
namespace {

using ::perfgraph::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

TrainingDistribution TwoKernels() {
  TrainingDistribution d;
  d.Add(test::Dot(64, 128, 32));
  d.Add(test::Add({1024}));
  return d;
}

TEST(TrainingDistributionTest, FlagsUnseenOpcodesAndSizesBeyondTheMargin) {
  TrainingDistribution empty;
  EXPECT_THAT(empty.OutOfDistribution(test::Add({8})), HasSubstr("no training kernel"));

  const TrainingDistribution d = TwoKernels();
  EXPECT_EQ(d.kernels, 2);
  EXPECT_EQ(d.OutOfDistribution(test::Dot(64, 128, 32)), "");
  EXPECT_EQ(d.OutOfDistribution(test::Add({1024})), "");
  // Within the factor-2 margin of the trained FLOP range: inside.
  EXPECT_EQ(d.OutOfDistribution(test::Dot(64, 128, 48)), "");
  // 8x the FLOPs of the largest training kernel: outside, with both figures.
  EXPECT_THAT(d.OutOfDistribution(test::Dot(256, 256, 64)), HasSubstr("above the trained maximum"));
  // An opcode no training kernel had.
  test::KernelBuilder b("sub");
  const int x = b.Parameter({1024});
  const int y = b.Parameter({1024});
  b.Add(graph::HloOpcode::kSubtract, {1024}, {x, y});
  EXPECT_THAT(d.OutOfDistribution(b.Build()), HasSubstr("opcode 'subtract'"));
  // A fusion kind no training kernel had.
  graph::Kernel input = test::Add({1024});
  input.kind = graph::FusionKind::kInput;
  EXPECT_THAT(d.OutOfDistribution(input), HasSubstr("fusion kind kInput"));
}

TEST(TrainingDistributionTest, JsonRoundTripAndRefusals) {
  const TrainingDistribution d = TwoKernels();
  absl::StatusOr<TrainingDistribution> back =
      TrainingDistributionFromJson(TrainingDistributionToJson(d), "test");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->kernels, d.kernels);
  EXPECT_EQ(back->opcodes, d.opcodes);
  EXPECT_EQ(back->element_types, d.element_types);
  EXPECT_EQ(back->fusion_kinds, d.fusion_kinds);
  EXPECT_EQ(back->max_flops, d.max_flops);
  EXPECT_EQ(back->min_bytes, d.min_bytes);
  EXPECT_EQ(back->max_instructions, d.max_instructions);

  EXPECT_THAT(TrainingDistributionFromJson("[1, 2", "f.json").status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("f.json")));
  EXPECT_THAT(TrainingDistributionFromJson(R"({"kernels": 1, "opcodes": "dot"})", "f.json").status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("opcodes")));

  const auto dir = perfgraph::testing::ProcessTempDir() / "perfgraph_training_distribution_test";
  std::filesystem::remove_all(dir);
  absl::StatusOr<std::optional<TrainingDistribution>> none = ReadTrainingDistribution(dir.string());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(WriteTrainingDistribution(dir.string(), d).ok());
  absl::StatusOr<std::optional<TrainingDistribution>> read = ReadTrainingDistribution(dir.string());
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->opcodes, d.opcodes);
  std::ofstream(dir / kTrainingDistributionFile) << "{}";
  EXPECT_THAT(ReadTrainingDistribution(dir.string()).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("kernels")));
}

TEST(TrainingDistributionTest, RecordsTheAnalyticalModelVersionAndNamesAStaleOne) {
  TrainingDistribution d = TwoKernels();
  // Not recorded (a model without analytical features, or one trained before the key existed).
  absl::StatusOr<TrainingDistribution> plain =
      TrainingDistributionFromJson(TrainingDistributionToJson(d), "test");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->analytical_model_version, 0);
  EXPECT_THAT(StaleAnalyticalFeatures(*plain, "models/old", test::SyntheticTarget()),
              AllOf(HasSubstr("models/old"), HasSubstr("before their version was recorded"),
                    HasSubstr(absl::StrCat("computes version ", kAnalyticalModelVersion))));
  EXPECT_THAT(StaleAnalyticalFeatures(std::nullopt, "models/none", test::SyntheticTarget()), HasSubstr("models/none"));

  d.analytical_model_version = kAnalyticalModelVersion;
  absl::StatusOr<TrainingDistribution> current =
      TrainingDistributionFromJson(TrainingDistributionToJson(d), "test");
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_EQ(current->analytical_model_version, kAnalyticalModelVersion);
  EXPECT_EQ(StaleAnalyticalFeatures(*current, "models/default", test::SyntheticTarget()), "");
  // The description the features were computed with is part of them.
  d.analytical_target = TargetDescriptionFingerprint(test::SyntheticTarget());
  absl::StatusOr<TrainingDistribution> stamped =
      TrainingDistributionFromJson(TrainingDistributionToJson(d), "test");
  ASSERT_TRUE(stamped.ok()) << stamped.status();
  EXPECT_EQ(stamped->analytical_target, d.analytical_target);
  EXPECT_EQ(StaleAnalyticalFeatures(*stamped, "models/default", test::SyntheticTarget()), "");
  TargetDescription recalibrated = test::SyntheticTarget();
  recalibrated.peak_flops_1t *= 0.5;
  EXPECT_NE(TargetDescriptionFingerprint(recalibrated), d.analytical_target);
  EXPECT_THAT(StaleAnalyticalFeatures(*stamped, "models/default", recalibrated),
              AllOf(HasSubstr("models/default"), HasSubstr(d.analytical_target),
                    HasSubstr(TargetDescriptionFingerprint(recalibrated))));

  d.analytical_model_version = kAnalyticalModelVersion + 1;
  EXPECT_THAT(StaleAnalyticalFeatures(d, "models/future", test::SyntheticTarget()),
              HasSubstr(absl::StrCat("trained on version ", kAnalyticalModelVersion + 1)));
  EXPECT_THAT(TrainingDistributionFromJson(
                  R"({"kernels": 1, "opcodes": [], "element_types": [], "fusion_kinds": [],
                      "flops": [1, 2], "bytes": [1, 2], "instructions": [1, 2],
                      "analytical_model_version": "one"})",
                  "f.json")
                  .status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("analytical_model_version")));
}

TEST(TrainingDistributionTest, TheShippedModelsMatchThisBuildsAnalyticalModel) {
  // The committed models read the analytical breakdown: bumping kAnalyticalModelVersion for a
  // formula change, or re-calibrating the reference description, without retraining them fails here.
  absl::StatusOr<TargetDescription> reference =
      LoadTargetDescription(std::string(PERFGRAPH_SOURCE_DIR) + "/cost/targets/reference_cpu.textproto");
  ASSERT_TRUE(reference.ok()) << reference.status();
  for (const char* dir : {"models/default", "models/xgboost"}) {
    const std::string path = std::string(PERFGRAPH_SOURCE_DIR) + "/" + dir;
    absl::StatusOr<std::optional<TrainingDistribution>> d = ReadTrainingDistribution(path);
    ASSERT_TRUE(d.ok()) << d.status();
    ASSERT_TRUE(d->has_value()) << dir;
    EXPECT_FALSE((*d)->analytical_target.empty()) << dir;
    EXPECT_EQ(StaleAnalyticalFeatures(*d, path, *reference), "") << dir;
  }
}

}  // namespace
}  // namespace perfgraph::cost

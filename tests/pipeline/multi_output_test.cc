// Multi-output fusions (tuple roots) from an optimised HLO module: split into output kernels, tiled
// over the largest output, and estimated by every shipped cost model as the sum of their outputs.
#include "graph/multi_output.h"

#include <memory>
#include <string>
#include <vector>

#include "cost/cost_model.h"
#include "gmock/gmock.h"
#include "graph/hlo_parser.h"
#include "gtest/gtest.h"
#include "pipeline/cost_models.h"
#include "pipeline/plan.h"
#include "tiling/tile_config.h"

namespace perfgraph::pipeline {
namespace {

using ::testing::HasSubstr;

// A multi-output reduction fusion (row sums and the exponentials they sum, as XLA emits for a
// softmax), and a pass-through output.
constexpr char kModule[] = R"(
HloModule mof

sum {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT s = f32[] add(a, b)
}

fused {
  p0 = f32[128,64] parameter(0)
  p1 = f32[128,64] parameter(1)
  d = f32[128,64] subtract(p0, p1)
  e = f32[128,64] exponential(d)
  zero = f32[] constant(0)
  r = f32[128] reduce(e, zero), dimensions={1}, to_apply=sum
  ROOT t = (f32[128], f32[128,64], f32[128,64]) tuple(r, e, p1)
}

ENTRY main {
  x = f32[128,64] parameter(0)
  y = f32[128,64] parameter(1)
  ROOT f = (f32[128], f32[128,64], f32[128,64]) fusion(x, y), kind=kInput, calls=fused
}
)";

graph::Kernel FusedKernel() {
  absl::StatusOr<std::vector<graph::ImportedModel>> models =
      graph::ParseHloText(kModule, "mof.hlo", graph::ImportOptions());
  EXPECT_TRUE(models.ok()) << models.status();
  if (!models.ok() || models->empty() || (*models)[0].prefused_kernels.empty()) return {};
  return (*models)[0].prefused_kernels[0];
}

TEST(MultiOutputTest, SplitsIntoComputedOutputsWithTheirOwnParameters) {
  const graph::Kernel kernel = FusedKernel();
  ASSERT_TRUE(graph::IsMultiOutput(kernel));
  absl::StatusOr<std::vector<graph::Kernel>> outputs = graph::OutputKernels(kernel);
  ASSERT_TRUE(outputs.ok()) << outputs.status();
  ASSERT_EQ(outputs->size(), 2u);  // the pass-through p1 computes nothing
  const graph::Kernel& reduce = (*outputs)[0];
  const graph::Kernel& exponential = (*outputs)[1];
  EXPECT_EQ(reduce.name, kernel.name + "#0");
  EXPECT_EQ(exponential.name, kernel.name + "#1");
  EXPECT_EQ(reduce.root_instruction().opcode, graph::HloOpcode::kReduce);
  EXPECT_EQ(exponential.root_instruction().opcode, graph::HloOpcode::kExponential);
  EXPECT_EQ(exponential.num_parameters(), 2);
  EXPECT_EQ(exponential.size(), 4);  // p0, p1, subtract, exponential: no zero, no reduce
  for (const graph::Kernel& k : *outputs) EXPECT_TRUE(k.Validate().ok()) << k.name;
  // The largest output (8192 elements) drives the loop nest.
  EXPECT_EQ(graph::PrimaryOutput(*outputs), 1);
  EXPECT_THAT(graph::OutputKernels(exponential).status().message(), HasSubstr("not a tuple"));
}

TEST(MultiOutputTest, IsTiledOverItsLargestOutput) {
  const graph::Kernel kernel = FusedKernel();
  absl::StatusOr<std::vector<graph::Kernel>> outputs = graph::OutputKernels(kernel);
  ASSERT_TRUE(outputs.ok());
  const graph::Kernel& primary = (*outputs)[graph::PrimaryOutput(*outputs)];
  absl::StatusOr<std::vector<tiling::TileConfig>> space = tiling::ConfigSpace(kernel);
  absl::StatusOr<std::vector<tiling::TileConfig>> primary_space = tiling::ConfigSpace(primary);
  ASSERT_TRUE(space.ok()) << space.status();
  ASSERT_TRUE(primary_space.ok());
  ASSERT_EQ(space->size(), primary_space->size());
  EXPECT_GT(space->size(), 1u);
  EXPECT_EQ(tiling::Default(kernel).ToString(), tiling::Default(primary).ToString());
  EXPECT_TRUE(tiling::Validate(kernel, space->back()).ok());
}

TEST(MultiOutputTest, EveryShippedModelEstimatesTheSumOfItsOutputs) {
  const graph::Kernel kernel = FusedKernel();
  absl::StatusOr<std::vector<graph::Kernel>> outputs = graph::OutputKernels(kernel);
  ASSERT_TRUE(outputs.ok());
  const tiling::TileConfig config = tiling::Default(kernel);
  for (CostModelKind kind :
       {CostModelKind::kLearned, CostModelKind::kXgboost, CostModelKind::kAnalytical}) {
    CostModelOptions options;
    options.kind = kind;
    absl::StatusOr<std::unique_ptr<cost::CostModel>> model = MakeCostModel(options);
    ASSERT_TRUE(model.ok()) << model.status();
    cost::CostBatch whole;
    whole.Enqueue(kernel, config);
    const std::vector<absl::StatusOr<double>> total = whole.Evaluate(**model);
    ASSERT_TRUE(total[0].ok()) << CostModelKindName(kind) << ": " << total[0].status();
    cost::CostBatch parts;
    for (const graph::Kernel& output : *outputs) {
      const bool fits = tiling::Validate(output, config).ok();
      parts.Enqueue(output, fits ? config : tiling::Default(output));
    }
    double sum = 0;
    for (const absl::StatusOr<double>& ns : parts.Evaluate(**model)) {
      ASSERT_TRUE(ns.ok()) << ns.status();
      sum += *ns;
    }
    EXPECT_GT(*total[0], 0) << CostModelKindName(kind);
    EXPECT_NEAR(*total[0], sum, 1e-9 * sum) << CostModelKindName(kind);
  }
}

}  // namespace
}  // namespace perfgraph::pipeline

// Library ops (graph/library_ops.h) end to end: tests/testdata/hlo/library_ops.hlo (sort, scatter,
// rng-bit-generator, cholesky, triangular-solve, a cuDNN convolution, TopK, TransformerEngine fused
// attention forward and backward, and an unknown custom-call) -> default fusion (one kernel per
// library op) -> the work each op counts, one tile config each, and an estimate from every shipped
// cost model, the learned ones deferring to the analytical library-op formulas.
#include "graph/library_ops.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "cost/analytical_model.h"
#include "cost/cost_model.h"
#include "cost/library_cost.h"
#include "cost/target_description.h"
#include "fusion/default_fusion.h"
#include "gmock/gmock.h"
#include "graph/analysis.h"
#include "graph/hlo_opcode.h"
#include "graph/hlo_parser.h"
#include "gtest/gtest.h"
#include "pipeline/cost_models.h"
#include "tiling/tile_config.h"

namespace perfgraph::pipeline {
namespace {

using ::testing::HasSubstr;

constexpr char kModule[] = "tests/testdata/hlo/library_ops.hlo";

std::vector<graph::Kernel> Kernels() {
  absl::StatusOr<graph::ImportedModel> model =
      graph::ParseHloFile(kModule, graph::ImportOptions());
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return {};
  absl::StatusOr<std::vector<graph::Kernel>> kernels = fusion::DefaultFusion(model->program);
  EXPECT_TRUE(kernels.ok()) << kernels.status();
  return kernels.ok() ? *kernels : std::vector<graph::Kernel>{};
}

// The kernel whose root is the instruction named `name`.
const graph::Kernel* KernelOf(const std::vector<graph::Kernel>& kernels, const std::string& name) {
  for (const graph::Kernel& k : kernels) {
    if (k.root_instruction().name == name) return &k;
  }
  ADD_FAILURE() << "no kernel rooted at " << name;
  return nullptr;
}

absl::StatusOr<graph::LibraryWork> WorkOf(const graph::Kernel& kernel) {
  const graph::Instruction& root = kernel.root_instruction();
  std::vector<const graph::Shape*> operands;
  for (int id : root.operands) operands.push_back(&kernel.instructions[id].shape);
  return graph::LibraryOpWork(root, operands);
}

TEST(LibraryOpsTest, EachLibraryOpIsAKernelOfItsOwn) {
  const std::vector<graph::Kernel> kernels = Kernels();
  // sort x2, scatter x2, rng, cholesky, triangular-solve, conv, TopK, attention x2, the unknown call.
  ASSERT_EQ(kernels.size(), 12u);
  int library = 0;
  for (const graph::Kernel& k : kernels) {
    if (graph::IsLibraryKernel(k)) {
      ++library;
      EXPECT_NE(graph::LibraryOpOf(k.root_instruction()), graph::LibraryOp::kNone) << k.name;
    }
  }
  EXPECT_EQ(library, 11);
  const graph::Kernel* opaque = KernelOf(kernels, "opaque");
  ASSERT_NE(opaque, nullptr);
  EXPECT_FALSE(graph::IsLibraryKernel(*opaque));
  EXPECT_THAT(std::string(cost::UnknownCustomCall(*opaque).message()),
              HasSubstr("unknown custom-call 'my_vendor_op'"));
}

TEST(LibraryOpsTest, WorkFollowsTheDocumentedFormulas) {
  const std::vector<graph::Kernel> kernels = Kernels();
  auto flops = [&](const std::string& name) -> double {
    const graph::Kernel* k = KernelOf(kernels, name);
    if (k == nullptr) return -1;
    absl::StatusOr<graph::LibraryWork> work = WorkOf(*k);
    EXPECT_TRUE(work.ok()) << name << ": " << work.status();
    return work.ok() ? work->flops : -1;
  };
  // Sort rows of 1024: 64 * 1024 elements x 10 comparisons; the key-value sort the same.
  EXPECT_DOUBLE_EQ(flops("sort"), 64.0 * 1024 * 10);
  EXPECT_DOUBLE_EQ(flops("sort_kv"), 64.0 * 1024 * 10);
  // Scatter-add: one add per updated element; assignment: none.
  EXPECT_DOUBLE_EQ(flops("scatter_add"), 256.0 * 64);
  EXPECT_DOUBLE_EQ(flops("scatter_set"), 0.0);
  // Philox words: the u64[2] state (4 words) and u32[128,256].
  EXPECT_DOUBLE_EQ(flops("rng"), 15.0 * (4 + 128 * 256));
  EXPECT_DOUBLE_EQ(flops("chol"), 4.0 * 32 * 32 * 32 / 3);
  EXPECT_DOUBLE_EQ(flops("solve"), 32.0 * 4 * 32 * 16);
  // Forward convolution: 2 x outputs x (3 x 3 x 32) taps.
  EXPECT_DOUBLE_EQ(flops("conv"), 2.0 * (8 * 32 * 32 * 64) * (3 * 3 * 32));
  // TopK k = 8 of 1000 per row: 16 x 1000 x 3.
  EXPECT_DOUBLE_EQ(flops("topk"), 16.0 * 1000 * 3);
  // Causal attention over 128 positions: 128 * 129 / 2 pairs per head.
  const double pairs = 128.0 * 129 / 2;
  const double forward = 2.0 * 2 * 4 * pairs * (32 + 32);
  EXPECT_DOUBLE_EQ(flops("attn"), forward);
  EXPECT_DOUBLE_EQ(flops("attn_grad"), 2.5 * forward);

  // Bytes: fused attention reads Q, K, V and the lengths, writes O and the softmax statistics,
  // never the u8 workspace.
  const graph::Kernel* attn = KernelOf(kernels, "attn");
  ASSERT_NE(attn, nullptr);
  absl::StatusOr<graph::LibraryWork> work = WorkOf(*attn);
  ASSERT_TRUE(work.ok());
  EXPECT_EQ(work->bytes_read, 2 * (2 * 128 * 4 * 32) + 2 * 2 * (2 * 128 * 2 * 32) + 3 * 4);
  EXPECT_EQ(work->bytes_written, 2 * (2 * 128 * 4 * 32) + 4 * (2 * 4 * 128));
  EXPECT_EQ(work->execution, graph::LibraryExecution::kDense);
  // graph::KernelCost counts the same FLOPs (predict's FLOP coverage reads it).
  EXPECT_DOUBLE_EQ(graph::KernelCost(*attn).flops, forward);
}

TEST(LibraryOpsTest, AttendedPairsCountsMasksAndWindows) {
  EXPECT_DOUBLE_EQ(graph::AttendedPairs(4, 4, /*no mask*/ 0, -1, -1), 16);
  EXPECT_DOUBLE_EQ(graph::AttendedPairs(4, 4, /*causal*/ 2, -1, -1), 10);
  // Causal with a left window of 1: 1 + 2 + 2 + 2.
  EXPECT_DOUBLE_EQ(graph::AttendedPairs(4, 4, 2, 1, -1), 7);
  // Bottom-right causal, 2 queries over 4 keys: query 0 sees keys 0..2, query 1 all 4.
  EXPECT_DOUBLE_EQ(graph::AttendedPairs(2, 4, 4, -1, -1), 7);
  // Top-left causal, same shape: 1 + 2.
  EXPECT_DOUBLE_EQ(graph::AttendedPairs(2, 4, 2, -1, -1), 3);
  // Sampled beyond 2^20 queries: within a pair per sample of the exact causal count.
  const double n = 3'000'000;
  EXPECT_NEAR(graph::AttendedPairs(3'000'000, 3'000'000, 2, -1, -1), n * (n + 1) / 2,
              n * (n + 1) / 2 * 1e-6);
}

TEST(LibraryOpsTest, ContradictingOperandsAreErrorsNamingTheInstruction) {
  std::vector<graph::Kernel> kernels = Kernels();
  const graph::Kernel* sort = KernelOf(kernels, "sort");
  ASSERT_NE(sort, nullptr);
  graph::Kernel bad = *sort;
  bad.instructions[bad.root].attrs.dimensions = {5};
  absl::StatusOr<graph::LibraryWork> work = WorkOf(bad);
  ASSERT_FALSE(work.ok());
  EXPECT_EQ(work.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(work.status().message()),
              HasSubstr("sort 'sort': sort dimension 5 is out of range for rank 2"));
  // A fused attention without its backend-config dims: no formula, counted as not estimated.
  const graph::Kernel* attn = KernelOf(kernels, "attn");
  ASSERT_NE(attn, nullptr);
  graph::Kernel bare = *attn;
  bare.instructions[bare.root].attrs.dimensions.clear();
  work = WorkOf(bare);
  ASSERT_FALSE(work.ok());
  EXPECT_EQ(work.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(work.status().message()), HasSubstr("counted, not estimated"));
}

TEST(LibraryOpsTest, OneConfigAndAnEstimateFromEveryShippedModel) {
  const std::vector<graph::Kernel> kernels = Kernels();
  absl::StatusOr<cost::TargetDescription> target =
      cost::LoadTargetDescription(cost::DefaultTargetDescriptionPath());
  ASSERT_TRUE(target.ok()) << target.status();
  for (CostModelKind kind :
       {CostModelKind::kAnalytical, CostModelKind::kLearned, CostModelKind::kXgboost}) {
    CostModelOptions options;
    options.kind = kind;
    absl::StatusOr<std::unique_ptr<cost::CostModel>> model = MakeCostModel(options);
    ASSERT_TRUE(model.ok()) << model.status();
    for (const graph::Kernel& k : kernels) {
      if (!graph::IsLibraryKernel(k)) continue;
      absl::StatusOr<std::vector<tiling::TileConfig>> space = tiling::ConfigSpace(k);
      ASSERT_TRUE(space.ok()) << k.name << ": " << space.status();
      ASSERT_EQ(space->size(), 1u) << k.name;
      EXPECT_TRUE(tiling::Validate(k, space->front()).ok());
      cost::CostBatch batch;
      batch.Enqueue(k, space->front());
      const std::vector<absl::StatusOr<double>> ns = batch.Evaluate(**model);
      ASSERT_TRUE(ns[0].ok()) << CostModelKindName(kind) << " " << k.name << ": " << ns[0].status();
      // Every model gives the analytical library-op estimate on the reference target.
      absl::StatusOr<cost::LibraryCost> expected = cost::EstimateLibraryKernel(*target, k);
      ASSERT_TRUE(expected.ok()) << expected.status();
      EXPECT_GT(expected->total_ns, target->kernel_launch_ns) << k.name;
      EXPECT_NEAR(*ns[0], expected->total_ns, 1e-9 * expected->total_ns)
          << CostModelKindName(kind) << " " << k.name;
      if (kind != CostModelKind::kAnalytical) {
        EXPECT_EQ((*model)->OutOfDistribution(k), cost::kDeferredLibrary) << k.name;
      }
    }
  }
}

TEST(LibraryOpsTest, EstimatesScaleWithTheWork) {
  const std::vector<graph::Kernel> kernels = Kernels();
  absl::StatusOr<cost::TargetDescription> target =
      cost::LoadTargetDescription(cost::DefaultTargetDescriptionPath());
  ASSERT_TRUE(target.ok());
  const graph::Kernel* attn = KernelOf(kernels, "attn");
  const graph::Kernel* grad = KernelOf(kernels, "attn_grad");
  ASSERT_TRUE(attn != nullptr && grad != nullptr);
  absl::StatusOr<cost::LibraryCost> f = cost::EstimateLibraryKernel(*target, *attn);
  absl::StatusOr<cost::LibraryCost> b = cost::EstimateLibraryKernel(*target, *grad);
  ASSERT_TRUE(f.ok() && b.ok());
  // Both compute-bound at the all-thread peak: the backward costs 2.5x the forward's compute.
  EXPECT_NEAR(f->compute_ns, f->flops / target->peak_flops_all * 1e9, 1e-6 * f->compute_ns);
  EXPECT_NEAR(b->compute_ns / f->compute_ns, 2.5, 1e-9);
  EXPECT_THAT(f->formula, HasSubstr("fused attention"));
  // The analytical model's breakdown names the formula.
  absl::StatusOr<cost::AnalyticalModel> analytical = cost::AnalyticalModel::Create(*target);
  ASSERT_TRUE(analytical.ok());
  absl::StatusOr<cost::CostBreakdown> breakdown =
      analytical->Explain(*attn, tiling::Default(*attn));
  ASSERT_TRUE(breakdown.ok()) << breakdown.status();
  EXPECT_THAT(breakdown->ToString(), HasSubstr("library: fused attention"));
  // A scalar sort is slower per FLOP than the dense attention.
  const graph::Kernel* sort = KernelOf(kernels, "sort");
  ASSERT_NE(sort, nullptr);
  absl::StatusOr<cost::LibraryCost> s = cost::EstimateLibraryKernel(*target, *sort);
  ASSERT_TRUE(s.ok());
  EXPECT_GT(s->compute_ns / s->flops, f->compute_ns / f->flops);
}

}  // namespace
}  // namespace perfgraph::pipeline

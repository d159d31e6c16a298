// kernels::Predictor against LibTorch: a gnn::Model built with gnn's API (fixed seed, every parameter
// perturbed so no LayerNorm is the identity), exported with gnn::Export and loaded with
// Predictor::Load must predict what gnn::Model::forward predicts, on kernels of the reference test
// split of data/corpus (graph::ImportModelFile + fusion::DefaultFusion + graph::Featurize) with random
// config features, on every instruction-set path this CPU supports, for both config joins and both
// graph reductions (LSTM, max/mean pooling), with and without hybrid config features.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "data/split.h"
#include "fusion/default_fusion.h"
#include "gmock/gmock.h"
#include "gnn/batch.h"
#include "gnn/checkpoint.h"
#include "gnn/export.h"
#include "gnn/model.h"
#include "graph/featurize.h"
#include "graph/import.h"
#include "gtest/gtest.h"
#include "kernels/predictor.h"
#include "tests/status_matchers.h"
#include "tiling/tile_config.h"

namespace perfgraph::kernels {
namespace {

using perfgraph::testing::IsOk;

static_assert(kNumConfigFeatures == tiling::kNumConfigFeatures);

// Issue "Equivalence": every prediction within 1e-4 relative of LibTorch. The two sides differ only
// by float rounding order (split input projection, fused GEMMs, polynomial exp/tanh in the SIMD
// paths): observed differences are ~1e-6.
constexpr double kRelativeTolerance = 1e-4;
constexpr int kConfigsPerKernel = 6;
// Kernels per test program (the first ones, plus every distinct node count up to this many), so the
// test stays well under a few seconds while covering small and large kernels.
constexpr int kKernelsPerProgram = 24;

// The corpus's symbolic dims (data/corpus/README.md: the dynamic batch axis of resnet18 and
// transformer_encoder_d256_l2) get batch 1, as a user would pass `--dim batch=1`.
graph::ImportOptions CorpusImportOptions() {
  graph::ImportOptions options;
  options.dim_params = {{"batch", 1}};
  return options;
}

// Kernels of the test split's programs as training examples with random config features.
std::vector<gnn::KernelExample> TestSplitExamples() {
  std::vector<gnn::KernelExample> examples;
  const std::filesystem::path root(PERFGRAPH_SOURCE_DIR);
  absl::StatusOr<data::Split> split = data::ReadSplitFile((root / "data/reference/split.txt").string());
  if (!split.ok()) return examples;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> feature(0.0f, 6.0f);
  std::uniform_real_distribution<float> runtime(1e3f, 1e6f);
  for (const std::string& program : split->Programs(data::SplitPart::kTest)) {
    const std::string path = (root / "data/corpus" / (program + ".onnx")).string();
    if (!std::filesystem::exists(path)) continue;
    absl::StatusOr<graph::ImportedModel> model = graph::ImportModelFile(path, CorpusImportOptions());
    if (!model.ok()) continue;
    absl::StatusOr<std::vector<graph::Kernel>> kernels = fusion::DefaultFusion(model->program);
    if (!kernels.ok()) continue;
    std::map<int, int> seen_sizes;
    int taken = 0;
    for (const graph::Kernel& kernel : *kernels) {
      if (taken >= kKernelsPerProgram) break;
      if (seen_sizes[kernel.size()]++ > 0 && taken >= kKernelsPerProgram / 2) continue;
      gnn::KernelExample e;
      e.program = program;
      e.kernel_name = kernel.name;
      e.tensors = graph::Featurize(kernel);
      e.num_configs = kConfigsPerKernel;
      for (int c = 0; c < kConfigsPerKernel * tiling::kNumConfigFeatures; ++c) {
        e.config_feat.push_back(feature(rng));
      }
      for (int c = 0; c < kConfigsPerKernel * kNumHybridConfigFeatures; ++c) {
        e.hybrid_feat.push_back(feature(rng));
      }
      for (int c = 0; c < kConfigsPerKernel; ++c) {
        e.runtime_ns.push_back(runtime(rng));
        e.timed_out.push_back(0);
      }
      examples.push_back(std::move(e));
      ++taken;
    }
  }
  return examples;
}

const std::vector<gnn::KernelExample>& Examples() {
  static const auto* examples = new std::vector<gnn::KernelExample>(TestSplitExamples());
  return *examples;
}

// A model with the default (TpuGraphs) sizes, seeded, every parameter perturbed, normalisation from
// the examples.
gnn::Model MakeModel(gnn::Join join, const std::vector<gnn::KernelExample>& examples,
                     gnn::Reduction reduction = gnn::Reduction::kLstm, bool hybrid = false) {
  torch::manual_seed(1234);
  gnn::ModelOptions options;
  options.join = join;
  options.reduction = reduction;
  options.hybrid_threads = hybrid ? 1 : 0;
  gnn::Model model(options);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->named_parameters()) {
      p.value().add_(torch::randn_like(p.value()) * 0.05);
    }
  }
  std::vector<const gnn::KernelExample*> pointers;
  for (const auto& e : examples) pointers.push_back(&e);
  model->SetNormalization(gnn::ComputeNormalization(pointers, hybrid));
  model->eval();
  return model;
}

// The predictor's config rows of `e`: config features, then (hybrid) the hybrid block.
std::vector<float> Rows(const gnn::KernelExample& e, bool hybrid) {
  if (!hybrid) return e.config_feat;
  std::vector<float> rows;
  for (int c = 0; c < e.num_configs; ++c) {
    rows.insert(rows.end(), e.config_feat.begin() + c * tiling::kNumConfigFeatures,
                e.config_feat.begin() + (c + 1) * tiling::kNumConfigFeatures);
    rows.insert(rows.end(), e.hybrid_feat.begin() + c * kNumHybridConfigFeatures,
                e.hybrid_feat.begin() + (c + 1) * kNumHybridConfigFeatures);
  }
  return rows;
}

struct Variant {
  gnn::Join join;
  gnn::Reduction reduction;
  bool hybrid = false;
};

std::string VariantName(const Variant& v) {
  return absl::StrCat(gnn::JoinName(v.join), "_", gnn::ReductionName(v.reduction),
                      v.hybrid ? "_hybrid" : "");
}

class PredictorEquivalenceTest : public ::testing::TestWithParam<Variant> {};

TEST_P(PredictorEquivalenceTest, MatchesLibTorchForwardOnTestSplitKernelsOnEveryIsa) {
  const std::vector<gnn::KernelExample>& examples = Examples();
  if (examples.empty()) GTEST_SKIP() << "data/corpus or data/reference/split.txt not available";
  const gnn::Join join = GetParam().join;
  const bool hybrid = GetParam().hybrid;
  gnn::Model model = MakeModel(join, examples, GetParam().reduction, hybrid);

  const std::string path = ::testing::TempDir() + "/equivalence_" + VariantName(GetParam()) + ".pgw";
  ASSERT_THAT(gnn::Export(*model, path), IsOk());

  // LibTorch: the whole sample as one batch.
  std::vector<const gnn::KernelExample*> pointers;
  for (const auto& e : examples) pointers.push_back(&e);
  torch::Tensor expected_log_ns;
  {
    torch::NoGradGuard no_grad;
    expected_log_ns =
        model->forward(gnn::ToTensors(gnn::MakeHostBatch(pointers, join, hybrid))).contiguous();
  }
  ASSERT_EQ(expected_log_ns.size(0), static_cast<int64_t>(examples.size()) * kConfigsPerKernel);
  const float* expected = expected_log_ns.data_ptr<float>();

  std::map<std::string, int> per_program;
  for (const auto& e : examples) ++per_program[e.program];
  for (const auto& [program, count] : per_program) std::cout << program << ": " << count << " kernels\n";

  int checked = 0;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!IsaSupported(isa)) continue;
    absl::StatusOr<Predictor> predictor = Predictor::Load(path, isa);
    ASSERT_THAT(predictor, IsOk());
    ASSERT_EQ(predictor->isa(), isa);
    ASSERT_EQ(predictor->architecture().hybrid_threads, hybrid ? 1 : 0);
    Predictor::Scratch scratch;
    double worst = 0;
    for (size_t x = 0; x < examples.size(); ++x) {
      const gnn::KernelExample& e = examples[x];
      float out_ns[kConfigsPerKernel];
      const std::vector<float> rows = Rows(e, hybrid);
      ASSERT_THAT(predictor->Predict(e.tensors, rows.data(), e.num_configs, out_ns, scratch),
                  IsOk());
      for (int c = 0; c < e.num_configs; ++c) {
        const double want = std::exp(static_cast<double>(expected[x * kConfigsPerKernel + c]));
        const double relative = std::abs(out_ns[c] - want) / want;
        worst = std::max(worst, relative);
        ASSERT_LE(relative, kRelativeTolerance)
            << IsaName(isa) << " " << e.program << " " << e.kernel_name << " ("
            << e.tensors.num_nodes << " nodes) config " << c << ": predictor " << out_ns[c]
            << " ns, LibTorch " << want << " ns";
        ++checked;
      }
    }
    std::cout << "[ " << VariantName(GetParam()) << ", " << IsaName(isa) << " ] "
              << examples.size() << " kernels x " << kConfigsPerKernel
              << " configs, worst relative difference " << worst << "\n";
  }
  EXPECT_GT(checked, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Variants, PredictorEquivalenceTest,
    ::testing::Values(Variant{gnn::Join::kLate, gnn::Reduction::kLstm},
                      Variant{gnn::Join::kEarly, gnn::Reduction::kLstm},
                      Variant{gnn::Join::kLate, gnn::Reduction::kMean},
                      Variant{gnn::Join::kEarly, gnn::Reduction::kMean},
                      Variant{gnn::Join::kLate, gnn::Reduction::kLstm, /*hybrid=*/true},
                      Variant{gnn::Join::kEarly, gnn::Reduction::kLstm, /*hybrid=*/true}),
    [](const auto& info) { return VariantName(info.param); });

TEST(PredictorEquivalenceTest, ExportedFileOfATrainedCheckpointRoundTripsThroughModelFile) {
  const std::vector<gnn::KernelExample>& examples = Examples();
  if (examples.empty()) GTEST_SKIP() << "data/corpus not available";
  for (gnn::Reduction reduction : {gnn::Reduction::kLstm, gnn::Reduction::kMean}) {
    SCOPED_TRACE(std::string(gnn::ReductionName(reduction)));
    gnn::Model model = MakeModel(gnn::Join::kLate, examples, reduction);
    const std::string name = absl::StrCat("/roundtrip_", gnn::ReductionName(reduction));
    const std::string model_path = ::testing::TempDir() + name + ".pgm";
    const std::string weights_path = ::testing::TempDir() + name + ".pgw";
    ASSERT_THAT(gnn::SaveModelFile(model_path, *model), IsOk());
    ASSERT_THAT(gnn::ExportModelFile(model_path, weights_path), IsOk());
    absl::StatusOr<Predictor> predictor = Predictor::Load(weights_path);
    ASSERT_THAT(predictor, IsOk());
    // The reduction travels checkpoint -> weights file -> Predictor.
    EXPECT_EQ(predictor->architecture().reduction, reduction == gnn::Reduction::kMean
                                                       ? WeightsReduction::kMean
                                                       : WeightsReduction::kLstm);
    const gnn::KernelExample& e = examples.front();
    std::vector<const gnn::KernelExample*> one = {&e};
    torch::Tensor want;
    {
      torch::NoGradGuard no_grad;
      want = model->forward(gnn::ToTensors(gnn::MakeHostBatch(one, gnn::Join::kLate)));
    }
    float out_ns[kConfigsPerKernel];
    ASSERT_THAT(predictor->Predict(e.tensors, e.config_feat.data(), e.num_configs, out_ns), IsOk());
    for (int c = 0; c < e.num_configs; ++c) {
      const double expected = std::exp(static_cast<double>(want[c].item<float>()));
      EXPECT_NEAR(out_ns[c] / expected, 1.0, kRelativeTolerance) << "config " << c;
    }
  }
}

}  // namespace
}  // namespace perfgraph::kernels

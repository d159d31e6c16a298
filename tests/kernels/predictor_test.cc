// kernels::Predictor without LibTorch: load checks, input validation, batch semantics, scalar vs SIMD
// agreement on real corpus kernels, thread safety, and no heap allocation per query in steady state
// (this binary counts every operator new).
// This binary replaces the global operator new / delete with malloc / free (below); GCC then flags
// every inlined delete in this file as "mismatched" although the pair is consistent.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "kernels/predictor.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "fusion/default_fusion.h"
#include "gmock/gmock.h"
#include "graph/featurize.h"
#include "graph/import.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tiling/tile_config.h"

// Counts heap allocations of the whole binary (operator new[] forwards to operator new).
static std::atomic<int64_t> g_allocations{0};
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace perfgraph::kernels {
namespace {

using perfgraph::testing::IsOk;
using perfgraph::testing::StatusIs;
using ::testing::HasSubstr;

// Random weights of `arch` with the exact tensor set Predictor expects; standard deviations > 0.
WeightsFile RandomWeights(const Architecture& arch, int seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.3f, 0.3f), positive(0.5f, 2.0f);
  WeightsFile w;
  w.architecture = arch;
  for (const auto& [name, dims] : ExpectedTensorShapes(arch)) {
    NamedTensor t{name, dims, {}};
    const bool is_std = name.find("_std") != std::string::npos;
    for (int64_t i = 0; i < t.num_elements(); ++i) t.values.push_back(is_std ? positive(rng) : u(rng));
    if (name == "label_mean") t.values = {9.0f};
    w.tensors.push_back(std::move(t));
  }
  return w;
}

struct CorpusKernel {
  graph::KernelTensors tensors;
  std::vector<float> config_feat;  // kConfigs random rows
};
constexpr int kConfigs = 256;

// Kernels of one committed corpus model (no dynamic dims) with random config features.
const std::vector<CorpusKernel>& Kernels() {
  static const auto* kernels = [] {
    auto* out = new std::vector<CorpusKernel>();
    const std::string path = std::string(PERFGRAPH_SOURCE_DIR) + "/data/corpus/squeezenet1_1.onnx";
    if (!std::filesystem::exists(path)) return out;
    auto model = graph::ImportModelFile(path, {});
    if (!model.ok()) return out;
    auto fused = fusion::DefaultFusion(model->program);
    if (!fused.ok()) return out;
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0.0f, 6.0f);
    for (const graph::Kernel& kernel : *fused) {
      CorpusKernel k{graph::Featurize(kernel), {}};
      for (int i = 0; i < kConfigs * kNumConfigFeatures; ++i) k.config_feat.push_back(u(rng));
      out->push_back(std::move(k));
    }
    return out;
  }();
  return *kernels;
}

Predictor MakePredictor(WeightsJoin join, Isa isa, int hidden = 64) {
  Architecture arch;
  arch.join = join;
  arch.hidden = hidden;
  absl::StatusOr<Predictor> p = Predictor::FromWeights(RandomWeights(arch, 11), "random", isa);
  EXPECT_THAT(p, IsOk());
  return *std::move(p);
}

TEST(PredictorTest, LoadReadsAnExportedFileAndRejectsDamage) {
  const std::string path = ::testing::TempDir() + "/predictor_test.pgw";
  ASSERT_THAT(WriteWeightsFile(RandomWeights(Architecture{}, 1), path), IsOk());
  absl::StatusOr<Predictor> p = Predictor::Load(path);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->architecture().hidden, 64);
  EXPECT_GT(p->weight_bytes(), 100000u);

  absl::StatusOr<std::string> bytes = SerializeWeights(RandomWeights(Architecture{}, 1));
  ASSERT_THAT(bytes, IsOk());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes->data(), static_cast<std::streamsize>(bytes->size() / 2));
  }
  EXPECT_THAT(Predictor::Load(path), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(Predictor::Load(path + ".missing"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(PredictorTest, MissingExtraOrMisshapedTensorIsFailedPrecondition) {
  WeightsFile w = RandomWeights(Architecture{}, 2);
  w.tensors.pop_back();
  EXPECT_THAT(Predictor::FromWeights(w, "w", Isa::kScalar),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("lack tensor")));
  w = RandomWeights(Architecture{}, 2);
  w.tensors.push_back({"sage3.self.weight", {64, 64}, std::vector<float>(64 * 64)});
  EXPECT_THAT(Predictor::FromWeights(w, "w", Isa::kScalar),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("sage3.self.weight")));
  w = RandomWeights(Architecture{}, 2);
  for (NamedTensor& t : w.tensors) {
    if (t.name == "head.2.weight") t.dims = {32, 128};
  }
  EXPECT_THAT(Predictor::FromWeights(w, "w", Isa::kScalar),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("head.2.weight")));
}

TEST(PredictorTest, NonFiniteWeightOrZeroStdIsDataLoss) {
  WeightsFile w = RandomWeights(Architecture{}, 3);
  w.tensors.front().values[0] = std::nanf("");
  EXPECT_THAT(Predictor::FromWeights(w, "w"), StatusIs(absl::StatusCode::kDataLoss));
  w = RandomWeights(Architecture{}, 3);
  for (NamedTensor& t : w.tensors) {
    if (t.name == "node_std") t.values[5] = 0.0f;
  }
  EXPECT_THAT(Predictor::FromWeights(w, "w"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("node_std")));
}

TEST(PredictorTest, BadKernelTensorsAreInvalidArgumentAndLeaveOutputUntouched) {
  if (Kernels().empty()) GTEST_SKIP() << "data/corpus not available";
  const Predictor p = MakePredictor(WeightsJoin::kLate, BestIsa());
  const CorpusKernel& good = Kernels()[3];
  float out = -1.0f;
  graph::KernelTensors bad = good.tensors;
  bad.node_opcode[0] = graph::kNumOpcodeIds;
  EXPECT_THAT(p.Predict(bad, good.config_feat.data(), 1, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("opcode")));
  bad = good.tensors;
  ASSERT_GT(bad.num_edges, 0);
  bad.edge_index[1] = bad.num_nodes;
  EXPECT_THAT(p.Predict(bad, good.config_feat.data(), 1, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("edge 0")));
  bad = good.tensors;
  bad.node_feat.pop_back();
  EXPECT_THAT(p.Predict(bad, good.config_feat.data(), 1, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("node_feat")));
  bad = good.tensors;
  bad.node_feat[7] = INFINITY;
  EXPECT_THAT(p.Predict(bad, good.config_feat.data(), 1, &out),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<float> config = good.config_feat;
  config[3] = std::nanf("");
  EXPECT_THAT(p.Predict(good.tensors, config.data(), 1, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("config 0 feature 3")));
  EXPECT_THAT(p.Predict(good.tensors, good.config_feat.data(), -1, &out),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(p.Predict(graph::KernelTensors{}, good.config_feat.data(), 1, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_nodes = 0")));
  EXPECT_EQ(out, -1.0f);
  EXPECT_THAT(p.Predict(good.tensors, nullptr, 0, nullptr), IsOk());
}

class PredictorJoinTest : public ::testing::TestWithParam<WeightsJoin> {};

TEST_P(PredictorJoinTest, ScalarAndSimdPathsAgreeOnCorpusKernels) {
  if (Kernels().empty()) GTEST_SKIP() << "data/corpus not available";
  const int configs = GetParam() == WeightsJoin::kEarly ? 4 : 32;
  const Predictor scalar = MakePredictor(GetParam(), Isa::kScalar);
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!IsaSupported(isa)) continue;
    const Predictor simd = MakePredictor(GetParam(), isa);
    for (const CorpusKernel& k : Kernels()) {
      std::vector<float> want(configs), got(configs);
      ASSERT_THAT(scalar.Predict(k.tensors, k.config_feat.data(), configs, want.data()), IsOk());
      ASSERT_THAT(simd.Predict(k.tensors, k.config_feat.data(), configs, got.data()), IsOk());
      for (int c = 0; c < configs; ++c) {
        ASSERT_TRUE(std::isfinite(want[c]) && want[c] > 0);
        // Issue "Equivalence": scalar and SIMD within 1e-4 relative (observed ~1e-6).
        ASSERT_NEAR(got[c] / want[c], 1.0, 1e-4)
            << IsaName(isa) << " kernel with " << k.tensors.num_nodes << " nodes, config " << c;
      }
    }
  }
}

TEST_P(PredictorJoinTest, OneCallWithManyConfigsEqualsOneCallPerConfig) {
  if (Kernels().empty()) GTEST_SKIP() << "data/corpus not available";
  const Predictor p = MakePredictor(GetParam(), BestIsa());
  const CorpusKernel& k = Kernels()[Kernels().size() / 2];
  const int configs = GetParam() == WeightsJoin::kEarly ? 9 : kConfigs;
  std::vector<float> batch(configs);
  ASSERT_THAT(p.Predict(k.tensors, k.config_feat.data(), configs, batch.data()), IsOk());
  for (int c = 0; c < configs; ++c) {
    float one = 0;
    ASSERT_THAT(p.Predict(k.tensors, k.config_feat.data() + c * kNumConfigFeatures, 1, &one), IsOk());
    ASSERT_NEAR(batch[c] / one, 1.0, 1e-6) << "config " << c;
  }
  // Different configs give different predictions (the config features are used).
  EXPECT_NE(batch[0], batch[1]);
}

INSTANTIATE_TEST_SUITE_P(Joins, PredictorJoinTest,
                         ::testing::Values(WeightsJoin::kLate, WeightsJoin::kEarly),
                         [](const auto& info) {
                           return info.param == WeightsJoin::kLate ? "late" : "early";
                         });

TEST(PredictorTest, NoHeapAllocationPerQueryInSteadyState) {
  if (Kernels().empty()) GTEST_SKIP() << "data/corpus not available";
  const Predictor p = MakePredictor(WeightsJoin::kLate, BestIsa());
  std::vector<float> out(kConfigs);
  // Warm-up: the largest kernel at the largest batch sizes the thread's scratch.
  const CorpusKernel* largest = &Kernels().front();
  for (const CorpusKernel& k : Kernels()) {
    if (k.tensors.num_nodes > largest->tensors.num_nodes) largest = &k;
  }
  ASSERT_THAT(p.Predict(largest->tensors, largest->config_feat.data(), kConfigs, out.data()), IsOk());
  const int64_t before = g_allocations.load();
  for (const CorpusKernel& k : Kernels()) {
    for (int configs : {1, 16, kConfigs}) {
      ASSERT_TRUE(p.Predict(k.tensors, k.config_feat.data(), configs, out.data()).ok());
    }
  }
  EXPECT_EQ(g_allocations.load() - before, 0) << "heap allocations in " << 3 * Kernels().size()
                                              << " steady-state Predict calls";
  // The counter does see the Predictor's allocations: a fresh Scratch grows on first use.
  Predictor::Scratch fresh;
  const int64_t before_fresh = g_allocations.load();
  ASSERT_THAT(p.Predict(largest->tensors, largest->config_feat.data(), 1, out.data(), fresh), IsOk());
  EXPECT_GT(g_allocations.load() - before_fresh, 0);
}

TEST(PredictorTest, ConcurrentCallsFromThreadsGiveTheSequentialResults) {
  if (Kernels().empty()) GTEST_SKIP() << "data/corpus not available";
  const Predictor p = MakePredictor(WeightsJoin::kLate, BestIsa());
  const int n = static_cast<int>(Kernels().size());
  std::vector<float> sequential(n * 8), parallel(n * 8);
  for (int i = 0; i < n; ++i) {
    ASSERT_THAT(p.Predict(Kernels()[i].tensors, Kernels()[i].config_feat.data(), 8, &sequential[i * 8]),
                IsOk());
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < n; i += 3) {
        (void)p.Predict(Kernels()[i].tensors, Kernels()[i].config_feat.data(), 8, &parallel[i * 8]);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(parallel, sequential);  // same code path and summation order: bit-identical
}

TEST(PredictorTest, PredictKernelsOverThreadsEqualsOneCallPerKernel) {
  if (Kernels().empty()) GTEST_SKIP() << "data/corpus not available";
  const Predictor p = MakePredictor(WeightsJoin::kLate, BestIsa());
  const int n = static_cast<int>(Kernels().size());
  std::vector<float> want(n * 4), got(n * 4);
  std::vector<Predictor::KernelQuery> queries;
  for (int i = 0; i < n; ++i) {
    ASSERT_THAT(p.Predict(Kernels()[i].tensors, Kernels()[i].config_feat.data(), 4, &want[i * 4]),
                IsOk());
    queries.push_back({&Kernels()[i].tensors, Kernels()[i].config_feat.data(), 4, &got[i * 4]});
  }
  queries.push_back({nullptr, nullptr, 1, nullptr});
  std::vector<absl::Status> status = p.PredictKernels(queries, 3);
  ASSERT_EQ(status.size(), queries.size());
  for (int i = 0; i < n; ++i) EXPECT_THAT(status[i], IsOk());
  EXPECT_THAT(status.back(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no kernel")));
  EXPECT_EQ(got, want);
}

TEST(PredictorTest, MeanReductionNeedsNoLstmTensorsAndRefusesThem) {
  Architecture mean;
  mean.reduction = WeightsReduction::kMean;
  const std::map<std::string, std::vector<int64_t>> shapes = ExpectedTensorShapes(mean);
  EXPECT_EQ(shapes.count("lstm.weight_ih_l0"), 0u);
  EXPECT_EQ(shapes.size() + 4, ExpectedTensorShapes(Architecture{}).size());
  EXPECT_EQ(shapes.at("head.0.weight"), (std::vector<int64_t>{64, 2 * 64 + kNumConfigFeatures}));
  absl::StatusOr<Predictor> p = Predictor::FromWeights(RandomWeights(mean, 4), "mean", Isa::kScalar);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->architecture().reduction, WeightsReduction::kMean);
  // LSTM weights in a file that says mean (or their absence in one that says lstm) mean the header
  // and the tensors disagree: refused, never silently used or ignored.
  WeightsFile w = RandomWeights(mean, 4);
  w.tensors.push_back({"lstm.weight_ih_l0", {256, 64}, std::vector<float>(256 * 64)});
  EXPECT_THAT(Predictor::FromWeights(w, "w", Isa::kScalar),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("lstm.weight_ih_l0")));
  w = RandomWeights(mean, 4);
  w.architecture.reduction = WeightsReduction::kLstm;
  EXPECT_THAT(Predictor::FromWeights(w, "w", Isa::kScalar),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("lack tensor 'lstm.")));
  // No LSTM GEMMs: the one-node count of FlopsCountTheGemmsOfTheForwardPass without 2*64*256.
  const double macs = graph::kNumNodeFeatures * 64 + 3 * 192 * 64 + 128 * 64 + 25 * 64 + 64 * 64 + 64;
  EXPECT_DOUBLE_EQ(p->Flops(1, 1), 2 * macs);
}

TEST(PredictorTest, MeanReductionScalarAndSimdPathsAgreeOnCorpusKernels) {
  if (Kernels().empty()) GTEST_SKIP() << "data/corpus not available";
  Architecture arch;
  arch.reduction = WeightsReduction::kMean;
  absl::StatusOr<Predictor> scalar = Predictor::FromWeights(RandomWeights(arch, 5), "m", Isa::kScalar);
  ASSERT_THAT(scalar, IsOk());
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!IsaSupported(isa)) continue;
    absl::StatusOr<Predictor> simd = Predictor::FromWeights(RandomWeights(arch, 5), "m", isa);
    ASSERT_THAT(simd, IsOk());
    for (const CorpusKernel& k : Kernels()) {
      float want[8], got[8];
      ASSERT_THAT(scalar->Predict(k.tensors, k.config_feat.data(), 8, want), IsOk());
      ASSERT_THAT(simd->Predict(k.tensors, k.config_feat.data(), 8, got), IsOk());
      for (int c = 0; c < 8; ++c) {
        ASSERT_TRUE(std::isfinite(want[c]) && want[c] > 0);
        ASSERT_NEAR(got[c] / want[c], 1.0, 1e-4) << IsaName(isa) << " config " << c;
      }
    }
  }
}

TEST(PredictorTest, FlopsCountTheGemmsOfTheForwardPass) {
  const Predictor late = MakePredictor(WeightsJoin::kLate, Isa::kScalar);
  // One node, one config, H = 64, E = 64, F = graph::kNumNodeFeatures, C = 25, HH = 64, 3 layers:
  // input F*64 + sage 3*192*64 + lstm 2*64*256 + head (128*64 + 25*64 + 64*64 + 64).
  const double macs = graph::kNumNodeFeatures * 64 + 3 * 192 * 64 + 2 * 64 * 256 + 128 * 64 +
                      25 * 64 + 64 * 64 + 64;
  EXPECT_DOUBLE_EQ(late.Flops(1, 1), 2 * macs);
  EXPECT_GT(late.Flops(10, 256), late.Flops(10, 1));
}

}  // namespace
}  // namespace perfgraph::kernels

// Latency and throughput of kernels::Predictor (hand-tuned CPU inference) against LibTorch running the
// same weights (gnn::Model, default TpuGraphs sizes, late join, fixed seed, exported with
// gnn::Export), on real kernels of data/corpus.
//   build/bench/predictor_bench --benchmark_counters_tabular=true
// BM_*Single: one (kernel, config) query on a kernel with the corpus's median node count.
// BM_*Tile256: one kernel, 256 configs of its ConfigSpace in one call.
// BM_PredictorCorpus: every kernel of the test split at its default config (kernels/s).
// LibTorch gets its input batch pre-built (gnn::ToTensors outside the timed loop) and runs under
// torch::InferenceMode: only its forward pass is timed, which favours LibTorch.
// Counters: GFLOP/s of the GEMMs (Predictor::Flops), peak_GFLOPs = assumed core peak (2 FMA pipes x
// vector lanes x 2 x the frequency /proc/cpuinfo reports), weight_KiB = packed weights read per query.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "benchmark/benchmark.h"
#include "data/split.h"
#include "fusion/default_fusion.h"
#include "gnn/batch.h"
#include "gnn/export.h"
#include "gnn/model.h"
#include "graph/featurize.h"
#include "graph/import.h"
#include "kernels/predictor.h"
#include "tiling/tile_config.h"

namespace perfgraph {
namespace {

constexpr int kTileConfigs = 256;

struct Setup {
  std::vector<std::shared_ptr<graph::Kernel>> kernels;
  std::vector<gnn::KernelExample> examples;  // one per kernel, config 0 = its default config
  int median = 0;                            // index of a kernel with the median node count
  std::vector<float> tile_config_feat;       // [kTileConfigs, C] of the median kernel
  gnn::Model model{nullptr};
  std::unique_ptr<kernels::Predictor> predictor;
  std::string error;
};

// The corpus's symbolic dims (data/corpus/README.md: the dynamic batch axis of resnet18 and
// transformer_encoder_d256_l2) get batch 1, as a user would pass `--dim batch=1`.
graph::ImportOptions CorpusImportOptions() {
  graph::ImportOptions options;
  options.dim_params = {{"batch", 1}};
  return options;
}

Setup* MakeSetup() {
  auto* s = new Setup();
  const std::string root = PERFGRAPH_SOURCE_DIR;
  absl::StatusOr<data::Split> split = data::ReadSplitFile(root + "/data/reference/split.txt");
  if (!split.ok()) {
    s->error = std::string(split.status().message());
    return s;
  }
  for (const std::string& program : split->Programs(data::SplitPart::kTest)) {
    auto model = graph::ImportModelFile(root + "/data/corpus/" + program + ".onnx", CorpusImportOptions());
    if (!model.ok()) continue;
    auto fused = fusion::DefaultFusion(model->program);
    if (!fused.ok()) continue;
    for (graph::Kernel& kernel : *fused) {
      auto k = std::make_shared<graph::Kernel>(std::move(kernel));
      gnn::KernelExample e;
      e.program = program;
      e.tensors = graph::Featurize(*k);
      e.num_configs = 1;
      e.config_feat.resize(tiling::kNumConfigFeatures);
      tiling::ConfigFeatures(*k, tiling::Default(*k), e.config_feat.data());
      e.runtime_ns = {1e4};
      e.timed_out = {0};
      s->kernels.push_back(k);
      s->examples.push_back(std::move(e));
    }
  }
  if (s->kernels.empty()) {
    s->error = "no corpus kernels";
    return s;
  }
  std::vector<int> order(s->kernels.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return s->examples[a].tensors.num_nodes < s->examples[b].tensors.num_nodes;
  });
  s->median = order[order.size() / 2];
  const graph::Kernel& median = *s->kernels[s->median];
  auto space = tiling::ConfigSpace(median);
  std::vector<tiling::TileConfig> configs = space.ok() ? *space : std::vector<tiling::TileConfig>{};
  if (configs.empty()) configs.push_back(tiling::Default(median));
  s->tile_config_feat.resize(kTileConfigs * tiling::kNumConfigFeatures);
  for (int c = 0; c < kTileConfigs; ++c) {
    tiling::ConfigFeatures(median, configs[c * configs.size() / kTileConfigs],
                           s->tile_config_feat.data() + c * tiling::kNumConfigFeatures);
  }

  torch::manual_seed(1);
  s->model = gnn::Model(gnn::ModelOptions{});
  std::vector<const gnn::KernelExample*> pointers;
  for (const auto& e : s->examples) pointers.push_back(&e);
  s->model->SetNormalization(gnn::ComputeNormalization(pointers));
  s->model->eval();
  const std::string path = "/tmp/perfgraph_predictor_bench.pgw";
  if (absl::Status st = gnn::Export(*s->model, path); !st.ok()) {
    s->error = std::string(st.message());
    return s;
  }
  absl::StatusOr<kernels::Predictor> p = kernels::Predictor::Load(path);
  if (!p.ok()) {
    s->error = std::string(p.status().message());
    return s;
  }
  s->predictor = std::make_unique<kernels::Predictor>(*std::move(p));
  return s;
}

Setup& Get() {
  static Setup* setup = MakeSetup();
  return *setup;
}

double PeakGflops() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  double mhz = 0;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("cpu MHz", 0) == 0) {
      mhz = std::stod(line.substr(line.find(':') + 1));
      break;
    }
  }
  const int lanes = kernels::BestIsa() == kernels::Isa::kAvx512 ? 16
                    : kernels::BestIsa() == kernels::Isa::kAvx2 ? 8
                                                                : 1;
  return mhz / 1000.0 * 2 /*FMA pipes*/ * lanes * 2 /*flops per FMA*/;
}

void Counters(benchmark::State& state, double flops_per_iteration) {
  const Setup& s = Get();
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iteration * state.iterations() / 1e9,
                                                 benchmark::Counter::kIsRate);
  state.counters["peak_GFLOPs"] = PeakGflops();
  state.counters["weight_KiB"] = s.predictor->weight_bytes() / 1024.0;
  state.counters["nodes"] = s.examples[s.median].tensors.num_nodes;
}

void PredictorQuery(benchmark::State& state, int configs, const float* config_feat) {
  Setup& s = Get();
  if (!s.error.empty()) {
    state.SkipWithError(s.error.c_str());
    return;
  }
  const graph::KernelTensors& t = s.examples[s.median].tensors;
  std::vector<float> out(configs);
  kernels::Predictor::Scratch scratch;
  for (auto _ : state) {
    absl::Status st = s.predictor->Predict(t, config_feat, configs, out.data(), scratch);
    if (!st.ok()) {
      state.SkipWithError(std::string(st.message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  Counters(state, s.predictor->Flops(t.num_nodes, configs));
  state.counters["configs/s"] =
      benchmark::Counter(static_cast<double>(configs) * state.iterations(), benchmark::Counter::kIsRate);
}

void LibTorchQuery(benchmark::State& state, int configs, const float* config_feat) {
  Setup& s = Get();
  if (!s.error.empty()) {
    state.SkipWithError(s.error.c_str());
    return;
  }
  at::set_num_threads(1);
  gnn::KernelExample e = s.examples[s.median];
  e.num_configs = configs;
  e.config_feat.assign(config_feat, config_feat + configs * tiling::kNumConfigFeatures);
  e.runtime_ns.assign(configs, 1e4);
  e.timed_out.assign(configs, 0);
  std::vector<const gnn::KernelExample*> one = {&e};
  const gnn::TensorBatch batch = gnn::ToTensors(gnn::MakeHostBatch(one, gnn::Join::kLate));
  c10::InferenceMode guard;
  for (auto _ : state) {
    torch::Tensor out = s.model->forward(batch);
    benchmark::DoNotOptimize(out.data_ptr<float>());
  }
  Counters(state, s.predictor->Flops(e.tensors.num_nodes, configs));
  state.counters["configs/s"] =
      benchmark::Counter(static_cast<double>(configs) * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_PredictorSingle(benchmark::State& state) {
  PredictorQuery(state, 1, Get().examples[Get().median].config_feat.data());
}
BENCHMARK(BM_PredictorSingle)->Unit(benchmark::kMicrosecond);

void BM_LibTorchSingle(benchmark::State& state) {
  LibTorchQuery(state, 1, Get().examples[Get().median].config_feat.data());
}
BENCHMARK(BM_LibTorchSingle)->Unit(benchmark::kMicrosecond);

void BM_PredictorTile256(benchmark::State& state) {
  PredictorQuery(state, kTileConfigs, Get().tile_config_feat.data());
}
BENCHMARK(BM_PredictorTile256)->Unit(benchmark::kMicrosecond);

void BM_LibTorchTile256(benchmark::State& state) {
  LibTorchQuery(state, kTileConfigs, Get().tile_config_feat.data());
}
BENCHMARK(BM_LibTorchTile256)->Unit(benchmark::kMicrosecond);

void BM_PredictorCorpus(benchmark::State& state) {
  Setup& s = Get();
  if (!s.error.empty()) {
    state.SkipWithError(s.error.c_str());
    return;
  }
  kernels::Predictor::Scratch scratch;
  double flops = 0;
  for (const auto& e : s.examples) flops += s.predictor->Flops(e.tensors.num_nodes, 1);
  for (auto _ : state) {
    for (const auto& e : s.examples) {
      float out;
      absl::Status st = s.predictor->Predict(e.tensors, e.config_feat.data(), 1, &out, scratch);
      if (!st.ok()) {
        state.SkipWithError(std::string(st.message()).c_str());
        return;
      }
      benchmark::DoNotOptimize(out);
    }
  }
  Counters(state, flops);
  state.counters["kernels"] = s.examples.size();
  state.counters["kernels/s"] = benchmark::Counter(
      static_cast<double>(s.examples.size()) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PredictorCorpus)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace perfgraph

BENCHMARK_MAIN();

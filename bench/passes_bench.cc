// Speed of the cost-model-driven passes with the analytical model (the committed reference target
// description): tiling::TilingPass over every kernel of ResNet-50 (whole config spaces), the
// cost-driven fusion::FusionPass on ResNet-50, and what `perfgraph predict` does per program over the
// whole reference corpus (import, default fusion, best config per kernel), in kernels/s.
//   build/bench/passes_bench
// Every iteration starts with a fresh pass (empty identical-kernel cache), as one `perfgraph plan` or
// `perfgraph predict` run does.
#include <filesystem>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "cost/analytical_model.h"
#include "fusion/default_fusion.h"
#include "fusion/fusion_pass.h"
#include "graph/import.h"
#include "pipeline/cost_models.h"
#include "pipeline/plan.h"
#include "tiling/tiling_pass.h"

namespace perfgraph {
namespace {

const std::string kCorpus = std::string(PERFGRAPH_SOURCE_DIR) + "/data/corpus";
const std::string kResNet50 = kCorpus + "/resnet50.onnx";

void BM_TilingPassResNet50(benchmark::State& state) {
  auto model = cost::AnalyticalModel::CreateDefault();
  auto imported = graph::ImportModelFile(kResNet50, {});
  if (!model.ok() || !imported.ok()) {
    state.SkipWithError("cannot load the analytical model or resnet50.onnx");
    return;
  }
  auto kernels = fusion::DefaultFusion(imported->program);
  if (!kernels.ok()) {
    state.SkipWithError(std::string(kernels.status().message()).c_str());
    return;
  }
  int64_t queries = 0;
  for (auto _ : state) {
    tiling::TilingPass pass(*model);
    for (const auto& result : pass.RunAll(*kernels)) benchmark::DoNotOptimize(result.ok());
    queries += pass.queries();
  }
  state.counters["kernels"] = kernels->size();
  state.counters["kernels/s"] = benchmark::Counter(
      static_cast<double>(kernels->size()) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["queries/s"] =
      benchmark::Counter(static_cast<double>(queries), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TilingPassResNet50)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_FusionPassResNet50(benchmark::State& state) {
  auto model = cost::AnalyticalModel::CreateDefault();
  auto imported = graph::ImportModelFile(kResNet50, {});
  if (!model.ok() || !imported.ok()) {
    state.SkipWithError("cannot load the analytical model or resnet50.onnx");
    return;
  }
  int64_t kernels = 0, fused = 0, queries = 0, costed = 0, hits = 0;
  for (auto _ : state) {
    fusion::FusionPass pass(*model);
    auto result = pass.Run(imported->program);
    if (!result.ok()) {
      state.SkipWithError(std::string(result.status().message()).c_str());
      return;
    }
    kernels = static_cast<int64_t>(result->kernels.size());
    fused = 0;
    for (const auto& d : result->decisions) fused += d.fused();
    queries = pass.model_queries();
    costed = result->kernels_costed;
    hits = result->cost_cache_hits;
  }
  state.counters["kernels"] = kernels;
  state.counters["fused"] = fused;
  state.counters["model_queries"] = queries;
  state.counters["candidate_kernels"] = costed;
  state.counters["cache_hits"] = hits;
}
BENCHMARK(BM_FusionPassResNet50)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_PredictCorpus(benchmark::State& state) {
  auto model = cost::AnalyticalModel::CreateDefault();
  if (!model.ok()) {
    state.SkipWithError(std::string(model.status().message()).c_str());
    return;
  }
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(kCorpus)) {
    if (entry.path().extension() == ".onnx") files.push_back(entry.path().string());
  }
  if (files.empty()) {
    state.SkipWithError("no .onnx files in data/corpus");
    return;
  }
  // The corpus's two dynamic-batch models need --input-shape input=1,...; they are skipped here
  // like a failed file in `perfgraph predict`.
  int64_t kernels = 0, programs = 0;
  for (auto _ : state) {
    tiling::TilingPass pass(*model);
    for (const std::string& file : files) {
      auto imported = graph::ImportModelFile(file, {});
      if (!imported.ok()) continue;
      auto fused = fusion::DefaultFusion(imported->program);
      if (!fused.ok()) continue;
      ++programs;
      for (const auto& result : pass.RunAll(*fused)) {
        benchmark::DoNotOptimize(result.ok());
        ++kernels;
      }
    }
  }
  state.counters["programs"] = static_cast<double>(programs) / state.iterations();
  state.counters["kernels"] = static_cast<double>(kernels) / state.iterations();
  state.counters["kernels/s"] =
      benchmark::Counter(static_cast<double>(kernels), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PredictCorpus)->Unit(benchmark::kMillisecond)->Iterations(1);

// What `perfgraph plan data/corpus/resnet50.onnx --threads 1 --cost-model KIND` spends after the
// import: cost-driven fusion, then tiling every kernel over its whole config space with the default
// guard, with the shipped model of each kind (arg 0 learned, 1 xgboost, 2 analytical). The learned
// model's goal (learned-model issue): <= 1 s.
void BM_PlanResNet50(benchmark::State& state) {
  const pipeline::CostModelKind kind = state.range(0) == 0   ? pipeline::CostModelKind::kLearned
                                       : state.range(0) == 1 ? pipeline::CostModelKind::kXgboost
                                                             : pipeline::CostModelKind::kAnalytical;
  state.SetLabel(std::string(pipeline::CostModelKindName(kind)));
  pipeline::CostModelOptions model_options;
  model_options.kind = kind;
  auto model = pipeline::MakeCostModel(model_options);
  auto imported = graph::ImportModelFile(kResNet50, {});
  if (!model.ok() || !imported.ok()) {
    state.SkipWithError("cannot load the shipped model or resnet50.onnx");
    return;
  }
  pipeline::PlanOptions options;
  options.tiling.min_predicted_gain = pipeline::DefaultGuardBand(kind);
  int64_t kernels = 0;
  for (auto _ : state) {
    auto plan = pipeline::PlanProgram(kResNet50, *imported, **model, options);
    if (!plan.ok()) {
      state.SkipWithError(std::string(plan.status().message()).c_str());
      return;
    }
    kernels = static_cast<int64_t>(plan->kernels.size());
  }
  state.counters["kernels"] = static_cast<double>(kernels);
}
BENCHMARK(BM_PlanResNet50)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace perfgraph

BENCHMARK_MAIN();

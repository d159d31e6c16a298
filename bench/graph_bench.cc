// Throughput of the front end on a real model: ONNX import (with shape inference), default fusion and
// featurization. A compiler calls these once per program, so they should stay in milliseconds.
//   build/bench/graph_bench --benchmark_filter=ResNet50
#include <string>

#include "benchmark/benchmark.h"
#include "fusion/default_fusion.h"
#include "graph/featurize.h"
#include "graph/import.h"

namespace perfgraph {
namespace {

const std::string kModel = std::string(PERFGRAPH_SOURCE_DIR) + "/data/corpus/resnet50.onnx";

void BM_OnnxImportResNet50(benchmark::State& state) {
  for (auto _ : state) {
    auto model = graph::ImportModelFile(kModel, {});
    if (!model.ok()) {
      state.SkipWithError(std::string(model.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(model->program.instructions.data());
    state.counters["instructions"] = model->program.size();
  }
}
BENCHMARK(BM_OnnxImportResNet50)->Unit(benchmark::kMillisecond);

void BM_DefaultFusionResNet50(benchmark::State& state) {
  auto model = graph::ImportModelFile(kModel, {});
  if (!model.ok()) {
    state.SkipWithError(std::string(model.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    auto kernels = fusion::DefaultFusion(model->program);
    benchmark::DoNotOptimize(kernels->data());
    state.counters["kernels"] = kernels->size();
  }
}
BENCHMARK(BM_DefaultFusionResNet50)->Unit(benchmark::kMillisecond);

void BM_FeaturizeResNet50Kernels(benchmark::State& state) {
  auto model = graph::ImportModelFile(kModel, {});
  if (!model.ok()) {
    state.SkipWithError(std::string(model.status().message()).c_str());
    return;
  }
  auto kernels = fusion::DefaultFusion(model->program);
  int64_t nodes = 0;
  for (auto _ : state) {
    for (const graph::Kernel& kernel : *kernels) {
      graph::KernelTensors t = graph::Featurize(kernel);
      nodes += t.num_nodes;
      benchmark::DoNotOptimize(t.node_feat.data());
    }
  }
  state.counters["kernels/s"] =
      benchmark::Counter(static_cast<double>(kernels->size()) * state.iterations(),
                         benchmark::Counter::kIsRate);
  state.counters["nodes/s"] = benchmark::Counter(static_cast<double>(nodes),
                                                 benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FeaturizeResNet50Kernels)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace perfgraph

BENCHMARK_MAIN();

// What a measured (kernel, config) pair costs in compilation, the part that dominates measuring time
// (v1: 8184 pairs in 70 minutes, mostly Halide JIT), and what the protocol v2 options save:
//   build/bench/measure_bench
// BM_CompileConfigs/<timing_build>/<compile_threads>: MeasureKernelInterleaved's compile phase on 8
// configs (the default + 7 seeded samples of its ConfigSpace) of each of four ResNet-18 kernels (two
// convolutions, the classifier dot, an elementwise add), wall-clock time per config. timing_build 1
// adds Halide's no_asserts + no_bounds_query target features (HalideCpuTargetOptions::timing_build);
// compile_threads 2 compiles two configs at once (nothing is timed meanwhile).
// Run it on an idle machine: the threads=2 case needs both cores.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "fusion/default_fusion.h"
#include "graph/import.h"
#include "target/halide_cpu_target.h"
#include "target/measurement.h"
#include "tiling/tile_config.h"

namespace perfgraph {
namespace {

const std::string kResNet18 = std::string(PERFGRAPH_SOURCE_DIR) + "/data/corpus/resnet18.onnx";

struct Work {
  std::vector<graph::Kernel> kernels;
  std::vector<std::vector<tiling::TileConfig>> configs;
};

const Work* LoadWork() {
  static const Work* work = [] {
    auto* w = new Work;
    graph::ImportOptions options;
    options.dim_params["batch"] = 1;
    auto imported = graph::ImportModelFile(kResNet18, options);
    if (!imported.ok()) return w;
    auto kernels = fusion::DefaultFusion(imported->program);
    if (!kernels.ok()) return w;
    // Two convolutions, the dot and one elementwise kernel.
    int convs = 0, dots = 0, loops = 0;
    for (graph::Kernel& k : *kernels) {
      const graph::HloOpcode op = k.root_instruction().opcode;
      bool take = false;
      bool has_conv = false, has_dot = false;
      for (const auto& inst : k.instructions) {
        has_conv = has_conv || inst.opcode == graph::HloOpcode::kConvolution;
        has_dot = has_dot || inst.opcode == graph::HloOpcode::kDot;
      }
      if (has_conv && convs < 2) take = ++convs > 0;
      else if (has_dot && dots < 1) take = ++dots > 0;
      else if (!has_conv && !has_dot && op == graph::HloOpcode::kAdd && loops < 1) take = ++loops > 0;
      if (!take) continue;
      auto space = tiling::ConfigSpace(k);
      if (!space.ok()) continue;
      std::vector<tiling::TileConfig> configs = {tiling::Default(k)};
      std::mt19937_64 rng(1);
      std::shuffle(space->begin(), space->end(), rng);
      for (const auto& c : *space) {
        if (configs.size() == 8) break;
        if (c != configs.front()) configs.push_back(c);
      }
      w->kernels.push_back(std::move(k));
      w->configs.push_back(std::move(configs));
    }
    return w;
  }();
  return work;
}

void BM_CompileConfigs(benchmark::State& state) {
  const Work* work = LoadWork();
  if (work->kernels.empty()) {
    state.SkipWithError("cannot import resnet18.onnx");
    return;
  }
  target::HalideCpuTargetOptions target_options;
  target_options.num_threads = 1;
  target_options.timing_build = state.range(0) != 0;
  auto target = target::HalideCpuTarget::Create(target_options);
  if (!target.ok()) {
    state.SkipWithError("cannot create the Halide target");
    return;
  }
  target::InterleavedOptions options;
  options.compile_threads = static_cast<int>(state.range(1));
  // Measure nothing but the compile phase: every run is "over the cap" and censored at once.
  options.warmup_runs = 0;
  options.max_run_time = absl::Nanoseconds(1);
  options.min_rounds = 1;
  options.max_rounds = 1;
  options.min_runs_per_round = 1;
  int64_t configs = 0;
  for (auto _ : state) {
    for (size_t k = 0; k < work->kernels.size(); ++k) {
      auto result = target::MeasureKernelInterleaved(*target, work->kernels[k], work->configs[k],
                                                     nullptr, 0, options);
      if (!result.ok()) {
        state.SkipWithError(std::string(result.status().message()).c_str());
        return;
      }
      configs += static_cast<int64_t>(work->configs[k].size());
    }
  }
  state.counters["configs_per_s"] =
      benchmark::Counter(static_cast<double>(configs), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CompileConfigs)
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->ArgNames({"timing_build", "compile_threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(2);

}  // namespace
}  // namespace perfgraph

BENCHMARK_MAIN();

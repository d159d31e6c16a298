// Speed of the cost models: the analytical one (one query, and a batch over a kernel's whole config
// space, what the tiling pass asks) and the XGBoost baseline over the same batch (the shipped
// models/xgboost; skipped when absent). Kernels are hand-built so the benchmark needs no data files.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "cost/analytical_model.h"
#include "cost/shipped_files.h"
#include "cost/xgboost_model.h"
#include "graph/ir.h"
#include "tiling/tile_config.h"

namespace perfgraph::cost {
namespace {

graph::Kernel ConvKernel() {
  graph::Kernel k;
  k.name = "conv";
  k.kind = graph::FusionKind::kOutput;
  auto add = [&](graph::HloOpcode op, std::vector<int64_t> dims, std::vector<int> operands,
                 graph::Attributes attrs = {}) {
    graph::Instruction inst;
    inst.id = k.size();
    inst.name = "i" + std::to_string(inst.id);
    inst.opcode = op;
    inst.shape = graph::Shape::Make(graph::PrimitiveType::kF32, std::move(dims));
    inst.operands = std::move(operands);
    inst.attrs = std::move(attrs);
    k.instructions.push_back(inst);
    k.origin.push_back(-1);
    return inst.id;
  };
  graph::Attributes p0, p1, p2;
  p0.parameter_number = 0;
  p1.parameter_number = 1;
  p2.parameter_number = 2;
  const int x = add(graph::HloOpcode::kParameter, {1, 64, 56, 56}, {}, p0);
  const int w = add(graph::HloOpcode::kParameter, {64, 64, 3, 3}, {}, p1);
  const int bias = add(graph::HloOpcode::kParameter, {64}, {}, p2);
  graph::Attributes conv;
  conv.convolution_dimension_numbers = graph::ConvolutionDimensionNumbers::Nchw(2);
  for (int i = 0; i < 2; ++i) {
    graph::WindowDimension d;
    d.size = 3;
    d.padding_low = d.padding_high = 1;
    conv.window.push_back(d);
  }
  const int c = add(graph::HloOpcode::kConvolution, {1, 64, 56, 56}, {x, w}, conv);
  graph::Attributes bcast;
  bcast.dimensions = {1};
  const int bb = add(graph::HloOpcode::kBroadcast, {1, 64, 56, 56}, {bias}, bcast);
  add(graph::HloOpcode::kAdd, {1, 64, 56, 56}, {c, bb});
  k.root = k.size() - 1;
  return k;
}

TargetDescription BenchTarget() {
  TargetDescription t;
  t.native_f32_lanes = 8;
  t.all_threads = 2;
  t.peak_flops_1t = 100e9;
  t.peak_flops_all = 200e9;
  const int64_t cap[kNumMemoryLevels] = {32 << 10, 1 << 20, 8 << 20, 0};
  const double bw[kNumMemoryLevels] = {400e9, 200e9, 100e9, 20e9};
  for (int l = 0; l < kNumMemoryLevels; ++l) {
    t.memory[l].capacity_bytes = cap[l];
    t.memory[l].bandwidth_1t_bytes_per_s = bw[l];
    t.memory[l].bandwidth_all_bytes_per_s = 2 * bw[l];
  }
  t.reduction_update_ns = 0.5;
  return t;
}

void BM_AnalyticalModelOneQuery(benchmark::State& state) {
  const graph::Kernel kernel = ConvKernel();
  AnalyticalModel model = AnalyticalModel::Create(BenchTarget(), {2}).value();
  const std::vector<CostQuery> queries = {{&kernel, tiling::Default(kernel)}};
  for (auto _ : state) benchmark::DoNotOptimize(model.EstimateNs(queries));
}
BENCHMARK(BM_AnalyticalModelOneQuery);

void BM_AnalyticalModelConfigSpace(benchmark::State& state) {
  const graph::Kernel kernel = ConvKernel();
  AnalyticalModel model = AnalyticalModel::Create(BenchTarget(), {2}).value();
  std::vector<tiling::TileConfig> space = tiling::ConfigSpace(kernel).value();
  space.resize(std::min<size_t>(space.size(), 1024));
  std::vector<CostQuery> queries;
  for (const tiling::TileConfig& c : space) queries.push_back({&kernel, c});
  for (auto _ : state) benchmark::DoNotOptimize(model.EstimateNs(queries));
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(queries.size()));
}
BENCHMARK(BM_AnalyticalModelConfigSpace)->Unit(benchmark::kMillisecond);

// The XGBoost baseline (tabular features incl. the roofline's breakdown, then both boosters) over
// the same 1024 configs, with 1 XGBoost thread as plan uses it with --threads 1.
void BM_XgboostModelConfigSpace(benchmark::State& state) {
  const std::string dir = std::string(PERFGRAPH_SOURCE_DIR) + "/" + kShippedXgboostModelDir;
  absl::StatusOr<std::unique_ptr<XgboostModel>> model = XgboostModel::Load(dir, 1);
  if (!model.ok()) {
    state.SkipWithError(std::string(model.status().message()).c_str());
    return;
  }
  const graph::Kernel kernel = ConvKernel();
  std::vector<tiling::TileConfig> space = tiling::ConfigSpace(kernel).value();
  space.resize(std::min<size_t>(space.size(), 1024));
  std::vector<CostQuery> queries;
  for (const tiling::TileConfig& c : space) queries.push_back({&kernel, c});
  for (auto _ : state) benchmark::DoNotOptimize((*model)->EstimateNs(queries));
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(queries.size()));
}
BENCHMARK(BM_XgboostModelConfigSpace)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace perfgraph::cost

BENCHMARK_MAIN();

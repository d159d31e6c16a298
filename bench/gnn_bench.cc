// LibTorch training-side costs of gnn::Model: one forward pass over a batch of real small kernels
// (early vs late join: the late join embeds each kernel once, the early join once per config) and one
// training step (forward, backward, Adam), with the default hyper-parameters. Labels are synthetic.
#include <benchmark/benchmark.h>

#include "gnn/model.h"
#include "tests/gnn/gnn_test_util.h"

namespace perfgraph::gnn {
namespace {

std::vector<const KernelExample*> Pointers(const std::vector<KernelExample>& examples) {
  std::vector<const KernelExample*> p;
  for (const KernelExample& e : examples) p.push_back(&e);
  return p;
}

// 16 kernels x up to 12 configs: the default training batch.
const std::vector<KernelExample>& Examples() {
  static const std::vector<KernelExample> examples = test::SyntheticExamples(16, 12);
  return examples;
}

void BM_GnnForward(benchmark::State& state) {
  at::set_num_threads(1);
  ModelOptions options;
  options.join = state.range(0) == 0 ? Join::kLate : Join::kEarly;
  Model model(options);
  model->eval();
  const TensorBatch batch = ToTensors(MakeHostBatch(Pointers(Examples()), options.join));
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(model->forward(batch));
  state.SetLabel(options.join == Join::kLate ? "late join" : "early join");
  state.counters["configs/s"] =
      benchmark::Counter(static_cast<double>(batch.row_graph.size(0)) * state.iterations(),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GnnForward)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_GnnTrainStep(benchmark::State& state) {
  at::set_num_threads(1);
  ModelOptions options;
  options.join = state.range(0) == 0 ? Join::kLate : Join::kEarly;
  Model model(options);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-3));
  const TensorBatch batch = ToTensors(MakeHostBatch(Pointers(Examples()), options.join));
  for (auto _ : state) {
    optimizer.zero_grad();
    torch::Tensor loss = (model->forward(batch) - batch.label_log_ns).pow(2).mean();
    loss.backward();
    optimizer.step();
  }
  state.SetLabel(options.join == Join::kLate ? "late join" : "early join");
}
BENCHMARK(BM_GnnTrainStep)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace perfgraph::gnn

BENCHMARK_MAIN();

// Parse speed of the HLO text parser (graph/hlo_parser.h), reported as bytes/second.
//   build/bench/hlo_parser_bench --benchmark_filter=BM_HloParser
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "graph/hlo_parser.h"

namespace perfgraph::graph {
namespace {

// The Llama 3.1 70B training step from openxla/xla (xla/tools/benchmarks/hlo/), kept in ../shared.
void BM_HloParserLlama(benchmark::State& state) {
  const std::string path =
      std::string(PERFGRAPH_SOURCE_DIR) + "/../shared/hlo/hlo_llama31_70b_bf16_16x8.hlo";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    state.SkipWithError(absl::StrCat(path, " is absent").c_str());
    return;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  for (auto _ : state) {
    auto models = ParseHloText(text, path, {});
    if (!models.ok()) {
      state.SkipWithError(std::string(models.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(models);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_HloParserLlama)->Unit(benchmark::kMillisecond);

// A generated optimised module: `state.range(0)` fusions (each a 6-instruction loop fusion with
// metadata) chained in the entry computation.
std::string SyntheticModule(int num_fusions) {
  std::string text =
      "HloModule synthetic, is_scheduled=true, entry_computation_layout={(f32[256,1024]{1,0})->"
      "f32[256,1024]{1,0}}\n\n";
  for (int i = 0; i < num_fusions; ++i) {
    absl::StrAppend(&text, "%fused_computation.", i, " (param_0.", i,
                    ": f32[256,1024]) -> f32[256,1024] {\n"
                    "  %param_0.",
                    i,
                    " = f32[256,1024]{1,0} parameter(0)\n"
                    "  %constant.",
                    i,
                    " = f32[] constant(0.5)\n"
                    "  %broadcast.",
                    i, " = f32[256,1024]{1,0} broadcast(f32[] %constant.", i,
                    "), dimensions={}\n"
                    "  %multiply.",
                    i, " = f32[256,1024]{1,0} multiply(f32[256,1024]{1,0} %param_0.", i,
                    ", f32[256,1024]{1,0} %broadcast.", i,
                    ")\n"
                    "  %exponential.",
                    i, " = f32[256,1024]{1,0} exponential(f32[256,1024]{1,0} %multiply.", i,
                    ")\n"
                    "  ROOT %add.",
                    i, " = f32[256,1024]{1,0} add(f32[256,1024]{1,0} %exponential.", i,
                    ", f32[256,1024]{1,0} %param_0.", i, ")\n}\n\n");
  }
  absl::StrAppend(&text,
                  "ENTRY %main (p: f32[256,1024]) -> f32[256,1024] {\n"
                  "  %p = f32[256,1024]{1,0} parameter(0)\n");
  std::string previous = "%p";
  for (int i = 0; i < num_fusions; ++i) {
    const std::string name = absl::StrCat("%fusion.", i);
    absl::StrAppend(&text, i + 1 == num_fusions ? "  ROOT " : "  ", name,
                    " = f32[256,1024]{1,0} fusion(f32[256,1024]{1,0} ", previous,
                    "), kind=kLoop, calls=%fused_computation.", i,
                    ", metadata={op_name=\"jit(f)/mul\" source_file=\"f.py\" source_line=", i,
                    "}\n");
    previous = name;
  }
  absl::StrAppend(&text, "}\n");
  return text;
}

void BM_HloParserSynthetic(benchmark::State& state) {
  const std::string text = SyntheticModule(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto models = ParseHloText(text, "synthetic.hlo", {});
    if (!models.ok()) {
      state.SkipWithError(std::string(models.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(models);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_HloParserSynthetic)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace perfgraph::graph

BENCHMARK_MAIN();

// libFuzzer target: weights-file bytes -> kernels::Predictor::Load (ReadWeightsFile + ParseWeights +
// architecture and shape checks + packing; it takes a path, so the bytes go to a scratch file) -> one
// Predict of a real kernel (the first fusion of tests/testdata/hlo/optimized_fusions.hlo) under its
// default config, on the best ISA and on the scalar path. Each input runs twice: as given, and with its
// last 4 bytes replaced by the CRC-32 of the bytes before them (the file's checksum field), so that
// mutations reach the schema and tensor-table checks instead of stopping at a checksum mismatch.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "graph/featurize.h"
#include "graph/hlo_parser.h"
#include "graph/import.h"
#include "kernels/gemm.h"
#include "kernels/predictor.h"
#include "tiling/tile_config.h"

namespace {

struct Query {
  perfgraph::graph::KernelTensors tensors;
  std::vector<float> config_features;  // tiling::ConfigFeatures of the default config
};

const Query& TheQuery() {
  static const Query* query = [] {
    const std::string path = perfgraph::fuzz::SourceDir() + "/tests/testdata/hlo/optimized_fusions.hlo";
    auto model = perfgraph::graph::ParseHloFile(path, perfgraph::graph::ImportOptions{});
    if (!model.ok() || model->prefused_kernels.empty()) {
      std::fprintf(stderr, "weights_fuzzer: cannot load %s\n", path.c_str());
      std::abort();
    }
    const perfgraph::graph::Kernel& kernel = model->prefused_kernels.front();
    auto* made = new Query;
    made->tensors = perfgraph::graph::Featurize(kernel);
    made->config_features.resize(perfgraph::tiling::kNumConfigFeatures);
    perfgraph::tiling::ConfigFeatures(kernel, perfgraph::tiling::Default(kernel),
                                      made->config_features.data());
    return made;
  }();
  return *query;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheQuery();
  return 0;
}

namespace {

void Run(const uint8_t* data, size_t size) {
  const std::string path = perfgraph::fuzz::WriteScratchFile("weights.pgw", data, size);
  const Query& query = TheQuery();
  for (perfgraph::kernels::Isa isa :
       {perfgraph::kernels::BestIsa(), perfgraph::kernels::Isa::kScalar}) {
    auto predictor = perfgraph::kernels::Predictor::Load(path, isa);
    if (!predictor.ok()) return;
    // A hybrid model's extra config columns (cost::AppendHybridConfigFeatures) are zeros here.
    std::vector<float> config(
        static_cast<size_t>(std::max(predictor->architecture().config_width(),
                                     perfgraph::tiling::kNumConfigFeatures)),
        0.0f);
    std::copy(query.config_features.begin(), query.config_features.end(), config.begin());
    float out_ns = 0;
    (void)predictor->Predict(query.tensors, config.data(), 1, &out_ns);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Run(data, size);
  if (size >= 4) {
    std::vector<uint8_t> fixed(data, data + size);
    perfgraph::fuzz::StoreU32(&fixed[size - 4], perfgraph::fuzz::Crc32(fixed.data(), size - 4));
    Run(fixed.data(), fixed.size());
  }
  return 0;
}

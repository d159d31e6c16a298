// Writes small, valid weights files (kernels/weights.h) into the directory given as argv[1]: one per
// combination of join (early / late), reduction (lstm / mean) and hybrid_threads (0 / 2), with
// widths of 4 and one or two GraphSAGE layers, every value 0.5. They seed weights_fuzzer: the shipped
// model is 400 KB, which makes every libFuzzer mutation slow; these are ~20 KB and cover every
// architecture branch of Predictor::FromWeights. Run by fuzz/seed_corpora.sh.
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "kernels/predictor.h"
#include "kernels/weights.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  using perfgraph::kernels::WeightsJoin;
  using perfgraph::kernels::WeightsReduction;
  int written = 0;
  for (WeightsJoin join : {WeightsJoin::kEarly, WeightsJoin::kLate}) {
    for (WeightsReduction reduction : {WeightsReduction::kLstm, WeightsReduction::kMean}) {
      for (int hybrid_threads : {0, 2}) {
        perfgraph::kernels::WeightsFile file;
        perfgraph::kernels::Architecture& a = file.architecture;
        a.join = join;
        a.reduction = reduction;
        a.hidden = 4;
        a.opcode_embedding = 4;
        a.sage_layers = 1 + written % 2;
        a.head_hidden = 4;
        a.hybrid_threads = hybrid_threads;
        for (const auto& [name, dims] : perfgraph::kernels::ExpectedTensorShapes(a)) {
          perfgraph::kernels::NamedTensor tensor;
          tensor.name = name;
          tensor.dims = dims;
          tensor.values.assign(tensor.num_elements(), 0.5f);
          file.tensors.push_back(std::move(tensor));
        }
        const std::string path = absl::StrCat(
            argv[1], "/small_", join == WeightsJoin::kEarly ? "early" : "late", "_",
            reduction == WeightsReduction::kLstm ? "lstm" : "mean", "_hybrid", hybrid_threads,
            ".pgw");
        absl::Status status = perfgraph::kernels::WriteWeightsFile(file, path);
        if (!status.ok()) {
          std::fprintf(stderr, "%s\n", status.ToString().c_str());
          return 1;
        }
        ++written;
      }
    }
  }
  std::printf("wrote %d weights files to %s\n", written, argv[1]);
  return 0;
}

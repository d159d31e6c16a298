// Every model of the committed corpus (data/corpus/*.onnx) imports, fuses into valid kernels that
// cover the whole program, and featurizes into finite tensors: what `perfgraph inspect` relies on.
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "fusion/default_fusion.h"
#include "gmock/gmock.h"
#include "graph/featurize.h"
#include "graph/import.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace perfgraph::fusion {
namespace {

std::vector<std::string> CorpusModels() {
  std::vector<std::string> paths;
  const auto dir = std::filesystem::path(PERFGRAPH_SOURCE_DIR) / "data" / "corpus";
  if (!std::filesystem::exists(dir)) return paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".onnx") paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

// The corpus's symbolic dims (data/corpus/README.md: the dynamic batch axis of resnet18 and
// transformer_encoder_d256_l2) get batch 1, as a user would pass `--dim batch=1`.
graph::ImportOptions CorpusImportOptions() {
  graph::ImportOptions options;
  options.dim_params = {{"batch", 1}};
  return options;
}

class CorpusFusionTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CorpusFusionTest, ImportsFusesCoversAndFeaturizes) {
  auto model = graph::ImportModelFile(GetParam(), CorpusImportOptions());
  ASSERT_OK(model);
  const graph::Program& program = model->program;
  auto kernels = DefaultFusion(program);
  ASSERT_OK(kernels);
  ASSERT_FALSE(kernels->empty());

  std::set<int> covered;
  int output_fusions = 0;
  for (const graph::Kernel& kernel : *kernels) {
    ASSERT_OK(kernel.Validate());
    ASSERT_EQ(kernel.origin.size(), kernel.instructions.size());
    for (const graph::Instruction& inst : kernel.instructions) {
      if (inst.opcode == graph::HloOpcode::kParameter) continue;
      const graph::Instruction& source = program.at(kernel.origin[inst.id]);
      EXPECT_EQ(source.opcode, inst.opcode);
      EXPECT_EQ(source.shape, inst.shape) << source.name;
      covered.insert(source.id);
    }
    if (kernel.kind == graph::FusionKind::kOutput) ++output_fusions;

    graph::KernelTensors t = graph::Featurize(kernel);
    ASSERT_EQ(t.num_nodes, kernel.size());
    for (float value : t.node_feat) ASSERT_TRUE(std::isfinite(value)) << kernel.name;
    for (int32_t opcode : t.node_opcode) {
      ASSERT_GT(opcode, 0) << kernel.name;
      ASSERT_LT(opcode, graph::kNumOpcodeIds);
    }
  }
  for (const graph::Instruction& inst : program.instructions) {
    if (inst.opcode == graph::HloOpcode::kParameter || inst.opcode == graph::HloOpcode::kConstant) {
      continue;
    }
    EXPECT_TRUE(covered.count(inst.id)) << inst.name << " is in no kernel";
  }
  // Every corpus model has convolutions or dots, and the default fusion must make them kOutput.
  EXPECT_GT(output_fusions, 0);
}

INSTANTIATE_TEST_SUITE_P(Corpus, CorpusFusionTest, ::testing::ValuesIn(CorpusModels()),
                         [](const auto& info) {
                           std::string name = std::filesystem::path(info.param).stem().string();
                           for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CorpusFusionTest);

TEST(CorpusTest, HasAtLeastTwentyModels) { EXPECT_GE(CorpusModels().size(), 20u); }

}  // namespace
}  // namespace perfgraph::fusion

// End-to-end tests of `perfgraph inspect`: runs the real binary and checks exit status, stdout and the
// one-line error message (DESIGN.md command-line contract).
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/tools/cli_runner.h"
#include "tests/temp_dir.h"

namespace perfgraph::tools {
namespace {

using ::testing::HasSubstr;

using test::CliResult;
using test::RunPerfgraph;

std::string TestData(const std::string& name) {
  return std::string(PERFGRAPH_SOURCE_DIR) + "/tests/testdata/cli/" + name;
}

std::string TempFile(const std::string& name, const std::string& contents) {
  auto dir = perfgraph::testing::ProcessTempDir() / "perfgraph_inspect_test";
  std::filesystem::create_directories(dir);
  auto path = (dir / name).string();
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(InspectTest, JsonListsKernelsWithContractKeys) {
  CliResult r = RunPerfgraph("inspect --json --input-shape input=2,3,16,16 " +
                    TestData("tiny_cnn_dynamic_batch.onnx"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["program"], "tiny_cnn_dynamic_batch");
  EXPECT_GT(report["instructions"].get<int>(), 5);
  ASSERT_GE(report["kernels"].size(), 2u);
  bool has_conv_output_fusion = false;
  for (const auto& k : report["kernels"]) {
    for (const char* key : {"name", "fusion_kind", "num_nodes", "root_opcode", "output_shape",
                            "flops", "bytes"}) {
      EXPECT_TRUE(k.contains(key)) << key;
    }
    // The conv kernel: output f32[2,8,16,16] (batch fixed by --input-shape), kOutput fusion.
    if (k["fusion_kind"] == "kOutput" &&
        k["output_shape"].get<std::string>().rfind("f32[2,8,16,16]", 0) == 0) {
      has_conv_output_fusion = true;
      EXPECT_GE(k["flops"].get<double>(), 2.0 * 2 * 8 * 16 * 16 * 27);
    }
  }
  EXPECT_TRUE(has_conv_output_fusion) << r.out;
  EXPECT_TRUE(report["unsupported_ops"].empty());
}

TEST(InspectTest, HumanTableByDefault) {
  CliResult r = RunPerfgraph("inspect --input-shape input=1,3,16,16 " + TestData("tiny_cnn_dynamic_batch.onnx"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("program tiny_cnn_dynamic_batch"));
  EXPECT_THAT(r.out, HasSubstr("kOutput"));
  EXPECT_THAT(r.out, HasSubstr("convolution"));
}

TEST(InspectTest, DimFlagFixesSymbolicDimsByName) {
  CliResult r = RunPerfgraph("inspect --json --dim N=2 " + TestData("tiny_cnn_dynamic_batch.onnx"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto report = nlohmann::json::parse(r.out);
  bool batch_two = false;
  for (const auto& k : report["kernels"]) {
    batch_two |= k["output_shape"].get<std::string>().rfind("f32[2,8,16,16]", 0) == 0;
  }
  EXPECT_TRUE(batch_two) << r.out;
  EXPECT_EQ(RunPerfgraph("inspect --dim N=0 " + TestData("tiny_cnn_dynamic_batch.onnx")).exit_code, 2);
}

TEST(InspectTest, UnresolvedDynamicDimNamesInputDimAndFlag) {
  CliResult r = RunPerfgraph("inspect " + TestData("tiny_cnn_dynamic_batch.onnx"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("input"));
  EXPECT_THAT(r.out, HasSubstr("--input-shape"));
}

TEST(InspectTest, UnsupportedOpFailsUnlessAllowed) {
  CliResult r = RunPerfgraph("inspect " + TestData("unsupported_op.onnx"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Det"));
  EXPECT_THAT(r.out, HasSubstr("determinant"));

  CliResult allowed = RunPerfgraph("inspect --json --allow-unsupported " + TestData("unsupported_op.onnx"));
  ASSERT_EQ(allowed.exit_code, 0) << allowed.out;
  auto report = nlohmann::json::parse(allowed.out);
  ASSERT_EQ(report["unsupported_ops"].size(), 1u);
  EXPECT_EQ(report["unsupported_ops"][0]["op_type"], "Det");
  EXPECT_EQ(report["unsupported_ops"][0]["count"], 1);
}

struct BadInputCase {
  std::string name;
  std::function<std::string()> make_path;
  std::string expected_cause;  // a fragment of the one-line message
};

class InspectBadInputTest : public ::testing::TestWithParam<BadInputCase> {};

TEST_P(InspectBadInputTest, ExitsWithStatusTwoAndOneLineMessageNamingTheFile) {
  const std::string path = GetParam().make_path();
  CliResult r = RunPerfgraph("inspect " + path);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr(path));
  EXPECT_THAT(r.out, HasSubstr(GetParam().expected_cause));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

INSTANTIATE_TEST_SUITE_P(
    AllBadInputs, InspectBadInputTest,
    ::testing::Values(
        BadInputCase{"MissingFile", [] { return std::string("/nonexistent/model.onnx"); },
                     "no such file"},
        BadInputCase{"EmptyFile", [] { return TempFile("empty.onnx", ""); }, "empty"},
        BadInputCase{"RandomBytes",
                     [] {
                       std::mt19937 rng(42);
                       std::string bytes(4096, '\0');
                       for (char& c : bytes) c = static_cast<char>(rng());
                       return TempFile("random.onnx", bytes);
                     },
                     "not a valid ONNX model"},
        BadInputCase{"TruncatedProtobuf",
                     [] {
                       std::string bytes = ReadFile(TestData("tiny_cnn_dynamic_batch.onnx"));
                       return TempFile("truncated.onnx", bytes.substr(0, bytes.size() / 2));
                     },
                     "not a valid ONNX model"},
        BadInputCase{"TextFile", [] { return TestData("not_a_model.txt"); }, ""},
        BadInputCase{"GraphWithCycle", [] { return TestData("cycle.onnx"); }, "cycle"},
        BadInputCase{"UnknownDtype", [] { return TestData("unknown_dtype.onnx"); }, "type"},
        BadInputCase{"MalformedHlo",
                     [] {
                       return std::string(PERFGRAPH_SOURCE_DIR) +
                              "/tests/testdata/hlo/malformed_unknown_type.hlo";
                     },
                     ":5:12: expected an element type"}),
    [](const auto& info) { return info.param.name; });

TEST(InspectTest, HloWhileBodiesAreFusedAndListedNotDropped) {
  CliResult r = RunPerfgraph("inspect --json " + std::string(PERFGRAPH_SOURCE_DIR) +
                             "/tests/testdata/hlo/while_loop.hlo");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_THAT(report["called_computations"].get<std::vector<std::string>>(),
              ::testing::Contains("body"));
  int body_kernels = 0;
  for (const auto& k : report["kernels"]) {
    if (k["name"].get<std::string>().rfind("body/", 0) == 0) ++body_kernels;
  }
  EXPECT_GT(body_kernels, 0) << r.out;
}

TEST(InspectTest, PlanAndPredictRejectMalformedHloWithFileLineAndColumn) {
  const std::string bad =
      std::string(PERFGRAPH_SOURCE_DIR) + "/tests/testdata/hlo/malformed_unknown_type.hlo";
  for (const std::string command : {"plan --cost-model analytical ", "predict --cost-model analytical "}) {
    CliResult r = RunPerfgraph(command + bad);
    EXPECT_EQ(r.exit_code, 2) << command << r.out;
    EXPECT_THAT(r.out, HasSubstr(bad + ":5:12: expected an element type")) << command;
  }
}

TEST(InspectTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(RunPerfgraph("inspect").exit_code, 2);
  EXPECT_EQ(RunPerfgraph("inspect --no-such-flag x.onnx").exit_code, 2);
  EXPECT_EQ(RunPerfgraph("inspect --input-shape input=1,x " + TestData("tiny_cnn_dynamic_batch.onnx")).exit_code, 2);
  EXPECT_EQ(RunPerfgraph("frobnicate").exit_code, 2);
  EXPECT_EQ(RunPerfgraph("").exit_code, 2);
}

}  // namespace
}  // namespace perfgraph::tools

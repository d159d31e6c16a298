// `perfgraph dataset import`: the worked example of the README imports, and every bad row of a CSV is
// reported with its line number while nothing is written.
#include <filesystem>
#include <fstream>
#include <iterator>

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

const std::string kByo = std::string(PERFGRAPH_SOURCE_DIR) + "/tests/testdata/byo";

std::string TempPath(const std::string& name) {
  auto dir = perfgraph::testing::ProcessTempDir() / "perfgraph_dataset_import_test";
  std::filesystem::create_directories(dir);
  auto path = dir / name;
  std::filesystem::remove(path);
  return path.string();
}

TEST(DatasetImportTest, WorkedExampleImportsIntoAnOrdinaryDataset) {
  const std::string out = TempPath("byo.pgd");
  CliResult r = RunPerfgraph("dataset import --hlo " + kByo + " --runtimes " + kByo +
                             "/runtimes.csv --machine 'my accelerator' --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("imported 10 rows into 9 records of 5 kernels"));
  CliResult stats = RunPerfgraph("dataset stats --json " + out);
  ASSERT_EQ(stats.exit_code, 0) << stats.out;
  auto json = nlohmann::json::parse(stats.out);
  EXPECT_EQ(json["records"], 9);
  EXPECT_EQ(json["kernels"], 5);  // dense, rowsum, the whole mlp_block module, c, p
  EXPECT_EQ(json["programs"], 2);
  EXPECT_EQ(json["statuses"]["ok"], 9);
  EXPECT_EQ(json["machine"]["cpu_model"], "my accelerator");

  // An import never appends: rerunning would duplicate samples.
  CliResult again = RunPerfgraph("dataset import --hlo " + kByo + " --runtimes " + kByo +
                                 "/runtimes.csv --out " + out);
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.out, HasSubstr("already exists"));
}

TEST(DatasetImportTest, TrainAndEvalUseTheImportedDatasetUnchanged) {
  const std::string out = TempPath("byo_train.pgd");
  ASSERT_EQ(RunPerfgraph("dataset import --hlo " + kByo + " --runtimes " + kByo +
                         "/runtimes.csv --out " + out).exit_code, 0);
  const std::string model =
      (perfgraph::testing::ProcessTempDir() / "perfgraph_dataset_import_test" / "byo_model").string();
  std::filesystem::remove_all(model);
  CliResult train = RunPerfgraph("train --dataset " + out + " --split " + kByo +
                                 "/split.txt --epochs 2 --out " + model);
  ASSERT_EQ(train.exit_code, 0) << train.out;
  CliResult eval = RunPerfgraph("eval --json --dataset " + out + " --split " + kByo +
                                "/split.txt --model " + model);
  ASSERT_EQ(eval.exit_code, 0) << eval.out;
  // The JSON object is on stdout; stderr (merged here) may carry a warning line.
  const size_t begin = eval.out.find("{\n");
  ASSERT_NE(begin, std::string::npos) << eval.out;
  auto json = nlohmann::json::parse(eval.out.substr(begin, eval.out.rfind('}') + 1 - begin));
  EXPECT_EQ(json["kernels"], 2);  // conv_block: c (3 configs) and p (default only)
  EXPECT_EQ(json["configs"], 4);
  EXPECT_TRUE(json["tile"]["learned"].contains("kendall_tau"));
  EXPECT_TRUE(json["tile"]["analytical"].contains("top1_slowdown"));
  EXPECT_TRUE(json["fusion"]["learned"].contains("mape"));

  // --plot DIR: the scored points behind the pictures, and the pictures (tools/plot.py).
  const std::string plots = (perfgraph::testing::ProcessTempDir() / "byo_plots").string();
  CliResult plot = RunPerfgraph("eval --dataset " + out + " --split " + kByo + "/split.txt --model " +
                                model + " --plot " + plots);
  ASSERT_EQ(plot.exit_code, 0) << plot.out;
  std::ifstream points_file(plots + "/eval_points.json");
  ASSERT_TRUE(points_file.good());
  const nlohmann::json points = nlohmann::json::parse(points_file);
  EXPECT_THAT(points["columns"].dump(), HasSubstr("\"learned\""));
  EXPECT_THAT(points["columns"].dump(), HasSubstr("\"analytical\""));
  ASSERT_EQ(points["kernels"].size(), 2u);
  int tile_kernels = 0;
  for (const auto& k : points["kernels"]) {
    for (const auto& column : points["columns"]) {
      EXPECT_EQ(k["predicted_ns"][column.get<std::string>()].size(), k["measured_ns"].size());
    }
    if (k["task"] == "tile") {
      ++tile_kernels;
      EXPECT_EQ(k["measured_ns"].size(), 3u);  // conv_block's c: 3 configs
      EXPECT_TRUE(k["kendall_tau"].contains("learned"));
    }
  }
  EXPECT_EQ(tile_kernels, 1);
  for (const char* stem : {"scatter_tile", "scatter_fusion", "tau_histogram"}) {
    std::ifstream png(plots + "/" + stem + ".png", std::ios::binary);
    std::string magic(8, '\0');
    png.read(magic.data(), 8);
    EXPECT_EQ(magic, "\x89PNG\r\n\x1a\n") << stem;
    std::ifstream svg(plots + "/" + stem + ".svg");
    const std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
    EXPECT_THAT(text, HasSubstr("<svg")) << stem;
  }

  // train also exports the inference weights: plan and predict serve the model through
  // kernels::Predictor (cost::LearnedModel).
  EXPECT_TRUE(std::filesystem::exists(model + "/weights.pgw"));
  CliResult plan = RunPerfgraph("plan --json --cost-model learned --model " + model + " " + kByo +
                                "/conv_block.hlo");
  ASSERT_EQ(plan.exit_code, 0) << plan.out;
  auto plan_json = nlohmann::json::parse(plan.out.substr(plan.out.find("{\n")));
  EXPECT_EQ(plan_json["cost_model"], "learned");
  ASSERT_EQ(plan_json["kernels"].size(), 2u);
  for (const auto& k : plan_json["kernels"]) EXPECT_GT(k["predicted_ns"].get<double>(), 0);
}

TEST(DatasetImportTest, EveryBadRowIsReportedByLineAndNothingIsWritten) {
  const std::string csv = TempPath("bad.csv");
  std::ofstream(csv) << "module,kernel,config,runtime_ns\n"                      // line 1
                     << "mlp_block.hlo,dense,default,1000\n"                      // 2: fine
                     << "mlp_block.hlo,dense,default\n"                           // 3: 3 fields
                     << "missing.hlo,dense,default,1000\n"                        // 4: no module
                     << "mlp_block.hlo,nosuch,default,1000\n"                     // 5: no kernel
                     << "mlp_block.hlo,dense,default,-5\n"                        // 6: bad runtime
                     << "mlp_block.hlo,dense,\"tile=999,8,0;dims=1,0,-1;split=1;vec=8;par=1\",10\n"  // 7
                     << "mlp_block.hlo,rowsum,\"unterminated,1\n";                // 8
  const std::string out = TempPath("bad.pgd");
  CliResult r = RunPerfgraph("dataset import --hlo " + kByo + " --runtimes " + csv + " --out " + out);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("6 bad row(s), nothing written"));
  for (int line : {3, 4, 5, 6, 7, 8}) {
    EXPECT_THAT(r.out, HasSubstr(csv + ":" + std::to_string(line) + ":")) << line;
  }
  EXPECT_THAT(r.out, Not(HasSubstr(csv + ":2:")));
  EXPECT_THAT(r.out, HasSubstr("expected 4 fields"));
  EXPECT_THAT(r.out, HasSubstr("no kernel 'nosuch'"));
  EXPECT_THAT(r.out, HasSubstr("dense rowsum"));  // lists the kernels that exist
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(DatasetImportTest, WrongHeaderAndMissingFilesAreRejected) {
  const std::string csv = TempPath("header.csv");
  std::ofstream(csv) << "file,kernel,runtime\nmlp_block.hlo,dense,1\n";
  EXPECT_EQ(RunPerfgraph("dataset import --hlo " + kByo + " --runtimes " + csv + " --out " +
                         TempPath("h.pgd")).exit_code, 2);
  EXPECT_EQ(RunPerfgraph("dataset import --hlo /nonexistent --runtimes " + csv + " --out " +
                         TempPath("h.pgd")).exit_code, 2);
  EXPECT_EQ(RunPerfgraph("dataset import --hlo " + kByo + " --runtimes /nonexistent.csv --out " +
                         TempPath("h.pgd")).exit_code, 2);
}

}  // namespace
}  // namespace perfgraph::tools

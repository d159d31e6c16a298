// End-to-end tests of `perfgraph predict`: runs the real binary over a directory of real models (one
// of them broken), over a dataset file, in both output formats.
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/tools/cli_runner.h"
#include "tests/temp_dir.h"

namespace perfgraph::tools {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const std::string kSource = PERFGRAPH_SOURCE_DIR;
const std::string kTinyCnn = kSource + "/tests/testdata/cli/tiny_cnn_dynamic_batch.onnx";
const std::string kByo = kSource + "/tests/testdata/byo";
const std::string kCommon = " --cost-model analytical --input-shape input=1,3,16,16 ";

struct Output {
  int exit_code = -1;
  std::string out;  // stdout only
  std::string err;  // stderr
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A fresh directory per test (ctest may run this binary's tests concurrently).
fs::path TempDir(const std::string& name) {
  const fs::path dir = perfgraph::testing::ProcessTempDir() / "perfgraph_predict_test" /
                       ::testing::UnitTest::GetInstance()->current_test_info()->name() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Runs build/perfgraph with stdout and stderr captured separately (test::RunPerfgraph merges them).
Output RunCli(const std::string& args) {
  const std::string err_path = (TempDir("stderr") / "err.txt").string();
  const std::string command =
      std::string(PERFGRAPH_BINARY_DIR) + "/perfgraph " + args + " 2>" + err_path;
  Output result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = ReadFile(err_path);
  return result;
}

// Splits one CSV line (RFC 4180 quoting, no embedded line breaks).
std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

// CSV rows as column -> value maps.
std::vector<std::map<std::string, std::string>> ParseCsv(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::vector<std::map<std::string, std::string>> rows;
  if (!std::getline(in, line)) return rows;
  const std::vector<std::string> header = SplitCsv(line);
  while (std::getline(in, line)) {
    const std::vector<std::string> fields = SplitCsv(line);
    EXPECT_EQ(fields.size(), header.size()) << line;
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < fields.size(); ++i) row[header[i]] = fields[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

// A corpus directory: the tiny CNN, a copy of it in a sub-directory (found by the recursive walk),
// and a file that is not a model.
fs::path CorpusWithOneBadFile() {
  const fs::path dir = TempDir("corpus");
  fs::copy_file(kTinyCnn, dir / "tiny_cnn.onnx");
  fs::create_directories(dir / "more");
  fs::copy_file(kTinyCnn, dir / "more" / "tiny_cnn_copy.onnx");
  std::ofstream(dir / "broken.onnx") << "this is not a protobuf";
  return dir;
}

TEST(PredictTest, DirectoryWithOneBadFileContinuesAndExitsTwo) {
  const fs::path dir = CorpusWithOneBadFile();
  Output r = RunCli("predict --format csv" + kCommon + dir.string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("broken.onnx"));
  EXPECT_THAT(r.err, HasSubstr("1 files failed"));
  EXPECT_THAT(r.err, HasSubstr("not a valid ONNX model"));
  const auto rows = ParseCsv(r.out);
  std::map<std::string, int> kernels_per_file, programs_per_file;
  for (const auto& row : rows) {
    (row.at("row") == "kernel" ? kernels_per_file : programs_per_file)[row.at("file")]++;
  }
  EXPECT_EQ(kernels_per_file.size(), 2u);  // both good files, nothing from the broken one
  EXPECT_EQ(programs_per_file.size(), 2u);
  for (const auto& [file, count] : kernels_per_file) {
    EXPECT_THAT(file, ::testing::Not(HasSubstr("broken")));
    EXPECT_GE(count, 1) << file;
  }
}

// XLA proto dumps in a directory are found by their double extension (*.hlo.pb, *.hlo.pbtxt); a
// bare *.pb (ONNX test data keeps tensors so) is not taken for a model.
TEST(PredictTest, DirectoryWalkFindsXlaProtoDumpsButNotBarePbFiles) {
  const fs::path dir = TempDir("dumps");
  fs::copy_file(kSource + "/tests/testdata/hlo_proto/while_loop.pbtxt", dir / "while_loop.hlo.pbtxt");
  std::ofstream(dir / "input_0.pb") << "a tensor, not a model";
  Output r = RunCli("predict --format csv --cost-model analytical " + dir.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> files;
  for (const auto& row : ParseCsv(r.out)) files.insert(row.at("file"));
  ASSERT_EQ(files.size(), 1u) << r.out;
  EXPECT_THAT(*files.begin(), HasSubstr("while_loop.hlo.pbtxt"));
}

TEST(PredictTest, CsvRowsHaveBestConfigsAndProgramTotals) {
  Output r = RunCli("predict --format csv" + kCommon + kTinyCnn);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')),
            "row,file,program,variant,kernel,kernel_hash,fusion_kind,root_opcode,config,"
            "predicted_ns,measured_ns,measure_status,kernels,error,out_of_distribution,"
            "estimated_kernel_share,estimated_flop_share,missing,executions,executions_note");
  const auto rows = ParseCsv(r.out);
  ASSERT_GE(rows.size(), 2u);
  double sum = 0;
  int kernels = 0;
  for (const auto& row : rows) {
    if (row.at("row") != "kernel") continue;
    ++kernels;
    EXPECT_EQ(row.at("program"), "tiny_cnn_dynamic_batch");
    EXPECT_EQ(row.at("variant"), "default");
    EXPECT_THAT(row.at("config"), HasSubstr("tile="));  // quoted in the file: it has commas
    EXPECT_EQ(row.at("kernel_hash").size(), 16u);
    EXPECT_GT(std::stod(row.at("predicted_ns")), 0);
    EXPECT_EQ(row.at("measured_ns"), "");
    EXPECT_EQ(row.at("error"), "");
    sum += std::stod(row.at("predicted_ns"));
  }
  const auto& total = rows.back();
  ASSERT_EQ(total.at("row"), "program");
  EXPECT_EQ(std::stoi(total.at("kernels")), kernels);
  // Rows print ns with 3 decimals.
  EXPECT_NEAR(std::stod(total.at("predicted_ns")), sum, 1e-3 * kernels + 1e-9 * sum);
}

TEST(PredictTest, ProgramRowsReportCoverageAndTheKindsWithoutAnEstimate) {
  // A dot, an all-reduce (costed by the interconnect's alpha-beta model), an unknown custom-call
  // (no estimate: counted by kind) and a tuple (no kernel at all).
  const fs::path module = TempDir("coverage") / "step.hlo";
  {
    std::ofstream out(module);
    out << R"(HloModule step
sum {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT add = f32[] add(a, b)
}
ENTRY main {
  x = f32[64,64] parameter(0)
  w = f32[64,64] parameter(1)
  d = f32[64,64] dot(x, w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  ar = f32[64,64] all-reduce(d), replica_groups={{0,1,2,3}}, to_apply=sum
  c = f32[64,64] custom-call(ar), custom_call_target="MyVendorKernel"
  ROOT t = (f32[64,64], f32[64,64]) tuple(ar, c)
}
)";
  }
  for (const std::string model : {"analytical", "learned"}) {
    Output r = RunCli("predict --format csv --cost-model " + model + " " + module.string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto rows = ParseCsv(r.out);
    std::map<std::string, std::map<std::string, std::string>> by_root;
    for (const auto& row : rows) {
      if (row.at("row") == "kernel") by_root[row.at("root_opcode")] = row;
    }
    ASSERT_EQ(by_root.size(), 3u) << r.out;  // dot, all-reduce, custom-call; no tuple kernel
    EXPECT_GT(std::stod(by_root["all-reduce"].at("predicted_ns")), 0) << model;
    if (model == "learned") {  // it defers to the alpha-beta formula, and says so
      EXPECT_THAT(by_root["all-reduce"].at("out_of_distribution"), HasSubstr("alpha-beta"));
    }
    EXPECT_EQ(by_root["custom-call"].at("predicted_ns"), "") << model;
    EXPECT_THAT(by_root["custom-call"].at("error"), HasSubstr("MyVendorKernel")) << model;
    const auto& total = rows.back();
    ASSERT_EQ(total.at("row"), "program");
    EXPECT_NEAR(std::stod(total.at("estimated_kernel_share")), 2.0 / 3, 1e-3) << model;
    EXPECT_EQ(std::stod(total.at("estimated_flop_share")), 1.0) << model;  // the dot's FLOPs
    EXPECT_EQ(total.at("missing"), "1 kCustom custom-call") << model;
    EXPECT_THAT(r.err, HasSubstr("2 of 3 kernels estimated")) << model;
  }
}

TEST(PredictTest, LoopBodiesCountTheirTripCountAndUnknownOnesAreFlagged) {
  const std::string module = kSource + "/tests/testdata/hlo/loops.hlo";
  Output r = RunCli("predict --format jsonl --cost-model analytical " + module);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  double weighted = 0;
  std::map<std::string, double> branch_ns;  // the conditional's branches: only the costliest counts
  std::map<std::string, nlohmann::json> by_root;
  nlohmann::json program;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j["row"] == "program") {
      program = j;
      continue;
    }
    // "<computation>:<root opcode>", the entry's computation being "".
    const std::string name = j["kernel"].get<std::string>();
    const size_t slash = name.find('/');
    by_root[(slash == std::string::npos ? "" : name.substr(0, slash)) + ":" +
            j["root_opcode"].get<std::string>()] = j;
    const double ns = j["predicted_ns"].get<double>() *
                      (j["executions"].is_null() ? 1.0 : j["executions"].get<double>());
    if (slash != std::string::npos && (name.substr(0, slash) == "then" ||
                                       name.substr(0, slash) == "else")) {
      branch_ns[name.substr(0, slash)] += ns;
    } else {
      weighted += ns;
    }
  }
  ASSERT_EQ(branch_ns.size(), 2u) << r.out;
  weighted += std::max(branch_ns["then"], branch_ns["else"]);
  ASSERT_EQ(by_root.count("body:sine"), 1u) << r.out;
  EXPECT_EQ(by_root[":exponential"]["executions"], 1);
  EXPECT_EQ(by_root["body:sine"]["executions"], 4);    // 0 to 12 step 3
  EXPECT_EQ(by_root["cond:compare"]["executions"], 5);  // the condition: trips + 1
  EXPECT_EQ(by_root["then:log"]["executions"], 4);      // a branch, once per iteration
  EXPECT_TRUE(by_root["body2:cosine"]["executions"].is_null());  // bound from a parameter
  EXPECT_THAT(by_root["body2:cosine"]["executions_note"].get<std::string>(), HasSubstr("'w2'"));
  EXPECT_NEAR(program["predicted_ns"].get<double>(), weighted, 1e-3 * by_root.size() + 1e-9 * weighted);
  EXPECT_THAT(program["executions_note"].get<std::string>(), HasSubstr("per iteration"));
  EXPECT_THAT(program["executions_note"].get<std::string>(), HasSubstr("costliest branch"));
}

TEST(PredictTest, JsonlHasOneObjectPerRowAndMatchesCsv) {
  Output jsonl = RunCli("predict --format jsonl" + kCommon + kTinyCnn);
  Output csv = RunCli("predict --format csv" + kCommon + kTinyCnn);
  ASSERT_EQ(jsonl.exit_code, 0) << jsonl.err;
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  const auto rows = ParseCsv(csv.out);
  std::istringstream in(jsonl.out);
  std::string line;
  size_t i = 0;
  for (; std::getline(in, line); ++i) {
    const nlohmann::json j = nlohmann::json::parse(line);
    ASSERT_LT(i, rows.size());
    EXPECT_EQ(j["row"], rows[i].at("row"));
    EXPECT_EQ(j["program"], "tiny_cnn_dynamic_batch");
    EXPECT_TRUE(j.contains("measured_ns"));
    EXPECT_TRUE(j["measured_ns"].is_null());
    EXPECT_NEAR(j["predicted_ns"].get<double>(), std::stod(rows[i].at("predicted_ns")), 1e-3);
    if (j["row"] == "kernel") {
      EXPECT_EQ(j["config"], rows[i].at("config"));
      EXPECT_TRUE(j["error"].is_null());
    } else {
      EXPECT_GE(j["kernels"].get<int>(), 1);
    }
  }
  EXPECT_EQ(i, rows.size());
}

TEST(PredictTest, ResultsDoNotDependOnTheNumberOfThreads) {
  const fs::path dir = CorpusWithOneBadFile();
  Output one = RunCli("predict --threads 1" + kCommon + dir.string());
  Output two = RunCli("predict --threads 2" + kCommon + dir.string());
  EXPECT_EQ(one.exit_code, 2);
  EXPECT_EQ(two.exit_code, 2);
  EXPECT_EQ(one.out, two.out);
}

TEST(PredictTest, DatasetRecordsArePredictedAtTheirRecordedConfigNextToTheLabel) {
  const fs::path dir = TempDir("dataset");
  const std::string dataset = (dir / "byo.pgd").string();
  test::CliResult imported = test::RunPerfgraph("dataset import --hlo " + kByo + " --runtimes " +
                                                kByo + "/runtimes.csv --out " + dataset);
  ASSERT_EQ(imported.exit_code, 0) << imported.out;
  Output r = RunCli("predict --format jsonl --cost-model analytical " + dataset);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The worked example holds 9 records: mlp_block has 3 configs of "dense" (tile task) and the 2
  // other kernels at their default config (fusion task, variant 0); conv_block has 3 configs of "c"
  // (tile) and "p" (fusion). Program rows sum the same kernels as the kernel rows, per variant.
  std::istringstream in(r.out);
  std::string line;
  std::map<std::string, int> records;          // by program/variant
  std::map<std::string, double> measured_sum;  // by program/variant
  int programs = 0;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_EQ(j["file"], dataset);
    EXPECT_THAT(j["program"].get<std::string>(), ::testing::AnyOf("mlp_block", "conv_block"));
    const std::string variant = j["variant"].get<std::string>();
    EXPECT_THAT(variant, ::testing::AnyOf("tile", "fusion#0"));
    const std::string key = j["program"].get<std::string>() + "/" + variant;
    if (j["row"] == "kernel") {
      ++records[key];
      EXPECT_EQ(j["measure_status"], "ok");
      EXPECT_GT(j["predicted_ns"].get<double>(), 0);
      EXPECT_GT(j["measured_ns"].get<double>(), 0);
      EXPECT_THAT(j["config"].get<std::string>(), HasSubstr("tile="));
      measured_sum[key] += j["measured_ns"].get<double>();
    } else {
      ++programs;
      EXPECT_EQ(j["kernels"].get<int>(), records[key]);
      EXPECT_NEAR(j["measured_ns"].get<double>(), measured_sum[key], 1e-6 * measured_sum[key]);
    }
  }
  EXPECT_EQ(records["mlp_block/tile"], 3);
  EXPECT_EQ(records["mlp_block/fusion#0"], 2);
  EXPECT_EQ(records["conv_block/tile"], 3);
  EXPECT_EQ(records["conv_block/fusion#0"], 1);
  EXPECT_EQ(programs, 4);  // two programs x (tile, fusion#0)
}

TEST(PredictTest, BadUsageIsExitTwoWithAMessage) {
  Output format = RunCli("predict --format xml" + kCommon + kTinyCnn);
  EXPECT_EQ(format.exit_code, 2);
  EXPECT_THAT(format.err, HasSubstr("--format must be csv or jsonl"));
  Output learned = RunCli("predict --model /nonexistent/model_dir " + kTinyCnn);
  EXPECT_EQ(learned.exit_code, 2);
  EXPECT_THAT(learned.err, HasSubstr("no learned model in /nonexistent/model_dir"));
  Output missing = RunCli("predict" + kCommon + "/nonexistent/dir");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("/nonexistent/dir"));
  Output nothing = RunCli("predict" + kCommon);
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_TRUE(nothing.out.empty());
}

}  // namespace
}  // namespace perfgraph::tools

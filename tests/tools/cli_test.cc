// The command line as a whole: per-subcommand flags and help, the three executables (`perfgraph`
// without LibTorch or Halide, perfgraph-measure, perfgraph-train) and the shipped files found from
// any working directory. Runs the real binaries.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/tools/cli_runner.h"

namespace perfgraph::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using test::CliResult;
using test::RunPerfgraph;
using test::RunShell;

const std::string kBinary = std::string(PERFGRAPH_BINARY_DIR) + "/perfgraph";
const std::string kTinyCnn =
    std::string(PERFGRAPH_SOURCE_DIR) + "/tests/testdata/cli/tiny_cnn_dynamic_batch.onnx";
const std::string kShape = " --input-shape input=1,3,16,16 ";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

struct HelpCase {
  std::string subcommand;
  std::vector<std::string> flags;  // some flags its help must list
};

TEST(CliTest, EverySubcommandPrintsItsOwnHelp) {
  const std::vector<HelpCase> cases = {
      {"inspect", {"--json", "--input-shape", "--dim", "--allow-unsupported"}},
      {"measure", {"--corpus", "--out", "--configs-per-kernel", "--require-idle", "--shard"}},
      {"dataset stats", {"--json"}},
      {"dataset repeat", {"--sample", "--kernels", "--min-rounds"}},
      {"dataset merge", {"--out", "--allow-mixed-machines"}},
      {"dataset import", {"--hlo", "--runtimes", "--machine"}},
      {"calibrate", {"--out", "--measure-ms", "--calibration-passes", "--tolerance", "--compare-to",
                     "--force"}},
      {"train", {"--dataset", "--epochs", "--model-kind", "--xgb-rounds"}},
      {"eval", {"--dataset", "--model", "--xgboost-model", "--explain", "--split-part", "--guard-sweep"}},
      {"plan", {"--cost-model", "--fusion", "--measure", "--threads", "--min-predicted-gain"}},
      {"predict", {"--format", "--cost-model", "--fusion"}},
      {"compare", {"--schedulers", "--repeats"}},
  };
  for (const HelpCase& c : cases) {
    SCOPED_TRACE(c.subcommand);
    CliResult help = RunPerfgraph(c.subcommand + " --help");
    ASSERT_EQ(help.exit_code, 0) << help.out;
    EXPECT_THAT(help.out, StartsWith("usage: perfgraph " + c.subcommand + " "));
    for (const std::string& flag : c.flags) EXPECT_THAT(help.out, HasSubstr(flag + " ")) << flag;
    EXPECT_THAT(help.out, HasSubstr("--data-dir"));
    // Every flag line carries its default and help text from the flag registry.
    EXPECT_THAT(help.out, HasSubstr("(default: "));
    // `perfgraph help SUB` prints the same.
    CliResult again = RunPerfgraph("help " + c.subcommand);
    EXPECT_EQ(again.exit_code, 0);
    EXPECT_EQ(again.out, help.out);
  }
  // A subcommand's help lists only its own flags.
  CliResult inspect = RunPerfgraph("inspect --help");
  EXPECT_THAT(inspect.out, Not(HasSubstr("--epochs")));
  EXPECT_THAT(inspect.out, Not(HasSubstr("--cost-model")));
}

TEST(CliTest, FlagOfAnotherSubcommandIsAUsageErrorNamingIt) {
  CliResult r = RunPerfgraph("inspect --epochs 3 " + kTinyCnn);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("'--epochs' is not a flag of 'perfgraph inspect'"));

  // Rejected by the helper executable too (train runs in perfgraph-train).
  r = RunPerfgraph("train --cost-model analytical --dataset x.pgd --out /tmp/x");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("'--cost-model' is not a flag of 'perfgraph train'"));

  // Import flags belong to the subcommands that import models.
  r = RunPerfgraph("dataset stats --dim batch=1 x.pgd");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("'--dim' is not a flag of 'perfgraph dataset stats'"));

  // Unknown flags and subcommands stay usage errors.
  r = RunPerfgraph("plan --no-such-flag " + kTinyCnn);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("unknown flag '--no-such-flag'"));
  r = RunPerfgraph("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("unknown subcommand 'frobnicate'"));
  r = RunPerfgraph("dataset frobnicate x.pgd");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("unknown subcommand 'dataset frobnicate'"));
}

// The shared libraries an executable loads (ldd), or "" when ldd is not available.
std::string SharedLibraries(const std::string& binary) {
  CliResult r = RunShell("ldd " + binary);
  return r.exit_code == 0 ? r.out : "";
}

TEST(CliTest, OnlyTheHelpersLinkLibTorchOrHalide) {
  const std::string light = SharedLibraries(kBinary);
  if (light.empty()) GTEST_SKIP() << "ldd is not available";
  EXPECT_THAT(light, Not(HasSubstr("libtorch")));
  EXPECT_THAT(light, Not(HasSubstr("libHalide")));
  EXPECT_THAT(light, Not(HasSubstr("libLLVM")));
  const std::string measure = SharedLibraries(kBinary + "-measure");
  EXPECT_THAT(measure, HasSubstr("libHalide"));
  EXPECT_THAT(measure, Not(HasSubstr("libtorch")));
  const std::string train = SharedLibraries(kBinary + "-train");
  EXPECT_THAT(train, HasSubstr("libtorch"));
  EXPECT_THAT(train, Not(HasSubstr("libHalide")));
}

TEST(CliTest, CalibrateRefusesToWriteConstantsThatDisagreeWithAnEarlierRun) {
  const std::string dir = ::testing::TempDir() + "/cli_calibrate";
  std::filesystem::create_directories(dir);
  const std::string first = dir + "/first.textproto", second = dir + "/second.textproto";
  std::filesystem::remove(second);
  // A short calibration (one pass, so nothing to disagree with); every constant is reported.
  CliResult r = RunPerfgraph("calibrate --out " + first +
                             " --measure-ms 20 --calibration-passes 1 --threads 2 --force");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("parallel_scaling"));
  EXPECT_THAT(r.out, HasSubstr("DRAM bandwidth_1t"));
  // The earlier run claims a 10x higher one-thread peak: the new run must not be written.
  std::string text = ReadFile(first);
  const size_t at = text.find("peak_flops_1t: ");
  ASSERT_NE(at, std::string::npos);
  text.insert(at + std::string("peak_flops_1t: ").size(), "9");  // one more leading digit: >= 10x
  WriteFile(first, text);
  r = RunPerfgraph("calibrate --out " + second + " --compare-to " + first +
                   " --measure-ms 20 --calibration-passes 1 --threads 2");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("peak_flops_1t"));
  EXPECT_THAT(r.out, HasSubstr("not writing " + second));
  EXPECT_FALSE(std::filesystem::exists(second));
}

TEST(CliTest, HelpersRunTheirSubcommandsAndPerfgraphsOwn) {
  // `perfgraph calibrate` runs in perfgraph-measure: its own usage error comes back.
  CliResult r = RunPerfgraph("calibrate");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("perfgraph calibrate: "));
  EXPECT_THAT(r.out, HasSubstr("--out"));
  // Each helper also runs the subcommands of `perfgraph` itself.
  for (const char* helper : {"-measure", "-train"}) {
    r = RunShell(kBinary + helper + " inspect --json" + kShape + kTinyCnn);
    EXPECT_EQ(r.exit_code, 0) << helper << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr("\"kernels\""));
  }
}

TEST(CliTest, ShippedModelsAreFoundFromAnyWorkingDirectory) {
  const std::string other = std::filesystem::temp_directory_path().string();
  CliResult r = RunShell("cd " + other + " && " + kBinary + " plan --json --cost-model learned" +
                         kShape + kTinyCnn);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const size_t start = r.out.find("{\n");
  ASSERT_NE(start, std::string::npos) << r.out;
  const nlohmann::json plan = nlohmann::json::parse(r.out.substr(start));
  EXPECT_EQ(plan["cost_model"], "learned");
  EXPECT_EQ(plan["kernels_without_estimate"], 0);

  // The analytical model's target description is a shipped file too.
  r = RunShell("cd " + other + " && " + kBinary + " plan --json --cost-model analytical" + kShape +
               kTinyCnn);
  EXPECT_EQ(r.exit_code, 0) << r.out;

  // An explicit data directory is taken as given: a wrong one fails, naming what is missing.
  r = RunShell("PERFGRAPH_DATA_DIR=/nonexistent/perfgraph " + kBinary +
               " plan --cost-model learned" + kShape + kTinyCnn);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("/nonexistent/perfgraph/models/default"));
  r = RunPerfgraph("plan --cost-model analytical --data-dir /nonexistent/data" + kShape + kTinyCnn);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("/nonexistent/data/cost/targets/reference_cpu.textproto"));
  // The flag wins over the environment variable.
  r = RunShell("PERFGRAPH_DATA_DIR=/nonexistent/perfgraph " + kBinary + " plan --data-dir " +
               std::string(PERFGRAPH_SOURCE_DIR) + " --cost-model learned" + kShape + kTinyCnn);
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

}  // namespace
}  // namespace perfgraph::tools

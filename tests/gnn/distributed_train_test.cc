// `perfgraph train --distributed`: two real processes on 127.0.0.1 (c10d / Gloo) against one process
// with the same global batch and seed, a rank killed with SIGKILL mid-run, a rendezvous nobody
// joins, ranks given different data, and --resume across ranks. Synthetic labels (the machinery is
// under test, not the data), written as a real record file.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gnn/checkpoint.h"
#include "gnn/model.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/gnn/gnn_test_util.h"
#include "tests/status_matchers.h"
#include "tests/tools/cli_runner.h"

namespace perfgraph::gnn {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using tools::test::CliResult;
using tools::test::RunShell;

// Parameters of the two runs may differ by the order of floating-point sums (the all-reduce adds
// the ranks' gradients, one process adds the kernels' terms in one batch): a few ulps per step that
// Adam carries along. The largest difference measured over 4 epochs here was below 1e-5.
constexpr double kWeightTolerance = 1e-4;

const std::string kBinary = std::string(PERFGRAPH_BINARY_DIR) + "/perfgraph";

// A TCP port that was free a moment ago on 127.0.0.1 (the kernel's choice for port 0).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return 29500 + static_cast<int>(getpid() % 1000);
  }
  const int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

class DistributedTrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("perfgraph_distributed_test_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    // Tile kernels (some with a TIMEOUT config: ranking pairs) and fusion kernels of 4 programs.
    std::vector<KernelExample> examples;
    const std::vector<graph::Kernel> kernels = test::SmallKernels();
    for (int copy = 0; copy < 3; ++copy) {
      for (size_t i = 0; i < kernels.size(); ++i) {
        const std::string program = "prog" + std::to_string((i + copy) % 4);
        examples.push_back(test::MakeExample(kernels[i], program, 6 + copy, Task::kTile,
                                             /*with_timeout=*/(i + copy) % 2 == 0));
        examples.push_back(test::MakeExample(kernels[i], program, 1, Task::kFusion));
      }
    }
    ASSERT_OK(test::WriteDataset(dir_ + "/synthetic.pgd", examples));
    std::ofstream(dir_ + "/split.txt") << "train prog0\ntrain prog1\ntrain prog2\nvalidation prog3\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The train command line; batch 7 over 2 ranks gives them unequal shares.
  std::string TrainArgs(const std::string& out, int epochs, const std::string& extra = "") const {
    return kBinary + " train --dataset " + dir_ + "/synthetic.pgd --split " + dir_ +
           "/split.txt --out " + out + " --epochs " + std::to_string(epochs) +
           " --hidden 16 --seed 5 --threads 1 --batch-kernels 7 " + extra;
  }
  static std::string Env(int rank, int world, int port) {
    return "RANK=" + std::to_string(rank) + " WORLD_SIZE=" + std::to_string(world) +
           " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " ";
  }
  // Runs rank 1 in the background and rank 0 in the foreground; prints both exit codes last.
  CliResult RunTwoRanks(const std::string& rank0_args, const std::string& rank1_args) const {
    const int port = FreePort();
    return RunShell("(" + Env(1, 2, port) + rank1_args + " > " + dir_ + "/rank1.log 2>&1 & p1=$!; " +
                    Env(0, 2, port) + rank0_args + "; r0=$?; wait $p1; r1=$?; cat " + dir_ +
                    "/rank1.log; echo \"exit codes $r0 $r1\")");
  }

  std::string dir_;
};

// Max |a - b| over all parameters of two model files.
double MaxWeightDifference(const std::string& a_path, const std::string& b_path) {
  absl::StatusOr<std::shared_ptr<ModelImpl>> a = LoadModelFile(a_path);
  absl::StatusOr<std::shared_ptr<ModelImpl>> b = LoadModelFile(b_path);
  EXPECT_TRUE(a.ok() && b.ok()) << a_path << " " << b_path;
  if (!a.ok() || !b.ok()) return INFINITY;
  const auto pa = (*a)->parameters();
  const auto pb = (*b)->parameters();
  EXPECT_EQ(pa.size(), pb.size());
  double max_diff = 0;
  for (size_t i = 0; i < std::min(pa.size(), pb.size()); ++i) {
    max_diff = std::max(max_diff, (pa[i] - pb[i]).abs().max().item<double>());
  }
  return max_diff;
}

TEST_F(DistributedTrainTest, TwoProcessesTrainTheSameWeightsAsOneAndResumeTogether) {
  const std::string single = dir_ + "/single";
  CliResult one = RunShell(TrainArgs(single, 6));
  ASSERT_EQ(one.exit_code, 0) << one.out;

  // Two ranks, stopped after 4 of 6 epochs, then resumed together; rank 1 is given a directory
  // that does not exist: it reads and writes nothing, rank 0 sends it the state.
  const std::string two = dir_ + "/two";
  CliResult r = RunTwoRanks(TrainArgs(two, 6, "--distributed --max-epochs-this-run 4"),
                            TrainArgs(dir_ + "/elsewhere", 6, "--distributed --max-epochs-this-run 4"));
  ASSERT_THAT(r.out, HasSubstr("exit codes 0 0")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rank 1 of 2 done (4 epochs)"));
  EXPECT_THAT(r.out, HasSubstr("epoch 4/6"));  // rank 0's progress
  r = RunTwoRanks(TrainArgs(two, 6, "--distributed --resume"),
                  TrainArgs(dir_ + "/elsewhere", 6, "--distributed --resume"));
  ASSERT_THAT(r.out, HasSubstr("exit codes 0 0")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("epoch 6/6"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/elsewhere"));

  // Same weights, same loss curve, same files from rank 0 as the uninterrupted single process.
  const double diff = MaxWeightDifference(single + "/last.pgm", two + "/last.pgm");
  EXPECT_LT(diff, kWeightTolerance);
  RecordProperty("max_weight_difference", std::to_string(diff));
  const nlohmann::json a = nlohmann::json::parse(test::ReadText(single + "/train_state.json"));
  const nlohmann::json b = nlohmann::json::parse(test::ReadText(two + "/train_state.json"));
  ASSERT_EQ(a["history"].size(), 6u);
  ASSERT_EQ(b["history"].size(), 6u);
  for (size_t e = 0; e < 6; ++e) {
    const double loss = a["history"][e]["train_loss"].get<double>();
    EXPECT_NEAR(loss, b["history"][e]["train_loss"].get<double>(), 1e-4 * std::abs(loss))
        << "epoch " << e + 1;
  }
  EXPECT_EQ(a["best_epoch"], b["best_epoch"]);
  for (const char* file : {"model.pgm", "model.json", "metrics.json", "split.txt", "weights.pgw",
                           "command.txt"}) {
    EXPECT_TRUE(std::filesystem::exists(two + "/" + file)) << file;
  }
}

TEST_F(DistributedTrainTest, AKilledRankMakesTheOtherFailWithAClearError) {
  const std::string out = dir_ + "/killed";
  const int port = FreePort();
  // Rank 1 is killed (SIGKILL) once rank 0 has checkpointed its first epoch; rank 0 must then
  // fail on its next collective instead of waiting for the 10-minute timeout.
  const std::string script =
      "(" + Env(1, 2, port) + TrainArgs(out, 100000, "--distributed") + " > " + dir_ +
      "/rank1.log 2>&1 & p1=$!; "
      "(i=0; while [ ! -e " + out + "/train_state.json ] && [ $i -lt 3000 ]; do sleep 0.1; "
      "i=$((i+1)); done; kill -9 $p1) > /dev/null 2>&1 & "
      "start=$(date +%s); " + Env(0, 2, port) +
      TrainArgs(out, 100000, "--distributed --distributed-timeout-s 600") +
      "; r0=$?; echo \"rank 0 exit $r0 after $(( $(date +%s) - start )) s\")";
  CliResult r = RunShell(script);
  EXPECT_THAT(r.out, ::testing::ContainsRegex("rank 0 exit [1-9]")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rank 0 of 2"));
  EXPECT_THAT(r.out, HasSubstr("another rank"));
  // The checkpoint of the finished epochs survives for --resume.
  EXPECT_TRUE(std::filesystem::exists(out + "/train_state.json"));
}

// The reliability issue's crash case on one process: `perfgraph train` killed with SIGKILL in the
// middle of a run (after its second checkpoint, while later epochs run) resumes with --resume to
// the same weights and loss curve as a run nobody interrupted.
TEST_F(DistributedTrainTest, ASingleProcessKilledMidRunResumesToTheUninterruptedResult) {
  constexpr int kEpochs = 12;
  const std::string whole = dir_ + "/whole";
  CliResult one = RunShell(TrainArgs(whole, kEpochs));
  ASSERT_EQ(one.exit_code, 0) << one.out;

  // Start the run, wait (on the condition, however long it takes) until two epochs are
  // checkpointed, then SIGKILL it: the kill lands inside epoch 3 or later, never between runs.
  const std::string killed = dir_ + "/killed";
  const std::string script =
      "(" + TrainArgs(killed, kEpochs) + " > " + dir_ + "/killed.log 2>&1 & p=$!; "
      "while kill -0 $p 2> /dev/null && [ \"$(cat " + killed +
      "/train_state.json 2> /dev/null | grep -c '\"train_loss\"')\" -lt 2 ]; do sleep 0.01; done; "
      "kill -9 $p 2> /dev/null && echo killed; wait $p; echo \"exit $?\")";
  CliResult r = RunShell(script);
  ASSERT_THAT(r.out, HasSubstr("killed")) << "the run ended before it could be killed: " << r.out;
  EXPECT_THAT(r.out, HasSubstr("exit 137")) << r.out;  // 128 + SIGKILL
  const nlohmann::json partial =
      nlohmann::json::parse(test::ReadText(killed + "/train_state.json"));
  ASSERT_GE(partial["history"].size(), 2u);
  ASSERT_LT(partial["history"].size(), static_cast<size_t>(kEpochs));
  RecordProperty("epochs_before_kill", static_cast<int>(partial["history"].size()));

  CliResult resumed = RunShell(TrainArgs(killed, kEpochs, "--resume"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  EXPECT_EQ(MaxWeightDifference(whole + "/last.pgm", killed + "/last.pgm"), 0.0);
  const nlohmann::json a = nlohmann::json::parse(test::ReadText(whole + "/train_state.json"));
  const nlohmann::json b = nlohmann::json::parse(test::ReadText(killed + "/train_state.json"));
  ASSERT_EQ(a["history"].size(), static_cast<size_t>(kEpochs));
  ASSERT_EQ(b["history"].size(), static_cast<size_t>(kEpochs));
  for (int e = 0; e < kEpochs; ++e) {
    EXPECT_EQ(a["history"][e]["train_loss"], b["history"][e]["train_loss"]) << "epoch " << e + 1;
  }
  EXPECT_EQ(a["best_epoch"], b["best_epoch"]);
  // The epoch-numbered checkpoint files are gone once a run ends (last.pgm and train_state.pt
  // hold the final epoch).
  for (const std::string& d : {whole, killed}) {
    for (const auto& entry : std::filesystem::directory_iterator(d)) {
      EXPECT_THAT(entry.path().filename().string(), Not(HasSubstr("checkpoint_"))) << d;
    }
  }
}

TEST_F(DistributedTrainTest, ARendezvousNobodyJoinsTimesOut) {
  CliResult r = RunShell(Env(0, 2, FreePort()) +
                         TrainArgs(dir_ + "/alone", 2, "--distributed --distributed-timeout-s 3"));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("rank 0 of 2"));
  EXPECT_THAT(r.out, HasSubstr("rendezvous"));
}

TEST_F(DistributedTrainTest, RanksWithOtherOptionsOrEnvironmentAreRejected) {
  // Other options on rank 1 (another seed): both ranks stop with the reason.
  CliResult r = RunTwoRanks(TrainArgs(dir_ + "/m", 2, "--distributed"),
                            TrainArgs(dir_ + "/m", 2, "--distributed --seed 6"));
  EXPECT_THAT(r.out, HasSubstr("exit codes 2 2")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("other options or other training data than rank 0"));
  // Usage errors: no environment, a rank outside the world.
  r = RunShell("env -u RANK -u WORLD_SIZE " + TrainArgs(dir_ + "/m", 2, "--distributed"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("WORLD_SIZE"));
  r = RunShell("RANK=2 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29999 " +
               TrainArgs(dir_ + "/m", 2, "--distributed"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("RANK='2'"));
  r = RunShell(TrainArgs(dir_ + "/m", 2, "--distributed-timeout-s 0"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
}

}  // namespace
}  // namespace perfgraph::gnn

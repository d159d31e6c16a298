// target::SetJitThreads: how many threads a parallel loop of a JIT pipeline really runs on, which is
// why calibrate times its thread counts in ascending order (cost/calibrate.cc, RunRounds).
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "Halide.h"
#include "gtest/gtest.h"
#include "target/halide_cpu_target.h"
#include "tests/status_matchers.h"

namespace {

std::mutex* seen_mu = new std::mutex();
std::set<std::thread::id>* seen = new std::set<std::thread::id>();

// Called from the JIT pipeline for every element: records the calling thread and stays busy long
// enough that idle workers pick up the other tasks.
int RecordThread(int x) {
  {
    std::lock_guard<std::mutex> lock(*seen_mu);
    seen->insert(std::this_thread::get_id());
  }
  std::this_thread::sleep_for(std::chrono::microseconds(200));
  return x;
}

}  // namespace

namespace perfgraph::target {
namespace {

using perfgraph::testing::IsOk;

// Distinct threads that ran the 64 tasks of one parallel loop at `threads` threads.
size_t ThreadsUsed(Halide::Pipeline& f, int threads) {
  EXPECT_THAT(SetJitThreads(threads), IsOk());
  {
    std::lock_guard<std::mutex> lock(*seen_mu);
    seen->clear();
  }
  Halide::Buffer<int> out(64);
  f.realize(out);
  std::lock_guard<std::mutex> lock(*seen_mu);
  return seen->size();
}

TEST(JitThreadsTest, RaisingTheCountWorksAndLoweringItAfterAParallelRunDoesNot) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "needs two logical cores";
  Halide::Var x("x");
  Halide::Func record("record");
  record(x) = Halide::Internal::Call::make(Halide::Int(32), "perfgraph_test_record_thread", {x},
                                           Halide::Internal::Call::Extern);
  record.parallel(x);
  Halide::Pipeline f(record);
  // The extern lives in this binary, which does not export its symbols to the JIT linker.
  f.set_jit_externs({{"perfgraph_test_record_thread", Halide::JITExtern(RecordThread)}});
  f.compile_jit();
  // A fresh process: one thread means one.
  EXPECT_EQ(ThreadsUsed(f, 1), 1u);
  EXPECT_EQ(ThreadsUsed(f, 2), 2u);
  // Halide 14 keeps the started worker: "1 thread" now runs on two. Calibrate therefore runs all
  // of its 1-thread probes before any all-thread one.
  EXPECT_EQ(ThreadsUsed(f, 1), 2u);
}

}  // namespace
}  // namespace perfgraph::target

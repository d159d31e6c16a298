// Protocol v2 in child processes: a kernel whose JIT code crashes (SIGSEGV, SIGILL, an abort inside
// Halide's runtime) or hangs must not take a run of hours down with it, as Halide's autotuning
// benchmarks and AutoTVM's RPC runners isolate what they execute.
//
// IsolatedMeasurer forks a child process that creates its own HalideCpuTarget (pinned to fixed CPUs),
// compiles the drift canary (target::CanaryKernel) and then measures groups one after another with
// MeasureKernelInterleaved, streaming one result per group back through a pipe. The child announces
// every compile, warm-up and round run of a config before doing it, so when it dies the parent knows
// the config in flight:
//  * killed by a signal: that config becomes INVALID ("crashed with SIGSEGV while running ..."),
//  * silent for longer than hang_timeout: the child is killed, the config becomes TIMEOUT with the
//    lower bound hang_timeout (while running) or INVALID (while compiling),
// and a new child resumes at the same group without that config. Groups finished before the crash
// are kept. A child is replaced after `groups_per_child` groups, which bounds the memory JIT
// compilation leaks.
//
// The parent must be single-threaded when Run() is called (it forks) and must not have used Halide
// itself: the children's JIT state starts fresh from the parent's memory.
#ifndef PERFGRAPH_TARGET_ISOLATED_MEASUREMENT_H_
#define PERFGRAPH_TARGET_ISOLATED_MEASUREMENT_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "graph/ir.h"
#include "target/measurement.h"
#include "tiling/tile_config.h"

namespace perfgraph::target {

// One unit of isolated work: every config of one kernel, measured together (interleaved).
struct MeasureGroup {
  const graph::Kernel* kernel = nullptr;  // must outlive Run()
  std::vector<tiling::TileConfig> configs;
};

struct IsolationOptions {
  // Threads of the children's Halide thread pool, >= 1; with pin_threads the child is restricted to
  // the first num_threads CPUs it may use (target/machine_load.h PinToCpus).
  int num_threads = 1;
  bool pin_threads = true;
  // Seed of the input data (HalideCpuTargetOptions::seed).
  uint64_t seed = 0;
  // HalideCpuTargetOptions::timing_build of the children's target (no asserts, no bounds query).
  bool timing_build = true;
  // A child that announces nothing for this long is killed (a hang).
  absl::Duration hang_timeout = absl::Seconds(120);
  // Groups a child measures before it exits and a fresh one takes over, >= 1.
  int groups_per_child = 50;
  // Tests only: called in the CHILD before every announced step of group `group` (config -1 = the
  // canary), to inject a crash or a hang. Empty in production.
  std::function<void(int group, int config, ProtocolPhase phase)> child_hook;
  // Polled by the parent about five times a second and after every group; true stops the run: the
  // child is killed and Run returns the groups finished so far (Ctrl-C, a time budget).
  std::function<bool()> should_stop;
};

struct GroupResult {
  KernelMeasurement measurement;  // one ConfigMeasurement per config of the group, same order
  // CPU used by other processes while the group ran, in cores (target/machine_load.h); -1 when
  // /proc was unreadable.
  double other_load_cores = -1;
  double load_average = -1;       // 1-minute load average when the group started
  int child_deaths = 0;           // children that crashed or hung on this group
};

// What the caller wants done with a finished group (the on_done callback of Run).
enum class GroupVerdict {
  kKeep,   // go on with the next group
  kRetry,  // drop this result and measure the group again in a fresh child (e.g. the machine was busy)
  kStop,   // stop the run (the child is killed)
};

class IsolatedMeasurer {
 public:
  IsolatedMeasurer(const InterleavedOptions& protocol, const IsolationOptions& isolation)
      : protocol_(protocol), isolation_(isolation) {}

  // Measures groups[0..] in order and calls on_done(i, result) in the parent as each finishes, in
  // order (see GroupVerdict). Returns how many groups finished (were kept). Errors: kInvalidArgument for bad options or a group without kernel; kInternal when no
  // child can be started (fork/pipe) or a group keeps killing its child outside any config
  // (e.g. in the canary) three times; kAborted never (should_stop returns normally).
  absl::StatusOr<int> Run(absl::Span<const MeasureGroup> groups,
                          const std::function<GroupVerdict(int group, GroupResult result)>& on_done);

  // The drift canary's baseline (ns): the median canary of the first finished group of this
  // measurer, then handed to every later child; 0 before.
  double canary_baseline_ns() const { return canary_baseline_ns_; }
  void set_canary_baseline_ns(double ns) { canary_baseline_ns_ = ns; }

 private:
  InterleavedOptions protocol_;
  IsolationOptions isolation_;
  double canary_baseline_ns_ = 0;
};

}  // namespace perfgraph::target

#endif  // PERFGRAPH_TARGET_ISOLATED_MEASUREMENT_H_

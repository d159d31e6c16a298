// The measurement protocol that produces perfgraph's labels (issue "Real runtimes"):
//
//  1. compile once (the compile time is recorded separately from run times);
//  2. warm up (untimed runs: page faults, caches, thread-pool start-up);
//  3. repeat timed runs until the best three samples agree within `agreement` (2 %) or `max_runs` is
//     reached; at least `min_runs`. The label is the minimum sample; every sample is kept;
//  4. a configuration whose first sample is slower than `timeout_factor` (10x) times the kernel's
//     best label so far, or whose runs exceed the wall-clock cap, is stopped and recorded as TIMEOUT
//     (with the samples taken so far); a compile or run failure is recorded as INVALID with the
//     message. Nothing is dropped: every (kernel, config) gets exactly one Measurement.
// The thread count is fixed by the HalideCpuTarget and recorded by the caller in the dataset header.
#ifndef PERFGRAPH_TARGET_MEASUREMENT_H_
#define PERFGRAPH_TARGET_MEASUREMENT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "graph/ir.h"
#include "target/halide_cpu_target.h"
#include "tiling/tile_config.h"

namespace perfgraph::target {

struct ProtocolOptions {
  int warmup_runs = 2;       // untimed runs after compiling, >= 0
  int min_runs = 5;          // timed runs at least, >= 3
  int max_runs = 30;         // timed runs at most (the cap), >= min_runs
  double agreement = 0.02;   // best three samples within 2 % of the best: stop
  double timeout_factor = 10.0;  // first sample > factor x best label so far: TIMEOUT
  // Wall-clock cap of the timed runs of one configuration (warm-up included). A config that reaches
  // it before min_runs samples is TIMEOUT; after min_runs it stops with what it has (status OK).
  absl::Duration max_run_time = absl::Seconds(5);
};

// Version of the Halide library the target links ("14.0.0"), for the machine fingerprint. Comes from
// Halide's CMake package (Halide_VERSION), so no Halide header is needed.
absl::string_view HalideVersion();

enum class MeasureStatus { kOk, kInvalid, kTimeout };
absl::string_view MeasureStatusName(MeasureStatus status);  // "ok", "invalid", "timeout"

struct Measurement {
  MeasureStatus status = MeasureStatus::kInvalid;
  std::string error;                 // why INVALID / TIMEOUT; empty when OK
  std::vector<double> samples_ns;    // every timed run, in order, nanoseconds
  double label_ns = 0;               // min(samples_ns) when OK, 0 otherwise
  absl::Duration compile_time;       // lowering + JIT (0 when compilation failed early)
  bool converged = false;            // best three agreed within `agreement`
};

// True when the three smallest of `samples_ns` are within `agreement` (relative to the smallest).
bool BestThreeAgree(const std::vector<double>& samples_ns, double agreement);

// Measures `kernel` under `config` on `target` following the protocol above. `best_label_ns` is the
// kernel's fastest OK label so far (0 when none yet) for the timeout rule. Never fails: errors become
// an INVALID measurement with the message.
Measurement MeasureConfig(const HalideCpuTarget& target, const graph::Kernel& kernel,
                          const tiling::TileConfig& config, double best_label_ns,
                          const ProtocolOptions& options = {});

// Steps 2-4 of the protocol on an already compiled kernel (any schedule: a TileConfig or an
// autoscheduler, target/autoschedule.h); compile_time is copied from `compiled`. May be called again
// on the same kernel (each call warms up and samples afresh). Never fails: run errors become an
// INVALID measurement with the message. MeasureConfig = HalideCpuTarget::Compile + MeasureCompiled.
Measurement MeasureCompiled(const HalideCpuTarget& target, CompiledKernel& compiled,
                            double best_label_ns, const ProtocolOptions& options = {});

}  // namespace perfgraph::target

#endif  // PERFGRAPH_TARGET_MEASUREMENT_H_

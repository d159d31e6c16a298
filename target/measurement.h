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
//
// Protocol v2 (kProtocolVersion, issue "Labels to trust"), MeasureKernelInterleaved below: all configs
// of one kernel are compiled first, then timed in rounds, each round in a fresh random order, so that
// slow drift of the machine (a virtual machine's neighbours, frequency, page cache) hits every config
// alike instead of the ones that happened to run during a slow minute, as Google Benchmark's
// --benchmark_enable_random_interleaving does. target/isolated_measurement.h runs it in child
// processes so that a crashing or hanging kernel cannot take a long run down.
#ifndef PERFGRAPH_TARGET_MEASUREMENT_H_
#define PERFGRAPH_TARGET_MEASUREMENT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
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

// ---------------------------------------------------------------------------------------------
// Protocol v2: interleaved rounds.

// Written into every record (Record.protocol_version) and dataset header. 1 = the sequential protocol
// above (MeasureConfig); 2 = MeasureKernelInterleaved.
inline constexpr int kProtocolVersion = 2;

struct InterleavedOptions {
  // Untimed runs of every config (in random order) after compiling, before round 0, >= 0.
  int warmup_runs = 1;
  // Rounds at least / at most (the cap). Every round runs every live config once in a fresh order.
  int min_rounds = 5;
  int max_rounds = 15;
  // Within a round a config runs back to back until it has min_runs_per_round runs and
  // min_time_per_round of run time, or max_runs_per_round runs; its round statistic is the minimum
  // (data/label.h). Short kernels thus get enough runs to warm their caches after the other configs
  // evicted them.
  int min_runs_per_round = 2;
  int max_runs_per_round = 50;
  absl::Duration min_time_per_round = absl::Milliseconds(2);
  // A config is stable when the interquartile range of its round minima is within `stability` of
  // their median (after min_rounds); a stable config is retired (runs in no later round), and the
  // rounds stop when every config is retired, censored or invalid, or at max_rounds.
  double stability = 0.02;
  // Censoring: after round 0, a config whose round minimum exceeds timeout_factor x the best round
  // minimum of the kernel is stopped and recorded as TIMEOUT with runtime >= its minimum. A single
  // run longer than max_run_time also censors the config (TIMEOUT, runtime >= that run).
  double timeout_factor = 10.0;
  absl::Duration max_run_time = absl::Seconds(2);
  // Wall-clock cap of the rounds of one group (warm-up and compilation excluded): the rounds stop at
  // the end of the round that crosses it (configs keep their samples, stable = false).
  absl::Duration max_group_time = absl::Seconds(60);
  // Wall-clock budget for compiling one group's configs: once compiling has taken this long, the
  // configs not yet compiled are not compiled and become INVALID ("not compiled: ..."), so a kernel
  // whose every config takes minutes of LLVM time cannot hold a run for an hour. > 0. In this
  // function it counts from the start of the call; IsolatedMeasurer passes a resumed group what is
  // left after the compile time of the children that died on it.
  absl::Duration max_compile_time = absl::Minutes(5);
  // Drift canary: a fixed reference kernel (CanaryKernel) timed like a config in every round. A round
  // whose canary minimum is off by more than canary_tolerance from `canary_baseline_ns` is discarded
  // and run again, at most max_round_repeats times per group (then kept and counted).
  double canary_tolerance = 0.10;
  int max_round_repeats = 3;
  // Memory bound: configs are compiled in groups whose buffers (inputs + output of each compiled
  // config, bytes) stay within this; each group is timed and freed before the next is compiled.
  int64_t max_group_bytes = int64_t{2} << 30;
  // Threads compiling a group's configs concurrently (nothing is timed while they compile), >= 1.
  // Halide's compiler is thread-safe for independent pipelines; hooks.on_event is then called from
  // these threads (serialised).
  int compile_threads = 1;
  // Seed of the round orders.
  uint64_t seed = 1;
};

// What happens next, reported to ProtocolHooks::on_event (isolated_measurement.h sends these to the
// parent as heartbeats and names the config in flight when a child dies).
enum class ProtocolPhase { kCompile, kWarmup, kRun };

struct ProtocolHooks {
  // Called before config `index` (into the `configs` argument; -1 = the canary) is compiled, warmed
  // up or run. May be empty.
  std::function<void(int index, ProtocolPhase phase)> on_event;
};

struct ConfigMeasurement {
  MeasureStatus status = MeasureStatus::kInvalid;
  std::string error;                // why INVALID / TIMEOUT; empty when OK
  std::vector<double> samples_ns;   // every kept timed run, in order, ns
  std::vector<int> sample_round;    // round of each sample (same length)
  // TIMEOUT: the runtime is at least this (censored), ns; 0 otherwise.
  double lower_bound_ns = 0;
  absl::Duration compile_time;
  bool stable = false;              // the stability rule held when the rounds stopped
};

struct KernelMeasurement {
  std::vector<ConfigMeasurement> configs;  // one per input config, same order
  std::vector<double> canary_ns;           // canary minimum of every kept round, ns
  int repeated_rounds = 0;                 // rounds run again because the canary drifted
  int rounds = 0;                          // kept rounds (of the last group when split by memory)
};

// A fixed reference kernel for the drift canary: a 192x192x192 f32 dot (about 14 MFLOP, ~0.2 ms on
// one core of the reference machine) at tiling::Default. Built from HLO text, so it never changes
// with the corpus.
const graph::Kernel& CanaryKernel();

// The interquartile range of `round_minima` relative to their median (0 for fewer than 2 values).
double RoundSpread(std::vector<double> round_minima);

// Protocol v2 for one kernel and its configs (see InterleavedOptions), in this process. `canary`
// is the compiled CanaryKernel (or nullptr: no canary); `canary_baseline_ns` = 0 takes the first
// round's canary as the baseline. Never fails: compile and run errors become INVALID entries naming
// the config. Errors: kInvalidArgument only for inconsistent options.
absl::StatusOr<KernelMeasurement> MeasureKernelInterleaved(
    const HalideCpuTarget& target, const graph::Kernel& kernel,
    absl::Span<const tiling::TileConfig> configs, CompiledKernel* canary, double canary_baseline_ns,
    const InterleavedOptions& options = {}, const ProtocolHooks& hooks = {});

}  // namespace perfgraph::target

#endif  // PERFGRAPH_TARGET_MEASUREMENT_H_

// Calibration of a cost::TargetDescription on the machine this process runs on: the measurement
// kernels behind `perfgraph calibrate`.
//
// Every kernel is a Halide JIT pipeline (Halide stays private to calibrate.cc), because the code the
// analytical model predicts is Halide-generated (target::HalideCpuTarget); constants measured on
// hand-written C++ would describe a different compiler.
//
// Protocol (the labels protocol of target/measurement.h, applied to constants): every probe kernel is
// compiled first; then each pass times all probes in `rounds` rounds, each round in a fresh random
// order (drift of a shared VM hits every probe alike instead of the last ones measured), each probe
// warmed up once and then run for time_per_measurement / rounds (at least 3 runs), keeping the
// round's minimum. A constant is computed from its probes' fastest runs over every round of every
// pass (the minimum, the labels' default statistic: on a shared VM noise only slows runs down), its
// spread is the interquartile range of its single-round values relative to their median, and its
// value from each pass's fastest runs is kept so that passes can be compared
// (CalibratedConstant::pass_disagreement; `perfgraph calibrate` refuses to write a description whose
// passes disagree by more than its tolerance). The probes, one thread and all threads each:
//  * peak FLOP/s: 12 independent chains of `v = v * a + b` per vector, 64 links each, vectorised
//    across the chains (throughput-bound and register-resident: 12 chains plus the two broadcast
//    operands fit AVX2's 16 vector registers; 2 FLOP per link), with 4, 8 and (with AVX-512) 16
//    lanes; the narrowest width within 10 % of the best rate is the native width. A mix of 8 FMA
//    and 8 add chains per vector (cores with separate add pipes, e.g. AMD Zen's 2 FMA + 2 FADD,
//    run both at once; 2 FLOP per FMA, 1 per add) and the target's own
//    256^3 f32 dot at five configs (register-blocked 8-lane tiles 32x4, 16x8, 32x8, and the scalar
//    16x64 and 32x16 tiles with reduction split 4 that LLVM vectorises itself; one thread)
//    bounds the peak from below: on the reference VM the FMA chains reach 59 GFLOP/s at 4 and at 8
//    lanes alike, while measured kernels of the tile dataset ran 1.4x faster than that.
//  * bandwidth of each memory level: a stream kernel `f[x] = f[x] * s + in[x]` swept repeatedly over
//    buffers sized for the level (StreamProbeBytes: L1 a third of L1d per thread, L2 half of L2 per
//    thread, L3 four times the threads' L2 but at most a quarter of L3, DRAM max(256 MiB, 4 x L3));
//    bytes = 12 per element and sweep (two 4-byte reads and one write back), the classic STREAM
//    accounting (McCalpin, "Memory Bandwidth and Machine Balance in Current High Performance
//    Computers", 1995).
//  * reduction update (one thread): `acc[x, y] += A[k, y] * B[x, k]` scheduled as the target
//    schedules dot and convolution accumulators (x vectorised innermost, then k, then y), 8 vectors x
//    32 steps of min(widest vector, 8) lanes: the time per such update (reduction_update_ns; the
//    width is recorded as reduction_update_lanes).
//  * masked tail (one thread): the same update with rows of one vector plus one lane, vectorised
//    with the target's TailStrategy::GuardWithIf (a predicated tail), 32 steps: the time per row
//    step (masked_tail_ns).
//  * kernel launch: HalideCpuTarget::Time of a one-element kernel (what every measured kernel pays).
//  * parallel launch: a parallel-for of all_threads empty tasks minus its serial twin.
//  * tile overhead: a compute_at producer over 8x8 tiles vs 64x64 tiles of the same image.
//  * parallel scaling: the target's own kernels (target::HalideCpuTarget at tiling::Default, which
//    parallelises the outermost tile loop), a 256^3 f32 dot and a 3x3 convolution of 64 channels over
//    a 56x56 image, at one thread and at all threads; the speedup over the load-balance bound
//    T / ceil(T / P) of the parallel loop's T iterations, geometric mean of the two kernels.
#ifndef PERFGRAPH_COST_CALIBRATE_H_
#define PERFGRAPH_COST_CALIBRATE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cost/target_description.h"

namespace perfgraph::cost {

struct CalibrationOptions {
  // Threads of the "all threads" measurements; 0 = the number of online logical CPUs. In [0, 256].
  int all_threads = 0;
  // Time each probe is timed per pass, split evenly over the rounds (at least 3 runs per round).
  // > 0. The default keeps a calibration around a minute on a 2-core machine.
  absl::Duration time_per_measurement = absl::Milliseconds(300);
  // Interleaved rounds per pass, >= 3, and independent passes (every probe timed again in fresh
  // rounds after the previous pass), >= 1.
  int rounds = 10;
  int passes = 2;
  // Seed of the probe order of each round.
  uint64_t seed = 1;
  // Scales every buffer and iteration count down by this factor (>= 1) for quick smoke runs (tests);
  // 1 for real calibrations. The DRAM buffer is never made smaller than 4 x L3.
  int shrink = 1;
  // Called with one line per phase and per finished constant ("L2 bandwidth_1t: 95.1 GB/s, spread
  // 0.8 %, passes 95.0 / 95.3"); may be empty.
  std::function<void(const std::string&)> progress;
};

// Total bytes of the stream probe's buffers for `level` (see the protocol above), from the cache
// capacities in bytes (l2_bytes per core, as data::MachineFingerprint reports them), the threads of
// the all-thread probes and CalibrationOptions::shrink (which only shrinks the DRAM buffer, never
// below 4 x l3_bytes). The L3 probe holds four times the threads' L2s, at most a quarter of the L3: a
// VM may report its host's whole last-level cache (480 MiB on the 2026-12-03 host, 2 vCPUs), and a
// quarter of that (120 MiB) is a share no guest keeps; that probe measured 21.5-25.0 GB/s, barely
// above DRAM's 22.5, and 16 % apart in three runs, while 8 and 32 MiB measured 43.4-44.9 GB/s within
// 1.5 % per run (README, "Calibration"). On the reference machine (1 MiB L2, 32 MiB L3, 2 threads)
// both rules give the same 8 MiB.
int64_t StreamProbeBytes(MemoryLevel level, int64_t l1d_bytes, int64_t l2_bytes, int64_t l3_bytes,
                         int threads, int shrink);

// Measures this machine and returns its description (machine fingerprint from
// data::CurrentMachine(all_threads, HalideVersion)) with TargetDescription::calibration holding
// every constant's report. Cache sizes sysfs does not give come from CPUID (data/machine.h), and
// failing that from stated defaults (32 KiB L1d, 1 MiB L2, 8 MiB L3) named in `notes`. Errors:
// kInvalidArgument for bad options, kInternal when Halide fails to compile or run a probe, or a
// measurement is not positive.
absl::StatusOr<TargetDescription> Calibrate(const CalibrationOptions& options = {});

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_CALIBRATE_H_

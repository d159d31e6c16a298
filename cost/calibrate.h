// Calibration of a cost::TargetDescription on the machine this process runs on: the measurement
// kernels behind `perfgraph calibrate`.
//
// Every kernel is a Halide JIT pipeline (Halide stays private to calibrate.cc), because the code the
// analytical model predicts is Halide-generated (target::HalideCpuTarget); constants measured on
// hand-written C++ would describe a different compiler. Each measurement is the median of repeated
// runs after a warm-up (warm caches, no page faults; the median resists the timing outliers of shared
// virtual machines), with one thread and with all threads of Halide's thread pool:
//  * peak FLOP/s: 16 independent chains of `v = v * a + b` per vector, 64 links each, vectorised
//    across the chains (throughput-bound, register-resident; 2 FLOP per link), with 4, 8 and (with
//    AVX-512) 16 lanes; the narrowest width within 10 % of the best rate is the native width.
//  * bandwidth of each memory level: a stream kernel `f[x] = f[x] * s + in[x]` swept repeatedly over
//    buffers sized for the level (L1: a third of L1d per thread, L2: half of L2 per thread, L3: a
//    quarter of L3 in total, DRAM: max(256 MiB, 8 x L3) in total); bytes = 12 per element and sweep
//    (two 4-byte reads and one write back), the classic STREAM accounting (McCalpin, "Memory
//    Bandwidth and Machine Balance in Current High Performance Computers", 1995).
//  * reduction update: `acc[x, y] += A[k, y] * B[x, k]` scheduled as the target schedules dot and
//    convolution accumulators (x vectorised innermost, then k, then y), 8 vectors x 32 steps: the
//    time per native-vector update.
//  * kernel launch: HalideCpuTarget::Time of a one-element kernel (what every measured kernel pays).
//  * parallel launch: a parallel-for of all_threads empty tasks minus its serial twin.
//  * tile overhead: a compute_at producer over 8x8 tiles vs 64x64 tiles of the same image.
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
  // Timed repetitions of each measurement stop once they took this long (at least 3 runs). > 0.
  // The default keeps a full calibration around 15-30 s on a 2-core machine.
  absl::Duration time_per_measurement = absl::Milliseconds(300);
  // Scales every buffer and iteration count down by this factor (>= 1) for quick smoke runs (tests);
  // 1 for real calibrations. The DRAM buffer is never made smaller than 4 x L3.
  int shrink = 1;
  // Called with one line per finished measurement ("L2 bandwidth: 1 thread 95.1 GB/s, ..."); may be
  // empty.
  std::function<void(const std::string&)> progress;
};

// Measures this machine and returns its description (machine fingerprint from
// data::CurrentMachine(all_threads, HalideVersion)). Errors: kInvalidArgument for bad options,
// kInternal when Halide fails to compile or run a kernel, or a measurement is not positive.
absl::StatusOr<TargetDescription> Calibrate(const CalibrationOptions& options = {});

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_CALIBRATE_H_

// The Halide CPU target: the source of ground-truth runtimes. A graph::Kernel plus a
// tiling::TileConfig is lowered to a Halide pipeline (target/halide_lowering.h documents the lowering
// and the schedule), JIT-compiled for the host CPU and run on seeded random inputs.
//
// What fusion means here: inside a kernel, non-root instructions are inlined into their consumers
// (elementwise and data movement) or computed per output tile (dot, convolution, reduce,
// reduce-window); kernel boundaries are materialised buffers (the kernel's parameters are input
// buffers, its root is the output buffer).
//
// Halide.h is deliberately not included here (pimpl), so users of this header need not compile
// Halide's 30k-line header.
#ifndef PERFGRAPH_TARGET_HALIDE_CPU_TARGET_H_
#define PERFGRAPH_TARGET_HALIDE_CPU_TARGET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "graph/ir.h"
#include "tiling/tile_config.h"

namespace perfgraph::target {

namespace internal {
class CompiledKernelBuilder;  // target/halide_cpu_target_internal.h
}  // namespace internal

struct HalideCpuTargetOptions {
  // Threads of Halide's JIT thread pool used by parallel loops, >= 1. The pool is process-wide:
  // Every Time()/Run() call applies this target's count before running (SetJitThreads).
  int num_threads = 1;
  // Seed of the random input data of every compiled kernel (and of non-splat constants); the same
  // seed gives bit-identical inputs.
  uint64_t seed = 0;
  // Timing builds (measurement): compile with Halide's no_asserts and no_bounds_query target
  // features, which drop the runtime checks of buffer sizes and the bounds-query mode. Our buffers
  // are allocated by the target itself from the lowered shapes, so the checks can never fire; the
  // generated loops are unchanged. Off by default (Run/Evaluate keep Halide's checks).
  bool timing_build = false;
};

// How Time() measures. Defaults: a short protocol good enough for ranking configs; the full
// measurement protocol (outlier handling, noise estimate) is a later task.
struct MeasureOptions {
  int warmup_runs = 1;   // untimed runs first (page faults, caches, thread-pool start-up), >= 0
  int min_runs = 3;      // timed runs at least, >= 1
  int max_runs = 50;     // timed runs at most, >= min_runs
  // Stop once min_runs are done and the timed runs took this long in total.
  absl::Duration min_total_time = absl::Milliseconds(20);
};

struct TimingResult {
  double min_ns = 0;     // fastest timed run, nanoseconds of wall-clock time (steady clock)
  double median_ns = 0;  // median of the timed runs
  int runs = 0;          // number of timed runs
};

// A kernel lowered, scheduled and JIT-compiled with one config, plus its seeded input buffers and its
// output buffer. Move-only; not thread-safe (runs reuse the same buffers).
class CompiledKernel {
 public:
  CompiledKernel(CompiledKernel&&) noexcept;
  CompiledKernel& operator=(CompiledKernel&&) noexcept;
  ~CompiledKernel();

  const std::string& kernel_name() const;
  // The config of the schedule; a default TileConfig (no used slot) for kernels scheduled otherwise
  // (target/autoschedule.h).
  const tiling::TileConfig& config() const;
  // Shape of the root (the output buffer).
  const graph::Shape& output_shape() const;
  // Shapes of the input buffers, by parameter_number.
  const std::vector<graph::Shape>& parameter_shapes() const;
  // Wall-clock time of lowering + scheduling + LLVM JIT compilation.
  absl::Duration compile_time() const;

  struct Impl;  // opaque (Halide objects), defined in halide_cpu_target.cc

 private:
  friend class HalideCpuTarget;
  friend class internal::CompiledKernelBuilder;
  explicit CompiledKernel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Sets the thread count of Halide's JIT thread pool, which every JIT pipeline of the process shares
// (HalideCpuTarget applies its own count before each run; calibration uses this directly).
// Raising the count works at any time; lowering it after a parallel loop ran with more threads does
// not (Halide 14 keeps the started workers busy), so a process should time its thread counts in
// ascending order or each in its own process; a lowering prints a warning once.
// Error: kInternal when Halide fails.
absl::Status SetJitThreads(int num_threads);

class HalideCpuTarget {
 public:
  using Options = HalideCpuTargetOptions;

  // Error: kInvalidArgument when num_threads < 1 or > 256.
  static absl::StatusOr<HalideCpuTarget> Create(const Options& options);

  const Options& options() const { return options_; }

  // Lowers `kernel` with `config` and JIT-compiles it for the host CPU (AVX2/AVX-512 as available).
  // Errors: kInvalidArgument (kernel.Validate() fails, config fails tiling::Validate, inconsistent
  // shapes/attributes, a buffer over 2^31-1 elements), kUnimplemented (an op or element type without
  // a lowering: custom-call names its target, tuple, gather, sort, complex, ...), kInternal (Halide
  // failed to compile). Messages name the kernel and the instruction.
  absl::StatusOr<CompiledKernel> Compile(const graph::Kernel& kernel,
                                         const tiling::TileConfig& config) const;

  // Runs `compiled` once and returns its output as f32 in row-major order (pred as 0/1, integers
  // converted). `inputs[k]` is the row-major data of parameter k (parameter_shapes()[k].NumElements()
  // values, converted to the parameter's compute type: floats as f32, integers truncated, pred as
  // value != 0); an empty `inputs` runs on the seeded inputs. Error: kInvalidArgument for a wrong
  // number or size of inputs; kInternal when Halide reports a runtime error.
  absl::StatusOr<std::vector<float>> Run(CompiledKernel& compiled,
                                         const std::vector<std::vector<float>>& inputs = {}) const;

  // Compile + Run: the output of `kernel` scheduled with `config` on `inputs` (see Run).
  absl::StatusOr<std::vector<float>> Evaluate(const graph::Kernel& kernel,
                                              const tiling::TileConfig& config,
                                              const std::vector<std::vector<float>>& inputs) const;

  // Times `compiled` on its seeded inputs: warm-up runs, then timed runs until both min_runs and
  // min_total_time are reached (or max_runs). Error: kInvalidArgument for bad options; kInternal
  // when a run fails.
  absl::StatusOr<TimingResult> Time(CompiledKernel& compiled, const MeasureOptions& options) const;

 private:
  explicit HalideCpuTarget(const Options& options) : options_(options) {}
  Options options_;
};

}  // namespace perfgraph::target

#endif  // PERFGRAPH_TARGET_HALIDE_CPU_TARGET_H_

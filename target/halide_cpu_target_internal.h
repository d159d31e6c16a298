// INTERNAL header of target/: builds a CompiledKernel from an already lowered kernel whose pipeline
// is scheduled by a callback, so schedules other than the TileConfig one (target/autoschedule.h)
// run and are timed through the same CompiledKernel / HalideCpuTarget::Run / Time path. Includes
// Halide.h, so only target/*.cc may include it.
#ifndef PERFGRAPH_TARGET_HALIDE_CPU_TARGET_INTERNAL_H_
#define PERFGRAPH_TARGET_HALIDE_CPU_TARGET_INTERNAL_H_

#include <chrono>
#include <functional>
#include <string>

#include "Halide.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "target/halide_cpu_target.h"
#include "target/halide_lowering.h"
#include "tiling/tile_config.h"

namespace perfgraph::target::internal {

// Called with the pipeline of a lowered kernel's output Func and the JIT target, before JIT
// compilation; may (re)schedule every Func of the pipeline. A non-OK status aborts the build.
using PipelineScheduler =
    std::function<absl::Status(Halide::Pipeline& pipeline, const Halide::Target& target)>;

// Defined in target/halide_cpu_target.cc, which owns CompiledKernel::Impl.
class CompiledKernelBuilder {
 public:
  // Seeds the input buffers from `options.seed` exactly as HalideCpuTarget::Compile does (the same
  // kernel gets bit-identical inputs whichever schedule compiles it), allocates the output buffer,
  // runs `scheduler` (skipped when empty) on the pipeline of `lowered.output`, JIT-compiles it for
  // the host and returns the compiled kernel.
  //  * `kernel_name`: CompiledKernel::kernel_name().
  //  * `config`: CompiledKernel::config() (a default TileConfig when the schedule is not a config).
  //  * `schedule_description`: names the schedule in error messages, e.g. "config 'tile=...'" or
  //    "autoscheduler Adams2019".
  //  * `caller`: prefix of compile error messages, e.g. "HalideCpuTarget::Compile".
  //  * `start`: when compilation began (before lowering); compile_time() is measured from it.
  // Errors: the scheduler's status as returned; kInvalidArgument for buffers over 2^31-1 elements;
  // kInternal when Halide throws while scheduling or compiling ("<caller>: kernel '<name>' with
  // <schedule_description>: Halide failed: <what>").
  static absl::StatusOr<CompiledKernel> Build(const HalideCpuTargetOptions& options,
                                              const std::string& kernel_name,
                                              const tiling::TileConfig& config,
                                              absl::string_view schedule_description,
                                              absl::string_view caller, LoweredKernel lowered,
                                              const PipelineScheduler& scheduler,
                                              std::chrono::steady_clock::time_point start);
};

}  // namespace perfgraph::target::internal

#endif  // PERFGRAPH_TARGET_HALIDE_CPU_TARGET_INTERNAL_H_

// Halide's own autoschedulers as baselines: a graph::Kernel is lowered exactly as for a TileConfig
// (target/halide_lowering.h: same Funcs, same kernel boundaries, i.e. the same fusion structure)
// but without our schedule, and one of Halide 14's autoscheduler plugins schedules the whole
// pipeline instead. The result is an ordinary CompiledKernel, so HalideCpuTarget::Run / Time and
// the measurement protocol (target::MeasureCompiled) apply unchanged, with the same seeded inputs.
//
// The autoschedulers (names as Halide registers them):
//  * Adams2019      beam search over a learned cost model (Adams et al., "Learning to Optimize
//                   Halide with Tree Search and Random Programs", SIGGRAPH 2019); Halide 14 bakes
//                   default weights into the plugin and reads HL_WEIGHTS_DIR, HL_BEAM_SIZE,
//                   HL_SEED, ... from the environment when set (we set none).
//  * Mullapudi2016  greedy grouping and tiling over an analytical model (Mullapudi et al.,
//                   "Automatically Scheduling Halide Image Processing Pipelines", SIGGRAPH 2016).
//  * Li2018         the gradient autoscheduler (Li et al., "Differentiable Programming for Image
//                   Processing and Deep Learning in Halide", SIGGRAPH 2018): parallelises and
//                   vectorises every stage, possibly with atomic (reordered) float reductions.
// Each is a plugin shared library that Halide::load_plugin loads once per process; Debian's
// libhalide14-0 package installs them as kDefaultAutoschedulerPluginDir/libautoschedule_<name>.so.
//
// Estimates: every input buffer (ImageParam) and the output Func get estimates equal to their real
// shapes (min 0, extent = dim), so the autoschedulers plan for the sizes that are timed.
#ifndef PERFGRAPH_TARGET_AUTOSCHEDULE_H_
#define PERFGRAPH_TARGET_AUTOSCHEDULE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/ir.h"
#include "target/halide_cpu_target.h"
#include "target/measurement.h"

namespace perfgraph::target {

enum class Autoscheduler { kAdams2019, kMullapudi2016, kLi2018 };

// Every autoscheduler, in the order above.
const std::vector<Autoscheduler>& AllAutoschedulers();

// Halide's registered name: "Adams2019", "Mullapudi2016", "Li2018".
absl::string_view AutoschedulerName(Autoscheduler scheduler);

// Inverse of AutoschedulerName, case-sensitive. Error: kInvalidArgument naming `name` and the valid
// names.
absl::StatusOr<Autoscheduler> ParseAutoscheduler(absl::string_view name);

// Where Debian's libhalide14-0 installs the plugins (`dpkg -L libhalide14-0`).
inline constexpr char kDefaultAutoschedulerPluginDir[] = "/usr/lib/x86_64-linux-gnu/halide14";

// File name of a plugin: "libautoschedule_adams2019.so", "libautoschedule_mullapudi2016.so",
// "libautoschedule_li2018.so" (Halide's CMake names the plugins this way).
std::string AutoschedulerPluginFile(Autoscheduler scheduler);

// Halide's MachineParams::generic() constants (Halide 14, src/Pipeline.cpp: 16 cores, 16 MiB last
// level cache, balance 40; libHalide14 prints them as "16,16777216,40" when HL_MACHINE_PARAMS is
// unset), used as documented below.
inline constexpr uint64_t kHalideGenericLastLevelCacheBytes = 16ull * 1024 * 1024;
inline constexpr double kHalideGenericBalance = 40.0;

struct AutoscheduleOptions {
  // MachineParams::parallelism: the number of cores the schedule may use. 0 = the target's
  // HalideCpuTarget::Options::num_threads (the threads the kernel is then run with). All three
  // autoschedulers read it. >= 0.
  int parallelism = 0;
  // MachineParams::last_level_cache_size in bytes. 0 = the largest (highest level) cache of CPU 0
  // from sysfs, as data::CurrentMachine reads it for the dataset fingerprint, or, when sysfs does not
  // say, kHalideGenericLastLevelCacheBytes (the resolved value and its source are reported by
  // ResolveMachineParams). Of the three, only Mullapudi2016 reads it (Halide 14).
  uint64_t last_level_cache_bytes = 0;
  // MachineParams::balance: how much more a load from the last-level cache costs than an arithmetic
  // op. Default kHalideGenericBalance (Halide's generic value, which Mullapudi2016 was tuned with;
  // perfgraph has no measured equivalent). Only Mullapudi2016 reads it. > 0.
  double balance = kHalideGenericBalance;
  // Directory holding the plugins (AutoschedulerPluginFile). A plugin is loaded once per process:
  // the directory of the first successful load wins for that autoscheduler.
  std::string plugin_dir = kDefaultAutoschedulerPluginDir;
  // Adams2019 writes its search log ("Pass 0 of 5, cost: ...") to std::cerr. When true, std::cerr's
  // buffer is swapped for a discarded one while the autoscheduler runs (under a process-wide lock,
  // so anything another thread writes to std::cerr meanwhile is discarded too); errors still reach
  // the caller as Statuses.
  bool quiet = true;
  // Beam width of Adams2019's search (its HL_BEAM_SIZE; Halide's default is 32). perfgraph uses 1,
  // Adams2019's greedy mode: with the default width the search on squeezenet1_1's kernels grew past
  // 12 GiB of memory within a minute on the reference machine (measured), which a 24 GiB machine
  // cannot afford for a 24-program corpus. HL_BEAM_SIZE set in the environment before the first
  // compile wins. >= 1.
  int adams2019_beam_size = 1;
};

// The MachineParams an autoscheduler is given, after resolving the 0 defaults above.
struct ResolvedMachineParams {
  int parallelism = 0;
  uint64_t last_level_cache_bytes = 0;
  double balance = 0;
  // Where last_level_cache_bytes came from: "option", "sysfs L<level> of cpu0" or "Halide generic
  // default (sysfs cache sizes unreadable)".
  std::string last_level_cache_source;
  // Halide's canonical string form "parallelism,last_level_cache_size,balance".
  std::string ToString() const;
};

// Error: kInvalidArgument when options.parallelism < 0 or options.balance <= 0 (or is not finite).
absl::StatusOr<ResolvedMachineParams> ResolveMachineParams(const HalideCpuTarget& target,
                                                           const AutoscheduleOptions& options = {});

// Loads the plugin of `scheduler` from options.plugin_dir unless it is already loaded in this
// process (from any directory: Halide registers an autoscheduler name once). Thread-safe. Errors:
// kFailedPrecondition when options.plugin_dir has no plugin file for `scheduler` (checked on every
// call, loaded or not; the message names the path and the Debian package that ships it); kInternal
// when Halide fails to load it (Halide's message). A failed load is retried on the next call.
absl::Status LoadAutoschedulerPlugin(Autoscheduler scheduler,
                                     const AutoscheduleOptions& options = {});

// Lowers `kernel` unscheduled, sets the estimates, runs `scheduler` on its pipeline for the host
// JIT target with ResolveMachineParams(target, options), and JIT-compiles the result. The returned
// kernel has the same seeded inputs as target.Compile(kernel, config) and config() = TileConfig{}
// (no used slot); compile_time() includes lowering, autoscheduling and JIT. Errors:
// ResolveMachineParams's and LoadAutoschedulerPlugin's errors; the lowering's errors
// (kInvalidArgument for an invalid kernel, kUnimplemented for ops without a lowering, naming the
// instruction); kInternal when the autoscheduler or the compilation throws ("CompileAutoscheduled:
// kernel '<name>' with autoscheduler <Name>: Halide failed: <Halide's message>").
absl::StatusOr<CompiledKernel> CompileAutoscheduled(const HalideCpuTarget& target,
                                                    const graph::Kernel& kernel,
                                                    Autoscheduler scheduler,
                                                    const AutoscheduleOptions& options = {});

// CompileAutoscheduled + MeasureCompiled: the measurement protocol of target/measurement.h
// (`best_label_ns` as in MeasureConfig; 0 = no timeout rule) on the autoscheduled kernel. Never
// fails: a compile error becomes an INVALID measurement whose error is "compile: <status>".
Measurement MeasureAutoscheduled(const HalideCpuTarget& target, const graph::Kernel& kernel,
                                 Autoscheduler scheduler, double best_label_ns = 0,
                                 const ProtocolOptions& protocol = {},
                                 const AutoscheduleOptions& options = {});

}  // namespace perfgraph::target

#endif  // PERFGRAPH_TARGET_AUTOSCHEDULE_H_

#include "target/autoschedule.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>

#include "Halide.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/machine.h"
#include "graph/status_macros.h"
#include "target/halide_cpu_target_internal.h"
#include "target/halide_lowering.h"

namespace perfgraph::target {
namespace {

// The estimate region of a buffer of `shape`: Halide dim i is IR dim rank-1-i (halide_lowering.h).
Halide::Region EstimateRegion(const graph::Shape& shape) {
  Halide::Region region;
  for (auto it = shape.dims.rbegin(); it != shape.dims.rend(); ++it) {
    region.emplace_back(0, static_cast<int>(*it));
  }
  return region;
}

// (size in bytes, level) of the highest-level cache of cpu0, as the dataset's machine fingerprint
// reads it from sysfs (data::CurrentMachine); (0, 0) when none is readable.
std::pair<uint64_t, int> LastLevelCacheFromSysfs() {
  const data::MachineFingerprint machine = data::CurrentMachine(1, HalideVersion());
  if (machine.l3_cache_bytes > 0) return {static_cast<uint64_t>(machine.l3_cache_bytes), 3};
  if (machine.l2_cache_bytes > 0) return {static_cast<uint64_t>(machine.l2_cache_bytes), 2};
  if (machine.l1d_cache_bytes > 0) return {static_cast<uint64_t>(machine.l1d_cache_bytes), 1};
  return {0, 0};
}

// Per-process plugin state: an autoscheduler is registered with Halide by loading its plugin once.
struct PluginRegistry {
  std::mutex mu;
  std::map<Autoscheduler, std::string> loaded;  // autoscheduler -> path it was loaded from
};

PluginRegistry& Plugins() {
  static PluginRegistry* registry = new PluginRegistry();
  return *registry;
}

// Redirects std::cerr into a discarded buffer for its lifetime (AutoscheduleOptions::quiet).
class ScopedQuietCerr {
 public:
  explicit ScopedQuietCerr(bool active) : lock_(Mutex(), std::defer_lock) {
    if (!active) return;
    lock_.lock();
    previous_ = std::cerr.rdbuf(sink_.rdbuf());
  }
  ~ScopedQuietCerr() {
    if (previous_ != nullptr) std::cerr.rdbuf(previous_);
  }
  ScopedQuietCerr(const ScopedQuietCerr&) = delete;
  ScopedQuietCerr& operator=(const ScopedQuietCerr&) = delete;

 private:
  static std::mutex& Mutex() {
    static std::mutex* mu = new std::mutex();
    return *mu;
  }
  std::unique_lock<std::mutex> lock_;
  std::ostringstream sink_;
  std::streambuf* previous_ = nullptr;
};

}  // namespace

const std::vector<Autoscheduler>& AllAutoschedulers() {
  static const std::vector<Autoscheduler>* all = new std::vector<Autoscheduler>{
      Autoscheduler::kAdams2019, Autoscheduler::kMullapudi2016, Autoscheduler::kLi2018};
  return *all;
}

absl::string_view AutoschedulerName(Autoscheduler scheduler) {
  switch (scheduler) {
    case Autoscheduler::kAdams2019:
      return "Adams2019";
    case Autoscheduler::kMullapudi2016:
      return "Mullapudi2016";
    case Autoscheduler::kLi2018:
      return "Li2018";
  }
  return "unknown";
}

absl::StatusOr<Autoscheduler> ParseAutoscheduler(absl::string_view name) {
  std::vector<std::string> names;
  for (Autoscheduler s : AllAutoschedulers()) {
    if (AutoschedulerName(s) == name) return s;
    names.emplace_back(AutoschedulerName(s));
  }
  return absl::InvalidArgumentError(absl::StrCat("ParseAutoscheduler: unknown autoscheduler '",
                                                 name, "' (expected one of ",
                                                 absl::StrJoin(names, ", "), ")"));
}

std::string AutoschedulerPluginFile(Autoscheduler scheduler) {
  return absl::StrCat("libautoschedule_", absl::AsciiStrToLower(AutoschedulerName(scheduler)),
                      ".so");
}

std::string ResolvedMachineParams::ToString() const {
  // Halide's MachineParams::to_string form.
  return Halide::MachineParams(parallelism, last_level_cache_bytes, static_cast<float>(balance))
      .to_string();
}

absl::StatusOr<ResolvedMachineParams> ResolveMachineParams(const HalideCpuTarget& target,
                                                           const AutoscheduleOptions& options) {
  if (options.parallelism < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ResolveMachineParams: parallelism ", options.parallelism,
                     " is negative (0 = the target's ", target.options().num_threads, " threads)"));
  }
  if (!(options.balance > 0) || !std::isfinite(options.balance)) {
    return absl::InvalidArgumentError(absl::StrCat("ResolveMachineParams: balance ",
                                                   options.balance, " is not a positive number"));
  }
  ResolvedMachineParams params;
  params.parallelism = options.parallelism > 0 ? options.parallelism : target.options().num_threads;
  params.balance = options.balance;
  if (options.last_level_cache_bytes > 0) {
    params.last_level_cache_bytes = options.last_level_cache_bytes;
    params.last_level_cache_source = "option";
  } else {
    const auto [bytes, level] = LastLevelCacheFromSysfs();
    if (bytes > 0) {
      params.last_level_cache_bytes = bytes;
      params.last_level_cache_source = absl::StrCat("sysfs L", level, " of cpu0");
    } else {
      params.last_level_cache_bytes = kHalideGenericLastLevelCacheBytes;
      params.last_level_cache_source = "Halide generic default (sysfs cache sizes unreadable)";
    }
  }
  return params;
}

absl::Status LoadAutoschedulerPlugin(Autoscheduler scheduler, const AutoscheduleOptions& options) {
  const std::filesystem::path path =
      std::filesystem::path(options.plugin_dir) / AutoschedulerPluginFile(scheduler);
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "LoadAutoschedulerPlugin: the ", AutoschedulerName(scheduler), " autoscheduler plugin ",
        path.string(), " does not exist (Debian ships it in package libhalide14-0)"));
  }
  PluginRegistry& registry = Plugins();
  std::lock_guard<std::mutex> lock(registry.mu);
  if (registry.loaded.count(scheduler) > 0) return absl::OkStatus();
  try {
    Halide::load_plugin(path.string());
  } catch (const Halide::Error& e) {
    return absl::InternalError(absl::StrCat("LoadAutoschedulerPlugin: Halide could not load ",
                                            path.string(), ": ", e.what()));
  }
  registry.loaded[scheduler] = path.string();
  return absl::OkStatus();
}

absl::StatusOr<CompiledKernel> CompileAutoscheduled(const HalideCpuTarget& target,
                                                    const graph::Kernel& kernel,
                                                    Autoscheduler scheduler,
                                                    const AutoscheduleOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(const ResolvedMachineParams params, ResolveMachineParams(target, options));
  RETURN_IF_ERROR(LoadAutoschedulerPlugin(scheduler, options));
  ASSIGN_OR_RETURN(internal::LoweredKernel lowered,
                   internal::LowerKernelUnscheduled(kernel, target.options().seed));
  const std::string name(AutoschedulerName(scheduler));
  const std::string description = absl::StrCat("autoscheduler ", name);
  // Estimates are set on the pipeline's own Funcs and params inside the scheduler, so a Halide
  // error there is reported like any other compile error.
  const std::vector<Halide::ImageParam> inputs = lowered.params;
  const std::vector<graph::Shape> input_shapes = lowered.param_shapes;
  const graph::Shape output_shape = lowered.output_shape;
  internal::PipelineScheduler autoschedule =
      [&](Halide::Pipeline& pipeline, const Halide::Target& halide_target) -> absl::Status {
    for (size_t k = 0; k < inputs.size(); ++k) {
      Halide::ImageParam param = inputs[k];
      param.set_estimates(EstimateRegion(input_shapes[k]));
    }
    for (Halide::Func output : pipeline.outputs()) {
      output.set_estimates(EstimateRegion(output_shape));
    }
    // Whether the user set HL_BEAM_SIZE, read once before perfgraph sets it.
    static const bool user_beam_size = std::getenv("HL_BEAM_SIZE") != nullptr;
    if (scheduler == Autoscheduler::kAdams2019 && !user_beam_size) {
      // Adams2019 reads its beam width from the environment (Halide 14 has no parameter for it).
      if (options.adams2019_beam_size < 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "CompileAutoscheduled: adams2019_beam_size must be >= 1, got ",
            options.adams2019_beam_size));
      }
      setenv("HL_BEAM_SIZE", std::to_string(options.adams2019_beam_size).c_str(), /*overwrite=*/1);
    }
    ScopedQuietCerr quiet(options.quiet);  // restored on return and on Halide's exceptions
    pipeline.auto_schedule(name, halide_target,
                           Halide::MachineParams(params.parallelism, params.last_level_cache_bytes,
                                                 static_cast<float>(params.balance)));
    return absl::OkStatus();
  };
  return internal::CompiledKernelBuilder::Build(target.options(), kernel.name, tiling::TileConfig(),
                                                description, "CompileAutoscheduled",
                                                std::move(lowered), autoschedule, start);
}

Measurement MeasureAutoscheduled(const HalideCpuTarget& target, const graph::Kernel& kernel,
                                 Autoscheduler scheduler, double best_label_ns,
                                 const ProtocolOptions& protocol,
                                 const AutoscheduleOptions& options) {
  auto compiled = CompileAutoscheduled(target, kernel, scheduler, options);
  if (!compiled.ok()) {
    Measurement m;
    m.status = MeasureStatus::kInvalid;
    m.error = absl::StrCat("compile: ", compiled.status().ToString());
    return m;
  }
  return MeasureCompiled(target, *compiled, best_label_ns, protocol);
}

}  // namespace perfgraph::target

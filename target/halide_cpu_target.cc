#include "target/halide_cpu_target.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <mutex>
#include <utility>

#include "Halide.h"
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "target/halide_cpu_target_internal.h"
#include "target/halide_lowering.h"

namespace perfgraph::target {

struct CompiledKernel::Impl {
  std::string kernel_name;
  tiling::TileConfig config;
  std::string schedule_description;  // "config '<config>'" or "autoscheduler <name>"
  internal::LoweredKernel lowered;
  Halide::Pipeline pipeline;
  Halide::Target target;
  std::vector<Halide::Buffer<>> seeded_inputs;  // [parameter_number]
  Halide::Buffer<> output;
  absl::Duration compile_time;
};

CompiledKernel::CompiledKernel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompiledKernel::CompiledKernel(CompiledKernel&&) noexcept = default;
CompiledKernel& CompiledKernel::operator=(CompiledKernel&&) noexcept = default;
CompiledKernel::~CompiledKernel() = default;

const std::string& CompiledKernel::kernel_name() const { return impl_->kernel_name; }
const tiling::TileConfig& CompiledKernel::config() const { return impl_->config; }
const graph::Shape& CompiledKernel::output_shape() const { return impl_->lowered.output_shape; }
const std::vector<graph::Shape>& CompiledKernel::parameter_shapes() const {
  return impl_->lowered.param_shapes;
}
absl::Duration CompiledKernel::compile_time() const { return impl_->compile_time; }

namespace {

constexpr int kMaxThreads = 256;


std::vector<float> ToFloats(const Halide::Buffer<>& buffer, int64_t n) {
  std::vector<float> out(n);
  const Halide::Type t = buffer.type();
  const void* data = buffer.data();
  for (int64_t i = 0; i < n; ++i) {
    if (t.is_float()) {
      out[i] = static_cast<const float*>(data)[i];
    } else if (t == Halide::UInt(8)) {
      out[i] = static_cast<float>(static_cast<const uint8_t*>(data)[i]);
    } else if (t == Halide::Int(64)) {
      out[i] = static_cast<float>(static_cast<const int64_t*>(data)[i]);
    } else {
      out[i] = static_cast<float>(static_cast<const int32_t*>(data)[i]);
    }
  }
  return out;
}

void FromFloats(const std::vector<float>& values, Halide::Buffer<>& buffer) {
  const Halide::Type t = buffer.type();
  void* data = buffer.data();
  for (size_t i = 0; i < values.size(); ++i) {
    if (t.is_float()) {
      static_cast<float*>(data)[i] = values[i];
    } else if (t == Halide::UInt(8)) {
      static_cast<uint8_t*>(data)[i] = values[i] != 0.0f ? 1 : 0;
    } else if (t == Halide::Int(64)) {
      static_cast<int64_t*>(data)[i] = static_cast<int64_t>(values[i]);
    } else {
      static_cast<int32_t*>(data)[i] = static_cast<int32_t>(values[i]);
    }
  }
}

absl::Status Realize(CompiledKernel::Impl& impl) {
  try {
    impl.pipeline.realize(impl.output, impl.target);
  } catch (const Halide::Error& e) {
    return absl::InternalError(absl::StrCat("HalideCpuTarget: running kernel '", impl.kernel_name,
                                            "' with ", impl.schedule_description,
                                            " failed: ", e.what()));
  }
  return absl::OkStatus();
}

void BindSeededInputs(CompiledKernel::Impl& impl) {
  for (size_t k = 0; k < impl.seeded_inputs.size(); ++k) {
    impl.lowered.params[k].set(impl.seeded_inputs[k]);
  }
}

}  // namespace

absl::StatusOr<HalideCpuTarget> HalideCpuTarget::Create(const Options& options) {
  if (options.num_threads < 1 || options.num_threads > kMaxThreads) {
    return absl::InvalidArgumentError(absl::StrCat("HalideCpuTarget::Create: num_threads ",
                                                   options.num_threads, " is outside [1, ",
                                                   kMaxThreads, "]"));
  }
  // The count is applied before each Run/Time, not here: creating a 1-thread target after a
  // 2-thread one must not look like lowering a pool that never ran (SetJitThreads' warning).
  return HalideCpuTarget(options);
}

absl::StatusOr<CompiledKernel> HalideCpuTarget::Compile(const graph::Kernel& kernel,
                                                        const tiling::TileConfig& config) const {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(internal::LoweredKernel lowered,
                   internal::LowerKernel(kernel, config, options_.seed));
  return internal::CompiledKernelBuilder::Build(
      options_, kernel.name, config, absl::StrCat("config '", config.ToString(), "'"),
      "HalideCpuTarget::Compile", std::move(lowered), /*scheduler=*/nullptr, start);
}

namespace internal {

absl::StatusOr<CompiledKernel> CompiledKernelBuilder::Build(
    const HalideCpuTargetOptions& options, const std::string& kernel_name,
    const tiling::TileConfig& config, absl::string_view schedule_description,
    absl::string_view caller, LoweredKernel lowered, const PipelineScheduler& scheduler,
    std::chrono::steady_clock::time_point start) {
  auto impl = std::make_unique<CompiledKernel::Impl>();
  impl->kernel_name = kernel_name;
  impl->config = config;
  impl->schedule_description = std::string(schedule_description);
  impl->lowered = std::move(lowered);
  for (size_t k = 0; k < impl->lowered.param_shapes.size(); ++k) {
    ASSIGN_OR_RETURN(Halide::Buffer<> input,
                     SeededBuffer(impl->lowered.param_shapes[k],
                                  options.seed * 0x100000001B3ull + k + 1));
    impl->seeded_inputs.push_back(std::move(input));
  }
  ASSIGN_OR_RETURN(impl->output, MakeBuffer(impl->lowered.output_shape));
  try {
    impl->target = Halide::get_jit_target_from_environment();
    if (options.timing_build) {
      impl->target = impl->target.with_feature(Halide::Target::NoAsserts)
                         .with_feature(Halide::Target::NoBoundsQuery);
    }
    impl->pipeline = Halide::Pipeline(impl->lowered.output);
    if (scheduler) RETURN_IF_ERROR(scheduler(impl->pipeline, impl->target));
    impl->pipeline.compile_jit(impl->target);
  } catch (const Halide::Error& e) {
    return absl::InternalError(absl::StrCat(caller, ": kernel '", kernel_name, "' with ",
                                            schedule_description, ": Halide failed: ", e.what()));
  }
  impl->compile_time = absl::FromChrono(std::chrono::steady_clock::now() - start);
  return CompiledKernel(std::move(impl));
}

}  // namespace internal

absl::StatusOr<std::vector<float>> HalideCpuTarget::Run(
    CompiledKernel& compiled, const std::vector<std::vector<float>>& inputs) const {
  CompiledKernel::Impl& impl = *compiled.impl_;
  const std::vector<graph::Shape>& shapes = impl.lowered.param_shapes;
  std::vector<Halide::Buffer<>> explicit_inputs;
  if (inputs.empty()) {
    BindSeededInputs(impl);
  } else {
    if (inputs.size() != shapes.size()) {
      return absl::InvalidArgumentError(absl::StrCat("HalideCpuTarget::Run: kernel '",
                                                     impl.kernel_name, "' has ", shapes.size(),
                                                     " parameters, got ", inputs.size(),
                                                     " inputs"));
    }
    for (size_t k = 0; k < inputs.size(); ++k) {
      if (static_cast<int64_t>(inputs[k].size()) != shapes[k].NumElements()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "HalideCpuTarget::Run: kernel '", impl.kernel_name, "': input ", k, " has ",
            inputs[k].size(), " values, parameter ", shapes[k].ToString(false), " needs ",
            shapes[k].NumElements()));
      }
      ASSIGN_OR_RETURN(Halide::Buffer<> buffer, internal::MakeBuffer(shapes[k]));
      FromFloats(inputs[k], buffer);
      impl.lowered.params[k].set(buffer);
      explicit_inputs.push_back(std::move(buffer));
    }
  }
  RETURN_IF_ERROR(SetJitThreads(options_.num_threads));
  absl::Status status = Realize(impl);
  BindSeededInputs(impl);  // do not keep references to the caller's data
  RETURN_IF_ERROR(status);
  return ToFloats(impl.output, impl.lowered.output_shape.NumElements());
}

absl::StatusOr<std::vector<float>> HalideCpuTarget::Evaluate(
    const graph::Kernel& kernel, const tiling::TileConfig& config,
    const std::vector<std::vector<float>>& inputs) const {
  ASSIGN_OR_RETURN(CompiledKernel compiled, Compile(kernel, config));
  return Run(compiled, inputs);
}

absl::StatusOr<TimingResult> HalideCpuTarget::Time(CompiledKernel& compiled,
                                                   const MeasureOptions& options) const {
  if (options.warmup_runs < 0 || options.min_runs < 1 || options.max_runs < options.min_runs ||
      options.min_total_time < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "HalideCpuTarget::Time: bad measure options: warmup_runs ", options.warmup_runs,
        ", min_runs ", options.min_runs, ", max_runs ", options.max_runs, ", min_total_time ",
        absl::FormatDuration(options.min_total_time)));
  }
  CompiledKernel::Impl& impl = *compiled.impl_;
  BindSeededInputs(impl);
  RETURN_IF_ERROR(SetJitThreads(options_.num_threads));
  for (int i = 0; i < options.warmup_runs; ++i) RETURN_IF_ERROR(Realize(impl));
  std::vector<double> runs_ns;
  absl::Duration total;
  while (static_cast<int>(runs_ns.size()) < options.max_runs &&
         (static_cast<int>(runs_ns.size()) < options.min_runs || total < options.min_total_time)) {
    const auto start = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(Realize(impl));
    const absl::Duration elapsed = absl::FromChrono(std::chrono::steady_clock::now() - start);
    total += elapsed;
    runs_ns.push_back(absl::ToDoubleNanoseconds(elapsed));
  }
  TimingResult result;
  result.runs = static_cast<int>(runs_ns.size());
  std::sort(runs_ns.begin(), runs_ns.end());
  result.min_ns = runs_ns.front();
  const size_t n = runs_ns.size();
  result.median_ns = n % 2 == 1 ? runs_ns[n / 2] : 0.5 * (runs_ns[n / 2 - 1] + runs_ns[n / 2]);
  return result;
}

// Sets the thread count of the JIT runtime's thread pool. halide_set_num_threads lives in the JIT
// runtime module (libHalide does not export it), so a one-line pipeline calls it as an extern.
absl::Status SetJitThreads(int num_threads) {
  static std::mutex* mu = new std::mutex();
  static Halide::Param<int>* threads = nullptr;
  static Halide::Pipeline* setter = nullptr;
  std::lock_guard<std::mutex> lock(*mu);
  try {
    if (setter == nullptr) {
      threads = new Halide::Param<int>("num_threads");
      Halide::Func f("set_num_threads");
      f() = Halide::Internal::Call::make(Halide::Int(32), "halide_set_num_threads", {Halide::Expr(*threads)},
                                         Halide::Internal::Call::Extern);
      setter = new Halide::Pipeline(f);
      setter->compile_jit(Halide::get_jit_target_from_environment());
    }
    threads->set(num_threads);
    Halide::Buffer<int> previous = Halide::Buffer<int>::make_scalar();
    setter->realize(previous);
    // Halide 14's halide_set_num_threads only caps the pool's worker threads: after a parallel loop
    // ran on N threads, a lower count still leaves the caller plus the started workers (measured on
    // the 2026-12-03 host: a parallel convolution took 600 us at 1 thread in a fresh process and
    // 320 us at "1 thread" after a 2-thread run). Say so once instead of timing silently wrong.
    static int highest = 1;
    if (num_threads < highest) {
      static bool warned = false;
      if (!warned) {
        warned = true;
        std::cerr << "perfgraph: warning: Halide's JIT thread pool already ran " << highest
                  << " threads in this process and cannot be lowered to " << num_threads
                  << "; timings here may use up to " << highest
                  << " threads (time each thread count in its own process)\n";
      }
    }
    highest = std::max(highest, num_threads);
  } catch (const Halide::Error& e) {
    return absl::InternalError(absl::StrCat("HalideCpuTarget: setting ", num_threads,
                                            " threads failed: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace perfgraph::target

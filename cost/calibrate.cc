#include "cost/calibrate.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <tuple>
#include <vector>

#include "Halide.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "data/machine.h"
#include "graph/hlo_parser.h"
#include "graph/import.h"
#include "graph/ir.h"
#include "graph/status_macros.h"
#include "target/halide_cpu_target.h"
#include "target/measurement.h"
#include "tiling/tile_config.h"

namespace perfgraph::cost {
namespace {

using Halide::Expr;
using Halide::Func;
using Halide::RDom;
using Halide::Var;

using Clock = std::chrono::steady_clock;

// Sets the thread count of Halide's JIT thread pool (shared by every JIT pipeline of the process).
void SetThreads(int num_threads) {
  absl::Status status = target::SetJitThreads(num_threads);
  if (!status.ok()) std::cerr << "calibrate: " << status.message() << "\n";
}

// One timed thing: a compiled kernel and the thread count it runs with.
struct Probe {
  std::string name;
  int threads = 1;
  // One run, returning its wall time in ns.
  std::function<double()> once;
};

// Probe buffers at fixed offsets from a 4 KiB page boundary. Separate heap buffers sit wherever the
// allocator puts them, and when a load stream and a store stream agree modulo 4 KiB the loads wait
// on the stores ("4K aliasing", Intel 64 and IA-32 Architectures Optimization Reference Manual):
// a probe then measures where its buffers happened to land, differently from one run to the next.
class PageArena {
 public:
  static constexpr int64_t kPageFloats = 4096 / sizeof(float);
  // `floats` rounded up to whole pages.
  static int64_t RoundUpToPages(int64_t floats) {
    return (floats + kPageFloats - 1) / kPageFloats * kPageFloats;
  }
  // Room for `floats` floats from a page boundary.
  explicit PageArena(int64_t floats)
      : storage_(std::make_shared<std::vector<float>>(static_cast<size_t>(floats + kPageFloats))) {
    const uintptr_t base = reinterpret_cast<uintptr_t>(storage_->data());
    begin_ = reinterpret_cast<float*>((base + 4095) & ~uintptr_t{4095});
  }
  // The float `offset` floats past the page boundary.
  float* at(int64_t offset) const { return begin_ + offset; }
  // Keeps the memory alive (captured by the probe's run).
  std::shared_ptr<std::vector<float>> storage() const { return storage_; }

 private:
  std::shared_ptr<std::vector<float>> storage_;
  float* begin_ = nullptr;
};

// Times a plain callable once with the steady clock.
std::function<double()> Timed(std::function<void()> run) {
  return [run = std::move(run)] {
    const auto t0 = Clock::now();
    run();
    const auto t1 = Clock::now();
    return std::chrono::duration<double, std::nano>(t1 - t0).count();
  };
}

// minima[probe][round] over every pass: see the file comment of calibrate.h.
struct RoundMinima {
  std::vector<std::vector<double>> minima;  // [probe][round]
  std::vector<int> pass_of_round;
};

RoundMinima RunRounds(const std::vector<Probe>& probes, const CalibrationOptions& options,
                      const std::function<void(const std::string&)>& progress) {
  RoundMinima out;
  out.minima.assign(probes.size(), {});
  std::mt19937_64 rng(options.seed ^ 0xC0FFEEull);
  const absl::Duration slice = options.time_per_measurement / options.rounds;
  // Thread counts in ascending order, each a phase of its own: Halide's JIT thread pool cannot be
  // lowered once more threads ran (target::SetJitThreads), so before this order every 1-thread
  // probe that ran after an all-thread one used both threads (the 2026-12-03 host's "1-thread"
  // peak, bandwidths and scaling all equalled the all-thread ones). Within a phase the probes are
  // interleaved in shuffled rounds as before; every phase runs all passes, and a round's minima are
  // recorded per probe in the same round and pass slots for every phase.
  std::vector<int> counts;
  for (const Probe& p : probes) counts.push_back(p.threads);
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  for (int pass = 0; pass < options.passes; ++pass) {
    for (int round = 0; round < options.rounds; ++round) out.pass_of_round.push_back(pass);
  }
  for (int count : counts) {
    std::vector<size_t> order;
    for (size_t p = 0; p < probes.size(); ++p) {
      if (probes[p].threads == count) order.push_back(p);
    }
    SetThreads(count);
    for (int pass = 0; pass < options.passes; ++pass) {
      for (int round = 0; round < options.rounds; ++round) {
        std::shuffle(order.begin(), order.end(), rng);
        for (size_t p : order) {
          const Probe& probe = probes[p];
          probe.once();  // warm-up: caches, thread-pool start-up after a thread-count change
          double best = std::numeric_limits<double>::infinity();
          const auto start = Clock::now();
          for (int run = 0;; ++run) {
            best = std::min(best, probe.once());
            if (run >= 2 && absl::FromChrono(Clock::now() - start) >= slice) break;
          }
          out.minima[p].push_back(best);
        }
      }
      progress(absl::StrFormat("%d thread(s), pass %d of %d: %d rounds of %d probes done", count,
                               pass + 1, options.passes, options.rounds, order.size()));
    }
  }
  return out;
}

int NativeLanes(const Halide::Target& target) {
  if (target.has_feature(Halide::Target::AVX512)) return 16;
  if (target.has_feature(Halide::Target::AVX)) return 8;
  if (target.arch == Halide::Target::X86) return 4;
  return std::max(1, target.natural_vector_size<float>());
}

// Peak FLOP/s with vectors of `lanes` f32: kChains independent chains per vector, each kLinks
// multiply-adds long. Returns the run and the FLOPs of one run.
std::pair<std::function<void()>, double> PeakFlopsKernel(const Halide::Target& target, int lanes,
                                                         int all_threads, int shrink) {
  constexpr int kChains = 16;
  constexpr int kLinks = 64;
  const int width = lanes * kChains;
  const int per_thread = width * std::max(1, 2048 / shrink);
  const int n = per_thread * all_threads;
  Halide::Param<float> a("a"), b("b");
  a.set(0.999f);
  b.set(0.001f);
  Var x("x"), xo("xo"), xi("xi"), xv("xv");
  Func f("peak_fma");
  Expr v = Halide::cast<float>(x) * 1e-6f;
  for (int i = 0; i < kLinks; ++i) v = v * a + b;
  f(x) = v;
  f.split(x, xo, xi, per_thread).parallel(xo).split(xi, xi, xv, width).vectorize(xv);
  f.compile_jit(target);
  Halide::Buffer<float> out(n);
  return {[f, out]() mutable { f.realize(out); }, 2.0 * kLinks * n};
}

// Peak of a mix: per vector, kChains FMA chains and as many independent add chains (`w = w + c`),
// so that cores with separate FP add pipes (AMD Zen: 2 FMA + 2 FADD pipes, AMD's Software
// Optimization Guide for the Zen 4 microarchitecture) run both at once; FLOPs count 2 per FMA link
// and 1 per add link, as graph::InstructionCost counts them in kernels.
std::pair<std::function<void()>, double> MixedFlopsKernel(const Halide::Target& target, int lanes,
                                                          int shrink) {
  constexpr int kChains = 8;
  constexpr int kLinks = 64;
  const int width = lanes * kChains;
  const int n = width * std::max(1, 2048 / shrink);
  Halide::Param<float> a("a"), b("b"), c("c");
  a.set(0.999f);
  b.set(0.001f);
  c.set(1e-7f);
  Var x("x"), xi("xi"), xv("xv");
  Func f("peak_mixed");
  Expr v = Halide::cast<float>(x) * 1e-6f;
  Expr w = Halide::cast<float>(x) * 2e-6f;
  for (int i = 0; i < kLinks; ++i) {
    v = v * a + b;
    w = w + c;
  }
  f(x) = v + w;
  f.split(x, xi, xv, width).vectorize(xv);
  f.compile_jit(target);
  Halide::Buffer<float> out(n);
  return {[f, out]() mutable { f.realize(out); }, (3.0 * kLinks + 1) * n};
}

// Stream kernel over `total_bytes` (split in all_threads chunks; in and f each hold half). Returns
// the run and the bytes one run moves.
std::pair<std::function<void()>, double> StreamKernel(const Halide::Target& target, int lanes,
                                                      int all_threads, int64_t total_bytes) {
  // Elements per chunk of each buffer, a multiple of the vector width.
  const int width = lanes * 4;
  int64_t chunk = total_bytes / 8 / all_threads;
  chunk = std::max<int64_t>(width, chunk / width * width);
  const int64_t n = chunk * all_threads;
  // Enough sweeps that one run moves >= 64 MiB (so call overhead is negligible), at least one.
  const int sweeps = static_cast<int>(std::clamp<int64_t>((int64_t{64} << 20) / (12 * n), 1, 100000));
  // `in` starts on a page boundary and `out` half a page past one (PageArena): with two separate
  // heap buffers the L1 probe measured 963 vs 478 GB/s in two runs on the 2026-12-03 host, each
  // run's passes within 3 %.
  const int64_t out_offset = PageArena::RoundUpToPages(n) + PageArena::kPageFloats / 2;
  const PageArena arena(out_offset + n);
  Halide::Buffer<float> in(arena.at(0), static_cast<int>(n));
  in.fill(0.5f);
  Halide::ImageParam input(Halide::Float(32), 1, "in");
  input.set(in);
  Halide::Param<float> s("s");
  s.set(0.999f);
  Var x("x"), xo("xo"), xi("xi");
  RDom r(0, sweeps, "sweep");
  Func f("stream");
  f(x) = input(x);
  f(x) = f(x) * s + input(x) + Halide::cast<float>(r.x) * 0.0f;
  f.split(x, xo, xi, static_cast<int>(chunk)).parallel(xo).vectorize(xi, width);
  f.update().split(x, xo, xi, static_cast<int>(chunk)).reorder(xi, r.x, xo).parallel(xo)
      .vectorize(xi, width);
  f.compile_jit(target);
  Halide::Buffer<float> out(arena.at(out_offset), static_cast<int>(n));
  return {[f, out, in, keep = arena.storage()]() mutable { f.realize(out); },
          12.0 * static_cast<double>(n) * (sweeps + 1)};
}

// Accumulator updates with an innermost loop of `inner_vectors` vectors of `lanes` (plus
// `extra_lanes` more, a predicated tail: the target's TailStrategy::GuardWithIf) and a reduction
// loop of `steps` steps outside it (the target's update order: x vectorised, then k, then y).
// Returns the run and the full-vector updates of one run (with one vector per row: its row steps).
// The accumulator is the pipeline's output, in one PageArena with A and B: as an intermediate that
// Halide allocated on every run, its address modulo 4 KiB relative to B changed from run to run,
// and the probe with it (0.44 to 0.48 ns per update across runs and across passes of one run on
// the 2026-12-03 host).
std::pair<std::function<void()>, double> ReductionKernel(const Halide::Target& target, int lanes,
                                                         int inner_vectors, int steps, int shrink,
                                                         int extra_lanes) {
  constexpr int kRows = 64;
  const int x_extent = lanes * inner_vectors + extra_lanes;
  // About 2^18 updates per run (2^14 when shrunk by 16).
  const int y_extent = std::max(16, (262144 / (inner_vectors * steps)) / shrink);
  // Offsets in floats from the page boundary (PageArena): B a quarter page after A's pages, the
  // accumulator half a page after B's.
  const int64_t b_offset =
      PageArena::RoundUpToPages(int64_t{steps} * kRows) + PageArena::kPageFloats / 4;
  const int64_t acc_offset =
      b_offset + PageArena::RoundUpToPages(int64_t{x_extent} * steps) + PageArena::kPageFloats / 2;
  const PageArena arena(acc_offset + int64_t{x_extent} * y_extent);
  Halide::Buffer<float> a_buf(arena.at(0), steps, kRows), b_buf(arena.at(b_offset), x_extent, steps);
  a_buf.fill(0.5f);
  b_buf.fill(0.25f);
  Halide::ImageParam a(Halide::Float(32), 2, "A"), b(Halide::Float(32), 2, "B");
  a.set(a_buf);
  b.set(b_buf);
  Var x("x"), y("y");
  RDom k(0, steps, "k");
  Func acc("acc");
  acc(x, y) = 0.0f;
  acc(x, y) += a(k, y % kRows) * b(x, k);
  acc.vectorize(x, lanes);
  acc.update().reorder(x, k, y).vectorize(x, lanes, Halide::TailStrategy::GuardWithIf);
  acc.compile_jit(target);
  Halide::Buffer<float> result(arena.at(acc_offset), x_extent, y_extent);
  return {[acc, result, a_buf, b_buf, keep = arena.storage()]() mutable { acc.realize(result); },
          static_cast<double>(y_extent) * steps * inner_vectors};
}

// A parallel-for over `n` trivial tasks and its serial twin.
std::pair<std::function<void()>, std::function<void()>> ParallelLaunchKernels(
    const Halide::Target& target, int n) {
  Var x("x");
  Func par("par_empty"), ser("ser_empty");
  par(x) = x;
  ser(x) = x;
  par.parallel(x);
  par.compile_jit(target);
  ser.compile_jit(target);
  Halide::Buffer<int> out(n);
  return {[par, out]() mutable { par.realize(out); }, [ser, out]() mutable { ser.realize(out); }};
}

// A compute_at producer over `tile` x `tile` tiles of an `extent`^2 image (compute-bound, L1/L2
// resident, so only the per-tile work differs between tilings).
std::function<void()> TiledProducerKernel(const Halide::Target& target, int lanes, int extent,
                                          int tile) {
  Halide::Buffer<float> in_buf(extent, extent);
  in_buf.fill(1.0f);
  Halide::ImageParam input(Halide::Float(32), 2, "in");
  input.set(in_buf);
  Halide::Param<float> a("a"), b("b");
  a.set(0.999f);
  b.set(0.5f);
  Var x("x"), y("y"), xo("xo"), yo("yo"), xi("xi"), yi("yi");
  Func g("g"), out("out");
  Expr e = input(x, y);
  for (int i = 0; i < 8; ++i) e = e * a + b;
  g(x, y) = e;
  out(x, y) = g(x, y) + 1.0f;
  out.tile(x, y, xo, yo, xi, yi, tile, tile).vectorize(xi, std::min(tile, lanes));
  g.compute_at(out, xo).vectorize(x, std::min(tile, lanes));
  out.compile_jit(target);
  Halide::Buffer<float> result(extent, extent);
  return [out, result, in_buf]() mutable { out.realize(result); };
}

// The one-element kernel every measured kernel's launch cost is calibrated with.
graph::Kernel LaunchKernel() {
  graph::Kernel kernel;
  kernel.name = "calibrate_launch";
  kernel.kind = graph::FusionKind::kLoop;
  graph::Instruction param;
  param.id = 0;
  param.name = "x";
  param.opcode = graph::HloOpcode::kParameter;
  param.shape = graph::Shape::Make(graph::PrimitiveType::kF32, {1});
  param.attrs.parameter_number = 0;
  graph::Instruction neg;
  neg.id = 1;
  neg.name = "negate";
  neg.opcode = graph::HloOpcode::kNegate;
  neg.shape = param.shape;
  neg.operands = {0};
  kernel.instructions = {param, neg};
  kernel.root = 1;
  kernel.origin = {-1, -1};
  return kernel;
}

// The parallel-scaling kernels: what the target runs (a dot and a convolution, as fused kOutput
// kernels), from HLO text so they never change with the corpus.
constexpr absl::string_view kScalingHlo = R"hlo(
HloModule perfgraph_calibrate_scaling

%fused_dot (p0: f32[256,256], p1: f32[256,256]) -> f32[256,256] {
  %p0 = f32[256,256]{1,0} parameter(0)
  %p1 = f32[256,256]{1,0} parameter(1)
  ROOT %dot = f32[256,256]{1,0} dot(%p0, %p1), lhs_contracting_dims={1}, rhs_contracting_dims={0}
}

%fused_conv (q0: f32[1,64,56,56], q1: f32[64,64,3,3]) -> f32[1,64,56,56] {
  %q0 = f32[1,64,56,56]{3,2,1,0} parameter(0)
  %q1 = f32[64,64,3,3]{3,2,1,0} parameter(1)
  ROOT %conv = f32[1,64,56,56]{3,2,1,0} convolution(%q0, %q1), window={size=3x3 pad=1_1x1_1}, dim_labels=bf01_oi01->bf01
}

ENTRY %main (a: f32[256,256], b: f32[256,256], x: f32[1,64,56,56], w: f32[64,64,3,3]) -> (f32[256,256], f32[1,64,56,56]) {
  %a = f32[256,256]{1,0} parameter(0)
  %b = f32[256,256]{1,0} parameter(1)
  %x = f32[1,64,56,56]{3,2,1,0} parameter(2)
  %w = f32[64,64,3,3]{3,2,1,0} parameter(3)
  %d = f32[256,256]{1,0} fusion(%a, %b), kind=kOutput, calls=%fused_dot
  %c = f32[1,64,56,56]{3,2,1,0} fusion(%x, %w), kind=kOutput, calls=%fused_conv
  ROOT %t = (f32[256,256], f32[1,64,56,56]) tuple(%d, %c)
}
)hlo";

// Iterations of the parallel loop of `config` (analytical_model.cc's loop nest: the outer tile loop
// of the parallel slot when it is split, else its inner tile loop).
int64_t ParallelIterations(const graph::Kernel& kernel, const tiling::TileConfig& config) {
  if (config.parallel_loop < 0) return 1;
  const int slot = config.parallel_loop;
  const int64_t n = kernel.root_instruction().shape.dims[config.tiled_dims[slot]];
  const int64_t t = config.tile[slot];
  return t < n ? (n + t - 1) / t : std::min(t, n);
}

// A constant computed per round from its probes' round minima.
struct ConstantRule {
  std::string name;
  std::string unit;
  std::function<double(const std::vector<double>& m)> per_round;  // m[probe] of one round
};

}  // namespace

int64_t StreamProbeBytes(MemoryLevel level, int64_t l1d_bytes, int64_t l2_bytes, int64_t l3_bytes,
                         int threads, int shrink) {
  switch (level) {
    case kL1:
      return l1d_bytes / 3 * threads;
    case kL2:
      return l2_bytes / 2 * threads;
    case kL3:
      return std::min(l3_bytes / 4, 4 * l2_bytes * threads);
    default:
      return std::max<int64_t>((int64_t{256} << 20) / std::max(1, shrink), 4 * l3_bytes);
  }
}

absl::StatusOr<TargetDescription> Calibrate(const CalibrationOptions& options) {
  if (options.all_threads < 0 || options.all_threads > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("Calibrate: all_threads must be in [0, 256], got ", options.all_threads));
  }
  if (options.time_per_measurement <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("Calibrate: time_per_measurement must be > 0, got ",
                                                   absl::FormatDuration(options.time_per_measurement)));
  }
  if (options.shrink < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("Calibrate: shrink must be >= 1, got ", options.shrink));
  }
  if (options.rounds < 3 || options.passes < 1) {
    return absl::InvalidArgumentError(absl::StrCat("Calibrate: rounds must be >= 3 and passes >= 1, got ",
                                                   options.rounds, " rounds, ", options.passes,
                                                   " passes"));
  }
  int threads = options.all_threads;
  if (threads == 0) threads = std::max<int>(1, static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  auto progress = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };

  TargetDescription t;
  t.machine = data::CurrentMachine(threads, target::HalideVersion());
  t.all_threads = threads;
  t.created_unix_seconds = static_cast<int64_t>(std::time(nullptr));
  // Cache capacities from sysfs or CPUID (via the fingerprint); typical x86 sizes when neither has
  // them, named in the notes.
  std::string fallback_note;
  auto capacity = [&](int64_t value, int64_t fallback, absl::string_view name) {
    if (value > 0) return value;
    absl::StrAppend(&fallback_note, " ", name, " size unknown, assumed ", fallback, " bytes;");
    return fallback;
  };
  t.memory[kL1].capacity_bytes = capacity(t.machine.l1d_cache_bytes, 32 << 10, "L1d");
  t.memory[kL2].capacity_bytes = capacity(t.machine.l2_cache_bytes, 1 << 20, "L2");
  t.memory[kL3].capacity_bytes = capacity(t.machine.l3_cache_bytes, 8 << 20, "L3");
  t.memory[kDram].capacity_bytes = 0;

  // ---- Compile every probe. ----
  std::vector<Probe> probes;
  std::vector<ConstantRule> rules;
  auto add_probe = [&](std::string name, int probe_threads, std::function<double()> once) {
    probes.push_back({std::move(name), probe_threads, std::move(once)});
    return static_cast<int>(probes.size()) - 1;
  };
  std::vector<int> widths;
  std::map<int, std::pair<int, int>> peak_probe;  // width -> (1 thread, all threads) probe
  std::map<int, double> peak_flops_per_run;
  const int64_t l1 = t.memory[kL1].capacity_bytes, l2 = t.memory[kL2].capacity_bytes,
                l3 = t.memory[kL3].capacity_bytes;
  std::array<int64_t, kNumMemoryLevels> sizes;
  for (int level = 0; level < kNumMemoryLevels; ++level) {
    sizes[level] = StreamProbeBytes(static_cast<MemoryLevel>(level), l1, l2, l3, threads,
                                    options.shrink);
  }
  // Kernels of the target itself (kept alive for the probes).
  std::vector<std::unique_ptr<target::HalideCpuTarget>> targets;
  std::vector<std::unique_ptr<target::CompiledKernel>> compiled;
  target::MeasureOptions one_run;  // one timed run per call: the rounds do the repeating
  one_run.warmup_runs = 0;
  one_run.min_runs = 1;
  one_run.max_runs = 1;
  one_run.min_total_time = absl::ZeroDuration();
  auto time_compiled = [&](target::HalideCpuTarget* halide, target::CompiledKernel* kernel) {
    return [halide, kernel, one_run]() -> double {
      absl::StatusOr<target::TimingResult> r = halide->Time(*kernel, one_run);
      return r.ok() ? r->min_ns : std::numeric_limits<double>::quiet_NaN();
    };
  };
  for (int threads_option : {1, threads}) {
    target::HalideCpuTargetOptions target_options;
    target_options.num_threads = threads_option;
    target_options.timing_build = true;
    ASSIGN_OR_RETURN(target::HalideCpuTarget halide, target::HalideCpuTarget::Create(target_options));
    targets.push_back(std::make_unique<target::HalideCpuTarget>(std::move(halide)));
  }
  target::HalideCpuTarget* target_1t = targets[0].get();
  target::HalideCpuTarget* target_all = targets[1].get();
  int launch_probe = -1;
  std::vector<std::pair<int, int>> scaling_probes;  // (1 thread, all threads)
  std::vector<double> scaling_bounds;                // T / ceil(T / P) per scaling kernel
  std::vector<int> dot_peak_probes;                  // register-blocked dots, one thread
  double dot_flops = 0;
  std::string scaling_note;
  {
    ASSIGN_OR_RETURN(target::CompiledKernel launch,
                     target_1t->Compile(LaunchKernel(), tiling::Default(LaunchKernel())));
    compiled.push_back(std::make_unique<target::CompiledKernel>(std::move(launch)));
    launch_probe = add_probe("kernel launch", 1, time_compiled(target_1t, compiled.back().get()));
    ASSIGN_OR_RETURN(std::vector<graph::ImportedModel> models,
                     graph::ParseHloText(kScalingHlo, "calibrate_scaling.hlo", graph::ImportOptions()));
    if (models.empty() || models.front().prefused_kernels.size() != 2) {
      return absl::InternalError("Calibrate: the parallel-scaling HLO does not hold two kernels");
    }
    for (const graph::Kernel& kernel : models.front().prefused_kernels) {
      const tiling::TileConfig config = tiling::Default(kernel);
      const int64_t iterations = ParallelIterations(kernel, config);
      const double bound = static_cast<double>(iterations) /
                           static_cast<double>((iterations + threads - 1) / threads);
      std::pair<int, int> pair;
      for (target::HalideCpuTarget* halide : {target_1t, target_all}) {
        ASSIGN_OR_RETURN(target::CompiledKernel k, halide->Compile(kernel, config));
        compiled.push_back(std::make_unique<target::CompiledKernel>(std::move(k)));
        const int p = add_probe(absl::StrCat(kernel.root_instruction().name, " ", config.ToString()),
                                halide == target_1t ? 1 : threads,
                                time_compiled(halide, compiled.back().get()));
        (halide == target_1t ? pair.first : pair.second) = p;
      }
      scaling_probes.push_back(pair);
      scaling_bounds.push_back(bound);
      // The dot also bounds the peak from below: the target's register-blocked schedules of it
      // (accumulator rows of 2-4 native vectors, analytical_model.cc "register-resident
      // accumulators") on one thread.
      if (kernel.root_instruction().opcode == graph::HloOpcode::kDot) {
        dot_flops = 2.0 * 256 * 256 * 256;
        // (n tile, m tile, vector width, reduction split): register-blocked vector schedules, and
        // scalar ones that LLVM's loop vectoriser blocks itself (the fastest configs of the
        // reference tile dataset's dots, e.g. transformer_encoder_d256_l2_s256/fusion.0 at 78
        // GFLOP/s with tile=16,64;split=4;vec=1).
        for (const auto& [n_tile, m_tile, vec, split] :
             {std::tuple<int64_t, int64_t, int, int64_t>{32, 4, 8, 1}, {16, 8, 8, 1}, {32, 8, 8, 1},
              {16, 64, 1, 4}, {32, 16, 1, 4}}) {
          tiling::TileConfig blocked;
          blocked.tiled_dims = {1, 0, -1};
          blocked.tile = {n_tile, m_tile, 0};
          blocked.vector_width = vec;
          blocked.reduction_split = split;
          blocked.parallel_loop = -1;
          ASSIGN_OR_RETURN(target::CompiledKernel k, target_1t->Compile(kernel, blocked));
          compiled.push_back(std::make_unique<target::CompiledKernel>(std::move(k)));
          dot_peak_probes.push_back(add_probe(absl::StrCat("dot ", blocked.ToString()), 1,
                                              time_compiled(target_1t, compiled.back().get())));
        }
      }
      absl::StrAppend(&scaling_note, " ", kernel.root_instruction().name, " ", config.ToString(), " (",
                      iterations, " parallel iterations, bound ", absl::StrFormat("%.2f", bound), ");");
    }
  }
  try {
    const Halide::Target target = Halide::get_jit_target_from_environment();
    t.halide_target = target.to_string();
    const int widest = NativeLanes(target);
    auto [mixed_run, mixed_flops] = MixedFlopsKernel(target, std::min(widest, 8), options.shrink);
    const int mixed_probe = add_probe("FMA + add chains", 1, Timed(mixed_run));
    for (int width = 4; width <= widest; width *= 2) {
      auto [run, flops] = PeakFlopsKernel(target, width, threads, options.shrink);
      widths.push_back(width);
      peak_flops_per_run[width] = flops;
      peak_probe[width] = {add_probe(absl::StrCat("peak ", width, " lanes"), 1, Timed(run)),
                           add_probe(absl::StrCat("peak ", width, " lanes"), threads, Timed(run))};
    }
    progress(absl::StrFormat("compiled the peak probes (4..%d lanes)", widest));
    // Bandwidth, reduction and overhead probes use the native width, which the peak probes decide;
    // compile them for every candidate width would double the work, so they use Halide's widest
    // width capped at 8 lanes (the reduction update and stream kernels are memory-issue bound, and
    // the native width is 8 on every x86 core we know that splits 512-bit ops).
    const int lanes = std::min(widest, 8);
    // The reduction update is timed per vector of `lanes`, which the model converts to native
    // vectors (AnalyticalModel: memory updates; cost::ReductionUpdateLanes).
    t.reduction_update_lanes = lanes;
    std::array<int, kNumMemoryLevels> bw_1t{}, bw_all{};
    std::array<double, kNumMemoryLevels> bw_bytes{};
    for (int l = 0; l < kNumMemoryLevels; ++l) {
      auto [run, bytes] = StreamKernel(target, lanes, threads, sizes[l]);
      bw_bytes[l] = bytes;
      const std::string name = absl::StrCat(MemoryLevelName(static_cast<MemoryLevel>(l)), " stream");
      bw_1t[l] = add_probe(name, 1, Timed(run));
      bw_all[l] = add_probe(name, threads, Timed(run));
      t.memory[l].measured_working_set_bytes = sizes[l];
    }
    auto [reduction_run, updates] = ReductionKernel(target, lanes, 8, 32, options.shrink, 0);
    const int reduction_probe = add_probe("reduction update", 1, Timed(reduction_run));
    // One vector and a one-lane predicated tail per row: what a ragged row of the target costs per
    // reduction step (TargetDescription::masked_tail_ns).
    auto [masked_run, masked_steps] = ReductionKernel(target, lanes, 1, 32, options.shrink, 1);
    const int masked_probe = add_probe("masked tail", 1, Timed(masked_run));
    auto [par_run, ser_run] = ParallelLaunchKernels(target, threads);
    const int par_probe = add_probe("parallel-for", threads, Timed(par_run));
    const int ser_probe = add_probe("serial twin", threads, Timed(ser_run));
    const int extent = std::max(128, 256 / options.shrink);
    const int small_probe =
        add_probe("8x8 tiles", 1, Timed(TiledProducerKernel(target, lanes, extent, 8)));
    const int large_probe =
        add_probe("64x64 tiles", 1, Timed(TiledProducerKernel(target, lanes, extent, 64)));
    const double tiles_small = (extent / 8.0) * (extent / 8.0);
    const double tiles_large = (extent / 64.0) * (extent / 64.0);
    progress(absl::StrFormat("compiled %d probes", probes.size()));

    // ---- Constants per round. ----
    for (int width : widths) {
      const auto [one, all] = peak_probe[width];
      const double flops = peak_flops_per_run[width];
      // The FMA chains' rate, or the FMA + add mix or the target's best register-blocked dot when
      // faster (their rates are achieved by real code, so the peak is at least that). All threads:
      // at least the one-thread peak.
      auto dot_rate = [dot_peak_probes, dot_flops, mixed_probe,
                       mixed = mixed_flops](const std::vector<double>& m) {
        double best = mixed / m[mixed_probe] * 1e9;
        for (int p : dot_peak_probes) best = std::max(best, dot_flops / m[p] * 1e9);
        return best;
      };
      rules.push_back({absl::StrCat("peak_flops_1t@", width), "FLOP/s",
                       [one = one, flops, dot_rate](const std::vector<double>& m) {
                         return std::max(flops / m[one] * 1e9, dot_rate(m));
                       }});
      rules.push_back({absl::StrCat("peak_flops_all@", width), "FLOP/s",
                       [one = one, all = all, flops, dot_rate](const std::vector<double>& m) {
                         return std::max({flops / m[all] * 1e9, flops / m[one] * 1e9, dot_rate(m)});
                       }});
    }
    for (int l = 0; l < kNumMemoryLevels; ++l) {
      const std::string level(MemoryLevelName(static_cast<MemoryLevel>(l)));
      const double bytes = bw_bytes[l];
      rules.push_back({absl::StrCat(level, " bandwidth_1t"), "B/s",
                       [p = bw_1t[l], bytes](const std::vector<double>& m) { return bytes / m[p] * 1e9; }});
      rules.push_back({absl::StrCat(level, " bandwidth_all"), "B/s",
                       [p = bw_all[l], bytes](const std::vector<double>& m) { return bytes / m[p] * 1e9; }});
    }
    rules.push_back({"reduction_update_ns", "ns", [p = reduction_probe, u = updates](const std::vector<double>& m) {
                       return m[p] / u;
                     }});
    rules.push_back({"masked_tail_ns", "ns", [p = masked_probe, u = masked_steps](const std::vector<double>& m) {
                       return m[p] / u;
                     }});
    rules.push_back({"kernel_launch_ns", "ns", [p = launch_probe](const std::vector<double>& m) { return m[p]; }});
    rules.push_back({"parallel_launch_ns", "ns", [par_probe, ser_probe](const std::vector<double>& m) {
                       return std::max(0.0, m[par_probe] - m[ser_probe]);
                     }});
    rules.push_back({"tile_overhead_ns", "ns",
                     [small_probe, large_probe, tiles_small, tiles_large](const std::vector<double>& m) {
                       return std::max(0.0, (m[small_probe] - m[large_probe]) / (tiles_small - tiles_large));
                     }});
    rules.push_back({"parallel_scaling", "1",
                     [scaling_probes, scaling_bounds, threads](const std::vector<double>& m) {
                       if (threads == 1) return 1.0;
                       double log_sum = 0;
                       for (size_t k = 0; k < scaling_probes.size(); ++k) {
                         const double speedup = m[scaling_probes[k].first] / m[scaling_probes[k].second];
                         log_sum += std::log(std::clamp(speedup / scaling_bounds[k], 0.05, 1.0));
                       }
                       return std::exp(log_sum / static_cast<double>(scaling_probes.size()));
                     }});
  } catch (const Halide::Error& e) {
    return absl::InternalError(absl::StrCat("Calibrate: Halide failed: ", e.what()));
  }

  // ---- Interleaved rounds. ----
  RoundMinima minima;
  try {
    minima = RunRounds(probes, options, progress);
  } catch (const Halide::Error& e) {
    return absl::InternalError(absl::StrCat("Calibrate: Halide failed: ", e.what()));
  }
  const int total_rounds = static_cast<int>(minima.pass_of_round.size());
  for (size_t p = 0; p < probes.size(); ++p) {
    for (double v : minima.minima[p]) {
      if (!(v > 0) || !std::isfinite(v)) {
        return absl::InternalError(absl::StrCat("Calibrate: probe '", probes[p].name, "' (",
                                                probes[p].threads, " threads) timed ", v, " ns"));
      }
    }
  }
  // Each probe's fastest run over a set of rounds, the labels' default statistic (data/label.h: the
  // minimum repeats best on this VM, whose noise only ever slows a run down). A constant's value
  // comes from its probes' minima over every round, its pass values from each pass's minima, and
  // its spread from the values of the single rounds.
  auto probe_minima = [&](int pass) {  // pass -1: every round
    std::vector<double> m(probes.size(), std::numeric_limits<double>::infinity());
    for (int r = 0; r < total_rounds; ++r) {
      if (pass >= 0 && minima.pass_of_round[r] != pass) continue;
      for (size_t p = 0; p < probes.size(); ++p) m[p] = std::min(m[p], minima.minima[p][r]);
    }
    return m;
  };
  std::map<std::string, CalibratedConstant> constants;
  for (const ConstantRule& rule : rules) {
    std::vector<double> values;
    for (int r = 0; r < total_rounds; ++r) {
      std::vector<double> m(probes.size());
      for (size_t p = 0; p < probes.size(); ++p) m[p] = minima.minima[p][r];
      values.push_back(rule.per_round(m));
    }
    CalibratedConstant c;
    c.name = rule.name;
    c.unit = rule.unit;
    c.value = rule.per_round(probe_minima(-1));
    c.spread = target::RoundSpread(values);
    for (int pass = 0; pass < options.passes; ++pass) {
      c.pass_values.push_back(rule.per_round(probe_minima(pass)));
    }
    const auto [lo, hi] = std::minmax_element(c.pass_values.begin(), c.pass_values.end());
    c.pass_disagreement = c.value > 0 ? (*hi - *lo) / c.value : 0;
    constants[c.name] = c;
  }
  // The narrowest vector within 10 % of the best single-thread FLOP rate is the native width for
  // this model (wider vectors then only split into several native ops).
  double best = 0;
  for (int width : widths) best = std::max(best, constants[absl::StrCat("peak_flops_1t@", width)].value);
  for (int width : widths) {
    if (constants[absl::StrCat("peak_flops_1t@", width)].value >= 0.9 * best) {
      t.native_f32_lanes = width;
      break;
    }
  }
  for (int width : widths) {
    for (const char* which : {"peak_flops_1t", "peak_flops_all"}) {
      const CalibratedConstant& c = constants[absl::StrCat(which, "@", width)];
      progress(absl::StrFormat("%s with %d lanes: %s (spread %.1f %%)", which, width,
                               FormatConstant(c.value, c.unit), 100 * c.spread));
      if (width == t.native_f32_lanes) {
        CalibratedConstant renamed = c;
        renamed.name = which;
        constants[which] = renamed;
      }
    }
  }
  progress(absl::StrFormat("native width %d f32 lanes", t.native_f32_lanes));
  t.peak_flops_1t = constants["peak_flops_1t"].value;
  t.peak_flops_all = constants["peak_flops_all"].value;
  for (int l = 0; l < kNumMemoryLevels; ++l) {
    const std::string level(MemoryLevelName(static_cast<MemoryLevel>(l)));
    t.memory[l].bandwidth_1t_bytes_per_s = constants[absl::StrCat(level, " bandwidth_1t")].value;
    t.memory[l].bandwidth_all_bytes_per_s = constants[absl::StrCat(level, " bandwidth_all")].value;
  }
  t.reduction_update_ns = constants["reduction_update_ns"].value;
  t.masked_tail_ns = constants["masked_tail_ns"].value;
  t.kernel_launch_ns = constants["kernel_launch_ns"].value;
  t.parallel_launch_ns = constants["parallel_launch_ns"].value;
  t.tile_overhead_ns = constants["tile_overhead_ns"].value;
  t.parallel_scaling = std::clamp(constants["parallel_scaling"].value, 0.05, 1.0);
  for (const auto& [name, value] : NamedConstants(t)) {
    CalibratedConstant c = constants[name];
    c.name = name;
    progress(absl::StrFormat("%s: %s, spread %.1f %%, passes %s (disagree %.1f %%)", name,
                             FormatConstant(c.value, c.unit), 100 * c.spread,
                             absl::StrJoin(c.pass_values, " / ",
                                           [&](std::string* out, double v) {
                                             absl::StrAppend(out, FormatConstant(v, c.unit));
                                           }),
                             100 * c.pass_disagreement));
    t.calibration.push_back(std::move(c));
  }
  t.notes = absl::StrCat("perfgraph calibrate, ", threads, " threads, shrink ", options.shrink, ", ",
                         options.passes, " passes x ", options.rounds, " interleaved rounds, ",
                         absl::FormatDuration(options.time_per_measurement),
                         " per probe and pass; parallel scaling kernels:", scaling_note,
                         fallback_note);
  absl::Status valid = ValidateTargetDescription(t);
  if (!valid.ok()) {
    return absl::InternalError(absl::StrCat("Calibrate: implausible measurement: ", valid.message()));
  }
  return t;
}

}  // namespace perfgraph::cost

#include "cost/calibrate.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <iostream>
#include <vector>

#include "Halide.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/machine.h"
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

// Median wall time of `run` in ns: one warm-up run, then at least 5 timed runs and until `budget`.
// The median rather than the minimum: on shared virtual machines single runs can be timed
// implausibly fast or slow, and the median ignores both tails.
double MedianNs(const std::function<void()>& run, absl::Duration budget) {
  run();
  std::vector<double> samples;
  const auto start = Clock::now();
  for (int i = 0; i < 100000; ++i) {
    const auto t0 = Clock::now();
    run();
    const auto t1 = Clock::now();
    samples.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    if (i >= 4 && absl::FromChrono(t1 - start) >= budget) break;
  }
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return samples[samples.size() / 2];
}

struct Pair {
  double one = 0;
  double all = 0;
};

// Times `run` with 1 thread and with `all_threads` threads.
Pair TimeBoth(const std::function<void()>& run, int all_threads, absl::Duration budget) {
  Pair p;
  SetThreads(1);
  p.one = MedianNs(run, budget);
  SetThreads(all_threads);
  p.all = MedianNs(run, budget);
  SetThreads(1);
  return p;
}

int NativeLanes(const Halide::Target& target) {
  if (target.has_feature(Halide::Target::AVX512)) return 16;
  if (target.has_feature(Halide::Target::AVX)) return 8;
  if (target.arch == Halide::Target::X86) return 4;
  return std::max(1, target.natural_vector_size<float>());
}

// Peak FLOP/s with vectors of `lanes` f32: kChains independent chains per vector, each kLinks
// multiply-adds long.
Pair MeasurePeakFlops(const Halide::Target& target, int lanes, int all_threads, int shrink,
                      absl::Duration budget) {
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
  Pair t = TimeBoth([&] { f.realize(out); }, all_threads, budget);
  const double flops = 2.0 * kLinks * n;
  return {flops / t.one * 1e9, flops / t.all * 1e9};
}

// Stream bandwidth over `total_bytes` (split in all_threads chunks; in and f each hold half).
Pair MeasureBandwidth(const Halide::Target& target, int lanes, int all_threads, int64_t total_bytes,
                      absl::Duration budget) {
  // Elements per chunk of each buffer, a multiple of the vector width.
  const int width = lanes * 4;
  int64_t chunk = total_bytes / 8 / all_threads;
  chunk = std::max<int64_t>(width, chunk / width * width);
  const int64_t n = chunk * all_threads;
  // Enough sweeps that one run moves >= 64 MiB (so call overhead is negligible), at least one.
  const int sweeps = static_cast<int>(std::clamp<int64_t>((int64_t{64} << 20) / (12 * n), 1, 100000));
  Halide::Buffer<float> in(static_cast<int>(n));
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
  Halide::Buffer<float> out(static_cast<int>(n));
  Pair t = TimeBoth([&] { f.realize(out); }, all_threads, budget);
  const double bytes = 12.0 * static_cast<double>(n) * (sweeps + 1);
  return {bytes / t.one * 1e9, bytes / t.all * 1e9};
}

// Time per accumulator update with an innermost loop of `inner_vectors` vectors and a reduction
// loop of `steps` steps outside it (the target's update order: x vectorised, then k, then y).
double ReductionUpdateNs(const Halide::Target& target, int lanes, int inner_vectors, int steps,
                         int shrink, absl::Duration budget) {
  constexpr int kRows = 64;
  const int x_extent = lanes * inner_vectors;
  // About 2^18 updates per run (2^14 when shrunk by 16).
  const int y_extent = std::max(16, (262144 / (inner_vectors * steps)) / shrink);
  Halide::Buffer<float> a_buf(steps, kRows), b_buf(x_extent, steps);
  a_buf.fill(0.5f);
  b_buf.fill(0.25f);
  Halide::ImageParam a(Halide::Float(32), 2, "A"), b(Halide::Float(32), 2, "B");
  a.set(a_buf);
  b.set(b_buf);
  Var x("x"), y("y");
  RDom k(0, steps, "k");
  Func acc("acc"), out("out");
  acc(x, y) = 0.0f;
  acc(x, y) += a(k, y % kRows) * b(x, k);
  out(x, y) = acc(x, y);
  acc.compute_root().vectorize(x, lanes);
  acc.update().reorder(x, k, y).vectorize(x, lanes);
  out.vectorize(x, lanes);
  out.compile_jit(target);
  Halide::Buffer<float> result(x_extent, y_extent);
  SetThreads(1);
  const double ns = MedianNs([&] { out.realize(result); }, budget);
  const double updates = static_cast<double>(y_extent) * steps * inner_vectors;
  return ns / updates;
}

double MeasureParallelLaunch(const Halide::Target& target, int all_threads, absl::Duration budget) {
  Var x("x");
  Func par("par_empty"), ser("ser_empty");
  par(x) = x;
  ser(x) = x;
  par.parallel(x);
  par.compile_jit(target);
  ser.compile_jit(target);
  Halide::Buffer<int> out(all_threads);
  SetThreads(all_threads);
  const double t_par = MedianNs([&] { par.realize(out); }, budget);
  const double t_ser = MedianNs([&] { ser.realize(out); }, budget);
  SetThreads(1);
  return std::max(0.0, t_par - t_ser);
}

double MeasureTileOverhead(const Halide::Target& target, int lanes, int shrink,
                           absl::Duration budget) {
  // Compute-bound and L1/L2-resident, so only the per-tile work differs between the two tilings.
  const int extent = std::max(128, 256 / shrink);
  Halide::Buffer<float> in_buf(extent, extent);
  in_buf.fill(1.0f);
  Halide::ImageParam input(Halide::Float(32), 2, "in");
  input.set(in_buf);
  Halide::Param<float> a("a"), b("b");
  a.set(0.999f);
  b.set(0.5f);
  auto time_tiles = [&](int tile) {
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
    SetThreads(1);
    return MedianNs([&] { out.realize(result); }, budget);
  };
  const double small = time_tiles(8);
  const double large = time_tiles(64);
  const double tiles_small = (extent / 8.0) * (extent / 8.0);
  const double tiles_large = (extent / 64.0) * (extent / 64.0);
  return std::max(0.0, (small - large) / (tiles_small - tiles_large));
}

// One run of a one-element kernel through the real target.
absl::StatusOr<double> MeasureKernelLaunch(absl::Duration budget) {
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
  ASSIGN_OR_RETURN(target::HalideCpuTarget halide, target::HalideCpuTarget::Create({}));
  ASSIGN_OR_RETURN(target::CompiledKernel compiled,
                   halide.Compile(kernel, tiling::Default(kernel)));
  target::MeasureOptions options;
  options.warmup_runs = 10;
  options.min_runs = 200;
  options.max_runs = 20000;
  options.min_total_time = budget;
  ASSIGN_OR_RETURN(target::TimingResult timing, halide.Time(compiled, options));
  return timing.min_ns;
}

std::string Gbs(double bytes_per_s) { return absl::StrFormat("%.1f GB/s", bytes_per_s / 1e9); }

}  // namespace

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
  int threads = options.all_threads;
  if (threads == 0) threads = std::max<int>(1, static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  const absl::Duration budget = options.time_per_measurement;
  auto progress = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };

  TargetDescription t;
  t.machine = data::CurrentMachine(threads, target::HalideVersion());
  t.all_threads = threads;
  t.created_unix_seconds = static_cast<int64_t>(std::time(nullptr));
  // Cache capacities from sysfs (via the fingerprint); typical x86 sizes when sysfs has none.
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

  try {
    const Halide::Target target = Halide::get_jit_target_from_environment();
    t.halide_target = target.to_string();
    // The narrowest vector within 10 % of the best FLOP rate is the native width for this model
    // (wider vectors then only split into several native ops).
    const int widest = NativeLanes(target);
    std::vector<std::pair<int, Pair>> peaks;
    for (int width = 4; width <= widest; width *= 2) {
      peaks.push_back({width, MeasurePeakFlops(target, width, threads, options.shrink, budget)});
      progress(absl::StrFormat("peak with %d lanes: 1 thread %.1f GFLOP/s, %d threads %.1f GFLOP/s",
                               width, peaks.back().second.one / 1e9, threads,
                               peaks.back().second.all / 1e9));
    }
    double best = 0;
    for (const auto& [width, p] : peaks) best = std::max(best, p.one);
    for (const auto& [width, p] : peaks) {
      if (p.one >= 0.9 * best) {
        t.native_f32_lanes = width;
        t.peak_flops_1t = p.one;
        t.peak_flops_all = p.all;
        break;
      }
    }
    const int lanes = t.native_f32_lanes;
    progress(absl::StrFormat("native width %d f32 lanes (Halide's widest: %d)", lanes, widest));

    const int64_t l1 = t.memory[kL1].capacity_bytes, l2 = t.memory[kL2].capacity_bytes,
                  l3 = t.memory[kL3].capacity_bytes;
    const std::array<int64_t, kNumMemoryLevels> sizes = {
        l1 / 3 * threads, l2 / 2 * threads, l3 / 4,
        std::max<int64_t>((int64_t{256} << 20) / options.shrink, 4 * l3)};
    for (int l = 0; l < kNumMemoryLevels; ++l) {
      const Pair bw = MeasureBandwidth(target, lanes, threads, sizes[l], budget);
      t.memory[l].measured_working_set_bytes = sizes[l];
      t.memory[l].bandwidth_1t_bytes_per_s = bw.one;
      t.memory[l].bandwidth_all_bytes_per_s = bw.all;
      progress(absl::StrCat(MemoryLevelName(static_cast<MemoryLevel>(l)), " bandwidth (",
                            sizes[l] >> 10, " KiB): 1 thread ", Gbs(bw.one), ", ", threads,
                            " threads ", Gbs(bw.all)));
    }

    // 8 independent vectors per reduction step: the throughput of the target's update loop.
    t.reduction_update_ns = ReductionUpdateNs(target, lanes, 8, 32, options.shrink, budget);
    progress(absl::StrFormat("reduction update: %.3f ns per vector update", t.reduction_update_ns));

    t.parallel_launch_ns = MeasureParallelLaunch(target, threads, budget);
    progress(absl::StrFormat("parallel launch: %.0f ns", t.parallel_launch_ns));
    t.tile_overhead_ns = MeasureTileOverhead(target, lanes, options.shrink, budget);
    progress(absl::StrFormat("tile overhead: %.1f ns", t.tile_overhead_ns));
  } catch (const Halide::Error& e) {
    return absl::InternalError(absl::StrCat("Calibrate: Halide failed: ", e.what()));
  }
  ASSIGN_OR_RETURN(t.kernel_launch_ns, MeasureKernelLaunch(budget));
  progress(absl::StrFormat("kernel launch: %.0f ns", t.kernel_launch_ns));

  t.notes = absl::StrCat("perfgraph calibrate, ", threads, " threads, shrink ", options.shrink, ",",
                         fallback_note, " ", absl::FormatDuration(budget), " per measurement");
  absl::Status valid = ValidateTargetDescription(t);
  if (!valid.ok()) {
    return absl::InternalError(absl::StrCat("Calibrate: implausible measurement: ", valid.message()));
  }
  return t;
}

}  // namespace perfgraph::cost

#include "target/measurement.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <atomic>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/label.h"
#include "data/machine.h"
#include "graph/hlo_parser.h"
#include "graph/import.h"

namespace perfgraph::target {

namespace {

// HalideCpuTarget::Time options for exactly one timed run and no warm-up: each call is one sample.
MeasureOptions OneTimedRun() {
  MeasureOptions single;
  single.warmup_runs = 0;
  single.min_runs = 1;
  single.max_runs = 1;
  single.min_total_time = absl::ZeroDuration();
  return single;
}

}  // namespace

absl::string_view HalideVersion() { return data::BuildHalideVersion(); }

absl::string_view MeasureStatusName(MeasureStatus status) {
  switch (status) {
    case MeasureStatus::kOk: return "ok";
    case MeasureStatus::kInvalid: return "invalid";
    case MeasureStatus::kTimeout: return "timeout";
  }
  return "invalid";
}

bool BestThreeAgree(const std::vector<double>& samples_ns, double agreement) {
  if (samples_ns.size() < 3) return false;
  std::vector<double> best(3);
  std::partial_sort_copy(samples_ns.begin(), samples_ns.end(), best.begin(), best.end());
  return best[0] > 0 && best[2] <= best[0] * (1.0 + agreement);
}

Measurement MeasureConfig(const HalideCpuTarget& target, const graph::Kernel& kernel,
                          const tiling::TileConfig& config, double best_label_ns,
                          const ProtocolOptions& options) {
  auto compiled = target.Compile(kernel, config);
  if (!compiled.ok()) {
    Measurement m;
    m.status = MeasureStatus::kInvalid;
    m.error = absl::StrCat("compile: ", compiled.status().ToString());
    return m;
  }
  return MeasureCompiled(target, *compiled, best_label_ns, options);
}

Measurement MeasureCompiled(const HalideCpuTarget& target, CompiledKernel& compiled,
                            double best_label_ns, const ProtocolOptions& options) {
  Measurement m;
  m.compile_time = compiled.compile_time();

  // One run per Time() call: warm-up runs are not samples, each timed call returns one sample.
  const MeasureOptions single = OneTimedRun();
  const absl::Time start = absl::Now();
  for (int i = 0; i < options.warmup_runs; ++i) {
    auto warm = target.Time(compiled, single);
    if (!warm.ok()) {
      m.status = MeasureStatus::kInvalid;
      m.error = absl::StrCat("run: ", warm.status().ToString());
      return m;
    }
    // A warm-up run already far slower than the best config: do not spend the protocol on it.
    if (best_label_ns > 0 && warm->min_ns > options.timeout_factor * best_label_ns) {
      m.status = MeasureStatus::kTimeout;
      m.samples_ns.push_back(warm->min_ns);
      m.error = absl::StrFormat("warm-up run %.0f ns > %.0fx the best config (%.0f ns)",
                                warm->min_ns, options.timeout_factor, best_label_ns);
      return m;
    }
  }
  while (static_cast<int>(m.samples_ns.size()) < options.max_runs) {
    auto run = target.Time(compiled, single);
    if (!run.ok()) {
      m.status = MeasureStatus::kInvalid;
      m.error = absl::StrCat("run: ", run.status().ToString());
      return m;
    }
    m.samples_ns.push_back(run->min_ns);
    if (m.samples_ns.size() == 1 && best_label_ns > 0 &&
        run->min_ns > options.timeout_factor * best_label_ns) {
      m.status = MeasureStatus::kTimeout;
      m.error = absl::StrFormat("first run %.0f ns > %.0fx the best config (%.0f ns)", run->min_ns,
                                options.timeout_factor, best_label_ns);
      return m;
    }
    const int n = static_cast<int>(m.samples_ns.size());
    m.converged = BestThreeAgree(m.samples_ns, options.agreement);
    if (n >= options.min_runs && m.converged) break;
    if (absl::Now() - start > options.max_run_time) {
      if (n < options.min_runs) {
        m.status = MeasureStatus::kTimeout;
        m.error = absl::StrCat("wall-clock cap ", absl::FormatDuration(options.max_run_time),
                               " reached after ", n, " runs");
        return m;
      }
      break;
    }
  }
  m.status = MeasureStatus::kOk;
  m.label_ns = *std::min_element(m.samples_ns.begin(), m.samples_ns.end());
  return m;
}

}  // namespace perfgraph::target

// ---------------------------------------------------------------------------------------------
// Protocol v2.

namespace perfgraph::target {
namespace {

constexpr absl::string_view kCanaryHlo = R"hlo(
HloModule perfgraph_canary

%fused_dot (p0: f32[192,192], p1: f32[192,192]) -> f32[192,192] {
  %p0 = f32[192,192]{1,0} parameter(0)
  %p1 = f32[192,192]{1,0} parameter(1)
  ROOT %dot = f32[192,192]{1,0} dot(%p0, %p1), lhs_contracting_dims={1}, rhs_contracting_dims={0}
}

ENTRY %main (a: f32[192,192], b: f32[192,192]) -> f32[192,192] {
  %a = f32[192,192]{1,0} parameter(0)
  %b = f32[192,192]{1,0} parameter(1)
  ROOT %canary = f32[192,192]{1,0} fusion(%a, %b), kind=kOutput, calls=%fused_dot
}
)hlo";

// Bytes of a compiled kernel's buffers: its parameters and its root (4 bytes an element, the widest
// compute type the lowering allocates for f32 and narrower types; i64 counts double).
int64_t KernelBufferBytes(const graph::Kernel& kernel) {
  auto bytes = [](const graph::Shape& shape) {
    return std::max(shape.ByteSize(), shape.NumElements() * 4);
  };
  int64_t total = bytes(kernel.root_instruction().shape);
  for (const graph::Instruction& inst : kernel.instructions) {
    if (inst.opcode == graph::HloOpcode::kParameter) total += bytes(inst.shape);
  }
  return total;
}

// Runs `compiled` back to back per the round rule; returns the run times (ns). Stops early after a
// run longer than max_run_time. Error: the run's error.
absl::StatusOr<std::vector<double>> RunRound(const HalideCpuTarget& target, CompiledKernel& compiled,
                                             const InterleavedOptions& options) {
  const MeasureOptions single = OneTimedRun();
  std::vector<double> runs;
  double total_ns = 0;
  const double min_total_ns = absl::ToDoubleNanoseconds(options.min_time_per_round);
  const double max_run_ns = absl::ToDoubleNanoseconds(options.max_run_time);
  while (static_cast<int>(runs.size()) < options.max_runs_per_round &&
         (static_cast<int>(runs.size()) < options.min_runs_per_round || total_ns < min_total_ns)) {
    auto run = target.Time(compiled, single);
    if (!run.ok()) return run.status();
    runs.push_back(run->min_ns);
    total_ns += run->min_ns;
    if (run->min_ns > max_run_ns) break;
  }
  return runs;
}

struct LiveConfig {
  int index;                  // into configs / result.configs
  CompiledKernel compiled;
  bool live = true;      // false once INVALID or censored
  bool retired = false;  // stable: measured enough, no more rounds
};

}  // namespace

const graph::Kernel& CanaryKernel() {
  static const graph::Kernel* kernel = [] {
    auto models = graph::ParseHloText(kCanaryHlo, "canary.hlo", graph::ImportOptions());
    if (!models.ok() || models->empty() || models->front().prefused_kernels.size() != 1) {
      // The text above is a constant of this file: failing to parse it is a programming error.
      std::fprintf(stderr, "perfgraph: the canary kernel does not parse: %s\n",
                   std::string(models.status().message()).c_str());
      std::abort();
    }
    return new graph::Kernel(models->front().prefused_kernels.front());
  }();
  return *kernel;
}

double RoundSpread(std::vector<double> minima) {
  if (minima.size() < 2) return 0;
  std::sort(minima.begin(), minima.end());
  const size_t n = minima.size();
  // Quartiles by the nearest-rank rule: the lower and upper quarter points of the sorted minima.
  const double q1 = minima[(n - 1) / 4];
  const double q3 = minima[n - 1 - (n - 1) / 4];
  const double median = data::Median(minima);
  return median > 0 ? (q3 - q1) / median : 0;
}

absl::StatusOr<KernelMeasurement> MeasureKernelInterleaved(
    const HalideCpuTarget& target, const graph::Kernel& kernel,
    absl::Span<const tiling::TileConfig> configs, CompiledKernel* canary, double canary_baseline_ns,
    const InterleavedOptions& options, const ProtocolHooks& hooks) {
  if (options.warmup_runs < 0 || options.min_rounds < 1 || options.max_rounds < options.min_rounds ||
      options.min_runs_per_round < 1 || options.max_runs_per_round < options.min_runs_per_round ||
      options.stability <= 0 || options.timeout_factor <= 1 || options.max_round_repeats < 0 ||
      options.canary_tolerance <= 0 || options.max_group_bytes <= 0 ||
      options.compile_threads < 1 || options.max_compile_time <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MeasureKernelInterleaved: inconsistent options (warmup_runs ", options.warmup_runs,
        ", rounds ", options.min_rounds, "..", options.max_rounds, ", runs per round ",
        options.min_runs_per_round, "..", options.max_runs_per_round, ", stability ",
        options.stability, ", timeout_factor ", options.timeout_factor, ")"));
  }
  auto event = [&](int index, ProtocolPhase phase) {
    if (hooks.on_event) hooks.on_event(index, phase);
  };
  KernelMeasurement result;
  result.configs.resize(configs.size());
  std::mt19937_64 rng(options.seed ^ 0x9E3779B97F4A7C15ull);
  double baseline = canary_baseline_ns;

  size_t next = 0;
  const absl::Time compile_start = absl::Now();
  std::atomic<bool> compile_budget_spent{false};
  while (next < configs.size()) {
    // 1. Compile a group of configs, bounded by buffer memory: every config of a kernel has the
    // same buffers (its parameters and its root), so the group size follows from one kernel.
    const int64_t per_config_bytes = std::max<int64_t>(1, KernelBufferBytes(kernel));
    const size_t group_size = static_cast<size_t>(
        std::max<int64_t>(1, options.max_group_bytes / per_config_bytes));
    const size_t first = next;
    const size_t last = std::min(configs.size(), first + group_size);
    next = last;
    std::vector<std::optional<absl::StatusOr<CompiledKernel>>> compiled(last - first);
    {
      // Configs are compiled by `compile_threads` workers taking the next index in turn.
      std::atomic<size_t> cursor{first};
      std::mutex event_mu;
      auto worker = [&] {
        for (size_t i = cursor++; i < last; i = cursor++) {
          if (compile_budget_spent || absl::Now() - compile_start > options.max_compile_time) {
            compile_budget_spent = true;
            compiled[i - first] = absl::DeadlineExceededError(
                "not compiled: this kernel's compile budget (max_compile_time, measure "
                "--max-compile-s) was spent on its other configs");
            continue;
          }
          {
            std::lock_guard<std::mutex> lock(event_mu);
            event(static_cast<int>(i), ProtocolPhase::kCompile);
          }
          compiled[i - first] = target.Compile(kernel, configs[i]);
        }
      };
      const int workers = std::max(1, std::min<int>(options.compile_threads,
                                                     static_cast<int>(last - first)));
      std::vector<std::thread> threads;
      for (int w = 1; w < workers; ++w) threads.emplace_back(worker);
      worker();
      for (std::thread& t : threads) t.join();
    }
    std::vector<LiveConfig> group;
    for (size_t i = first; i < last; ++i) {
      ConfigMeasurement& m = result.configs[i];
      absl::StatusOr<CompiledKernel>& c = *compiled[i - first];
      if (!c.ok()) {
        m.status = MeasureStatus::kInvalid;
        m.error = absl::StrCat("compile: ", c.status().ToString());
        continue;
      }
      m.compile_time = c->compile_time();
      group.push_back({static_cast<int>(i), std::move(c).value()});
    }
    if (group.empty()) continue;

    // 2. Warm-up, in random order; a single run over max_run_time censors the config right away.
    auto censor = [&](LiveConfig& c, double bound_ns, std::string why) {
      ConfigMeasurement& m = result.configs[c.index];
      c.live = false;
      m.status = MeasureStatus::kTimeout;
      m.lower_bound_ns = bound_ns;
      m.error = std::move(why);
    };
    auto fail = [&](LiveConfig& c, const absl::Status& status) {
      ConfigMeasurement& m = result.configs[c.index];
      c.live = false;
      m.status = MeasureStatus::kInvalid;
      m.error = absl::StrCat("run: ", status.ToString());
      m.samples_ns.clear();
      m.sample_round.clear();
    };
    std::vector<int> order(group.size());
    std::iota(order.begin(), order.end(), 0);
    const double max_run_ns = absl::ToDoubleNanoseconds(options.max_run_time);
    const MeasureOptions single = OneTimedRun();
    for (int w = 0; w < options.warmup_runs; ++w) {
      std::shuffle(order.begin(), order.end(), rng);
      for (int o : order) {
        LiveConfig& c = group[o];
        if (!c.live) continue;
        event(c.index, ProtocolPhase::kWarmup);
        auto run = target.Time(c.compiled, single);
        if (!run.ok()) {
          fail(c, run.status());
        } else if (run->min_ns > max_run_ns) {
          censor(c, run->min_ns,
                 absl::StrFormat("warm-up run %.0f ns > the %s cap", run->min_ns,
                                 absl::FormatDuration(options.max_run_time)));
        }
      }
    }

    // 3. Rounds.
    const absl::Time start = absl::Now();
    int round = 0;  // kept rounds so far
    int repeats = 0;
    while (round < options.max_rounds) {
      std::vector<int> live;
      for (int i = 0; i < static_cast<int>(group.size()); ++i) {
        if (group[i].live && !group[i].retired) live.push_back(i);
      }
      if (live.empty()) break;
      // The canary takes a random position among the configs (-1 marks it).
      if (canary != nullptr) live.push_back(-1);
      std::shuffle(live.begin(), live.end(), rng);
      std::vector<std::pair<int, std::vector<double>>> round_runs;  // (group position, runs)
      double canary_ns = 0;
      for (int o : live) {
        if (o < 0) {
          event(-1, ProtocolPhase::kRun);
          auto runs = RunRound(target, *canary, options);
          if (!runs.ok()) {
            return absl::InternalError(
                absl::StrCat("MeasureKernelInterleaved: the canary kernel failed: ",
                             runs.status().message()));
          }
          canary_ns = *std::min_element(runs->begin(), runs->end());
          continue;
        }
        LiveConfig& c = group[o];
        event(c.index, ProtocolPhase::kRun);
        auto runs = RunRound(target, c.compiled, options);
        if (!runs.ok()) {
          fail(c, runs.status());
          continue;
        }
        const double slowest = *std::max_element(runs->begin(), runs->end());
        if (slowest > max_run_ns) {
          ConfigMeasurement& m = result.configs[c.index];
          for (double r : *runs) {
            m.samples_ns.push_back(r);
            m.sample_round.push_back(round);
          }
          censor(c, *std::min_element(runs->begin(), runs->end()),
                 absl::StrFormat("a run took %.0f ns > the %s cap", slowest,
                                 absl::FormatDuration(options.max_run_time)));
          continue;
        }
        round_runs.emplace_back(o, std::move(runs).value());
      }
      // Drift canary: discard and repeat a round run while the machine was off its baseline.
      if (canary != nullptr) {
        if (baseline <= 0) baseline = canary_ns;
        const bool drifted = std::abs(canary_ns / baseline - 1.0) > options.canary_tolerance;
        if (drifted && repeats < options.max_round_repeats) {
          ++repeats;
          ++result.repeated_rounds;
          continue;
        }
        result.canary_ns.push_back(canary_ns);
      }
      for (auto& [o, runs] : round_runs) {
        ConfigMeasurement& m = result.configs[group[o].index];
        for (double r : runs) {
          m.samples_ns.push_back(r);
          m.sample_round.push_back(round);
        }
      }
      ++round;
      // Censoring after the first kept round: much slower than the kernel's best.
      if (round == 1) {
        double best = 0;
        for (auto& [o, runs] : round_runs) {
          if (!group[o].live) continue;
          const double m = *std::min_element(runs.begin(), runs.end());
          if (best == 0 || m < best) best = m;
        }
        for (auto& [o, runs] : round_runs) {
          LiveConfig& c = group[o];
          if (!c.live) continue;
          const double m = *std::min_element(runs.begin(), runs.end());
          if (m > options.timeout_factor * best) {
            censor(c, m,
                   absl::StrFormat("round minimum %.0f ns > %.0fx the kernel's best (%.0f ns)", m,
                                   options.timeout_factor, best));
          }
        }
      }
      // Stop when every live config is stable (after min_rounds) or past the wall-clock cap.
      // A config whose round minima have settled is retired: it is not run in later rounds (the
      // rounds go on, interleaved, for the others).
      for (LiveConfig& c : group) {
        if (!c.live || c.retired) continue;
        ConfigMeasurement& m = result.configs[c.index];
        auto minima = data::RoundMinima(m.samples_ns, m.sample_round);
        m.stable = minima.ok() && round >= options.min_rounds &&
                   RoundSpread(*minima) <= options.stability;
        c.retired = m.stable;
      }
      if (absl::Now() - start > options.max_group_time) break;
    }
    result.rounds = round;
    for (LiveConfig& c : group) {
      if (!c.live) continue;
      ConfigMeasurement& m = result.configs[c.index];
      if (m.samples_ns.empty()) {
        m.status = MeasureStatus::kInvalid;
        m.error = "no round was kept";
        continue;
      }
      m.status = MeasureStatus::kOk;
    }
  }
  return result;
}

}  // namespace perfgraph::target

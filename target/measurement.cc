#include "target/measurement.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace perfgraph::target {

absl::string_view HalideVersion() { return PERFGRAPH_HALIDE_VERSION; }

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
  MeasureOptions single;
  single.warmup_runs = 0;
  single.min_runs = 1;
  single.max_runs = 1;
  single.min_total_time = absl::ZeroDuration();
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

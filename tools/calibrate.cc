// `perfgraph calibrate --out TARGET_FILE [--threads T] [--measure-ms MS] [--calibration-passes N]
// [--tolerance F] [--compare-to TARGET_FILE] [--force]`: measures this machine's peak FLOP/s,
// bandwidth per memory level, overheads and parallel scaling in interleaved rounds
// (cost/calibrate.h), prints every constant with its spread and per-pass values, and writes the
// text-proto target description the analytical cost model loads (cost/target_description.h) unless
// a constant's passes, or the constant against --compare-to, disagree by more than --tolerance.
#include <algorithm>
#include <iostream>
#include <optional>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cost/calibrate.h"
#include "cost/target_description.h"
#include "tools/cli.h"
#include "tools/flags.h"

namespace perfgraph::tools {

int RunCalibrate(const std::vector<std::string>& args) {
  auto command_line = ParseCommandLine("calibrate", args);
  if (!command_line.ok()) return ReportError("calibrate", command_line.status());
  if (!command_line->positional.empty()) {
    return ReportError("calibrate", absl::InvalidArgumentError(absl::StrCat(
                                        "unexpected argument '", command_line->positional[0],
                                        "' (usage: calibrate --out TARGET_FILE)")));
  }
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    return ReportError("calibrate", absl::InvalidArgumentError("--out TARGET_FILE is required"));
  }
  const int measure_ms = absl::GetFlag(FLAGS_measure_ms);
  if (measure_ms <= 0) {
    return ReportError("calibrate", absl::InvalidArgumentError(
                                        absl::StrCat("--measure-ms must be > 0, got ", measure_ms)));
  }
  const double tolerance = absl::GetFlag(FLAGS_tolerance);
  if (!(tolerance > 0)) {
    return ReportError("calibrate", absl::InvalidArgumentError(
                                        absl::StrCat("--tolerance must be > 0, got ", tolerance)));
  }
  // The earlier description is read before measuring, so a bad path fails fast.
  std::optional<cost::TargetDescription> earlier;
  const std::string compare_to = absl::GetFlag(FLAGS_compare_to);
  if (!compare_to.empty()) {
    absl::StatusOr<cost::TargetDescription> loaded = cost::LoadTargetDescription(compare_to);
    if (!loaded.ok()) return ReportError("calibrate", loaded.status());
    earlier = *std::move(loaded);
  }
  cost::CalibrationOptions options;
  options.all_threads = absl::GetFlag(FLAGS_threads);
  options.time_per_measurement = absl::Milliseconds(measure_ms);
  options.passes = absl::GetFlag(FLAGS_calibration_passes);
  options.progress = [](const std::string& line) { std::cerr << "calibrate: " << line << "\n"; };
  absl::StatusOr<cost::TargetDescription> target = cost::Calibrate(options);
  if (!target.ok()) {
    // Bad options are usage errors (2); measurement failures are runtime failures (1).
    return ReportError("calibrate", target.status());
  }

  std::vector<std::string> problems;
  std::cout << absl::StrFormat("%-20s %16s %8s  %s\n", "constant", "value", "spread",
                               "per pass (disagreement)");
  for (const cost::CalibratedConstant& c : target->calibration) {
    std::vector<std::string> passes;
    for (double v : c.pass_values) passes.push_back(cost::FormatConstant(v, c.unit));
    std::cout << absl::StrFormat("%-20s %16s %7.1f%%  %s (%.1f %%)\n", c.name, cost::FormatConstant(c.value, c.unit),
                                 100 * c.spread, absl::StrJoin(passes, " / "),
                                 100 * c.pass_disagreement);
    const auto [lo, hi] = std::minmax_element(c.pass_values.begin(), c.pass_values.end());
    if (!c.pass_values.empty() && !cost::ConstantsAgree(c.name, *lo, *hi, tolerance)) {
      problems.push_back(absl::StrFormat("%s: passes %s disagree by %.1f %%", c.name,
                                         absl::StrJoin(passes, " / "), 100 * c.pass_disagreement));
    }
  }
  if (earlier.has_value()) {
    std::cout << "\nagainst " << compare_to << ":\n";
    for (const cost::ConstantDifference& d : cost::CompareConstants(*earlier, *target)) {
      std::cout << absl::StrFormat("%-20s %16.6g -> %-16.6g %6.1f %%\n", d.name, d.a, d.b,
                                   100 * d.relative);
      if (!cost::ConstantsAgree(d.name, d.a, d.b, tolerance)) {
        problems.push_back(absl::StrFormat("%s: %.6g in %s, %.6g now (%.1f %%)", d.name, d.a,
                                           compare_to, d.b, 100 * d.relative));
      }
    }
  }
  if (!problems.empty()) {
    std::cerr << "perfgraph calibrate: " << problems.size() << " constant(s) outside the "
              << 100 * tolerance << " % tolerance:\n  " << absl::StrJoin(problems, "\n  ") << "\n";
    if (!absl::GetFlag(FLAGS_force)) {
      return ReportError(
          "calibrate",
          absl::AbortedError(absl::StrCat(
              "not writing ", out, ": the calibration is not repeatable on this machine right now ",
              "(other load, frequency changes, a VM neighbour); run it again on a quiet machine, or ",
              "pass --force to write it anyway")));
    }
    std::cerr << "perfgraph calibrate: --force: writing it anyway\n";
  }
  absl::Status saved = cost::SaveTargetDescription(*target, out);
  if (!saved.ok()) return ReportError("calibrate", saved);
  std::cout << "wrote " << out << " (" << target->machine.ToString() << ")\n";
  return kExitOk;
}

}  // namespace perfgraph::tools

// `perfgraph calibrate --out TARGET_FILE [--threads T] [--measure-ms MS]`: measures this machine's
// peak FLOP/s, bandwidth per memory level and overheads (cost/calibrate.h) and writes the text-proto
// target description the analytical cost model loads (cost/target_description.h).
#include <iostream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cost/calibrate.h"
#include "cost/target_description.h"
#include "tools/cli.h"
#include "tools/flags.h"

// Shared with `measure` (defined in tools/measure.cc).

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
    return ReportError("calibrate",
                       absl::InvalidArgumentError("--out TARGET_FILE is required"));
  }
  const int measure_ms = absl::GetFlag(FLAGS_measure_ms);
  if (measure_ms <= 0) {
    return ReportError("calibrate", absl::InvalidArgumentError(
                                        absl::StrCat("--measure_ms must be > 0, got ", measure_ms)));
  }
  cost::CalibrationOptions options;
  options.all_threads = absl::GetFlag(FLAGS_threads);
  options.time_per_measurement = absl::Milliseconds(measure_ms);
  options.progress = [](const std::string& line) { std::cerr << "calibrate: " << line << "\n"; };
  absl::StatusOr<cost::TargetDescription> target = cost::Calibrate(options);
  if (!target.ok()) {
    // Bad options are usage errors (2); measurement failures are runtime failures (1).
    return ReportError("calibrate", target.status());
  }
  absl::Status saved = cost::SaveTargetDescription(*target, out);
  if (!saved.ok()) return ReportError("calibrate", saved);
  std::cout << "wrote " << out << " (" << target->machine.ToString() << ")\n";
  return kExitOk;
}

}  // namespace perfgraph::tools

// Progress reporting for long-running subcommands (measure, train, predict): a one-line bar with rate
// and ETA redrawn in place when stderr is a TTY, and a plain line every `log_every` items otherwise
// (CI logs stay readable).
#ifndef PERFGRAPH_TOOLS_PROGRESS_H_
#define PERFGRAPH_TOOLS_PROGRESS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace perfgraph::tools {

class Progress {
 public:
  // `total`: items expected (0 = unknown); `what`: unit name ("pairs", "kernels").
  Progress(int64_t total, std::string what, int64_t log_every = 50);
  // Marks `n` more items done; `detail` is shown after the bar (e.g. the current kernel).
  void Advance(int64_t n, const std::string& detail);
  // Final line (always printed, newline-terminated).
  void Finish(const std::string& summary);
  int64_t done() const { return done_; }

 private:
  void Draw(const std::string& detail);
  int64_t total_;
  int64_t done_ = 0;
  std::string what_;
  int64_t log_every_;
  bool tty_;
  absl::Time start_;
  absl::Time last_draw_;
};

// "1h02m", "3m05s", "12s".
std::string FormatEta(absl::Duration d);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_PROGRESS_H_

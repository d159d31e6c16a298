#include "tools/progress.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace perfgraph::tools {

std::string FormatEta(absl::Duration d) {
  int64_t s = absl::ToInt64Seconds(d);
  if (s < 0) s = 0;
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

Progress::Progress(int64_t total, std::string what, int64_t log_every)
    : total_(total),
      what_(std::move(what)),
      log_every_(log_every),
      tty_(isatty(STDERR_FILENO) == 1),
      start_(absl::Now()),
      last_draw_(absl::InfinitePast()) {}

void Progress::Advance(int64_t n, const std::string& detail) {
  done_ += n;
  if (tty_) {
    if (absl::Now() - last_draw_ > absl::Milliseconds(100) || done_ == total_) Draw(detail);
  } else if (log_every_ > 0 && (done_ % log_every_ == 0 || done_ == total_)) {
    Draw(detail);
  }
}

void Progress::Draw(const std::string& detail) {
  last_draw_ = absl::Now();
  const double seconds = absl::ToDoubleSeconds(last_draw_ - start_);
  const double rate = seconds > 0 ? done_ / seconds : 0;
  std::string line;
  if (total_ > 0) {
    const int width = 24;
    const int filled = static_cast<int>(width * std::min<int64_t>(done_, total_) / total_);
    const std::string eta =
        rate > 0 ? FormatEta(absl::Seconds((total_ - done_) / rate)) : std::string("?");
    line = absl::StrFormat("[%s%s] %d/%d %s  %.2f/s  ETA %s  %s", std::string(filled, '#'),
                           std::string(width - filled, ' '), done_, total_, what_, rate, eta,
                           detail.substr(0, 40));
  } else {
    line = absl::StrFormat("%d %s  %.2f/s  %s", done_, what_, rate, detail.substr(0, 40));
  }
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void Progress::Finish(const std::string& summary) {
  if (tty_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", summary.c_str());
  std::fflush(stderr);
}

}  // namespace perfgraph::tools

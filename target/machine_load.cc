#include "target/machine_load.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "data/machine.h"

namespace perfgraph::target {
namespace {

double TicksPerSecond() {
  static const double ticks = [] {
    const long t = sysconf(_SC_CLK_TCK);
    return t > 0 ? static_cast<double>(t) : 100.0;
  }();
  return ticks;
}

struct ProcStat {
  pid_t ppid = 0;
  double cpu_seconds = 0;
  std::string command;
};

// Parses /proc/PID/stat: "pid (comm) state ppid ... utime(14) stime(15) ...". comm may contain
// spaces and parentheses, so fields are counted after the last ')'.
bool ReadProcStat(pid_t pid, ProcStat* out) {
  std::optional<std::string> stat = data::ReadSmallFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat) return false;
  const std::string& text = *stat;
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  out->command = text.substr(open + 1, close - open - 1);
  std::vector<std::string> fields =
      absl::StrSplit(text.substr(close + 1), ' ', absl::SkipEmpty());
  // fields[0] = state (field 3), so field k is fields[k - 3].
  if (fields.size() < 13) return false;
  int64_t ppid = 0, utime = 0, stime = 0;
  if (!absl::SimpleAtoi(fields[1], &ppid) || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return false;
  }
  out->ppid = static_cast<pid_t>(ppid);
  out->cpu_seconds = static_cast<double>(utime + stime) / TicksPerSecond();
  return true;
}

std::map<pid_t, ProcStat> ReadAllProcesses() {
  std::map<pid_t, ProcStat> all;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    int64_t pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    ProcStat stat;
    if (ReadProcStat(static_cast<pid_t>(pid), &stat)) all.emplace(static_cast<pid_t>(pid), stat);
  }
  return all;
}

}  // namespace

absl::StatusOr<double> MachineBusyCpuSeconds() {
  std::optional<std::string> text = data::ReadSmallFile("/proc/stat");
  if (!text) return absl::UnavailableError("cannot read /proc/stat");
  std::istringstream in(*text);
  std::string label;
  in >> label;
  if (label != "cpu") return absl::UnavailableError("/proc/stat does not start with 'cpu'");
  // user nice system idle iowait irq softirq steal ...
  int64_t v[8] = {0};
  for (int i = 0; i < 8 && (in >> v[i]); ++i) {
  }
  const int64_t busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  return static_cast<double>(busy) / TicksPerSecond();
}

absl::StatusOr<double> ProcessCpuSeconds(pid_t pid) {
  ProcStat stat;
  if (!ReadProcStat(pid, &stat)) {
    return absl::NotFoundError(absl::StrCat("cannot read /proc/", pid, "/stat"));
  }
  return stat.cpu_seconds;
}

double LoadAverage1m() {
  double load = -1;
  std::optional<std::string> text = data::ReadSmallFile("/proc/loadavg");
  if (!text) return -1;
  std::vector<std::string> fields = absl::StrSplit(*text, ' ', absl::SkipEmpty());
  if (fields.empty() || !absl::SimpleAtod(fields[0], &load)) return -1;
  return load;
}

std::string LoadSample::Describe() const {
  std::string out;
  for (const BusyProcess& p : busiest) {
    absl::StrAppend(&out, out.empty() ? "" : ", ",
                    absl::StrFormat("%s(%d) %.2f cores", p.command, p.pid, p.cores));
  }
  return out;
}

absl::StatusOr<LoadSample> SampleMachineLoad(absl::Duration interval, pid_t exclude,
                                             int max_listed) {
  if (!std::filesystem::exists("/proc/stat")) return absl::UnavailableError("no /proc on this OS");
  const std::map<pid_t, ProcStat> before = ReadAllProcesses();
  const absl::Time start = absl::Now();
  absl::SleepFor(interval);
  const std::map<pid_t, ProcStat> after = ReadAllProcesses();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  // `exclude` and its descendants (by the parent links of the second snapshot).
  std::set<pid_t> excluded;
  if (exclude > 0) excluded.insert(exclude);
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [pid, stat] : after) {
      if (!excluded.count(pid) && excluded.count(stat.ppid)) grew = excluded.insert(pid).second;
    }
  }
  LoadSample sample;
  for (const auto& [pid, stat] : after) {
    if (excluded.count(pid)) continue;
    auto it = before.find(pid);
    const double used = stat.cpu_seconds - (it == before.end() ? 0.0 : it->second.cpu_seconds);
    if (used <= 0) continue;
    const double cores = used / std::max(seconds, 1e-3);
    sample.other_cores += cores;
    if (cores >= 0.05) sample.busiest.push_back({pid, stat.command, cores});
  }
  std::sort(sample.busiest.begin(), sample.busiest.end(),
            [](const BusyProcess& a, const BusyProcess& b) { return a.cores > b.cores; });
  if (static_cast<int>(sample.busiest.size()) > max_listed) {
    sample.busiest.resize(std::max(max_listed, 0));
  }
  sample.load_average = LoadAverage1m();
  return sample;
}

absl::StatusOr<std::vector<int>> PinToCpus(int num_cpus) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
    return absl::UnavailableError(absl::StrCat("sched_getaffinity: ", std::strerror(errno)));
  }
  std::vector<int> chosen;
  cpu_set_t pinned;
  CPU_ZERO(&pinned);
  for (int cpu = 0; cpu < CPU_SETSIZE && static_cast<int>(chosen.size()) < num_cpus; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) {
      CPU_SET(cpu, &pinned);
      chosen.push_back(cpu);
    }
  }
  if (static_cast<int>(chosen.size()) < num_cpus) {
    return absl::InvalidArgumentError(absl::StrCat("PinToCpus: ", num_cpus, " CPUs asked for, ",
                                                   chosen.size(), " allowed"));
  }
  if (sched_setaffinity(0, sizeof(pinned), &pinned) != 0) {
    return absl::UnavailableError(absl::StrCat("sched_setaffinity: ", std::strerror(errno)));
  }
  return chosen;
}

}  // namespace perfgraph::target

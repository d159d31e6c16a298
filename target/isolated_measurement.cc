#include "target/isolated_measurement.h"

#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "data/label.h"
#include "target/halide_cpu_target.h"
#include "target/machine_load.h"

namespace perfgraph::target {
namespace {

// ---- The pipe protocol, one line per message (child -> parent) ----
//  R                              the child is ready (target created, canary compiled)
//  E <group> <config> <c|w|r>     about to compile / warm up / run config (-1 = canary)
//  G <group>                      starting a group
//  M <group> <config> <status> <compile_ns> <lower_bound_ns> <stable> <n> <s_1> <r_1> ... <s_n> <r_n> <error>
//  K <group> <rounds> <repeated> <n> <canary_1> ... <canary_n>
//  D <group>                      the group is complete
//  Q                              the child exits normally
// <error> is absl::CEscape'd and runs to the end of the line.

char PhaseChar(ProtocolPhase phase) {
  switch (phase) {
    case ProtocolPhase::kCompile: return 'c';
    case ProtocolPhase::kWarmup: return 'w';
    case ProtocolPhase::kRun: return 'r';
  }
  return 'r';
}

absl::string_view PhaseVerb(char phase) {
  return phase == 'c' ? "compiling" : phase == 'w' ? "warming up" : "running";
}

void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(3);  // the parent is gone
    done += static_cast<size_t>(n);
  }
}

std::string FormatMeasurement(int group, int config, const ConfigMeasurement& m) {
  std::string line = absl::StrFormat("M %d %d %d %d %.17g %d %d", group, config,
                                     static_cast<int>(m.status),
                                     absl::ToInt64Nanoseconds(m.compile_time), m.lower_bound_ns,
                                     m.stable ? 1 : 0, static_cast<int>(m.samples_ns.size()));
  for (size_t i = 0; i < m.samples_ns.size(); ++i) {
    absl::StrAppendFormat(&line, " %.17g %d", m.samples_ns[i], m.sample_round[i]);
  }
  absl::StrAppend(&line, " ", absl::CEscape(m.error), "\n");
  return line;
}

[[noreturn]] void ChildMain(int fd, absl::Span<const MeasureGroup> groups, int first, int last,
                            const std::set<std::pair<int, int>>& excluded,
                            const InterleavedOptions& protocol, const IsolationOptions& isolation,
                            double baseline,
                            const std::map<int, absl::Duration>& compile_budget_left) {
  ::signal(SIGINT, SIG_IGN);  // the parent decides when to stop, and kills us
  ::signal(SIGTERM, SIG_DFL);
  ::signal(SIGPIPE, SIG_DFL);
  if (isolation.pin_threads) (void)PinToCpus(isolation.num_threads);
  int current_group = -1;
  auto announce = [&](int config, ProtocolPhase phase) {
    WriteAll(fd, absl::StrFormat("E %d %d %c\n", current_group, config, PhaseChar(phase)));
    if (isolation.child_hook) isolation.child_hook(current_group, config, phase);
  };
  HalideCpuTargetOptions target_options;
  target_options.num_threads = isolation.num_threads;
  target_options.seed = isolation.seed;
  target_options.timing_build = isolation.timing_build;
  auto target = HalideCpuTarget::Create(target_options);
  if (!target.ok()) {
    WriteAll(fd, absl::StrCat("X ", absl::CEscape(target.status().ToString()), "\n"));
    _exit(2);
  }
  current_group = first;
  announce(-1, ProtocolPhase::kCompile);
  auto canary = target->Compile(CanaryKernel(), tiling::Default(CanaryKernel()));
  if (!canary.ok()) {
    WriteAll(fd, absl::StrCat("X ", absl::CEscape(canary.status().ToString()), "\n"));
    _exit(2);
  }
  WriteAll(fd, "R\n");
  ProtocolHooks hooks;
  std::vector<int> kept;  // indices into the group's configs that this child measures
  hooks.on_event = [&](int index, ProtocolPhase phase) {
    announce(index < 0 ? -1 : kept[index], phase);
  };
  for (int g = first; g < last; ++g) {
    current_group = g;
    const MeasureGroup& group = groups[g];
    WriteAll(fd, absl::StrCat("G ", g, "\n"));
    kept.clear();
    std::vector<tiling::TileConfig> configs;
    for (int i = 0; i < static_cast<int>(group.configs.size()); ++i) {
      if (excluded.count({g, i})) continue;
      kept.push_back(i);
      configs.push_back(group.configs[i]);
    }
    InterleavedOptions options = protocol;
    options.seed = protocol.seed ^ (static_cast<uint64_t>(g) * 0x100000001B3ull);
    // A group resumed after a child died in it keeps what is left of its compile budget.
    if (auto it = compile_budget_left.find(g); it != compile_budget_left.end()) {
      options.max_compile_time = it->second;
    }
    auto result = MeasureKernelInterleaved(*target, *group.kernel, configs, &*canary, baseline,
                                           options, hooks);
    if (!result.ok()) {
      WriteAll(fd, absl::StrCat("X ", absl::CEscape(result.status().ToString()), "\n"));
      _exit(2);
    }
    for (size_t k = 0; k < kept.size(); ++k) {
      WriteAll(fd, FormatMeasurement(g, kept[k], result->configs[k]));
    }
    std::string canary_line = absl::StrFormat("K %d %d %d %d", g, result->rounds,
                                              result->repeated_rounds,
                                              static_cast<int>(result->canary_ns.size()));
    for (double c : result->canary_ns) absl::StrAppendFormat(&canary_line, " %.17g", c);
    WriteAll(fd, canary_line + "\n");
    WriteAll(fd, absl::StrCat("D ", g, "\n"));
    if (baseline <= 0 && !result->canary_ns.empty()) baseline = data::Median(result->canary_ns);
  }
  WriteAll(fd, "Q\n");
  ::close(fd);
  _exit(0);
}

bool ParseMeasurement(const std::vector<std::string>& f, int* group, int* config,
                      ConfigMeasurement* m) {
  // M g c status compile_ns lower stable n (s r)*n error
  if (f.size() < 8) return false;
  int status = 0, stable = 0, n = 0;
  int64_t compile_ns = 0;
  if (!absl::SimpleAtoi(f[1], group) || !absl::SimpleAtoi(f[2], config) ||
      !absl::SimpleAtoi(f[3], &status) || !absl::SimpleAtoi(f[4], &compile_ns) ||
      !absl::SimpleAtod(f[5], &m->lower_bound_ns) || !absl::SimpleAtoi(f[6], &stable) ||
      !absl::SimpleAtoi(f[7], &n) || n < 0 || f.size() < 8 + 2 * static_cast<size_t>(n)) {
    return false;
  }
  m->status = static_cast<MeasureStatus>(status);
  m->compile_time = absl::Nanoseconds(compile_ns);
  m->stable = stable != 0;
  for (int i = 0; i < n; ++i) {
    double s = 0;
    int r = 0;
    if (!absl::SimpleAtod(f[8 + 2 * i], &s) || !absl::SimpleAtoi(f[9 + 2 * i], &r)) return false;
    m->samples_ns.push_back(s);
    m->sample_round.push_back(r);
  }
  std::string error;
  for (size_t i = 8 + 2 * n; i < f.size(); ++i) absl::StrAppend(&error, i > 8 + 2 * n ? " " : "", f[i]);
  std::string unescaped;
  m->error = absl::CUnescape(error, &unescaped) ? unescaped : error;
  return true;
}

struct CpuMark {
  absl::Time when;
  double machine = -1, child = 0, self = 0;
};

CpuMark MarkCpu(pid_t child) {
  CpuMark mark;
  mark.when = absl::Now();
  auto machine = MachineBusyCpuSeconds();
  auto c = ProcessCpuSeconds(child);
  auto s = ProcessCpuSeconds(getpid());
  if (machine.ok() && c.ok() && s.ok()) {
    mark.machine = *machine;
    mark.child = *c;
    mark.self = *s;
  }
  return mark;
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? absl::StrCat("SIG", abbrev, " (", sig, ")") : absl::StrCat("signal ", sig);
}

}  // namespace

absl::StatusOr<int> IsolatedMeasurer::Run(
    absl::Span<const MeasureGroup> groups,
    const std::function<GroupVerdict(int group, GroupResult result)>& on_done) {
  if (isolation_.num_threads < 1 || isolation_.groups_per_child < 1 ||
      isolation_.hang_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "IsolatedMeasurer: bad options: num_threads ", isolation_.num_threads,
        ", groups_per_child ", isolation_.groups_per_child, ", hang_timeout ",
        absl::FormatDuration(isolation_.hang_timeout)));
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    if (groups[g].kernel == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("IsolatedMeasurer: group ", g, " has no kernel"));
    }
  }
  // Configs a child died on, with the measurement that stands for them.
  std::map<std::pair<int, int>, ConfigMeasurement> casualties;
  std::set<std::pair<int, int>> excluded;
  std::map<int, int> deaths_outside_configs;  // group -> count
  std::map<int, int> deaths;                  // group -> children lost on it
  // Time each group's children spent compiling configs (from the announcements: a compile lasts
  // until the child's next message), and the compile budget a group resumed after a child's death
  // has left: InterleavedOptions::max_compile_time counts over all children of a group, so a kernel
  // whose configs hang in LLVM cannot restart the budget with every new child, while time spent
  // running configs (a run that hangs for minutes) does not count against it.
  std::map<int, absl::Duration> compile_spent;
  std::map<int, absl::Duration> compile_budget_left;
  int next = 0;
  while (next < static_cast<int>(groups.size())) {
    if (isolation_.should_stop && isolation_.should_stop()) return next;
    const int last = std::min<int>(static_cast<int>(groups.size()), next + isolation_.groups_per_child);
    int fds[2];
    if (::pipe(fds) != 0) {
      return absl::InternalError(absl::StrCat("IsolatedMeasurer: pipe: ", std::strerror(errno)));
    }
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      return absl::InternalError(absl::StrCat("IsolatedMeasurer: fork: ", std::strerror(errno)));
    }
    if (pid == 0) {
      ::close(fds[0]);
      ChildMain(fds[1], groups, next, last, excluded, protocol_, isolation_, canary_baseline_ns_,
                compile_budget_left);
    }
    ::close(fds[1]);
    const int fd = fds[0];

    // Parent: read the child's messages until it exits, dies or goes silent.
    std::string buffer;
    std::string child_error;
    int in_group = -1, in_config = -2;
    char in_phase = 'c';
    std::optional<absl::Time> compiling_since;  // a config compile announced and not yet over
    bool stop = false, hung = false, retry = false;
    absl::Time last_heard = absl::Now();
    GroupResult pending;
    CpuMark group_start;
    auto kill_child = [&] { ::kill(pid, SIGKILL); };
    bool eof = false;
    while (!eof) {
      if (isolation_.should_stop && isolation_.should_stop()) {
        stop = true;
        kill_child();
        break;
      }
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, 200);
      if (ready < 0 && errno != EINTR) break;
      if (ready <= 0) {
        if (absl::Now() - last_heard > isolation_.hang_timeout) {
          hung = true;
          kill_child();
          break;
        }
        continue;
      }
      char chunk[65536];
      const ssize_t n = ::read(fd, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        eof = true;
        break;
      }
      last_heard = absl::Now();
      buffer.append(chunk, static_cast<size_t>(n));
      size_t newline;
      while ((newline = buffer.find('\n')) != std::string::npos) {
        const std::string line = buffer.substr(0, newline);
        buffer.erase(0, newline + 1);
        std::vector<std::string> f = absl::StrSplit(line, ' ');
        if (f.empty() || f[0].empty()) continue;
        const char kind = f[0][0];
        // A compile announced earlier ends with this message.
        if (compiling_since.has_value() && in_group >= 0) {
          compile_spent[in_group] += absl::Now() - *compiling_since;
        }
        compiling_since.reset();
        if (kind == 'E' && f.size() >= 4) {
          (void)absl::SimpleAtoi(f[1], &in_group);
          (void)absl::SimpleAtoi(f[2], &in_config);
          in_phase = f[3].empty() ? 'r' : f[3][0];
          if (in_phase == 'c' && in_config >= 0) compiling_since = absl::Now();
        } else if (kind == 'G') {
          int g = 0;
          (void)absl::SimpleAtoi(f[1], &g);
          pending = GroupResult();
          pending.measurement.configs.resize(groups[g].configs.size());
          pending.load_average = LoadAverage1m();
          pending.child_deaths = deaths[g];
          for (const auto& [key, m] : casualties) {
            if (key.first == g) pending.measurement.configs[key.second] = m;
          }
          group_start = MarkCpu(pid);
          in_group = g;
          in_config = -2;
        } else if (kind == 'M') {
          int g = 0, c = 0;
          ConfigMeasurement m;
          if (ParseMeasurement(f, &g, &c, &m) && c >= 0 &&
              c < static_cast<int>(pending.measurement.configs.size())) {
            pending.measurement.configs[c] = std::move(m);
          }
        } else if (kind == 'K' && f.size() >= 5) {
          int n_canary = 0;
          (void)absl::SimpleAtoi(f[2], &pending.measurement.rounds);
          (void)absl::SimpleAtoi(f[3], &pending.measurement.repeated_rounds);
          (void)absl::SimpleAtoi(f[4], &n_canary);
          for (int i = 0; i < n_canary && 5 + i < static_cast<int>(f.size()); ++i) {
            double c = 0;
            if (absl::SimpleAtod(f[5 + i], &c)) pending.measurement.canary_ns.push_back(c);
          }
        } else if (kind == 'D') {
          int g = 0;
          (void)absl::SimpleAtoi(f[1], &g);
          const CpuMark end = MarkCpu(pid);
          const double wall = absl::ToDoubleSeconds(end.when - group_start.when);
          if (group_start.machine >= 0 && end.machine >= 0 && wall > 0) {
            const double other = (end.machine - group_start.machine) - (end.child - group_start.child) -
                                 (end.self - group_start.self);
            pending.other_load_cores = std::max(0.0, other / wall);
          }
          if (canary_baseline_ns_ <= 0 && !pending.measurement.canary_ns.empty()) {
            canary_baseline_ns_ = data::Median(pending.measurement.canary_ns);
          }
          in_group = -1;
          in_config = -2;
          const GroupVerdict verdict = on_done(g, std::move(pending));
          if (verdict == GroupVerdict::kRetry) {
            // Measure `g` again in a fresh child (casualties of g stay excluded).
            next = g;
            retry = true;
            kill_child();
            eof = true;
            break;
          }
          next = g + 1;
          if (verdict == GroupVerdict::kStop) {
            stop = true;
            kill_child();
            eof = true;
            break;
          }
          if (isolation_.should_stop && isolation_.should_stop()) {
            stop = true;
            kill_child();
            eof = true;
            break;
          }
        } else if (kind == 'X') {
          std::string unescaped;
          const std::string rest = line.size() > 2 ? line.substr(2) : "";
          child_error = absl::CUnescape(rest, &unescaped) ? unescaped : rest;
        }
      }
    }
    ::close(fd);
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    if (stop) return next;
    if (retry) continue;
    const bool clean_exit = !hung && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    if (clean_exit) continue;  // next child starts at `next`
    if (!child_error.empty()) {
      return absl::InternalError(absl::StrCat("IsolatedMeasurer: the measuring child failed: ",
                                              child_error));
    }
    // The child died or hung inside group `next`.
    const int g = in_group >= 0 ? in_group : next;
    ++deaths[g];
    if (compiling_since.has_value()) compile_spent[g] += absl::Now() - *compiling_since;
    // 1 ns when spent: the next child compiles nothing more of this group.
    compile_budget_left[g] =
        std::max(absl::Nanoseconds(1), protocol_.max_compile_time - compile_spent[g]);
    const std::string how =
        hung ? absl::StrCat("hung (no progress for ", absl::FormatDuration(isolation_.hang_timeout), ")")
        : WIFSIGNALED(wstatus) ? absl::StrCat("crashed with ", SignalName(WTERMSIG(wstatus)))
                               : absl::StrCat("exited with status ", WEXITSTATUS(wstatus));
    if (in_config >= 0 && g < static_cast<int>(groups.size())) {
      ConfigMeasurement m;
      const std::string what = absl::StrCat("the measuring process ", how, " while ",
                                            PhaseVerb(in_phase), " this config");
      if (hung && in_phase != 'c') {
        m.status = MeasureStatus::kTimeout;
        m.lower_bound_ns = absl::ToDoubleNanoseconds(isolation_.hang_timeout);
      } else {
        m.status = MeasureStatus::kInvalid;
      }
      m.error = what;
      casualties[{g, in_config}] = m;
      excluded.insert({g, in_config});
      next = g;
      continue;
    }
    if (++deaths_outside_configs[g] >= 3) {
      return absl::InternalError(absl::StrCat(
          "IsolatedMeasurer: the measuring process ", how, " three times on group ", g,
          " (kernel '", groups[g].kernel->name, "') outside any config (e.g. in the canary)"));
    }
    next = g;
  }
  return next;
}

}  // namespace perfgraph::target

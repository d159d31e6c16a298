// Runs a piece of a test in a forked child under resource limits (RLIMIT_AS for "bounded memory",
// RLIMIT_FSIZE for "the disk is full"), so that a failure of the code under test (an allocation of
// terabytes, a stack overflow, a crash) shows up as a failed test instead of killing the runner.
#ifndef PERFGRAPH_TESTS_CHILD_PROCESS_H_
#define PERFGRAPH_TESTS_CHILD_PROCESS_H_

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>

namespace perfgraph::testing {

struct ChildResult {
  bool exited = false;  // false: killed by a signal (then `signal` is set)
  int exit_code = -1;
  int signal = 0;
  std::string text;  // what the body returned
};

// Virtual memory of this process in bytes (VmSize of /proc/self/status), 0 if unknown.
inline long long VirtualMemoryBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmSize:", 0) == 0) {
      std::istringstream fields(line.substr(7));
      long long kb = 0;
      fields >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

struct ChildLimits {
  // Address space the child may add to what the parent already maps (RLIMIT_AS = VmSize + this).
  std::optional<long long> extra_address_space_bytes;
  // RLIMIT_FSIZE: writes beyond this offset fail with EFBIG (SIGXFSZ is ignored in the child).
  std::optional<long long> file_size_bytes;
  // Run the body as this user id (and group id) when the test runs as root (0 = stay).
  unsigned uid = 0;
};

// Forks; the child sets `limits`, runs `body` and sends back its result; exits 0.
inline ChildResult RunInChild(const std::function<std::string()>& body, const ChildLimits& limits) {
  ChildResult result;
  int fds[2];
  if (pipe(fds) != 0) return result;
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return result;
  if (pid == 0) {
    close(fds[0]);
    signal(SIGXFSZ, SIG_IGN);
    if (limits.extra_address_space_bytes.has_value()) {
      const long long vm = VirtualMemoryBytes();
      rlimit limit{static_cast<rlim_t>(vm + *limits.extra_address_space_bytes),
                   static_cast<rlim_t>(vm + *limits.extra_address_space_bytes)};
      if (setrlimit(RLIMIT_AS, &limit) != 0) _exit(90);
    }
    if (limits.file_size_bytes.has_value()) {
      rlimit limit{static_cast<rlim_t>(*limits.file_size_bytes),
                   static_cast<rlim_t>(*limits.file_size_bytes)};
      if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(91);
    }
    if (limits.uid != 0 && geteuid() == 0) {
      if (setgid(limits.uid) != 0 || setuid(limits.uid) != 0) _exit(92);
    }
    std::string text;
    try {
      text = body();
    } catch (...) {
      _exit(93);  // e.g. std::bad_alloc: an allocation the limits do not allow
    }
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = write(fds[1], text.data() + done, text.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof(buffer))) > 0) result.text.append(buffer, n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exited = WIFEXITED(status);
  result.exit_code = result.exited ? WEXITSTATUS(status) : -1;
  result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return result;
}

}  // namespace perfgraph::testing

#endif  // PERFGRAPH_TESTS_CHILD_PROCESS_H_

// Runs the real `perfgraph` binary for end-to-end CLI tests.
#ifndef PERFGRAPH_TESTS_TOOLS_CLI_RUNNER_H_
#define PERFGRAPH_TESTS_TOOLS_CLI_RUNNER_H_

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace perfgraph::tools::test {

struct CliResult {
  int exit_code = -1;  // -1 when the process did not exit normally
  std::string out;     // stdout and stderr, interleaved
};

// Runs the shell command `command` and captures its stdout and stderr.
inline CliResult RunShell(const std::string& command_line) {
  const std::string command = command_line + " 2>&1";
  CliResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Runs `build/perfgraph <args>` through the shell and captures its output.
inline CliResult RunPerfgraph(const std::string& args) {
  return RunShell(std::string(PERFGRAPH_BINARY_DIR) + "/perfgraph " + args);
}

}  // namespace perfgraph::tools::test

#endif  // PERFGRAPH_TESTS_TOOLS_CLI_RUNNER_H_

// Runs a Python 3 script with NumPy at test time, so tests can check interchange formats against
// files NumPy itself writes and reads (python3-numpy, scripts/setup.sh).
#ifndef PERFGRAPH_TESTS_PYTHON_RUNNER_H_
#define PERFGRAPH_TESTS_PYTHON_RUNNER_H_

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include "tests/temp_dir.h"

namespace perfgraph::testing {

struct PythonResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

// The interpreter Debian's python3-numpy belongs to: /usr/bin/python3 when it exists (a python3
// earlier on PATH, e.g. a pyenv shim, may lack NumPy), else python3 from PATH.
inline std::string PythonInterpreter() {
  return std::ifstream("/usr/bin/python3").good() ? "/usr/bin/python3" : "python3";
}

// Writes `script` to a file in ProcessTempDir() and runs `PYTHON FILE ARGS` (cwd unchanged).
inline PythonResult RunPython(const std::string& script, const std::string& args = "") {
  static int counter = 0;
  const std::string path =
      (ProcessTempDir() / ("script_" + std::to_string(counter++) + ".py")).string();
  std::ofstream(path) << script;
  PythonResult result;
  FILE* pipe = popen((PythonInterpreter() + " " + path + " " + args + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// True when python3 with NumPy runs here (tests skip, saying so, when it does not).
inline bool HaveNumpy() {
  static const bool have = RunPython("import numpy\n").exit_code == 0;
  return have;
}

}  // namespace perfgraph::testing

#endif  // PERFGRAPH_TESTS_PYTHON_RUNNER_H_

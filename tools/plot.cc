#include "tools/plot.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cost/shipped_files.h"

extern char** environ;

namespace perfgraph::tools {

absl::Status RunPlotScript(const std::vector<std::string>& args) {
  const std::string script = cost::ShippedPath(kPlotScript);
  if (!std::filesystem::is_regular_file(script)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the plotting script ", script, " is missing (data directory from ", cost::DataDirSource(),
        "; set --data-dir or PERFGRAPH_DATA_DIR to a perfgraph source tree or installed share/perfgraph)"));
  }
  if (::access(kPython, X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        kPython, " is missing: plots need Debian's python3 and python3-matplotlib (scripts/setup.sh)"));
  }
  std::vector<std::string> argv_storage = {kPython, script};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawn_error = ::posix_spawn(&pid, kPython, nullptr, nullptr, argv.data(), environ);
  if (spawn_error != 0) {
    return absl::InternalError(
        absl::StrCat("cannot start ", kPython, " ", script, ": ", std::strerror(spawn_error)));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(absl::StrCat("waiting for ", script, ": ", std::strerror(errno)));
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      script, " ",
      WIFEXITED(status) ? absl::StrCat("exited with status ", WEXITSTATUS(status))
                        : absl::StrCat("was killed by signal ", WTERMSIG(status)),
      " (its message is above; it needs Debian's python3-matplotlib)"));
}

absl::Status CheckPlotFile(const std::string& file) {
  if (absl::EndsWith(file, ".png") || absl::EndsWith(file, ".svg")) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--plot ", file, ": the file name must end in .png or .svg (the format drawn)"));
}

}  // namespace perfgraph::tools

// One temporary directory per test process, made with mkdtemp(3) under the system temp directory and
// removed when the process exits. ctest runs each test case as its own process, several at a time
// (`ctest -j`), and two checkouts' suites may run on one machine: a fixed name such as
// /tmp/perfgraph_foo_test would be shared between them, so tests put their files here instead.
#ifndef PERFGRAPH_TESTS_TEMP_DIR_H_
#define PERFGRAPH_TESTS_TEMP_DIR_H_

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace perfgraph::testing {

// The process's own directory, created on first use (aborts the test binary with a message if
// mkdtemp fails: nothing of the test could run). Removed at exit by the process that created it
// (not by forked children, which share the path).
inline const std::filesystem::path& ProcessTempDir() {
  struct Owner {
    std::filesystem::path path;
    pid_t pid;
    Owner() : pid(::getpid()) {
      std::string pattern = (std::filesystem::temp_directory_path() / "perfgraph_test.XXXXXX").string();
      if (::mkdtemp(pattern.data()) == nullptr) {
        std::perror(("mkdtemp " + pattern).c_str());
        std::abort();
      }
      path = pattern;
    }
    ~Owner() {
      if (::getpid() != pid) return;
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Owner owner;
  return owner.path;
}

// ProcessTempDir() / `name`, emptied (removed if present) and with its parent directories created.
inline std::filesystem::path FreshTempPath(const std::filesystem::path& name) {
  const std::filesystem::path path = ProcessTempDir() / name;
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
  std::filesystem::create_directories(path.parent_path());
  return path;
}

}  // namespace perfgraph::testing

#endif  // PERFGRAPH_TESTS_TEMP_DIR_H_

// Helpers shared by the libFuzzer targets (fuzz/*_fuzzer.cc): a per-process scratch directory for the
// entry points that only take a path, and the source tree's test inputs the targets load once.
#ifndef PERFGRAPH_FUZZ_FUZZ_UTIL_H_
#define PERFGRAPH_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace perfgraph::fuzz {

// Absolute path of the source tree (set by fuzz/CMakeLists.txt), so the targets find
// tests/testdata whatever directory they run from.
inline std::string SourceDir() { return PERFGRAPH_SOURCE_DIR; }

// A directory under $TMPDIR (or /tmp) private to this process, removed at exit.
inline const std::string& ScratchDir() {
  static const std::string* dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                          "/perfgraph_fuzz_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("perfgraph fuzz: mkdtemp");
      std::abort();
    }
    auto* made = new std::string(pattern);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(ScratchDir(), ignored);
    });
    return made;
  }();
  return *dir;
}

// Writes `size` bytes to ScratchDir()/name (replacing it) and returns the path; aborts on I/O errors
// (a broken harness, not a finding).
inline std::string WriteScratchFile(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = ScratchDir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "perfgraph fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace perfgraph::fuzz

#endif  // PERFGRAPH_FUZZ_FUZZ_UTIL_H_

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

#include <zlib.h>

namespace perfgraph::fuzz {

// zlib's CRC-32 of `size` bytes (the checksum of record files and weights files).
inline uint32_t Crc32(const uint8_t* data, size_t size) {
  uLong value = crc32(0L, Z_NULL, 0);
  while (size > 0) {
    const uInt chunk = size > (1u << 30) ? (1u << 30) : static_cast<uInt>(size);
    value = crc32(value, data, chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(value);
}

inline uint32_t LoadU32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
inline void StoreU32(uint8_t* p, uint32_t value) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(value >> (8 * i));
}

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

#include "cost/shipped_files.h"

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"

#ifndef PERFGRAPH_SOURCE_DIR
#error "PERFGRAPH_SOURCE_DIR must be defined by cost/CMakeLists.txt"
#endif
#ifndef PERFGRAPH_INSTALL_DATA_DIR
#error "PERFGRAPH_INSTALL_DATA_DIR must be defined by cost/CMakeLists.txt"
#endif

namespace perfgraph::cost {
namespace {

std::mutex& OverrideMutex() {
  static std::mutex* mu = new std::mutex();
  return *mu;
}
std::string& Override() {
  static std::string* dir = new std::string();
  return *dir;
}

bool HoldsShippedFiles(const std::filesystem::path& dir) {
  std::error_code error;
  return std::filesystem::is_regular_file(dir / kShippedMarker, error);
}

// <dir of /proc/self/exe>/../share/perfgraph (bin/perfgraph) and ../../share/perfgraph
// (libexec/perfgraph/perfgraph-measure), or nothing when the executable cannot be resolved.
std::vector<std::string> ExecutableRelativeDirs() {
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error || exe.empty()) return {};
  const std::filesystem::path dir = exe.parent_path();
  return {(dir.parent_path() / "share" / "perfgraph").lexically_normal().string(),
          (dir.parent_path().parent_path() / "share" / "perfgraph").lexically_normal().string()};
}

std::string StripTrailingSlash(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace

void SetDataDirOverride(std::string dir) {
  std::lock_guard<std::mutex> lock(OverrideMutex());
  Override() = std::move(dir);
}

std::vector<DataDirCandidate> DataDirCandidates() {
  std::vector<DataDirCandidate> candidates;
  {
    std::lock_guard<std::mutex> lock(OverrideMutex());
    if (!Override().empty()) candidates.push_back({StripTrailingSlash(Override()), "--data-dir"});
  }
  if (const char* env = std::getenv(kDataDirEnv); env != nullptr && env[0] != '\0') {
    candidates.push_back({StripTrailingSlash(env), kDataDirEnv});
  }
  for (std::string& dir : ExecutableRelativeDirs()) candidates.push_back({std::move(dir), "executable"});
  candidates.push_back({StripTrailingSlash(PERFGRAPH_INSTALL_DATA_DIR), "install prefix"});
  candidates.push_back({StripTrailingSlash(PERFGRAPH_SOURCE_DIR), "source tree"});
  return candidates;
}

namespace {

DataDirCandidate Chosen() {
  std::vector<DataDirCandidate> candidates = DataDirCandidates();
  for (const DataDirCandidate& c : candidates) {
    // An explicit choice is taken as given; the others must hold the shipped files.
    if (c.source == "--data-dir" || c.source == kDataDirEnv || HoldsShippedFiles(c.dir)) return c;
  }
  return candidates.back();
}

}  // namespace

std::string DataDir() { return Chosen().dir; }

std::string DataDirSource() { return Chosen().source; }

std::string ShippedPath(absl::string_view relative) {
  return absl::StrCat(DataDir(), "/", relative);
}

}  // namespace perfgraph::cost

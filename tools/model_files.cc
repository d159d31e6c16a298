#include "tools/model_files.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace perfgraph::tools {

absl::StatusOr<std::vector<std::string>> CollectModelFiles(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (!fs::exists(path, error)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    if (!fs::is_directory(path, error)) {
      files.push_back(path);
      continue;
    }
    for (auto it = fs::recursive_directory_iterator(path, error);
         !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
      const std::string ext = it->path().extension().string();
      if (it->is_regular_file() && (ext == ".onnx" || ext == ".hlo")) {
        files.push_back(it->path().string());
      }
    }
    if (error) return absl::InvalidArgumentError(absl::StrCat(path, ": ", error.message()));
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  if (files.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no .onnx or .hlo model files in ", absl::StrJoin(paths, ", ")));
  }
  return files;
}

}  // namespace perfgraph::tools

#include "tools/model_files.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
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
      // XLA's proto dumps (--xla_dump_hlo_as_proto) are named *.hlo.pb; a bare .pb is not taken
      // from a directory (ONNX test data stores its tensors as .pb files).
      const std::string ext = it->path().extension().string();
      const std::string name = it->path().filename().string();
      if (it->is_regular_file() &&
          (ext == ".onnx" || ext == ".hlo" || absl::EndsWith(name, ".hlo.pb") ||
           absl::EndsWith(name, ".hlo.pbtxt"))) {
        files.push_back(it->path().string());
      }
    }
    if (error) return absl::InvalidArgumentError(absl::StrCat(path, ": ", error.message()));
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  if (files.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no .onnx, .hlo, .hlo.pb or .hlo.pbtxt model files in ", absl::StrJoin(paths, ", ")));
  }
  return files;
}

}  // namespace perfgraph::tools

#include "graph/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace perfgraph::graph {

absl::Status WriteFileAtomically(absl::string_view path, absl::string_view bytes,
                                 absl::string_view context) {
  const std::string final_path(path);
  const std::string temp_path = final_path + ".tmp";
  {
    std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
    if (!out) {
      const int error = errno;
      const std::string message =
          absl::StrCat(context, ": cannot write '", temp_path, "': ", std::strerror(error));
      return error == EACCES ? absl::PermissionDeniedError(message) : absl::UnavailableError(message);
    }
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      std::error_code ignored;
      std::filesystem::remove(temp_path, ignored);
      return absl::UnavailableError(absl::StrCat(context, ": write to '", temp_path, "' failed"));
    }
  }
  std::error_code error;
  std::filesystem::rename(temp_path, final_path, error);
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(temp_path, ignored);
    return absl::UnavailableError(absl::StrCat(context, ": cannot rename '", temp_path, "' to '",
                                               final_path, "': ", error.message()));
  }
  return absl::OkStatus();
}

}  // namespace perfgraph::graph

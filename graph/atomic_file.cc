#include "graph/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>

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
      const std::string message = absl::StrCat(context, ": cannot write '", final_path,
                                               "' (creating '", temp_path,
                                               "': ", std::strerror(error), ")");
      return error == EACCES ? absl::PermissionDeniedError(message) : absl::UnavailableError(message);
    }
    errno = 0;
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (out) out.close();  // close flushes too: its failure is a failed write
    if (!out) {
      const int error = errno;  // e.g. ENOSPC, EFBIG (RLIMIT_FSIZE), EIO
      out.close();
      std::error_code ignored;
      std::filesystem::remove(temp_path, ignored);
      return absl::UnavailableError(absl::StrCat(
          context, ": cannot write '", final_path, "' (writing ", bytes.size(), " bytes to '",
          temp_path, "' failed: ", error != 0 ? std::strerror(error) : "I/O error",
          "); nothing was written"));
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

absl::StatusOr<NewFile> NewFile::Begin(absl::string_view path, absl::string_view context) {
  NewFile file;
  file.path_ = std::string(path);
  file.temp_path_ = absl::StrCat(path, ".tmp.", ::getpid());
  file.context_ = std::string(context);
  std::error_code error;
  if (std::filesystem::exists(file.path_, error)) {
    return absl::AlreadyExistsError(
        absl::StrCat(context, ": '", file.path_, "' already exists; write to a new file"));
  }
  // A leftover of this pid (a previous process with the same pid that was killed) is stale.
  std::filesystem::remove(file.temp_path_, error);
  const int fd = ::open(file.temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int e = errno;
    const std::string message = absl::StrCat(context, ": cannot write '", file.path_,
                                             "' (creating '", file.temp_path_,
                                             "': ", std::strerror(e), ")");
    if (e == EACCES || e == EPERM || e == EROFS) return absl::PermissionDeniedError(message);
    if (e == ENOENT || e == ENOTDIR) return absl::NotFoundError(message);
    return absl::UnavailableError(message);
  }
  ::close(fd);
  file.pending_ = true;
  return file;
}

NewFile::NewFile(NewFile&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      context_(std::move(other.context_)),
      pending_(std::exchange(other.pending_, false)) {}

NewFile& NewFile::operator=(NewFile&& other) noexcept {
  if (this != &other) {
    Discard();
    path_ = std::move(other.path_);
    temp_path_ = std::move(other.temp_path_);
    context_ = std::move(other.context_);
    pending_ = std::exchange(other.pending_, false);
  }
  return *this;
}

NewFile::~NewFile() { Discard(); }

void NewFile::Discard() {
  if (!pending_) return;
  ::unlink(temp_path_.c_str());
  pending_ = false;
}

absl::Status NewFile::Commit() {
  if (!pending_) {
    return absl::FailedPreconditionError(
        absl::StrCat(context_, ": '", path_, "' was already committed or discarded"));
  }
  if (::link(temp_path_.c_str(), path_.c_str()) == 0) {
    Discard();
    return absl::OkStatus();
  }
  const int e = errno;
  if (e == EEXIST) {
    Discard();
    return absl::AlreadyExistsError(absl::StrCat(
        context_, ": '", path_, "' was created by someone else meanwhile; nothing was written"));
  }
  if (e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == EXDEV || e == EMLINK) {
    // No hard links here (some FUSE / network file systems): rename, which may replace.
    if (::rename(temp_path_.c_str(), path_.c_str()) == 0) {
      pending_ = false;
      return absl::OkStatus();
    }
  }
  const int final_error = errno;
  Discard();
  return absl::UnavailableError(absl::StrCat(context_, ": cannot publish '", temp_path_, "' as '",
                                             path_, "': ", std::strerror(final_error),
                                             "; nothing was written"));
}

}  // namespace perfgraph::graph

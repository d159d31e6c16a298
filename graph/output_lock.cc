#include "graph/output_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace perfgraph::graph {
namespace {

absl::Status ErrnoStatus(int error, absl::string_view message) {
  const std::string text = absl::StrCat(message, ": ", std::strerror(error));
  switch (error) {
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(text);
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(text);
    default:
      return absl::UnavailableError(text);
  }
}

// Reads at most 31 bytes of `fd` from offset 0 and parses a pid.
int ReadPid(int fd) {
  char buffer[32] = {};
  const ssize_t got = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  if (got <= 0) return 0;
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(buffer, got)), &pid)) return 0;
  return pid > 0 ? pid : 0;
}

}  // namespace

std::string OutputLockPath(absl::string_view output) {
  absl::string_view trimmed = output;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.remove_suffix(1);
  return absl::StrCat(trimmed, ".lock");
}

int OutputLockOwner(absl::string_view output) {
  const int fd = ::open(OutputLockPath(output).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const int pid = ReadPid(fd);
  ::close(fd);
  return pid;
}

absl::StatusOr<OutputLock> OutputLock::Acquire(absl::string_view output, absl::string_view what) {
  OutputLock lock;
  lock.lock_path_ = OutputLockPath(output);
  const std::string out(output);
  // A holder unlinks the file before releasing it: if the file we locked is no longer the one at
  // the path, someone released it meanwhile; retry on the current file (bounded: each retry needs
  // another process to finish a whole acquire/release cycle in between).
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(lock.lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      return ErrnoStatus(errno, absl::StrCat(what, " '", out, "': cannot create the lock file '",
                                             lock.lock_path_, "'"));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      if (error != EWOULDBLOCK) {
        ::close(fd);
        return ErrnoStatus(error, absl::StrCat(what, " '", out, "': cannot lock '",
                                               lock.lock_path_, "'"));
      }
      const int pid = ReadPid(fd);
      ::close(fd);
      return absl::UnavailableError(absl::StrCat(
          what, " '", out, "' is in use by ",
          pid > 0 ? absl::StrCat("pid ", pid) : std::string("another process"),
          " (lock file ", lock.lock_path_, "); wait for it to finish or choose another output"));
    }
    struct stat locked, current;
    if (::fstat(fd, &locked) != 0 || ::stat(lock.lock_path_.c_str(), &current) != 0 ||
        locked.st_ino != current.st_ino || locked.st_dev != current.st_dev) {
      ::close(fd);  // the file was unlinked by its previous owner: retry on the new one
      continue;
    }
    const std::string pid = absl::StrCat(::getpid(), "\n");
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      const int error = errno;
      ::unlink(lock.lock_path_.c_str());
      ::close(fd);
      return ErrnoStatus(error, absl::StrCat(what, " '", out, "': cannot write the lock file '",
                                             lock.lock_path_, "'"));
    }
    lock.fd_ = fd;
    return lock;
  }
  return absl::UnavailableError(absl::StrCat(what, " '", out, "': the lock file '",
                                             lock.lock_path_,
                                             "' keeps being replaced; another process is racing"));
}

OutputLock::OutputLock(OutputLock&& other) noexcept
    : lock_path_(std::move(other.lock_path_)), fd_(std::exchange(other.fd_, -1)) {}

OutputLock& OutputLock::operator=(OutputLock&& other) noexcept {
  if (this != &other) {
    Release();
    lock_path_ = std::move(other.lock_path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

OutputLock::~OutputLock() { Release(); }

void OutputLock::Release() {
  if (fd_ < 0) return;
  ::unlink(lock_path_.c_str());  // while still locked: see the header
  ::close(fd_);                  // releases the flock
  fd_ = -1;
}

}  // namespace perfgraph::graph

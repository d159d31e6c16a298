// One writer per output: an advisory lock that `perfgraph measure` (its dataset) and `perfgraph
// train` (its model directory) hold for their whole run, so that a second process pointed at the
// same output stops at once with "OUTPUT is in use by pid N" instead of interleaving records or
// overwriting the first one's files.
//
// The lock is flock(2) (LOCK_EX | LOCK_NB) on the file "<output>.lock" next to the output, which
// holds the owner's pid as text (for the message; the lock itself is the flock, so a lock file left
// by a killed process is taken over, never trusted). flock locks belong to the open file
// description: they are released when the process exits however it exits, they are not inherited
// across exec (O_CLOEXEC), and two OutputLocks in one process on the same output also exclude
// each other. Advisory only: it keeps out cooperating perfgraph processes, not other programs.
// Local file systems only (flock on NFS is emulated with fcntl locks by Linux, which still works
// between processes).
#ifndef PERFGRAPH_GRAPH_OUTPUT_LOCK_H_
#define PERFGRAPH_GRAPH_OUTPUT_LOCK_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace perfgraph::graph {

class OutputLock {
 public:
  // Locks `output` (a file or a directory, existing or not; trailing '/' ignored) for this
  // process: creates "<output>.lock" (its directory must exist), flocks it and writes getpid().
  // `what` names the output in messages ("--out DATASET"). Errors:
  //  - kUnavailable "<what> 'OUTPUT' is in use by pid N (lock file OUTPUT.lock)" when another
  //    OutputLock holds it (pid unknown if the owner has not written it yet: "by another process");
  //  - the errno status (naming the lock file) when it cannot be created or locked, e.g.
  //    kPermissionDenied for an unwritable directory, kNotFound for a missing one.
  static absl::StatusOr<OutputLock> Acquire(absl::string_view output, absl::string_view what);

  OutputLock(OutputLock&& other) noexcept;
  OutputLock& operator=(OutputLock&& other) noexcept;
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  // Releases the lock and removes the lock file (unlinked while still locked, so a process waiting
  // on the old file notices that it was replaced and retries on the new one).
  ~OutputLock();

  const std::string& lock_path() const { return lock_path_; }

 private:
  OutputLock() = default;
  void Release();

  std::string lock_path_;
  int fd_ = -1;
};

// The lock file of `output`: "<output without trailing '/'>.lock".
std::string OutputLockPath(absl::string_view output);

// The pid recorded in the lock file of `output`, or 0 when there is none (no file, empty, garbage).
// For messages and tests; whether the output is locked is decided by flock alone.
int OutputLockOwner(absl::string_view output);

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_OUTPUT_LOCK_H_

// Writing a whole file so that readers (and a run killed mid-write) see either the old file or the
// new one, never a torn one: write `path`.tmp, then rename it over `path` (rename is atomic within a
// file system, POSIX). Shared by every writer of model directories (gnn/checkpoint, kernels/weights,
// gnn/train, tools/train), of target descriptions (calibrate) and of reports (tune); NewFile below
// does the same for files written piece by piece (dataset import and merge).
#ifndef PERFGRAPH_GRAPH_ATOMIC_FILE_H_
#define PERFGRAPH_GRAPH_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace perfgraph::graph {

// Writes `bytes` to `path` atomically (binary, truncating). `context` prefixes error messages (e.g.
// "SaveModelFile"). Errors: kPermissionDenied when the temporary file cannot be created for lack of
// permission, kUnavailable for any other failure to create, write or rename it (naming the path and
// the OS error); the temporary file is removed on failure.
absl::Status WriteFileAtomically(absl::string_view path, absl::string_view bytes,
                                 absl::string_view context);

// A new file written piece by piece (e.g. a dataset by data::RecordWriter) and published under its
// name only when complete: write to temp_path(), then Commit(). Until then `path` does not exist,
// and an error or a crash in between leaves no truncated file at `path` (the destructor removes the
// temporary; a process killed meanwhile leaves "<path>.tmp.<pid>", never a torn `path`).
class NewFile {
 public:
  // Errors: kAlreadyExists when `path` exists (a new file never replaces one); kPermissionDenied /
  // kNotFound / kUnavailable (naming `path` and the OS error) when the temporary cannot be created
  // in the directory of `path`. `context` prefixes messages.
  static absl::StatusOr<NewFile> Begin(absl::string_view path, absl::string_view context);

  NewFile(NewFile&& other) noexcept;
  NewFile& operator=(NewFile&& other) noexcept;
  NewFile(const NewFile&) = delete;
  NewFile& operator=(const NewFile&) = delete;
  ~NewFile();  // removes the temporary unless committed

  const std::string& path() const { return path_; }
  // "<path>.tmp.<pid>": exists (empty) after Begin; the caller writes it and closes it.
  const std::string& temp_path() const { return temp_path_; }
  // Publishes the temporary as `path` with link(2) + unlink (so an existing `path`, created
  // meanwhile, is not replaced: kAlreadyExists), or rename(2) on file systems without hard links.
  // Errors name both paths and the OS error.
  absl::Status Commit();

 private:
  NewFile() = default;
  void Discard();

  std::string path_;
  std::string temp_path_;
  std::string context_;
  bool pending_ = false;
};

}  // namespace perfgraph::graph

#endif  // PERFGRAPH_GRAPH_ATOMIC_FILE_H_

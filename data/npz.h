// NumPy's `.npz` archives: a zip file whose members "<key>.npy" each hold one array (data/npy.h),
// as numpy.savez (members stored) and numpy.savez_compressed (members deflated) write them. Read
// and written with libzip (Debian's libzip-dev), which handles both methods and ZIP64.
#ifndef PERFGRAPH_DATA_NPZ_H_
#define PERFGRAPH_DATA_NPZ_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/npy.h"

namespace perfgraph::data {

// Largest uncompressed member read (1 GiB; the largest TpuGraphs tile array is tens of MB), checked
// against the zip directory before anything is inflated, so a zip bomb is refused instead of
// exhausting memory.
inline constexpr int64_t kMaxNpzMemberBytes = int64_t{1} << 30;

// Every array of the archive at `path`, by key (the member name without ".npy"; members that do not
// end in ".npy" are an error, as numpy.load would not return them as arrays either).
// Errors: kNotFound when the file does not exist; kInvalidArgument naming the file when it is not a
// zip archive (libzip's reason: "Not a zip archive", "Zip archive inconsistent" for a truncated
// file), for a member that is not "<key>.npy", a member above kMaxNpzMemberBytes, or an array
// ParseNpy rejects (the message names "path:key"); kDataLoss for a member whose data cannot be read
// or inflated in full (CRC error, truncated data).
absl::StatusOr<std::map<std::string, NpyArray>> ReadNpz(absl::string_view path);

enum class NpzCompression { kStored, kDeflated };  // numpy.savez / numpy.savez_compressed

// Writes `arrays` as members "<key>.npy" of a new archive at `path` (replacing any file there;
// libzip writes a temporary file in the same directory and renames it on success, so a failed write
// leaves no partial archive at `path`). Errors: kInvalidArgument for an empty key or one containing
// '/', and for an array SerializeNpy rejects (naming the key); kUnavailable naming the path and
// libzip's reason when the archive cannot be written.
absl::Status WriteNpz(absl::string_view path, const std::map<std::string, NpyArray>& arrays,
                      NpzCompression compression = NpzCompression::kDeflated);

}  // namespace perfgraph::data

#endif  // PERFGRAPH_DATA_NPZ_H_

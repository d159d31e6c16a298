// The machine fingerprint stored in every dataset file header: which CPU, caches, thread count and
// toolchain the runtimes in the file were measured with. Runtimes are only comparable between
// records with equal fingerprints, so RecordWriter refuses to append to a file measured on another
// machine.
#ifndef PERFGRAPH_DATA_MACHINE_H_
#define PERFGRAPH_DATA_MACHINE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace perfgraph::data {

class MachineFingerprintProto;  // data/perfgraph.proto

// Text fields that could not be determined hold kUnknown; numeric fields hold 0.
inline constexpr absl::string_view kUnknown = "unknown";

struct MachineFingerprint {
  std::string cpu_model = std::string(kUnknown);  // /proc/cpuinfo "model name" of the first CPU
  int physical_cores = 0;       // distinct (physical id, core id) pairs in /proc/cpuinfo
  int logical_cores = 0;        // online logical CPUs (sysconf(_SC_NPROCESSORS_ONLN))
  int64_t l1d_cache_bytes = 0;  // cpu0's level-1 data cache (sysfs cache/index*/size), bytes
  int64_t l2_cache_bytes = 0;   // cpu0's level-2 unified cache, bytes
  int64_t l3_cache_bytes = 0;   // cpu0's level-3 unified cache (shared by its cores), bytes
  int num_threads = 0;          // threads the measuring process used (caller-supplied)
  std::string halide_version = std::string(kUnknown);    // caller-supplied, e.g. "14.0.0"
  std::string compiler_version = std::string(kUnknown);  // "GCC 12.2.0" / "Clang 14.0.6"
  std::string os = std::string(kUnknown);  // "Linux 6.1.0-18-amd64 (Debian GNU/Linux 12)"

  // One line for messages: "Intel(R) Xeon(R) ..., 2 cores/4 threads, L1d 48 KiB, ..., 4 threads
  // used".
  std::string ToString() const;

  friend bool operator==(const MachineFingerprint& a, const MachineFingerprint& b);
  friend bool operator!=(const MachineFingerprint& a, const MachineFingerprint& b) {
    return !(a == b);
  }
};

// Fingerprint of the machine this process runs on. Reads /proc/cpuinfo, sysconf,
// /sys/devices/system/cpu/cpu0/cache/index*/{level,type,size}, uname(2) and /etc/os-release; the
// compiler version comes from the compiler that built this file (__VERSION__). Never fails:
// whatever cannot be read (e.g. no sysfs cache info inside some containers) stays kUnknown / 0.
//   num_threads: threads the caller's measurements use (stored as is; must be >= 1 by convention).
//   halide_version: the Halide version string the caller links (this library does not include
//   Halide).
MachineFingerprint CurrentMachine(int num_threads, absl::string_view halide_version);

// Version of the Halide library perfgraph's measuring code links ("14.0.0"), for fingerprints made by
// code that does not link Halide itself (e.g. loading a target description). Comes from Halide's
// CMake package (Halide_VERSION) at configure time; target::HalideVersion() returns the same string.
absl::string_view BuildHalideVersion();

// Parses a sysfs cache size ("48K", "1280K", "32M", "512") into bytes; -1 when malformed. K/M/G are
// binary multiples (1024), as the kernel prints them.
int64_t ParseCacheSize(absl::string_view text);

// The whole of a small file (/proc, sysfs, /etc), or nullopt when it cannot be opened.
std::optional<std::string> ReadSmallFile(const std::string& path);

// Conversions to and from the header proto (field by field, total).
void MachineToProto(const MachineFingerprint& machine, MachineFingerprintProto* proto);
MachineFingerprint MachineFromProto(const MachineFingerprintProto& proto);

}  // namespace perfgraph::data

#endif  // PERFGRAPH_DATA_MACHINE_H_

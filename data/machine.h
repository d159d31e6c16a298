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
  // Vector ISA extensions that change the code Halide generates (kIsaFlags present in /proc/cpuinfo
  // "flags", in kIsaFlags order, space-separated: "sse4_1 sse4_2 avx avx2 fma f16c"). "" when
  // unknown: files written before the field existed, or no flags line.
  std::string isa;

  // One line for messages: "Intel(R) Xeon(R) ..., 2 cores/4 threads, L1d 48 KiB, ..., 4 threads
  // used".
  std::string ToString() const;

  friend bool operator==(const MachineFingerprint& a, const MachineFingerprint& b);
  friend bool operator!=(const MachineFingerprint& a, const MachineFingerprint& b) {
    return !(a == b);
  }
};

// Whether runtimes measured on `a` and on `b` are comparable: same CPU model, physical and logical
// cores, cache sizes and vector ISA (each compared only when both know it: a cache size of 0, as
// files written before the CPUID fallback of AMD's older leaves hold, is unknown), threads used and
// Halide version.
// The OS string (a VM's kernel build changes under a running fleet) and the compiler that built
// perfgraph (it does not compile the kernels: Halide's LLVM does) may differ. RecordWriter appends,
// `dataset merge` and `dataset stats` use this rather than operator==.
bool SameMeasuringMachine(const MachineFingerprint& a, const MachineFingerprint& b);
// "" when SameMeasuringMachine(a, b); otherwise the differing fields, "L1d 48 KiB vs 32 KiB; isa
// 'avx avx2 avx512f' vs 'avx avx2'".
std::string MeasuringMachineDifference(const MachineFingerprint& a, const MachineFingerprint& b);

// /proc/cpuinfo flags recorded in MachineFingerprint::isa, in this order (x86 SSE4 through AVX-512
// and AMX, Arm Advanced SIMD and SVE).
inline constexpr absl::string_view kIsaFlags[] = {
    "sse4_1",      "sse4_2",      "avx",         "avx2",     "fma",      "f16c",
    "avx512f",     "avx512dq",    "avx512cd",    "avx512bw", "avx512vl", "avx512_vnni",
    "avx512_bf16", "avx512_fp16", "amx_tile",    "asimd",    "sve",      "sve2"};
// MachineFingerprint::isa of a /proc/cpuinfo "flags" (x86) or "Features" (Arm) value.
std::string IsaFromCpuFlags(absl::string_view flags);

// Cache sizes from the CPUID instruction (x86 only: Intel leaf 4, AMD leaf 0x8000001D, the
// "deterministic cache parameters" of the Intel SDM vol. 2A and AMD APM vol. 3; on AMD, where a
// hypervisor leaves that leaf empty, L1d and L2 from the older leaves 0x80000005 / 0x80000006), for
// machines whose sysfs has no cache entries (some containers and VMs). Fields it cannot determine
// stay 0 (the older leaves' L3 field is not used: on a VM it can describe the whole socket).
struct CpuidCaches {
  int64_t l1d_bytes = 0;
  int64_t l2_bytes = 0;
  int64_t l3_bytes = 0;
};
CpuidCaches ReadCpuidCaches();

// Fingerprint of the machine this process runs on. Reads /proc/cpuinfo, sysconf,
// /sys/devices/system/cpu/cpu0/cache/index*/{level,type,size} (cache sizes sysfs lacks come from
// ReadCpuidCaches), uname(2) and /etc/os-release; the compiler version comes from the compiler that
// built this file (__VERSION__). Never fails: whatever cannot be read stays kUnknown / 0 / "".
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

// Description of a CPU target for the analytical cost model: the machine it was measured on and the
// constants `perfgraph calibrate` measured there (peak FLOP/s, bandwidth per cache level, overheads).
// Stored as a text proto (cost/target_description.proto); the reference machine's file is committed at
// cost/targets/reference_cpu.textproto and is the default.
#ifndef PERFGRAPH_COST_TARGET_DESCRIPTION_H_
#define PERFGRAPH_COST_TARGET_DESCRIPTION_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/machine.h"

namespace perfgraph::cost {

// Bumped when a field changes meaning; loading another version is kFailedPrecondition.
inline constexpr int kTargetDescriptionFormatVersion = 1;

// Memory levels, innermost first. kDram has no capacity limit.
enum MemoryLevel : int { kL1 = 0, kL2 = 1, kL3 = 2, kDram = 3, kNumMemoryLevels = 4 };
absl::string_view MemoryLevelName(MemoryLevel level);  // "L1", "L2", "L3", "DRAM"

struct MemoryLevelDescription {
  // Capacity in bytes: per core for L1 and L2, shared for L3 (sysfs cache sizes); 0 for DRAM.
  int64_t capacity_bytes = 0;
  // Total size of the buffers of the stream kernel that measured this level, bytes.
  int64_t measured_working_set_bytes = 0;
  // Streaming bandwidth (bytes read + bytes written per second) of a copy kernel whose buffers fit
  // this level (calibration), with one thread and with all threads. > 0.
  double bandwidth_1t_bytes_per_s = 0;
  double bandwidth_all_bytes_per_s = 0;
};

struct TargetDescription {
  data::MachineFingerprint machine;  // where the constants were measured
  std::string halide_target;         // Halide JIT target string used for the measurements
  // f32 lanes of the narrowest vector that reaches the peak FLOP rate (calibration measures 4, 8 and
  // 16 lanes; on cores that split 512-bit ops in two halves this is 8 even with AVX-512), >= 1.
  int native_f32_lanes = 8;
  int all_threads = 1;               // threads of the *_all measurements, >= 1
  // Peak arithmetic throughput, FLOP/s (FMA = 2 FLOP), of register-resident FMA chains vectorised to
  // the native width (calibration), one thread and all threads. > 0.
  double peak_flops_1t = 0;
  double peak_flops_all = 0;
  std::array<MemoryLevelDescription, kNumMemoryLevels> memory;  // indexed by MemoryLevel
  // Time of one native-vector update `acc[x] = acc[x] + a * b[x]` of an accumulator in memory, as
  // target::HalideCpuTarget generates them for dot and convolution (x vectorised innermost, the
  // reduction loop outside it), one thread, L1-resident data, 8 independent vectors per reduction
  // step (calibration). ns, > 0. (Dependency-chain latency is not modelled: on the reference machine
  // LLVM hides it in the target's convolution and dot loops; see analytical_model.h.)
  double reduction_update_ns = 0;
  // Wall time of one run of a one-element kernel through target::HalideCpuTarget::Time (argument
  // marshalling, buffer checks, JIT entry), ns >= 0 (calibration).
  double kernel_launch_ns = 0;
  // Wall time of one Halide parallel-for over all_threads trivial tasks minus its serial work, ns >= 0.
  double parallel_launch_ns = 0;
  // Per-tile cost of a compute_at producer (loop bookkeeping, allocation of the tile's buffer), ns >= 0.
  double tile_overhead_ns = 0;
  int64_t created_unix_seconds = 0;
  std::string notes;
};

// OK when every constant is in the documented range (positive bandwidths and FLOP rates, lanes and
// threads >= 1, overheads >= 0); kInvalidArgument naming the field and value otherwise.
absl::Status ValidateTargetDescription(const TargetDescription& target);

// Text-proto encoding (TargetDescriptionProto) of `target`.
std::string TargetDescriptionToText(const TargetDescription& target);
// Parses text produced by TargetDescriptionToText. `source` names the input in messages (a path).
// Errors: kInvalidArgument (malformed text, out-of-range constants, memory levels not exactly L1, L2,
// L3, DRAM), kFailedPrecondition (format_version differs from kTargetDescriptionFormatVersion).
absl::StatusOr<TargetDescription> ParseTargetDescription(absl::string_view text,
                                                         absl::string_view source);

// Writes the text proto to `path`. kInvalidArgument for an invalid description, kInternal (naming the
// path) when the file cannot be written.
absl::Status SaveTargetDescription(const TargetDescription& target, const std::string& path);

// Reads and parses `path` (kNotFound when missing, else ParseTargetDescription's errors). When the
// description was measured on another CPU than `current` (see MachineMismatch), prints the mismatch
// message as a warning on stderr, once per process per distinct message, and still returns it.
absl::StatusOr<TargetDescription> LoadTargetDescription(const std::string& path,
                                                        const data::MachineFingerprint& current);
// Same, comparing against data::CurrentMachine(1, "14").
absl::StatusOr<TargetDescription> LoadTargetDescription(const std::string& path);

// "" when `target` was measured on the same CPU as `current` (same cpu_model, core counts and cache
// sizes; thread count, toolchain and OS may differ), otherwise a message naming both machines.
std::string MachineMismatch(const TargetDescription& target, const data::MachineFingerprint& current,
                            absl::string_view source);

// The committed reference description: ShippedPath(kShippedMarker), i.e.
// <data dir>/cost/targets/reference_cpu.textproto (cost/shipped_files.h says how the data directory
// is found: --data-dir, PERFGRAPH_DATA_DIR, the installed tree, then the source tree).
std::string DefaultTargetDescriptionPath();

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_TARGET_DESCRIPTION_H_

// Description of a CPU target for the analytical cost model: the machine it was measured on and the
// constants `perfgraph calibrate` measured there (peak FLOP/s, bandwidth per cache level, overheads).
// Stored as a text proto (cost/target_description.proto); the reference machine's file is committed at
// cost/targets/reference_cpu.textproto and is the default.
#ifndef PERFGRAPH_COST_TARGET_DESCRIPTION_H_
#define PERFGRAPH_COST_TARGET_DESCRIPTION_H_

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cost/collective_cost.h"
#include "data/machine.h"

namespace perfgraph::cost {

// Bumped when a field changes meaning; loading another version is kFailedPrecondition.
// Version 2 added parallel_scaling (and the calibration report).
inline constexpr int kTargetDescriptionFormatVersion = 2;

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

// One constant of a calibration: how it was measured (cost/calibrate.h). Kept in the description for
// the record; the model reads only the constants themselves.
struct CalibratedConstant {
  std::string name;  // "peak_flops_1t", "L2 bandwidth_1t", "parallel_scaling", ...
  std::string unit;  // "FLOP/s", "B/s", "ns", "1"
  double value = 0;  // from the fastest run of each probe over every round of every pass
  double spread = 0;  // interquartile range of the single-round values over their median
  std::vector<double> pass_values;  // the value from each independent pass's rounds, in order
  double pass_disagreement = 0;     // (max - min) of pass_values over value; 0 for one pass
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
  // Time of one vector update `acc[x] = acc[x] + a * b[x]` of an accumulator in memory, vectors of
  // ReductionUpdateLanes(*this) f32 lanes (not necessarily native_f32_lanes), as
  // target::HalideCpuTarget generates them for dot and convolution (x vectorised innermost, the
  // reduction loop outside it), one thread, L1-resident data, 8 independent vectors per reduction
  // step (calibration). ns, > 0. (Dependency-chain latency is not modelled: on the reference machine
  // LLVM hides it in the target's convolution and dot loops; see analytical_model.h.)
  double reduction_update_ns = 0;
  // f32 lanes per update of the reduction_update_ns probe: calibrate vectorises it at the widest
  // vector of the ISA, at most 8 (cost/calibrate.cc). 0 = not recorded (descriptions written before
  // the field existed): ReductionUpdateLanes derives it from halide_target by that rule.
  int reduction_update_lanes = 0;
  // Time of one reduction step of an accumulator row of reduction_update_lanes + 1 f32 in memory,
  // vectorised as the target vectorises updates (TailStrategy::GuardWithIf): one vector and a
  // predicated one-lane tail, whose masked store does not forward to the next step's load of the
  // same address (calibration; one thread, L1-resident data). ns >= 0; 0 = not measured
  // (descriptions written before the probe existed): the analytical model then charges
  // kMaskedTailUpdates calibrated updates (cost/analytical_model.cc).
  double masked_tail_ns = 0;
  // Wall time of one run of a one-element kernel through target::HalideCpuTarget::Time (argument
  // marshalling, buffer checks, JIT entry), ns >= 0 (calibration).
  double kernel_launch_ns = 0;
  // Wall time of one Halide parallel-for over all_threads trivial tasks minus its serial work, ns >= 0.
  double parallel_launch_ns = 0;
  // Per-tile cost of a compute_at producer (loop bookkeeping, allocation of the tile's buffer), ns >= 0.
  double tile_overhead_ns = 0;
  // Fraction of linear speedup the target's own tiled kernels reach with all_threads: measured
  // speedup (1 thread / all_threads) of a tiled dot and a tiled convolution at tiling::Default,
  // divided by their load-balance bound T / ceil(T / all_threads) for T parallel iterations;
  // geometric mean of the two (calibration). In (0, 1]; 1 when all_threads is 1.
  double parallel_scaling = 1;
  int64_t created_unix_seconds = 0;
  std::string notes;
  std::vector<CalibratedConstant> calibration;  // calibrate's report (may be empty)
  // Between the devices of a multi-device program: costs collectives (not measured by calibrate;
  // a file without the section gets DefaultInterconnect()).
  InterconnectDescription interconnect = DefaultInterconnect();
};

// f32 lanes per update of `target.reduction_update_ns`: reduction_update_lanes when recorded (> 0),
// else calibrate's rule applied to halide_target: 8 when it has AVX (AVX, AVX2, AVX-512: the widest
// vector, at most 8), else native_f32_lanes capped at 8. The reference description (AVX2,
// native_f32_lanes 4) measured 8-lane updates.
int ReductionUpdateLanes(const TargetDescription& target);

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

// Writes the text proto to `path` atomically (graph::WriteFileAtomically: temp file + rename, so a
// failed write leaves the previous file or none, never a truncated one). kInvalidArgument for an
// invalid description; kPermissionDenied / kUnavailable (naming the path and the OS error) when the
// file cannot be written.
absl::Status SaveTargetDescription(const TargetDescription& target, const std::string& path);

// Reads and parses `path` (kNotFound when missing, else ParseTargetDescription's errors). When the
// description was measured on another CPU than `current` (see MachineMismatch), prints the mismatch
// message as a warning on stderr, once per process per distinct message, and still returns it.
absl::StatusOr<TargetDescription> LoadTargetDescription(const std::string& path,
                                                        const data::MachineFingerprint& current);
// Same, comparing against data::CurrentMachine(1, "14").
absl::StatusOr<TargetDescription> LoadTargetDescription(const std::string& path);

// "" when `target` was measured on the same CPU as `current` (data::SameMeasuringMachine ignoring
// the thread count and Halide version: same cpu_model, core counts, cache sizes and vector ISA when
// both record it; toolchain and OS may differ), otherwise a message naming both machines and the
// fields that differ.
std::string MachineMismatch(const TargetDescription& target, const data::MachineFingerprint& current,
                            absl::string_view source);

// Every measured constant of `t` by name, in a fixed order: peak_flops_1t, peak_flops_all, "<level>
// bandwidth_1t" and "<level> bandwidth_all" for L1, L2, L3, DRAM, reduction_update_ns,
// kernel_launch_ns, parallel_launch_ns, tile_overhead_ns, parallel_scaling, then masked_tail_ns when
// it was measured (> 0) (the names of CalibratedConstant).
std::vector<std::pair<std::string, double>> NamedConstants(const TargetDescription& t);

// One constant of two descriptions (e.g. two `perfgraph calibrate` runs).
struct ConstantDifference {
  std::string name;
  double a = 0;
  double b = 0;
  double relative = 0;  // |a - b| / ((|a| + |b|) / 2); 0 when both are 0
};
// Whether two values of the constant `name` agree: within `tolerance` relative to their mean, or for
// the overheads (kernel_launch_ns, parallel_launch_ns, tile_overhead_ns) within
// kOverheadResolutionNs, the steady clock's step on the reference VM (its timings come in multiples
// of ~5-10 ns), below which a relative tolerance on a 40 ns quantity only measures the clock.
inline constexpr double kOverheadResolutionNs = 10.0;
bool ConstantsAgree(absl::string_view name, double a, double b, double tolerance);

// `value` in the units a report prints for `unit` ("FLOP/s" -> "78.4 GFLOP/s", "B/s" -> "265.0 GB/s",
// "ns" -> "0.652 ns", anything else "0.500").
std::string FormatConstant(double value, absl::string_view unit);
// 16 hex digits identifying `target`'s content: FNV-1a (64 bit) of TargetDescriptionToText(target).
// Equal descriptions give equal fingerprints on every build; any changed constant changes it.
std::string TargetDescriptionFingerprint(const TargetDescription& target);

// NamedConstants of `a` and `b` side by side, same order.
std::vector<ConstantDifference> CompareConstants(const TargetDescription& a, const TargetDescription& b);

// The committed reference description: ShippedPath(kShippedMarker), i.e.
// <data dir>/cost/targets/reference_cpu.textproto (cost/shipped_files.h says how the data directory
// is found: --data-dir, PERFGRAPH_DATA_DIR, the installed tree, then the source tree).
std::string DefaultTargetDescriptionPath();

}  // namespace perfgraph::cost

#endif  // PERFGRAPH_COST_TARGET_DESCRIPTION_H_

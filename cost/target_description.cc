#include "cost/target_description.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cost/target_description.pb.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "cost/shipped_files.h"
#include "graph/atomic_file.h"
#include "data/machine.h"


namespace perfgraph::cost {
namespace {

constexpr std::array<absl::string_view, kNumMemoryLevels> kLevelNames = {"L1", "L2", "L3", "DRAM"};

// Collects TextFormat parse errors into one message instead of protobuf's default stderr logging.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) first_ = absl::StrCat("line ", line + 1, " column ", column + 1, ": ", message);
  }
  void AddWarning(int, int, const std::string&) override {}
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

absl::Status CheckPositive(absl::string_view field, double value) {
  if (!(value > 0) || !std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("target description: ", field, " must be a finite value > 0, got ", value));
  }
  return absl::OkStatus();
}

absl::Status CheckNonNegative(absl::string_view field, double value) {
  if (!(value >= 0) || !std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("target description: ", field, " must be a finite value >= 0, got ", value));
  }
  return absl::OkStatus();
}

void MachineToProto(const data::MachineFingerprint& m, MachineProto* p) {
  p->set_cpu_model(m.cpu_model);
  p->set_physical_cores(m.physical_cores);
  p->set_logical_cores(m.logical_cores);
  p->set_l1d_cache_bytes(m.l1d_cache_bytes);
  p->set_l2_cache_bytes(m.l2_cache_bytes);
  p->set_l3_cache_bytes(m.l3_cache_bytes);
  p->set_num_threads(m.num_threads);
  p->set_halide_version(m.halide_version);
  p->set_compiler_version(m.compiler_version);
  p->set_os(m.os);
  p->set_isa(m.isa);
}

data::MachineFingerprint MachineFromProto(const MachineProto& p) {
  data::MachineFingerprint m;
  m.cpu_model = p.cpu_model();
  m.physical_cores = p.physical_cores();
  m.logical_cores = p.logical_cores();
  m.l1d_cache_bytes = p.l1d_cache_bytes();
  m.l2_cache_bytes = p.l2_cache_bytes();
  m.l3_cache_bytes = p.l3_cache_bytes();
  m.num_threads = p.num_threads();
  m.halide_version = p.halide_version();
  m.compiler_version = p.compiler_version();
  m.os = p.os();
  m.isa = p.isa();
  return m;
}

}  // namespace

absl::string_view MemoryLevelName(MemoryLevel level) {
  if (level < 0 || level >= kNumMemoryLevels) return "invalid";
  return kLevelNames[level];
}

int ReductionUpdateLanes(const TargetDescription& t) {
  if (t.reduction_update_lanes > 0) return t.reduction_update_lanes;
  for (absl::string_view feature : absl::StrSplit(t.halide_target, '-')) {
    if (absl::StartsWith(feature, "avx")) return 8;
  }
  return std::clamp(t.native_f32_lanes, 1, 8);
}

absl::Status ValidateTargetDescription(const TargetDescription& t) {
  if (t.native_f32_lanes < 1 || t.native_f32_lanes > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target description: native_f32_lanes must be in [1, 64], got ", t.native_f32_lanes));
  }
  if (t.reduction_update_lanes < 0 || t.reduction_update_lanes > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("target description: reduction_update_lanes must be in [0, 64] (0: derived), got ",
                     t.reduction_update_lanes));
  }
  if (t.all_threads < 1 || t.all_threads > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("target description: all_threads must be in [1, 1024], got ", t.all_threads));
  }
  for (const auto& [field, value] : {std::pair<absl::string_view, double>{"peak_flops_1t", t.peak_flops_1t},
                                     {"peak_flops_all", t.peak_flops_all},
                                     {"reduction_update_ns", t.reduction_update_ns}}) {
    absl::Status s = CheckPositive(field, value);
    if (!s.ok()) return s;
  }
  for (const auto& [field, value] :
       {std::pair<absl::string_view, double>{"kernel_launch_ns", t.kernel_launch_ns},
        {"parallel_launch_ns", t.parallel_launch_ns},
        {"tile_overhead_ns", t.tile_overhead_ns},
        {"masked_tail_ns", t.masked_tail_ns}}) {
    absl::Status s = CheckNonNegative(field, value);
    if (!s.ok()) return s;
  }
  absl::Status interconnect = ValidateInterconnect(t.interconnect);
  if (!interconnect.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("target description: ", interconnect.message()));
  }
  if (!(t.parallel_scaling > 0 && t.parallel_scaling <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target description: parallel_scaling must be in (0, 1], got ", t.parallel_scaling));
  }
  for (int l = 0; l < kNumMemoryLevels; ++l) {
    const MemoryLevelDescription& m = t.memory[l];
    const std::string prefix = absl::StrCat("memory ", kLevelNames[l], " ");
    absl::Status s = CheckPositive(absl::StrCat(prefix, "bandwidth_1t_bytes_per_s"),
                                   m.bandwidth_1t_bytes_per_s);
    if (s.ok()) {
      s = CheckPositive(absl::StrCat(prefix, "bandwidth_all_bytes_per_s"),
                        m.bandwidth_all_bytes_per_s);
    }
    if (!s.ok()) return s;
    if (l != kDram && m.capacity_bytes <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("target description: ", prefix,
                                                     "capacity_bytes must be > 0, got ",
                                                     m.capacity_bytes));
    }
    if (l == kDram && m.capacity_bytes != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "target description: DRAM capacity_bytes must be 0 (unbounded), got ", m.capacity_bytes));
    }
  }
  return absl::OkStatus();
}

std::string TargetDescriptionToText(const TargetDescription& t) {
  TargetDescriptionProto p;
  p.set_format_version(kTargetDescriptionFormatVersion);
  MachineToProto(t.machine, p.mutable_machine());
  p.set_halide_target(t.halide_target);
  p.set_native_f32_lanes(t.native_f32_lanes);
  p.set_all_threads(t.all_threads);
  p.set_peak_flops_1t(t.peak_flops_1t);
  p.set_peak_flops_all(t.peak_flops_all);
  for (int l = 0; l < kNumMemoryLevels; ++l) {
    MemoryLevelProto* m = p.add_memory();
    m->set_name(std::string(kLevelNames[l]));
    m->set_capacity_bytes(t.memory[l].capacity_bytes);
    m->set_measured_working_set_bytes(t.memory[l].measured_working_set_bytes);
    m->set_bandwidth_1t_bytes_per_s(t.memory[l].bandwidth_1t_bytes_per_s);
    m->set_bandwidth_all_bytes_per_s(t.memory[l].bandwidth_all_bytes_per_s);
  }
  p.set_reduction_update_ns(t.reduction_update_ns);
  if (t.reduction_update_lanes > 0) p.set_reduction_update_lanes(t.reduction_update_lanes);
  if (t.masked_tail_ns > 0) p.set_masked_tail_ns(t.masked_tail_ns);
  p.set_kernel_launch_ns(t.kernel_launch_ns);
  p.set_parallel_launch_ns(t.parallel_launch_ns);
  p.set_tile_overhead_ns(t.tile_overhead_ns);
  p.set_parallel_scaling(t.parallel_scaling);
  p.set_created_unix_seconds(t.created_unix_seconds);
  p.set_notes(t.notes);
  InterconnectProto* ip = p.mutable_interconnect();
  ip->set_name(t.interconnect.name);
  ip->set_link_bandwidth_bytes_per_s(t.interconnect.link_bandwidth_bytes_per_s);
  ip->set_latency_ns(t.interconnect.latency_ns);
  ip->set_devices(t.interconnect.devices);
  ip->set_source(t.interconnect.source);
  for (const CalibratedConstant& c : t.calibration) {
    CalibratedConstantProto* cp = p.add_calibration();
    cp->set_name(c.name);
    cp->set_unit(c.unit);
    cp->set_value(c.value);
    cp->set_spread(c.spread);
    for (double v : c.pass_values) cp->add_pass_value(v);
    cp->set_pass_disagreement(c.pass_disagreement);
  }
  std::string text;
  google::protobuf::TextFormat::PrintToString(p, &text);
  return absl::StrCat(
      "# perfgraph target description (cost/target_description.proto), written by `perfgraph "
      "calibrate`.\n",
      text);
}

absl::StatusOr<TargetDescription> ParseTargetDescription(absl::string_view text,
                                                         absl::string_view source) {
  TargetDescriptionProto p;
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &p)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": malformed target description: ", errors.first()));
  }
  if (p.format_version() != kTargetDescriptionFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(source, ": target description format_version ", p.format_version(),
                     ", this build reads version ", kTargetDescriptionFormatVersion,
                     "; re-run `perfgraph calibrate`"));
  }
  TargetDescription t;
  t.machine = MachineFromProto(p.machine());
  t.halide_target = p.halide_target();
  t.native_f32_lanes = p.native_f32_lanes();
  t.all_threads = p.all_threads();
  t.peak_flops_1t = p.peak_flops_1t();
  t.peak_flops_all = p.peak_flops_all();
  if (p.memory_size() != kNumMemoryLevels) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": expected ", kNumMemoryLevels,
                                                   " memory levels (L1, L2, L3, DRAM), got ",
                                                   p.memory_size()));
  }
  for (int l = 0; l < kNumMemoryLevels; ++l) {
    const MemoryLevelProto& m = p.memory(l);
    if (m.name() != kLevelNames[l]) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": memory level ", l, " is named '",
                                                     m.name(), "', expected '", kLevelNames[l],
                                                     "'"));
    }
    t.memory[l].capacity_bytes = m.capacity_bytes();
    t.memory[l].measured_working_set_bytes = m.measured_working_set_bytes();
    t.memory[l].bandwidth_1t_bytes_per_s = m.bandwidth_1t_bytes_per_s();
    t.memory[l].bandwidth_all_bytes_per_s = m.bandwidth_all_bytes_per_s();
  }
  t.reduction_update_ns = p.reduction_update_ns();
  t.reduction_update_lanes = p.reduction_update_lanes();
  t.masked_tail_ns = p.masked_tail_ns();
  t.kernel_launch_ns = p.kernel_launch_ns();
  t.parallel_launch_ns = p.parallel_launch_ns();
  t.tile_overhead_ns = p.tile_overhead_ns();
  t.parallel_scaling = p.parallel_scaling();
  t.created_unix_seconds = p.created_unix_seconds();
  t.notes = p.notes();
  if (p.has_interconnect()) {
    const InterconnectProto& ip = p.interconnect();
    t.interconnect.name = ip.name();
    t.interconnect.link_bandwidth_bytes_per_s = ip.link_bandwidth_bytes_per_s();
    t.interconnect.latency_ns = ip.latency_ns();
    t.interconnect.devices = ip.devices();
    t.interconnect.source = ip.source();
  }
  for (const CalibratedConstantProto& cp : p.calibration()) {
    CalibratedConstant c;
    c.name = cp.name();
    c.unit = cp.unit();
    c.value = cp.value();
    c.spread = cp.spread();
    c.pass_values.assign(cp.pass_value().begin(), cp.pass_value().end());
    c.pass_disagreement = cp.pass_disagreement();
    t.calibration.push_back(std::move(c));
  }
  absl::Status valid = ValidateTargetDescription(t);
  if (!valid.ok()) return absl::InvalidArgumentError(absl::StrCat(source, ": ", valid.message()));
  return t;
}

absl::Status SaveTargetDescription(const TargetDescription& target, const std::string& path) {
  absl::Status valid = ValidateTargetDescription(target);
  if (!valid.ok()) return valid;
  // Atomically (temp file + rename): a failed write never leaves a truncated description.
  return graph::WriteFileAtomically(path, TargetDescriptionToText(target), "SaveTargetDescription");
}

std::string TargetDescriptionFingerprint(const TargetDescription& target) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a offset basis and prime (64 bit)
  for (unsigned char c : TargetDescriptionToText(target)) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return absl::StrFormat("%016x", hash);
}

std::string MachineMismatch(const TargetDescription& target, const data::MachineFingerprint& current,
                            absl::string_view source) {
  const data::MachineFingerprint& m = target.machine;
  // Threads used and Halide version do not matter here (the description holds 1- and all-thread
  // constants, and its kernels are plain loops).
  data::MachineFingerprint here = current;
  here.num_threads = m.num_threads;
  here.halide_version = m.halide_version;
  const std::string difference = data::MeasuringMachineDifference(m, here);
  if (difference.empty()) return "";
  return absl::StrCat("target description ", source, " was calibrated on another CPU: [",
                      m.ToString(), "]; this machine is [", current.ToString(), "] (", difference,
                      "); analytical estimates use the other machine's constants (run `perfgraph "
                      "calibrate --out FILE` here for accurate ones)");
}

absl::StatusOr<TargetDescription> LoadTargetDescription(const std::string& path,
                                                        const data::MachineFingerprint& current) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("LoadTargetDescription: cannot open ", path));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  absl::StatusOr<TargetDescription> target = ParseTargetDescription(buffer.str(), path);
  if (!target.ok()) return target.status();
  const std::string mismatch = MachineMismatch(*target, current, path);
  if (!mismatch.empty()) {
    static std::mutex* mu = new std::mutex();
    static std::set<std::string>* warned = new std::set<std::string>();
    std::lock_guard<std::mutex> lock(*mu);
    if (warned->insert(mismatch).second) std::cerr << "perfgraph: warning: " << mismatch << "\n";
  }
  return target;
}

absl::StatusOr<TargetDescription> LoadTargetDescription(const std::string& path) {
  return LoadTargetDescription(path, data::CurrentMachine(1, data::BuildHalideVersion()));
}

std::vector<std::pair<std::string, double>> NamedConstants(const TargetDescription& t) {
  std::vector<std::pair<std::string, double>> named = {{"peak_flops_1t", t.peak_flops_1t},
                                                       {"peak_flops_all", t.peak_flops_all}};
  for (int l = 0; l < kNumMemoryLevels; ++l) {
    named.push_back({absl::StrCat(kLevelNames[l], " bandwidth_1t"), t.memory[l].bandwidth_1t_bytes_per_s});
    named.push_back({absl::StrCat(kLevelNames[l], " bandwidth_all"), t.memory[l].bandwidth_all_bytes_per_s});
  }
  named.push_back({"reduction_update_ns", t.reduction_update_ns});
  named.push_back({"kernel_launch_ns", t.kernel_launch_ns});
  named.push_back({"parallel_launch_ns", t.parallel_launch_ns});
  named.push_back({"tile_overhead_ns", t.tile_overhead_ns});
  named.push_back({"parallel_scaling", t.parallel_scaling});
  // Last and only when measured: descriptions from before the probe compare on the others.
  if (t.masked_tail_ns > 0) named.push_back({"masked_tail_ns", t.masked_tail_ns});
  return named;
}

std::string FormatConstant(double value, absl::string_view unit) {
  if (unit == "FLOP/s") return absl::StrFormat("%.1f GFLOP/s", value / 1e9);
  if (unit == "B/s") return absl::StrFormat("%.1f GB/s", value / 1e9);
  if (unit == "ns") return absl::StrFormat("%.3g ns", value);
  return absl::StrFormat("%.3f", value);
}

bool ConstantsAgree(absl::string_view name, double a, double b, double tolerance) {
  const bool overhead =
      name == "kernel_launch_ns" || name == "parallel_launch_ns" || name == "tile_overhead_ns";
  if (overhead && std::abs(a - b) <= kOverheadResolutionNs) return true;
  const double mean = (std::abs(a) + std::abs(b)) / 2;
  return mean == 0 || std::abs(a - b) / mean <= tolerance;
}

std::vector<ConstantDifference> CompareConstants(const TargetDescription& a, const TargetDescription& b) {
  const auto na = NamedConstants(a);
  const auto nb = NamedConstants(b);
  std::vector<ConstantDifference> out;
  for (size_t i = 0; i < na.size() && i < nb.size(); ++i) {
    ConstantDifference d;
    d.name = na[i].first;
    d.a = na[i].second;
    d.b = nb[i].second;
    const double mean = (std::abs(d.a) + std::abs(d.b)) / 2;
    d.relative = mean > 0 ? std::abs(d.a - d.b) / mean : 0;
    out.push_back(std::move(d));
  }
  return out;
}

std::string DefaultTargetDescriptionPath() { return ShippedPath(kShippedMarker); }

}  // namespace perfgraph::cost

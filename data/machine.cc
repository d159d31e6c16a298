#include "data/machine.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "data/perfgraph.pb.h"

namespace perfgraph::data {
std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

namespace {

std::string CompilerVersion() {
#if defined(__clang__)
  return absl::StrCat("Clang ", __clang_major__, ".", __clang_minor__, ".", __clang_patchlevel__);
#elif defined(__GNUC__)
  return absl::StrCat("GCC ", __VERSION__);
#else
  return std::string(__VERSION__);
#endif
}

std::string OsDescription() {
  std::string os(kUnknown);
  struct utsname names;
  if (uname(&names) == 0) os = absl::StrCat(names.sysname, " ", names.release);
  if (std::optional<std::string> release = ReadSmallFile("/etc/os-release")) {
    for (absl::string_view line : absl::StrSplit(*release, '\n')) {
      if (absl::ConsumePrefix(&line, "PRETTY_NAME=")) {
        absl::ConsumePrefix(&line, "\"");
        absl::ConsumeSuffix(&line, "\"");
        absl::StrAppend(&os, " (", line, ")");
      }
    }
  }
  return os;
}

void ReadCpuInfo(MachineFingerprint& machine) {
  std::optional<std::string> cpuinfo = ReadSmallFile("/proc/cpuinfo");
  if (!cpuinfo) return;
  // Blocks separated by blank lines, one per logical CPU.
  std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
  std::string physical_id, core_id;
  int processors = 0;
  auto end_block = [&] {
    if (!core_id.empty()) cores.insert({physical_id, core_id});
    physical_id.clear();
    core_id.clear();
  };
  for (absl::string_view line : absl::StrSplit(*cpuinfo, '\n')) {
    if (absl::StripAsciiWhitespace(line).empty()) {
      end_block();
      continue;
    }
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits(':', 1));
    absl::string_view key = absl::StripAsciiWhitespace(kv.first);
    absl::string_view value = absl::StripAsciiWhitespace(kv.second);
    if (key == "processor") ++processors;
    if (key == "model name" && machine.cpu_model == kUnknown && !value.empty()) {
      machine.cpu_model = std::string(value);
    }
    if (key == "physical id") physical_id = std::string(value);
    if (key == "core id") core_id = std::string(value);
  }
  end_block();
  if (!cores.empty()) {
    machine.physical_cores = static_cast<int>(cores.size());
  } else if (processors > 0) {
    // No topology fields (some VMs and non-x86 kernels): count logical CPUs as cores.
    machine.physical_cores = processors;
  }
}

void ReadCaches(MachineFingerprint& machine) {
  for (int index = 0; index < 16; ++index) {
    const std::string dir = absl::StrCat("/sys/devices/system/cpu/cpu0/cache/index", index, "/");
    std::optional<std::string> level = ReadSmallFile(dir + "level");
    if (!level) continue;  // indices may be sparse; absent ones are skipped
    std::optional<std::string> type = ReadSmallFile(dir + "type");
    std::optional<std::string> size = ReadSmallFile(dir + "size");
    if (!type || !size) continue;
    const int64_t bytes = ParseCacheSize(absl::StripAsciiWhitespace(*size));
    if (bytes <= 0) continue;
    absl::string_view lvl = absl::StripAsciiWhitespace(*level);
    absl::string_view kind = absl::StripAsciiWhitespace(*type);
    if (lvl == "1" && kind == "Data") machine.l1d_cache_bytes = bytes;
    if (lvl == "2" && kind != "Instruction") machine.l2_cache_bytes = bytes;
    if (lvl == "3" && kind != "Instruction") machine.l3_cache_bytes = bytes;
  }
}

}  // namespace

std::string MachineFingerprint::ToString() const {
  return absl::StrCat(cpu_model, ", ", physical_cores, " cores/", logical_cores, " threads, L1d ",
                      l1d_cache_bytes / 1024, " KiB, L2 ", l2_cache_bytes / 1024, " KiB, L3 ",
                      l3_cache_bytes / 1024, " KiB, ", num_threads, " threads used, Halide ",
                      halide_version, ", ", compiler_version, ", ", os);
}

bool operator==(const MachineFingerprint& a, const MachineFingerprint& b) {
  return a.cpu_model == b.cpu_model && a.physical_cores == b.physical_cores &&
         a.logical_cores == b.logical_cores && a.l1d_cache_bytes == b.l1d_cache_bytes &&
         a.l2_cache_bytes == b.l2_cache_bytes && a.l3_cache_bytes == b.l3_cache_bytes &&
         a.num_threads == b.num_threads && a.halide_version == b.halide_version &&
         a.compiler_version == b.compiler_version && a.os == b.os;
}

int64_t ParseCacheSize(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  int64_t multiplier = 1;
  if (absl::ConsumeSuffix(&text, "K")) {
    multiplier = int64_t{1} << 10;
  } else if (absl::ConsumeSuffix(&text, "M")) {
    multiplier = int64_t{1} << 20;
  } else if (absl::ConsumeSuffix(&text, "G")) {
    multiplier = int64_t{1} << 30;
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < 0 || value > (int64_t{1} << 40) / multiplier) {
    return -1;
  }
  return value * multiplier;
}

#ifndef PERFGRAPH_HALIDE_VERSION
#error "PERFGRAPH_HALIDE_VERSION must be defined by data/CMakeLists.txt"
#endif
absl::string_view BuildHalideVersion() { return PERFGRAPH_HALIDE_VERSION; }

MachineFingerprint CurrentMachine(int num_threads, absl::string_view halide_version) {
  MachineFingerprint machine;
  ReadCpuInfo(machine);
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  if (online > 0) machine.logical_cores = static_cast<int>(online);
  ReadCaches(machine);
  machine.num_threads = num_threads;
  if (!halide_version.empty()) machine.halide_version = std::string(halide_version);
  machine.compiler_version = CompilerVersion();
  machine.os = OsDescription();
  return machine;
}

void MachineToProto(const MachineFingerprint& machine, MachineFingerprintProto* proto) {
  proto->set_cpu_model(machine.cpu_model);
  proto->set_physical_cores(machine.physical_cores);
  proto->set_logical_cores(machine.logical_cores);
  proto->set_l1d_cache_bytes(machine.l1d_cache_bytes);
  proto->set_l2_cache_bytes(machine.l2_cache_bytes);
  proto->set_l3_cache_bytes(machine.l3_cache_bytes);
  proto->set_num_threads(machine.num_threads);
  proto->set_halide_version(machine.halide_version);
  proto->set_compiler_version(machine.compiler_version);
  proto->set_os(machine.os);
}

MachineFingerprint MachineFromProto(const MachineFingerprintProto& proto) {
  MachineFingerprint machine;
  machine.cpu_model = proto.cpu_model();
  machine.physical_cores = proto.physical_cores();
  machine.logical_cores = proto.logical_cores();
  machine.l1d_cache_bytes = proto.l1d_cache_bytes();
  machine.l2_cache_bytes = proto.l2_cache_bytes();
  machine.l3_cache_bytes = proto.l3_cache_bytes();
  machine.num_threads = proto.num_threads();
  machine.halide_version = proto.halide_version();
  machine.compiler_version = proto.compiler_version();
  machine.os = proto.os();
  return machine;
}

}  // namespace perfgraph::data

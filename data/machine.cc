#include "data/machine.h"

#include <sys/utsname.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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
    if ((key == "flags" || key == "Features") && machine.isa.empty()) {
      machine.isa = IsaFromCpuFlags(value);
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
  if (machine.l1d_cache_bytes > 0 && machine.l2_cache_bytes > 0 && machine.l3_cache_bytes > 0) return;
  const CpuidCaches cpuid = ReadCpuidCaches();
  if (machine.l1d_cache_bytes <= 0) machine.l1d_cache_bytes = cpuid.l1d_bytes;
  if (machine.l2_cache_bytes <= 0) machine.l2_cache_bytes = cpuid.l2_bytes;
  if (machine.l3_cache_bytes <= 0) machine.l3_cache_bytes = cpuid.l3_bytes;
}

}  // namespace

std::string MachineFingerprint::ToString() const {
  return absl::StrCat(cpu_model, ", ", physical_cores, " cores/", logical_cores, " threads, L1d ",
                      l1d_cache_bytes / 1024, " KiB, L2 ", l2_cache_bytes / 1024, " KiB, L3 ",
                      l3_cache_bytes / 1024, " KiB, ", num_threads, " threads used, Halide ",
                      halide_version, ", ", compiler_version, ", ", os,
                      isa.empty() ? "" : absl::StrCat(", ISA ", isa));
}

bool operator==(const MachineFingerprint& a, const MachineFingerprint& b) {
  return a.cpu_model == b.cpu_model && a.physical_cores == b.physical_cores &&
         a.logical_cores == b.logical_cores && a.l1d_cache_bytes == b.l1d_cache_bytes &&
         a.l2_cache_bytes == b.l2_cache_bytes && a.l3_cache_bytes == b.l3_cache_bytes &&
         a.num_threads == b.num_threads && a.halide_version == b.halide_version &&
         a.compiler_version == b.compiler_version && a.os == b.os && a.isa == b.isa;
}

std::string MeasuringMachineDifference(const MachineFingerprint& a, const MachineFingerprint& b) {
  std::vector<std::string> diffs;
  auto text = [&](absl::string_view name, const std::string& x, const std::string& y) {
    if (x != y) diffs.push_back(absl::StrCat(name, " '", x, "' vs '", y, "'"));
  };
  auto number = [&](absl::string_view name, int64_t x, int64_t y, int64_t unit,
                    absl::string_view suffix) {
    if (x != y) diffs.push_back(absl::StrCat(name, " ", x / unit, suffix, " vs ", y / unit, suffix));
  };
  auto cache = [&](absl::string_view name, int64_t x, int64_t y) {
    if (x > 0 && y > 0) number(name, x, y, 1024, " KiB");  // 0: not known on that machine
  };
  text("cpu model", a.cpu_model, b.cpu_model);
  number("physical cores", a.physical_cores, b.physical_cores, 1, "");
  number("logical cores", a.logical_cores, b.logical_cores, 1, "");
  cache("L1d", a.l1d_cache_bytes, b.l1d_cache_bytes);
  cache("L2", a.l2_cache_bytes, b.l2_cache_bytes);
  cache("L3", a.l3_cache_bytes, b.l3_cache_bytes);
  if (!a.isa.empty() && !b.isa.empty()) text("isa", a.isa, b.isa);
  number("threads used", a.num_threads, b.num_threads, 1, "");
  text("Halide", a.halide_version, b.halide_version);
  return absl::StrJoin(diffs, "; ");
}

bool SameMeasuringMachine(const MachineFingerprint& a, const MachineFingerprint& b) {
  return MeasuringMachineDifference(a, b).empty();
}

std::string IsaFromCpuFlags(absl::string_view flags) {
  std::set<absl::string_view> present;
  for (absl::string_view f : absl::StrSplit(flags, ' ', absl::SkipEmpty())) {
    present.insert(absl::StripAsciiWhitespace(f));
  }
  std::vector<absl::string_view> isa;
  for (absl::string_view f : kIsaFlags) {
    if (present.count(f) > 0) isa.push_back(f);
  }
  return absl::StrJoin(isa, " ");
}

CpuidCaches ReadCpuidCaches() {
  CpuidCaches caches;
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0) return caches;
  const unsigned max_leaf = eax;
  // Vendor string: EBX, EDX, ECX.
  const bool amd = ebx == 0x68747541u && edx == 0x69746e65u && ecx == 0x444d4163u;  // AuthenticAMD
  unsigned leaf = 4;
  if (amd) {
    if (__get_cpuid(0x80000000u, &eax, &ebx, &ecx, &edx) == 0 || eax < 0x8000001Du) return caches;
    leaf = 0x8000001Du;
  } else if (max_leaf < 4) {
    return caches;
  }
  for (unsigned sub = 0; sub < 16; ++sub) {
    if (__get_cpuid_count(leaf, sub, &eax, &ebx, &ecx, &edx) == 0) break;
    const unsigned type = eax & 0x1f;  // 0: no more caches, 1: data, 2: instruction, 3: unified
    if (type == 0) break;
    if (type == 2) continue;
    const unsigned level = (eax >> 5) & 0x7;
    const int64_t ways = ((ebx >> 22) & 0x3ff) + 1;
    const int64_t partitions = ((ebx >> 12) & 0x3ff) + 1;
    const int64_t line = (ebx & 0xfff) + 1;
    const int64_t sets = static_cast<int64_t>(ecx) + 1;
    const int64_t bytes = ways * partitions * line * sets;
    if (level == 1 && type == 1) caches.l1d_bytes = bytes;
    if (level == 2) caches.l2_bytes = bytes;
    if (level == 3) caches.l3_bytes = bytes;
  }
  // Hypervisors may leave leaf 0x8000001D empty (all zeros) while filling AMD's older per-core
  // leaves (AMD APM vol. 3, CPUID Fn8000_0005 ECX[31:24] = L1d KiB, Fn8000_0006 ECX[31:16] = L2
  // KiB), as on the reference VM (AMD EPYC, no sysfs cache entries). Fn8000_0006's L3 field is not
  // used: that VM reports the whole socket's L3 there (508 MiB), not the share of one core complex
  // that the roofline needs, so L3 stays unknown.
  if (amd && (caches.l1d_bytes == 0 || caches.l2_bytes == 0)) {
    if (__get_cpuid(0x80000005u, &eax, &ebx, &ecx, &edx) != 0 && caches.l1d_bytes == 0) {
      caches.l1d_bytes = int64_t{ecx >> 24} * 1024;
    }
    if (__get_cpuid(0x80000006u, &eax, &ebx, &ecx, &edx) != 0 && caches.l2_bytes == 0) {
      caches.l2_bytes = int64_t{ecx >> 16} * 1024;
    }
  }
#endif
  return caches;
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
  proto->set_isa(machine.isa);
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
  machine.isa = proto.isa();
  return machine;
}

}  // namespace perfgraph::data

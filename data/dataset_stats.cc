#include "data/dataset_stats.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "data/label.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "graph/status_macros.h"
#include "nlohmann/json.hpp"

namespace perfgraph::data {
namespace {

// The identity of a measured config: its deterministic serialization without the derived
// `features` (older files store them, newer ones do not; see data/config_proto.h), so the same config
// counts once when files of both kinds are combined.
std::string DeterministicBytes(const TileConfigProto& config) {
  TileConfigProto measured = config;
  measured.clear_features();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    measured.SerializeToCodedStream(&coded);
  }
  return bytes;
}

nlohmann::json MachineJson(const std::optional<MachineFingerprint>& machine) {
  if (!machine.has_value()) return nullptr;
  return nlohmann::json{{"cpu_model", machine->cpu_model},
                        {"physical_cores", machine->physical_cores},
                        {"logical_cores", machine->logical_cores},
                        {"l1d_cache_bytes", machine->l1d_cache_bytes},
                        {"l2_cache_bytes", machine->l2_cache_bytes},
                        {"l3_cache_bytes", machine->l3_cache_bytes},
                        {"num_threads", machine->num_threads},
                        {"halide_version", machine->halide_version},
                        {"compiler_version", machine->compiler_version},
                        {"os", machine->os},
                        {"isa", machine->isa}};
}

}  // namespace

absl::StatusOr<DatasetStats> ComputeStats(const std::vector<std::string>& paths) {
  if (paths.empty()) return absl::InvalidArgumentError("ComputeStats: no dataset files given");
  DatasetStats stats;
  absl::flat_hash_map<uint64_t, absl::flat_hash_set<std::string>> configs_by_kernel;
  absl::flat_hash_set<std::string> programs;
  std::vector<double> canary_per_group;
  std::vector<double> rounds_per_record;
  std::vector<double> previous_canary;
  for (size_t f = 0; f < paths.size(); ++f) {
    ASSIGN_OR_RETURN(RecordReader reader, RecordReader::Open(paths[f]));
    FileStats file;
    file.path = paths[f];
    file.machine = reader.header().machine;
    file.feature_schema_version = reader.header().feature_schema_version;
    if (f == 0) {
      stats.machine = file.machine;
      stats.feature_schema = FeatureSchemaText(reader.header().foreign_features);
    } else if (file.machine.has_value() != stats.machine.has_value() ||
               (file.machine.has_value() && !SameMeasuringMachine(*file.machine, *stats.machine))) {
      stats.machines_differ = true;
    }
    Record record;
    while (true) {
      ASSIGN_OR_RETURN(bool has_record, reader.Next(&record));
      if (!has_record) break;
      switch (record.status()) {
        case Record::MEASURE_STATUS_OK:
          ++stats.statuses.ok;
          break;
        case Record::MEASURE_STATUS_INVALID:
          ++stats.statuses.invalid;
          break;
        case Record::MEASURE_STATUS_TIMEOUT:
          ++stats.statuses.timeout;
          break;
        default:
          return absl::DataLossError(absl::StrCat("ComputeStats: '", paths[f], "': record ",
                                                  reader.records_read() - 1, " has status ",
                                                  static_cast<int>(record.status())));
      }
      DatasetStats::Protocol& p = stats.protocol;
      if (record.protocol_version() >= 2) {
        ++p.v2_records;
        if (record.status() == Record::MEASURE_STATUS_TIMEOUT && record.runtime_lower_bound_ns() > 0) {
          ++p.censored;
        }
        if (record.status() == Record::MEASURE_STATUS_OK && record.reused_from().empty()) {
          ++p.v2_ok;
          if (record.stable()) ++p.v2_stable;
          auto minima = RoundMinima(
              absl::MakeConstSpan(record.runtime_ns().data(), record.runtime_ns_size()),
              absl::MakeConstSpan(record.sample_round().data(), record.sample_round_size()));
          if (minima.ok()) rounds_per_record.push_back(static_cast<double>(minima->size()));
        }
        // Records of one kernel group carry the same canary list: count each group once.
        std::vector<double> canary(record.canary_ns().begin(), record.canary_ns().end());
        if (!canary.empty() && canary != previous_canary && record.reused_from().empty()) {
          canary_per_group.push_back(Median(canary));
          p.repeated_rounds += record.repeated_rounds();
          p.max_other_load_cores = std::max(p.max_other_load_cores, record.other_load_cores());
          if (record.other_load_cores() > 0.25) ++p.busy_groups;
        }
        if (!canary.empty()) previous_canary = std::move(canary);
      } else {
        ++p.v1_records;
      }
      configs_by_kernel[record.kernel_hash()].insert(DeterministicBytes(record.config()));
      if (!programs.contains(record.program())) programs.insert(record.program());
    }
    file.records = reader.records_read();
    file.dropped_tail_bytes = reader.dropped_tail_bytes();
    stats.records += file.records;
    stats.dropped_tail_bytes += file.dropped_tail_bytes;
    stats.files.push_back(std::move(file));
  }
  DatasetStats::Protocol& p = stats.protocol;
  p.median_rounds = Median(rounds_per_record);
  p.canary_groups = static_cast<int64_t>(canary_per_group.size());
  if (!canary_per_group.empty()) {
    p.canary_first_ns = canary_per_group.front();
    p.canary_last_ns = canary_per_group.back();
    p.canary_min_ns = *std::min_element(canary_per_group.begin(), canary_per_group.end());
    p.canary_max_ns = *std::max_element(canary_per_group.begin(), canary_per_group.end());
    p.canary_median_ns = Median(canary_per_group);
    p.canary_drift = p.canary_median_ns > 0 ? (p.canary_max_ns - p.canary_min_ns) / p.canary_median_ns : 0;
  }
  stats.kernels = static_cast<int64_t>(configs_by_kernel.size());
  stats.programs = static_cast<int64_t>(programs.size());
  std::vector<int64_t> counts;
  counts.reserve(configs_by_kernel.size());
  for (const auto& [hash, configs] : configs_by_kernel) counts.push_back(configs.size());
  if (!counts.empty()) {
    std::sort(counts.begin(), counts.end());
    stats.configs_per_kernel_min = counts.front();
    const size_t mid = counts.size() / 2;
    stats.configs_per_kernel_median =
        counts.size() % 2 == 1 ? static_cast<double>(counts[mid])
                               : 0.5 * static_cast<double>(counts[mid - 1] + counts[mid]);
  }
  return stats;
}

std::string StatsToJson(const DatasetStats& stats, int indent) {
  nlohmann::json files = nlohmann::json::array();
  for (const FileStats& file : stats.files) {
    files.push_back({{"path", file.path},
                     {"records", file.records},
                     {"dropped_tail_bytes", file.dropped_tail_bytes},
                     {"feature_schema_version", file.feature_schema_version},
                     {"machine", MachineJson(file.machine)}});
  }
  nlohmann::json json = {
      {"records", stats.records},
      {"kernels", stats.kernels},
      {"programs", stats.programs},
      {"configs_per_kernel_min", stats.configs_per_kernel_min},
      {"configs_per_kernel_median", stats.configs_per_kernel_median},
      {"statuses",
       {{"ok", stats.statuses.ok},
        {"invalid", stats.statuses.invalid},
        {"timeout", stats.statuses.timeout}}},
      {"machine", MachineJson(stats.machine)},
      {"machines_differ", stats.machines_differ},
      {"feature_schema", stats.feature_schema},
      {"dropped_tail_bytes", stats.dropped_tail_bytes},
      {"files", std::move(files)},
      {"protocol",
       {{"v1_records", stats.protocol.v1_records},
        {"v2_records", stats.protocol.v2_records},
        {"censored", stats.protocol.censored},
        {"v2_ok", stats.protocol.v2_ok},
        {"v2_stable", stats.protocol.v2_stable},
        {"median_rounds", stats.protocol.median_rounds},
        {"repeated_rounds", stats.protocol.repeated_rounds},
        {"canary_groups", stats.protocol.canary_groups},
        {"canary_first_ns", stats.protocol.canary_first_ns},
        {"canary_last_ns", stats.protocol.canary_last_ns},
        {"canary_min_ns", stats.protocol.canary_min_ns},
        {"canary_max_ns", stats.protocol.canary_max_ns},
        {"canary_median_ns", stats.protocol.canary_median_ns},
        {"canary_drift", stats.protocol.canary_drift},
        {"max_other_load_cores", stats.protocol.max_other_load_cores},
        {"busy_groups", stats.protocol.busy_groups}}},
  };
  return json.dump(indent);
}

}  // namespace perfgraph::data

#include "tools/dataset_merge.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "data/perfgraph.pb.h"
#include "data/record_file.h"
#include "graph/atomic_file.h"
#include "graph/featurize.h"
#include "graph/status_macros.h"

namespace perfgraph::tools {
namespace {

// What measure treats as one measurement (tools/measure.cc's resume keys).
using MergeKey = std::tuple<int, std::string, int, uint64_t, std::string>;
MergeKey KeyOf(const data::Record& r) {
  const int task = static_cast<int>(r.task());
  if (r.task() == data::Record::TASK_FUSION) {
    return std::make_tuple(task, r.program(), static_cast<int>(r.fusion_variant()),
                           static_cast<uint64_t>(r.kernel_hash()), std::string());
  }
  return std::make_tuple(task, std::string(), 0, static_cast<uint64_t>(r.kernel_hash()),
                         r.config().text());
}

bool IsOk(const data::Record& r) { return r.status() == data::Record::MEASURE_STATUS_OK; }

// Appends `extra`'s samples to `into` (both OK, same protocol).
void AppendSamples(const data::Record& extra, data::Record* into) {
  int round_offset = 0;
  for (int round : into->sample_round()) round_offset = std::max(round_offset, round + 1);
  round_offset = std::max(round_offset, into->canary_ns_size());
  for (double ns : extra.runtime_ns()) into->add_runtime_ns(ns);
  for (int round : extra.sample_round()) into->add_sample_round(round + round_offset);
  for (double ns : extra.canary_ns()) into->add_canary_ns(ns);
  into->set_stable(into->stable() && extra.stable());
  into->set_repeated_rounds(into->repeated_rounds() + extra.repeated_rounds());
  into->set_other_load_cores(std::max(into->other_load_cores(), extra.other_load_cores()));
}

std::string Describe(const data::Record& r) {
  return absl::StrCat(r.program(), " ", r.kernel().name(), " ", r.config().text());
}

}  // namespace

absl::StatusOr<DatasetMergeSummary> MergeDatasets(const DatasetMergeOptions& options) {
  if (options.inputs.empty()) {
    return absl::InvalidArgumentError("dataset merge: no input file");
  }
  if (options.out.empty()) return absl::InvalidArgumentError("dataset merge: --out is required");
  std::error_code error;
  if (std::filesystem::exists(options.out, error)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "dataset merge: '", options.out, "' exists; merge into a new file"));
  }
  DatasetMergeSummary summary;
  std::vector<data::Record> merged;
  std::map<MergeKey, size_t> index;
  std::optional<data::MachineFingerprint> machine;
  std::string machine_file;
  int protocol_version = -1;
  for (size_t f = 0; f < options.inputs.size(); ++f) {
    const std::string& path = options.inputs[f];
    ASSIGN_OR_RETURN(data::RecordReader reader, data::RecordReader::Open(path));
    const data::RecordFileHeader& header = reader.header();
    if (header.feature_schema_version != static_cast<uint32_t>(graph::kFeatureSchemaVersion)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "dataset merge: '", path, "' has feature schema version ", header.feature_schema_version,
          " but this build writes ", graph::kFeatureSchemaVersion));
    }
    if (header.foreign_features.has_value()) {
      // Such records share one graph per kernel within their file (Record.precomputed); merging
      // would have to keep those records first. Import the sources together instead.
      return absl::FailedPreconditionError(absl::StrCat(
          "dataset merge: '", path, "' holds ", header.foreign_features->ToString(),
          " features; merge handles perfgraph datasets (import TpuGraphs files in one `dataset "
          "import --tpugraphs-tile`)"));
    }
    if (f == 0) {
      machine = header.machine;
      machine_file = path;
      protocol_version = header.protocol_version;
    } else {
      const bool same = machine.has_value() == header.machine.has_value() &&
                        (!machine.has_value() || data::SameMeasuringMachine(*machine, *header.machine));
      if (!same) {
        const std::string message = absl::StrCat(
            "'", machine_file, "' was measured on ",
            machine ? machine->ToString() : std::string("an unrecorded machine"), " but '", path,
            "' on ", header.machine ? header.machine->ToString() : std::string("an unrecorded machine"));
        if (!options.allow_mixed_machines) {
          return absl::FailedPreconditionError(absl::StrCat(
              "dataset merge: ", message, "; pass --allow-mixed-machines to merge them anyway"));
        }
        if (!summary.mixed_machines) std::cerr << "perfgraph dataset merge: warning: " << message << "\n";
        summary.mixed_machines = true;
      }
      if (header.protocol_version != protocol_version) protocol_version = 0;
    }
    ASSIGN_OR_RETURN(std::vector<data::Record> records, reader.ReadAll());
    for (data::Record& record : records) {
      ++summary.input_records;
      const MergeKey key = KeyOf(record);
      auto [it, inserted] = index.emplace(key, merged.size());
      if (inserted) {
        merged.push_back(std::move(record));
        continue;
      }
      data::Record& kept = merged[it->second];
      auto conflict = [&](const std::string& why) {
        ++summary.conflicts;
        if (summary.conflict_examples.size() < 10) {
          summary.conflict_examples.push_back(absl::StrCat(Describe(kept), ": ", why));
        }
      };
      if (IsOk(kept) && IsOk(record) && kept.protocol_version() == record.protocol_version()) {
        AppendSamples(record, &kept);
        ++summary.merged_duplicates;
      } else if (IsOk(kept) && IsOk(record)) {
        conflict(absl::StrCat("protocol ", kept.protocol_version(), " and ",
                              record.protocol_version(), " samples; the newer protocol's kept"));
        if (record.protocol_version() > kept.protocol_version()) kept = std::move(record);
      } else if (IsOk(record)) {
        conflict(absl::StrCat("OK in '", path, "', not OK before; the OK record kept"));
        kept = std::move(record);
      } else if (IsOk(kept)) {
        conflict(absl::StrCat("not OK in '", path, "', OK before; the OK record kept"));
      } else {
        if (kept.status() == record.status()) {
          ++summary.merged_duplicates;
        } else {
          conflict(absl::StrCat("status ", data::Record::MeasureStatus_Name(kept.status()), " and ",
                                data::Record::MeasureStatus_Name(record.status()),
                                "; the first kept"));
        }
        kept.set_runtime_lower_bound_ns(
            std::max(kept.runtime_lower_bound_ns(), record.runtime_lower_bound_ns()));
      }
    }
  }

  data::RecordWriterOptions writer_options;
  writer_options.machine = summary.mixed_machines ? std::nullopt : machine;
  writer_options.writer = "perfgraph dataset merge";
  writer_options.protocol_version = std::max(0, protocol_version);
  // Published under --out only when complete (graph::NewFile): no truncated file on failure.
  ASSIGN_OR_RETURN(graph::NewFile out, graph::NewFile::Begin(options.out, "dataset merge"));
  ASSIGN_OR_RETURN(data::RecordWriter writer,
                   data::RecordWriter::Open(out.temp_path(), writer_options));
  for (const data::Record& record : merged) {
    RETURN_IF_ERROR(writer.Append(record));
    ++summary.output_records;
  }
  RETURN_IF_ERROR(writer.Close());
  RETURN_IF_ERROR(out.Commit());
  return summary;
}

}  // namespace perfgraph::tools

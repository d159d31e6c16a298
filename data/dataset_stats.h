// Summary statistics of one or more dataset record files (the `perfgraph dataset stats`
// subcommand).
#ifndef PERFGRAPH_DATA_DATASET_STATS_H_
#define PERFGRAPH_DATA_DATASET_STATS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/machine.h"

namespace perfgraph::data {

// Per-file part of DatasetStats.
struct FileStats {
  std::string path;
  int64_t records = 0;
  int64_t dropped_tail_bytes = 0;             // torn tail left by a killed writer (skipped)
  std::optional<MachineFingerprint> machine;  // from the file header; nullopt when not recorded
  uint32_t feature_schema_version = 0;
};

struct DatasetStats {
  int64_t records = 0;   // complete records over all files
  int64_t kernels = 0;   // distinct Record.kernel_hash values (identical kernels of different
                         // programs count once, see CanonicalKernelHash)
  int64_t programs = 0;  // distinct Record.program names
  // Distinct configs measured per kernel (per distinct kernel_hash, over all tasks and files): a
  // config is identified by the deterministic serialization of its TileConfigProto without the
  // derived `features` field (which older files store and newer ones omit). Minimum and
  // median (mean of the two middle values for an even number of kernels); both 0 without records.
  int64_t configs_per_kernel_min = 0;
  double configs_per_kernel_median = 0.0;
  struct Statuses {
    int64_t ok = 0;
    int64_t invalid = 0;
    int64_t timeout = 0;
  } statuses;
  // The machine of the first file's header (nullopt when it recorded none); machines_differ is true
  // when another file's header holds a different fingerprint (or none while the first has one).
  std::optional<MachineFingerprint> machine;
  bool machines_differ = false;
  // FeatureSchemaText of the first file's header ("perfgraph", or e.g. "tpugraphs-tile (140 node,
  // 24 config features)" for imported TpuGraphs tiles).
  std::string feature_schema = "perfgraph";
  int64_t dropped_tail_bytes = 0;  // sum over files
  std::vector<FileStats> files;    // in the order of `paths`

  // Measurement protocol (target/measurement.h), over all records.
  struct Protocol {
    int64_t v1_records = 0;        // protocol_version 0 or 1
    int64_t v2_records = 0;        // protocol_version 2
    int64_t censored = 0;          // TIMEOUT records with a runtime lower bound (v2)
    int64_t v2_ok = 0;             // v2 OK records
    int64_t v2_stable = 0;         // ... whose round minima settled within the stability bound
    double median_rounds = 0;      // median rounds per v2 OK record (rounds holding a sample)
    int64_t repeated_rounds = 0;   // rounds re-run because the canary drifted, over all groups
    // Drift canary: one value per kernel group (the median of its rounds' canary), in file order.
    int64_t canary_groups = 0;
    double canary_first_ns = 0, canary_last_ns = 0, canary_min_ns = 0, canary_max_ns = 0,
           canary_median_ns = 0;
    // (max - min) / median of the per-group canaries: how far the machine drifted over the run.
    double canary_drift = 0;
    // CPU other processes used during kernel groups (cores; v2 records): the largest value and
    // how many groups exceeded 0.25 cores (measure's default --max-other-load).
    double max_other_load_cores = 0;
    int64_t busy_groups = 0;
  } protocol;
};

// Reads every record of every file in `paths` (RecordReader, so torn tails are skipped and counted
// in dropped_tail_bytes) and summarises them. Errors: kInvalidArgument for an empty `paths`; any
// RecordReader error (unopenable file, not a dataset, schema version mismatch, corruption naming
// the record and offset); kDataLoss for a record whose status is MEASURE_STATUS_UNSPECIFIED (naming
// file and record index) since RecordWriter never writes one.
absl::StatusOr<DatasetStats> ComputeStats(const std::vector<std::string>& paths);

// JSON object with the stable keys of the `dataset stats --json` contract (DESIGN.md): records,
// kernels, programs, configs_per_kernel_min, configs_per_kernel_median, statuses {ok, invalid,
// timeout}, machine (object with the MachineFingerprint fields, or null), plus machines_differ,
// dropped_tail_bytes and files [{path, records, dropped_tail_bytes, feature_schema_version,
// machine}]. Pretty-printed with `indent` spaces (-1 = one line).
std::string StatsToJson(const DatasetStats& stats, int indent = 2);

}  // namespace perfgraph::data

#endif  // PERFGRAPH_DATA_DATASET_STATS_H_

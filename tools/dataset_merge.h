// `perfgraph dataset merge A.pgd B.pgd ... --out ALL.pgd [--allow-mixed-machines] [--json]`: joins
// record files measured apart (`measure --shard K/N` on N hosts, or several runs) into one.
//
// Records are deduplicated by what measure itself treats as one measurement: (tile task, kernel
// hash, config) and (fusion task, program, fusion variant, kernel hash). Duplicates keep every
// sample:
//  * both OK with the same protocol version: the second record's samples are appended to the first
//    (protocol v2: its rounds renumbered after the first's, its canary runtimes appended, `stable`
//    only when both were, the larger load of other processes kept);
//  * otherwise it is a conflict, counted and listed: an OK record wins over INVALID / TIMEOUT (as
//    gnn::LoadExamples merges them), of two OK records the newer protocol wins, of two failures the
//    first is kept (a TIMEOUT with the larger lower bound).
// The inputs must hold records of this build's feature schema version (the header's; records store
// raw kernels and configs, so older files are converted by loading, not by merging) and the same
// machine fingerprint; --allow-mixed-machines merges files of different machines into a file with
// no fingerprint (then a warning names them).
#ifndef PERFGRAPH_TOOLS_DATASET_MERGE_H_
#define PERFGRAPH_TOOLS_DATASET_MERGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace perfgraph::tools {

struct DatasetMergeOptions {
  std::vector<std::string> inputs;  // >= 1 record files
  std::string out;                  // must not exist
  bool allow_mixed_machines = false;
};

struct DatasetMergeSummary {
  int64_t input_records = 0;
  int64_t output_records = 0;
  int64_t merged_duplicates = 0;  // duplicates whose samples were appended
  int64_t conflicts = 0;          // duplicates that disagreed (file comment)
  std::vector<std::string> conflict_examples;  // the first 10, "program kernel config: why"
  bool mixed_machines = false;
};

// Errors: kInvalidArgument for no input or no --out; kAlreadyExists when `out` exists; the
// RecordReader errors of an input (naming it); kFailedPrecondition for an input of another feature
// schema version, or of another machine without allow_mixed_machines (naming both files and
// machines); RecordWriter errors. Nothing is written on an input error (the inputs are read first).
absl::StatusOr<DatasetMergeSummary> MergeDatasets(const DatasetMergeOptions& options);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_DATASET_MERGE_H_

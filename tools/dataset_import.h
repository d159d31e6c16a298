// Bring-your-own measurements: `perfgraph dataset import --hlo DIR --runtimes FILE.csv --out DATASET`.
//
// CSV format (RFC 4180 subset: comma-separated, fields may be double-quoted, "" inside quotes is a
// quote; '#' lines and blank lines are ignored). The first non-comment line is the header and must be
// exactly: module,kernel,config,runtime_ns
//   module      path of an HLO text file, relative to --hlo DIR (the module's first HloModule is used);
//               it must stay inside DIR: an absolute path, a '..' component or a symlink resolving
//               outside DIR is a bad row naming the value and DIR
//   kernel      name of a fusion instruction of that module (an optimised module's fusions become
//               kernels, graph/hlo_parser.h), or the word `module` for the whole entry computation as
//               one kernel
//   config      `default` (the kernel at tiling::Default), or a tiling::TileConfig text such as
//               "tile=64,8,4;dims=3,2,1;split=1;vec=8;par=2" (quote it: it contains commas)
//   runtime_ns  the measured runtime in nanoseconds, a finite number > 0
// Several rows with the same (module, kernel, config) are several samples of one measurement.
// A kernel with more than one distinct config becomes tile-task records, otherwise fusion-task records.
//
// Every row is checked before anything is written; bad rows (wrong field count, unknown module or
// kernel, invalid config for the kernel, bad runtime) are all reported with their line numbers and
// nothing is written (kInvalidArgument), so no row is ever dropped silently. A line longer than
// kMaxCsvLineBytes stops the import at once (kInvalidArgument naming the line). The dataset is
// written as "<out>.tmp.<pid>" and renamed to --out when complete (graph::NewFile): a failed write
// (full disk, file size limit) is an error naming the path and leaves no file at --out.
#ifndef PERFGRAPH_TOOLS_DATASET_IMPORT_H_
#define PERFGRAPH_TOOLS_DATASET_IMPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace perfgraph::tools {

// Longest line of a runtimes CSV (1 MiB; a real row is under 200 bytes). Longer input (e.g. a
// binary file given as the CSV) is rejected before it is held in memory.
inline constexpr int64_t kMaxCsvLineBytes = int64_t{1} << 20;

struct DatasetImportOptions {
  std::string hlo_dir;
  std::string runtimes_csv;
  std::string out;
  // Free-text name of the machine the runtimes come from; stored as the header's cpu_model.
  std::string machine = "unknown (imported)";
};

struct DatasetImportSummary {
  int64_t rows = 0;
  int64_t records = 0;
  int64_t kernels = 0;
};

// Imports the CSV into a new dataset file (`out` must not exist yet: an import is not resumable, a
// rerun would duplicate samples). Errors: kInvalidArgument with every bad row, kNotFound for missing
// files, kAlreadyExists when `out` exists, I/O errors from data::RecordWriter.
absl::StatusOr<DatasetImportSummary> ImportRuntimes(const DatasetImportOptions& options);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_DATASET_IMPORT_H_

// TpuGraphs interchange (data/tpugraphs.h describes the tile file format):
//
//  * `perfgraph dataset export [--format tpugraphs-tile] DATASET... OUT_DIR`: one `.npz` per tile
//    kernel of perfgraph datasets, "OUT_DIR/<program>_<kernel hash, 16 hex digits>.npz" (the
//    program is the file name up to its last '_', as TpuGraphs' tools read it), with TpuGraphs'
//    keys and dtypes:
//      node_feat [N, graph::kNumNodeFeatures] f32   graph::Featurize (graph/featurize.h), not
//                                                   TpuGraphs' 140 features (README: the mapping)
//      node_opcode [N] u8                           the same opcode ids as TpuGraphs
//      edge_index [E, 2] i64                        [consumer, producer], one row per distinct
//                                                   (instruction, operand) pair, sorted
//      config_feat [C, tiling::kNumConfigFeatures] f32   tiling::ConfigFeatures, not TpuGraphs' 24
//      config_runtime [C] i64                       the label (data/label.h) in ns, rounded
//      config_runtime_normalizers [C] i64           the runtime of the kernel's default config
//                                                   (tiling::Default) when it was measured OK,
//                                                   else the kernel's fastest OK runtime
//    Only OK configs are written: INVALID configs have no runtime, and TIMEOUT configs only a lower
//    bound, which TpuGraphs' format (every runtime a measurement) cannot express; they are counted
//    in the summary. Kernels of the fusion task (one config each) are not tile kernels and are
//    skipped (counted).
//
//  * `perfgraph dataset import --tpugraphs-tile DIR --out DATASET`: TpuGraphs tile files into a
//    dataset `train` and `eval` read, of the foreign feature schema "tpugraphs-tile" (the files'
//    widths; every file must have the same): each config becomes one OK tile-task record whose
//    Record.precomputed holds its config features (and, for the first config of a kernel, the
//    graph, edges turned to (producer, consumer)); the label Record.runtime_ns is
//    data::TpuGraphsLabels (runtime / normaliser, rescaled by the kernel's median normaliser, so
//    top-k slowdowns are TpuGraphs' top-k errors). program = the tile id up to its last '_',
//    kernel name = the tile id, config text = "config <row>". DIR is either a directory of .npz
//    files, or a TpuGraphs split root holding train/ and valid/ (and test/) directories: then
//    train/ files go to the train part and valid/ files to the test part of a split file written
//    beside DATASET ("<DATASET without .pgd>.split.txt"; no validation part: train then keeps the
//    last epoch), and test/ is skipped when its files have no runtimes (TpuGraphs' test split
//    ships without), else imported into the test part. A benchmark found in more than one of
//    these directories is named "<benchmark>@<dir>" in each, so the parts stay disjoint. Tiles with
//    fewer than two configs are skipped (counted), as TpuGraphs' loader skips them when evaluating:
//    with one config every ranking is perfect. Every file is validated (ReadTpuGraphsTile); the
//    first bad one stops the import and nothing is left at DATASET.
#ifndef PERFGRAPH_TOOLS_DATASET_TPUGRAPHS_H_
#define PERFGRAPH_TOOLS_DATASET_TPUGRAPHS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace perfgraph::tools {

struct TpuGraphsExportOptions {
  std::vector<std::string> datasets;  // perfgraph-schema record files
  std::string out_dir;                // created; must not hold .npz files already
};

struct TpuGraphsExportSummary {
  int64_t files = 0;               // tile kernels written
  int64_t configs = 0;             // OK configs written
  int64_t timeout_configs = 0;     // not written (TIMEOUT)
  int64_t fusion_kernels = 0;      // not written (fusion task)
  int64_t default_normalized = 0;  // kernels normalised by their measured default config
};

// Errors: kInvalidArgument for no dataset or an empty out_dir; kFailedPrecondition for a dataset of
// a foreign feature schema (its features are not perfgraph's: re-exporting them is not supported);
// kAlreadyExists when out_dir holds .npz files; those of gnn::LoadExamples and
// data::WriteTpuGraphsTile.
absl::StatusOr<TpuGraphsExportSummary> ExportTpuGraphsTiles(const TpuGraphsExportOptions& options);

struct TpuGraphsImportOptions {
  std::string dir;
  std::string out;
  // Free text stored as the header's cpu_model (the measuring machine).
  std::string machine = "TPU v3 (TpuGraphs tiles)";
  // > 0: of each tile of the train part (a flat DIR is all train), keep this many configs, a
  // uniform sample without replacement (std::mt19937_64 seeded with `seed` and the tile id; kept
  // in file order), as TpuGraphs' baseline samples configs per step; the test part keeps every
  // config so its figures stay comparable. 0 = keep all. Negative: kInvalidArgument.
  int train_configs_per_tile = 0;
  uint64_t seed = 1;
};

struct TpuGraphsImportSummary {
  int64_t files = 0;                  // tiles imported
  int64_t records = 0;                // configs imported
  int64_t single_config_tiles = 0;    // skipped
  int64_t train_configs_dropped = 0;  // not sampled (train_configs_per_tile)
  int node_features = 0;
  int config_features = 0;
  int64_t programs = 0;
  int64_t renamed_programs = 0;    // benchmarks in several split directories, renamed per directory
  std::vector<std::string> notes;  // e.g. "skipped test/: no config_runtime"
  std::optional<std::string> split_file;  // written in split-root mode
};

// Errors: kInvalidArgument when DIR holds no .npz file (neither directly nor in train/ valid/
// test/), for files of different widths (naming both files) and those of ReadTpuGraphsTile (naming
// the file and key); kNotFound for a missing DIR; kAlreadyExists when `out` (or the split file)
// exists; I/O errors of data::RecordWriter.
absl::StatusOr<TpuGraphsImportSummary> ImportTpuGraphsTiles(const TpuGraphsImportOptions& options);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_DATASET_TPUGRAPHS_H_

// TpuGraphs tile files (Phothilimthana et al., "TpuGraphs: A Performance Prediction Dataset on
// Large Tensor Computational Graphs", NeurIPS 2023 Datasets and Benchmarks; the
// `npz/tile/xla/{train,valid,test}/*.npz` files of the download): one `.npz` archive (data/npz.h)
// per kernel ("tile"), named by its tile id "<benchmark>_<hash>" (the benchmark, i.e. the program,
// is the id up to its last '_', as TpuGraphs' tiles_evaluate.py groups it). Keys, as TpuGraphs'
// README ("Dataset File Description") and loader (baselines/tiles/data.py) describe them:
//   node_feat                   [N, Fn] float32  node features (TpuGraphs: Fn = 140)
//   node_opcode                 [N] integer      opcode ids (graph/hlo_opcode.h numbers them
//                                                the same; the README says int32, TpuGraphs'
//                                                encoder builds uint8; we write uint8)
//   edge_index                  [E, 2] integer   row [u, v]: node u consumes the output of node v,
//                                                i.e. [consumer, producer], one row per distinct
//                                                operand (the README says int32; we write int64)
//   config_feat                 [C, Fc] float32  tile-size config features (TpuGraphs: Fc = 24)
//   config_runtime              [C] int64        runtime of each config, ns
//   config_runtime_normalizers  [C] int64        runtime of the default config measured beside it
//                                                (machines differ between runs), ns; TpuGraphs
//                                                ranks by config_runtime / normalizer
// Nodes are ordered topologically. The reader accepts any float dtype (<f4, <f8) for the feature
// keys, any integer dtype for node_opcode and edge_index, and either for the runtimes; the writer
// writes the dtypes named last above. Other keys are ignored.
#ifndef PERFGRAPH_DATA_TPUGRAPHS_H_
#define PERFGRAPH_DATA_TPUGRAPHS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/npz.h"

namespace perfgraph::data {

// The feature schema name of imported TpuGraphs tiles (data/record_file.h ForeignFeatureSchema;
// the widths are those of the files, 140 and 24 for the TpuGraphs download).
inline constexpr absl::string_view kTpuGraphsTileSchema = "tpugraphs-tile";
// Widths of the TpuGraphs release (documentation and messages; files of other widths are accepted).
inline constexpr int kTpuGraphsNodeFeatures = 140;
inline constexpr int kTpuGraphsConfigFeatures = 24;
// Largest width accepted for either kind of feature (a file wider than this is not a feature file).
inline constexpr int kMaxForeignFeatures = 4096;

// The content of one tile file, as in the file (edge_index keeps the file's [consumer, producer]).
struct TpuGraphsTile {
  int64_t num_nodes = 0;
  int64_t num_edges = 0;
  int64_t num_configs = 0;
  int node_width = 0;                              // Fn
  int config_width = 0;                            // Fc
  std::vector<float> node_feat;                    // [num_nodes, node_width]
  std::vector<int32_t> node_opcode;                // [num_nodes]
  std::vector<int64_t> edge_index;                 // [num_edges, 2] (consumer, producer)
  std::vector<float> config_feat;                  // [num_configs, config_width]
  std::vector<double> config_runtime;              // [num_configs], > 0
  std::vector<double> config_runtime_normalizers;  // [num_configs], > 0
};

// Reads and validates the tile file at `path`. Errors (kInvalidArgument unless stated, each naming
// "path:key" and the offending value): those of ReadNpz (kNotFound, a file that is not a zip
// archive, e.g. a truncated download, kDataLoss for corrupt member data); a missing key (TpuGraphs'
// test split ships without config_runtime: the message says so); a key of the wrong dtype kind or
// rank; shapes that disagree (node_opcode vs node_feat rows, config_runtime /
// config_runtime_normalizers vs config_feat rows, edge_index not [E, 2]); no node or no config; a
// width above kMaxForeignFeatures; an opcode outside [0, graph::kNumOpcodeIds); an edge naming a
// node outside [0, N); a non-finite feature; a runtime or normaliser that is not finite and > 0.
absl::StatusOr<TpuGraphsTile> ReadTpuGraphsTile(absl::string_view path);

// Writes `tile` to `path` with the dtypes of the file comment (runtimes rounded to int64; opcodes
// as uint8). Errors: kInvalidArgument when the vectors disagree with the counts and widths, an
// opcode is outside [0, 255] or a runtime does not round to an int64 >= 1; those of WriteNpz.
absl::Status WriteTpuGraphsTile(absl::string_view path, const TpuGraphsTile& tile,
                                NpzCompression compression = NpzCompression::kDeflated);

// The benchmark (program) of a tile id: the id up to its last '_' ("resnet50_train_1f2e" ->
// "resnet50_train"); the whole id when it has no '_' or starts with its only one.
std::string TpuGraphsProgramOfTileId(absl::string_view tile_id);

// Per-config labels in the normalised units TpuGraphs scores in, rescaled to keep the magnitude of
// the runtimes: label[c] = config_runtime[c] / config_runtime_normalizers[c] * median(normalizers).
// Within a tile their ratios are those of runtime / normaliser exactly, so the top-k slowdown of
// any ranking is TpuGraphs' top-k error. [num_configs]; the tile must have passed
// ReadTpuGraphsTile.
std::vector<double> TpuGraphsLabels(const TpuGraphsTile& tile);

}  // namespace perfgraph::data

#endif  // PERFGRAPH_DATA_TPUGRAPHS_H_

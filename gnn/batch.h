// Measured records -> per-kernel training examples -> one batched graph (plain buffers, no LibTorch;
// gnn/model.h turns a HostBatch into tensors).
//
// Batching is by concatenation with offsets (PyG-style block-diagonal batching): the nodes of graph g
// follow those of graph g-1, edges are shifted by the node offset of their graph, and `node_graph`
// says which graph each node belongs to, so one scatter / index_add over all nodes aggregates every
// graph at once with no per-graph loop.
#ifndef PERFGRAPH_GNN_BATCH_H_
#define PERFGRAPH_GNN_BATCH_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "data/record_file.h"
#include "graph/featurize.h"
#include "graph/ir.h"

namespace perfgraph::gnn {

// The two datasets of Kaufman et al.: configs of one kernel (tile) and kernels of fusion variants of
// a program at their default config (fusion).
enum class Task { kTile, kFusion };
absl::string_view TaskName(Task task);  // "tile", "fusion"

// Where the config features (tiling::ConfigFeatures) enter the model.
//  kEarly: concatenated to every node's input (the TpuGraphs baseline): the graph part runs once per
//          (kernel, config) pair.
//  kLate:  concatenated to the graph embedding before the head: the graph part runs once per kernel
//          and only the head runs per config.
enum class Join { kEarly, kLate };
absl::string_view JoinName(Join join);  // "early", "late"

// Two OK runtimes of the same kernel closer than this relative difference are a tie, i.e. not a
// ranking pair: the measurement protocol (target/measurement.h) stops when the best three samples
// agree within 2 %, so smaller differences are mostly noise.
inline constexpr double kRankTieTolerance = 0.01;

// One kernel with its measured configs (tile task: all configs of a kernel_hash; fusion task: one
// record, one config).
struct KernelExample {
  Task task = Task::kTile;
  std::string program;    // Record.program (tile: of the first record of the kernel)
  int fusion_variant = 0; // Record.fusion_variant
  uint64_t kernel_hash = 0;
  std::string kernel_name;
  // graph::Featurize(kernel); for a foreign feature schema the record's features as given
  // (node_feat [num_nodes, node_width()], edge_operand all 0).
  graph::KernelTensors tensors;
  // The decoded kernel (for other cost models); nullptr for a foreign feature schema.
  std::shared_ptr<const graph::Kernel> kernel;
  // The schema of tensors.node_feat and config_feat: nullopt = perfgraph's (graph::Featurize,
  // tiling::ConfigFeatures); else a foreign one (data/record_file.h), read from Record.precomputed.
  std::optional<data::ForeignFeatureSchema> foreign_features;
  int node_width() const;    // graph::kNumNodeFeatures, or the foreign schema's node width
  int config_width() const;  // tiling::kNumConfigFeatures, or the foreign schema's config width
  int num_configs = 0;
  std::vector<float> config_feat;         // [num_configs, config_width()]
  // [num_configs, cost::kNumHybridConfigFeatures] when AddHybridFeatures ran, else empty.
  std::vector<float> hybrid_feat;
  std::vector<std::string> config_text;   // [num_configs] TileConfig::ToString()
  // [num_configs] label in ns: the minimum of Record.runtime_ns for OK configs; +infinity for
  // TIMEOUT configs ("slower than every OK config of the kernel", used by the ranking loss only).
  std::vector<double> runtime_ns;
  std::vector<uint8_t> timed_out;         // [num_configs] 1 for TIMEOUT configs
  int num_ok() const;
};

// What LoadExamples kept and dropped.
struct LoadSummary {
  int64_t records = 0;
  int64_t invalid_records = 0;        // MEASURE_STATUS_INVALID: dropped (no runtime, no ordering)
  int64_t duplicate_records = 0;      // same task, kernel and config seen again: merged
  int64_t examples_without_ok = 0;    // kernels with no OK config: dropped (no label)
  std::vector<std::string> programs;  // distinct programs of the kept examples, sorted
  // The feature schema of every loaded file (they must agree): nullopt = perfgraph's.
  std::optional<data::ForeignFeatureSchema> foreign_features;
};

// Reads every record of `paths` (data::RecordReader: the file's feature schema version must be
// graph::kFeatureSchemaVersion) and groups them into examples: tile records by kernel_hash (over all
// files), fusion records one example each. Features are computed here, never read from the file:
// node features with graph::Featurize(kernel), config features with tiling::ConfigFeatures(kernel,
// config) of the config rebuilt from the record's raw fields (data::DecodeRecordConfig), so the
// `features` some older records store are ignored whatever their count or values. Records of the
// same task, kernel and config are merged (an OK record wins over a TIMEOUT; the label is the minimum
// over the OK records); config_text is the rebuilt config's ToString(). `summary` (optional)
// receives the counts. Examples are ordered by (task, program, fusion_variant, kernel_hash) so the
// result does not depend on record order within a kernel. Errors (naming file and record index):
// those of RecordReader; a record whose kernel fails DecodeRecordKernel or (unless the record is
// INVALID, which is dropped unread) whose config fails DecodeRecordConfig; an OK record without
// samples or with a non-positive or non-finite sample (kDataLoss); task or status UNSPECIFIED
// (kDataLoss).
// Files of a foreign feature schema (RecordFileHeader::foreign_features, e.g. TpuGraphs tiles from
// `perfgraph dataset import --tpugraphs-tile`) hold no kernel to featurize: each record's
// Record.precomputed features are used as given (the graph from the first record of its kernel_hash
// in the file, the config row from every record), config_text is Record.config.text and kernel is
// nullptr. Further errors: files of different schemas in `paths` (kFailedPrecondition naming both
// files and schemas: a model reads one schema); a foreign record that is not of the tile task, whose
// kernel_hash has no graph earlier in its file, or whose features disagree with the schema's widths,
// hold an opcode outside [0, graph::kNumOpcodeIds), an edge outside the graph or a non-finite value
// (kDataLoss naming the record).
absl::StatusOr<std::vector<KernelExample>> LoadExamples(const std::vector<std::string>& paths,
                                                        LoadSummary* summary = nullptr);

// Fills every example's hybrid_feat with cost::AppendHybridConfigFeatures of its configs (parsed
// from config_text), computed by the committed reference target's analytical model at `threads`
// threads; examples that already hold hybrid features are recomputed. Errors: kInvalidArgument for
// threads outside [1, kMaxHybridThreads] (gnn/checkpoint.h); those of cost::AnalyticalModel::CreateDefault (a missing or corrupt
// reference description); kDataLoss naming the kernel for a config_text that does not parse.
absl::Status AddHybridFeatures(std::vector<KernelExample>& examples, int threads);
// Whether `example` holds its hybrid features (hybrid_feat of num_configs rows).
bool HasHybridFeatures(const KernelExample& example);

// A batch of graphs with their config rows, concatenated with offsets. F = node_width (the examples'
// KernelExample::node_width()), C = config_width (KernelExample::config_width(), +
// cost::kNumHybridConfigFeatures with `hybrid`). All ids are batch-global.
struct HostBatch {
  int node_width = graph::kNumNodeFeatures;  // F
  int64_t num_graphs = 0;
  int64_t num_nodes = 0;
  int64_t num_edges = 0;
  int64_t num_rows = 0;       // config rows (one per (example, config) pair)
  int64_t max_graph_nodes = 0;
  std::vector<float> node_feat;          // [num_nodes, F]
  std::vector<int64_t> node_opcode;      // [num_nodes] TpuGraphs opcode ids
  std::vector<int64_t> node_graph;       // [num_nodes] graph of each node
  std::vector<int64_t> node_position;    // [num_nodes] topological position within its graph
  std::vector<int64_t> graph_num_nodes;  // [num_graphs]
  std::vector<int64_t> edge_src;         // [num_edges] producer node
  std::vector<int64_t> edge_dst;         // [num_edges] consumer node
  int config_width = 0;                  // C
  std::vector<float> config_feat;        // [num_rows, C]: config_feat then hybrid_feat per row
  std::vector<int64_t> row_graph;        // [num_rows] graph whose embedding the row uses
  std::vector<int64_t> row_example;      // [num_rows] index into the `examples` argument
  std::vector<int64_t> row_config;       // [num_rows] config index within its example
  std::vector<float> label_log_ns;       // [num_rows] log(runtime_ns) of OK rows, 0 otherwise
  std::vector<float> label_ok;           // [num_rows] 1 for OK rows, 0 for TIMEOUT rows
  std::vector<float> row_task_fusion;    // [num_rows] 1 for fusion-task rows, 0 for tile rows
  // Ranking pairs (tile task, same kernel): row pair_faster[p] is measured faster than
  // pair_slower[p]: both OK with runtimes differing by more than kRankTieTolerance, or the faster
  // OK and the slower TIMEOUT. Two TIMEOUT rows form no pair.
  std::vector<int64_t> pair_faster;
  std::vector<int64_t> pair_slower;
  // Ranking lists (tile task, one per example with at least two configs, ListMLE): the example's
  // rows from measured fastest to slowest, OK rows by runtime then its TIMEOUT rows, padded to
  // list_width: list_rows[l * list_width + i] (padding repeats row 0), list_valid 1 for real
  // entries, list_scored 1 for the positions that are OK rows (a TIMEOUT row only ever appears
  // below them, "slower than every OK config", never as a position of its own).
  int64_t num_lists = 0;
  int64_t list_width = 0;
  std::vector<int64_t> list_rows;   // [num_lists, list_width]
  std::vector<float> list_valid;    // [num_lists, list_width]
  std::vector<float> list_scored;   // [num_lists, list_width]
};

// Builds the batch of `examples` (borrowed). With Join::kLate each example is one graph and its
// configs are rows pointing at it; with Join::kEarly each (example, config) pair is its own copy of
// the graph (num_graphs == num_rows), as the early join needs per-config node inputs. With `hybrid`
// every example must hold hybrid_feat (AddHybridFeatures); a row is then its config features
// followed by its hybrid features. All examples must share one feature schema (as LoadExamples'
// do; gnn::TrainOnExamples checks it).
HostBatch MakeHostBatch(absl::Span<const KernelExample* const> examples, Join join,
                        bool hybrid = false);

}  // namespace perfgraph::gnn

#endif  // PERFGRAPH_GNN_BATCH_H_

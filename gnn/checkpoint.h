// Model hyper-parameters and the versioned model file format. This header does not include LibTorch
// (ModelImpl is only forward-declared), so tools/ can use it without torch headers.
//
// Model file (`.pgm`) byte layout (integers unsigned 32-bit little-endian), format version 2:
//   [0, 8)    magic "PGGNNM01" (kModelFileMagic)
//   [8, 12)   kModelFileFormatVersion
//   [12, 16)  feature schema version (graph::kFeatureSchemaVersion of the writer; 0 for a model of a
//             foreign feature schema, ModelOptions::feature_schema, named in the options JSON)
//   [16, 20)  graph::kNumNodeFeatures (a foreign schema: its node width)
//   [20, 24)  graph::kNumOpcodeIds
//   [24, 28)  tiling::kNumConfigFeatures (a foreign schema: its config width)
//   [28, 32)  config feature schema version (tiling::kConfigFeatureSchemaVersion of the writer; 0
//             for a foreign schema)
//   [32, 36)  J = length of the ModelOptions JSON
//   [36, 36+J) ModelOptions JSON (ModelOptionsToJson)
//   then a 64-bit little-endian length A and A bytes of LibTorch's serialized parameters and buffers
//   (torch::serialize::OutputArchive of the module, a zip archive with its own CRCs).
// Format version 1 (files written before the config feature schema version existed) lacks
// [28, 32): J is at [28, 32) and the JSON starts at 32; its config feature schema version is 1.
// The header is checked before anything is allocated or deserialized, so a file of another schema is
// refused (kFailedPrecondition) instead of being loaded with mismatched or random weights.
#ifndef PERFGRAPH_GNN_CHECKPOINT_H_
#define PERFGRAPH_GNN_CHECKPOINT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gnn/batch.h"

namespace perfgraph::gnn {

class ModelImpl;  // gnn/model.h (LibTorch module)

// How the node embeddings h [N, H] of a graph are reduced to the graph embedding g [B, 2H] that the
// head reads (gnn/model.h step 3). Both give the same width, so the head is the same for both.
//  kLstm: g = [h_last | mean(h)], h_last the final hidden state of an LSTM over the graph's nodes in
//         topological order (Kaufman et al., 2021, their best reduction for the tile-size task).
//  kMean: g = [max(h) | mean(h)], element-wise max and mean over the graph's nodes (no LSTM module,
//         no sequence order). The mean half is the same as kLstm's, so kMean replaces exactly the
//         order-aware LSTM summary by an order-free one: the "no LSTM" ablation.
enum class Reduction { kLstm, kMean };
absl::string_view ReductionName(Reduction reduction);  // "lstm", "mean"
// Inverse of ReductionName. Error: kInvalidArgument naming `value` and the accepted names.
absl::StatusOr<Reduction> ParseReduction(absl::string_view value);

// Hyper-parameters of gnn::Model. Defaults: the TpuGraphs tile baseline (3 SAGE layers, hidden 64,
// opcode embedding 64) with Kaufman et al.'s LSTM reduction.
struct ModelOptions {
  Join join = Join::kLate;
  Reduction reduction = Reduction::kLstm;
  int hidden = 64;            // node embedding width H, in [4, 1024]
  int opcode_embedding = 64;  // opcode embedding width, in [1, 1024]
  int sage_layers = 3;        // GraphSAGE layers, in [1, 16]
  int head_hidden = 64;       // width of the MLP head's hidden layers, in [4, 1024]
  // Hybrid config features (the learned-model issue): 0 = a config row is tiling::ConfigFeatures
  // alone; N in [1, kMaxHybridThreads] = followed by cost::AppendHybridConfigFeatures' block of the
  // committed reference target's analytical model at N threads (set to the threads the training
  // records were measured with), so the network learns the residual of the roofline.
  int hybrid_threads = 0;
  // The feature schema the model reads. "" = perfgraph's: graph::kNumNodeFeatures node features
  // (graph::Featurize) and tiling::kNumConfigFeatures config features (tiling::ConfigFeatures),
  // num_node_features and num_config_features 0. Otherwise the name of a foreign schema
  // (data/record_file.h ForeignFeatureSchema, e.g. "tpugraphs-tile") whose features the records
  // carry as given, with its widths (each in [1, kMaxForeignFeatureWidth]; no hybrid block).
  // gnn::Train sets these from the training data; a model never reads data of another schema.
  std::string feature_schema;
  int num_node_features = 0;
  int num_config_features = 0;
  bool foreign_schema() const { return !feature_schema.empty(); }
  // Floats per node: graph::kNumNodeFeatures, or num_node_features of a foreign schema.
  int node_width() const;
  // Floats per config row: tiling::kNumConfigFeatures (+ cost::kNumHybridConfigFeatures), or
  // num_config_features of a foreign schema.
  int config_width() const;
  friend bool operator==(const ModelOptions& a, const ModelOptions& b) {
    return a.join == b.join && a.reduction == b.reduction && a.hidden == b.hidden &&
           a.opcode_embedding == b.opcode_embedding && a.sage_layers == b.sage_layers &&
           a.head_hidden == b.head_hidden && a.hybrid_threads == b.hybrid_threads &&
           a.feature_schema == b.feature_schema && a.num_node_features == b.num_node_features &&
           a.num_config_features == b.num_config_features;
  }
};
// Widest foreign feature row a model accepts (data/tpugraphs.h kMaxForeignFeatures).
inline constexpr int kMaxForeignFeatureWidth = 4096;
inline constexpr int kMaxHybridThreads = 256;

// Error: kInvalidArgument naming the out-of-range field and value (also: a foreign schema named
// "perfgraph", with a width outside [1, kMaxForeignFeatureWidth] or with hybrid_threads > 0; the
// perfgraph schema with non-zero widths).
absl::Status ValidateModelOptions(const ModelOptions& options);
// {"join": "late", "reduction": "lstm", "hidden": 64, "opcode_embedding": 64, "sage_layers": 3,
//  "head_hidden": 64, "hybrid_threads": 0}, plus "feature_schema", "num_node_features" and
// "num_config_features" for a foreign schema only (so perfgraph-schema files are unchanged).
std::string ModelOptionsToJson(const ModelOptions& options);
// Inverse of ModelOptionsToJson. A JSON without "reduction" (written before the key existed, when
// every model used the LSTM) is Reduction::kLstm; one without "hybrid_threads" has 0; one without
// "feature_schema" reads the perfgraph schema. Errors (kInvalidArgument, prefixed by `context`):
// not JSON, a missing or mistyped key, an unknown join or reduction, values ValidateModelOptions
// rejects.
absl::StatusOr<ModelOptions> ModelOptionsFromJson(absl::string_view json, absl::string_view context);

inline constexpr absl::string_view kModelFileMagic = "PGGNNM01";
// Bumped when the byte layout above or the module's parameter naming changes. History:
//   1: the layout without the config feature schema version.
//   2: adds the config feature schema version at [28, 32).
// (Not bumped for Reduction: an LSTM model's file is unchanged apart from the "reduction" JSON key,
// whose absence reads as kLstm; a kMean model simply has no "lstm.*" tensors, and a reader that
// predates kMean refuses it with kDataLoss naming the missing LSTM parameters.)
inline constexpr uint32_t kModelFileFormatVersion = 2;
// Oldest format version the reader still accepts (SaveModelFile always writes the current one).
inline constexpr uint32_t kMinReadableModelFileFormatVersion = 1;

// The decoded header of a model file.
struct ModelFileHeader {
  uint32_t format_version = 0;
  uint32_t feature_schema_version = 0;
  uint32_t num_node_features = 0;
  uint32_t num_opcode_ids = 0;
  uint32_t num_config_features = 0;
  // tiling::kConfigFeatureSchemaVersion of the writer; 1 for format-version-1 files.
  uint32_t config_feature_schema_version = 0;
  ModelOptions options;
};

// Checks that a header written elsewhere matches this build: a readable format version
// (kMinReadableModelFileFormatVersion..kModelFileFormatVersion), feature schema version,
// kNumNodeFeatures, kNumOpcodeIds, kNumConfigFeatures and config feature schema version. Error:
// kFailedPrecondition naming `source`, the field, the file's value and this build's value. For a
// foreign-schema model (header.options.feature_schema, parsed before this check) the fixed fields
// hold 0 for both schema versions and the widths of its options instead (kDataLoss when they do
// not), and only kNumOpcodeIds is this build's.
absl::Status CheckSchema(const ModelFileHeader& header, absl::string_view source);

// Reads and checks only the header of `path`. Errors: kNotFound (unreadable file, naming it);
// kInvalidArgument "not a perfgraph model file" for another magic; kDataLoss for a truncated header
// or bad options JSON; kFailedPrecondition from CheckSchema.
absl::StatusOr<ModelFileHeader> ReadModelFileHeader(absl::string_view path);

// Writes `model` (its options, parameters and buffers) to `path` atomically (a temporary file in the
// same directory, then rename). Errors: kUnavailable / kPermissionDenied for I/O failures (naming the
// path); kInternal when LibTorch fails to serialize (its message is kept).
absl::Status SaveModelFile(absl::string_view path, ModelImpl& model);

// Reads a model file: header first (errors of ReadModelFileHeader, so a schema mismatch is
// kFailedPrecondition before any tensor is read), then builds a ModelImpl with the stored options and
// loads its parameters and buffers. Errors: kDataLoss when the tensor archive is truncated or does not
// match the module (missing or mis-shaped parameters; LibTorch's message is kept).
absl::StatusOr<std::shared_ptr<ModelImpl>> LoadModelFile(absl::string_view path);

}  // namespace perfgraph::gnn

#endif  // PERFGRAPH_GNN_CHECKPOINT_H_

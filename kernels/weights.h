// The versioned weights file of the learned cost model: what gnn::Export writes from a LibTorch model
// and kernels::Predictor reads (no LibTorch on the reading side).
//
// Byte layout (every integer unsigned little-endian, every float IEEE-754 binary32 little-endian):
//   [0, 8)     magic "PGKWTS01" (kWeightsMagic)
//   u32        kWeightsFormatVersion of the writer
//   u32        feature schema version (graph::kFeatureSchemaVersion of the writer)
//   u32        graph::kNumNodeFeatures
//   u32        graph::kNumOpcodeIds
//   u32        tiling::kNumConfigFeatures
//   u32        config feature schema version (tiling::kConfigFeatureSchemaVersion of the writer).
//              Format version 3 and later only: files of versions 1 and 2 have no such field and
//              were trained on config schema 1.
//   u32        join: 0 = early, 1 = late (gnn::Join; see gnn/batch.h)
//   u32 x 4    hidden, opcode_embedding, sage_layers, head_hidden (gnn::ModelOptions)
//   u32        reduction: 0 = lstm, 1 = mean (gnn::Reduction; see gnn/checkpoint.h). Format version
//              2 and later only: a version-1 file has no such field and its model is lstm.
//   u32        hybrid_threads (gnn::ModelOptions::hybrid_threads): 0 = the config rows are
//              tiling::ConfigFeatures only; N >= 1 = followed by the kNumHybridConfigFeatures hybrid
//              features (cost/tabular_features.h) of the analytical model at N threads. Format
//              version 4 and later only: files of versions 1 to 3 have no such field and hold 0.
//   u32        S = length of the feature schema name, then S bytes of it (gnn::ModelOptions::
//              feature_schema): S = 0 is perfgraph's schema (the fields above are this build's
//              constants); otherwise a foreign schema such as "tpugraphs-tile" (data/record_file.h),
//              whose node and config widths are the kNumNodeFeatures and kNumConfigFeatures fields
//              and whose two schema version fields are 0. Format version 5 and later only: older
//              files have no such field and are perfgraph's.
//   u32        T = number of tensors
//   T times:   u32 name length L (1..kMaxTensorNameBytes), L bytes of name (LibTorch's dotted
//              parameter / buffer name, e.g. "sage0.norm.weight"), u32 rank R (0..kMaxTensorRank),
//              R x u32 dims, then prod(dims) f32 values in row-major order
//   u32        CRC-32 (zlib's crc32, the same checksum data/record_file uses) of every byte before it
// The reader accepts format versions kMinReadableWeightsFormatVersion..kWeightsFormatVersion and
// checks, in this order: magic (kInvalidArgument), format version (kFailedPrecondition),
// size and checksum (kDataLoss), the architecture fields (kDataLoss), schema fields
// (kFailedPrecondition; for a foreign schema: widths in [1, kMaxForeignFeatureWidth], both schema
// versions 0 and this build's kNumOpcodeIds, kDataLoss otherwise), then parses the tensor table
// with bounds checks on every length (kDataLoss). It never allocates more than the file's size.
#ifndef PERFGRAPH_KERNELS_WEIGHTS_H_
#define PERFGRAPH_KERNELS_WEIGHTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace perfgraph::kernels {

inline constexpr absl::string_view kWeightsMagic = "PGKWTS01";
// Bumped when the byte layout above changes. Version history:
//   1: the layout above without the reduction and config feature schema version fields (every model
//      was lstm).
//   2: adds the reduction field.
//   3: adds the config feature schema version field.
//   4: adds the hybrid_threads field.
//   5: adds the feature schema name (foreign feature schemas, e.g. TpuGraphs tiles).
inline constexpr uint32_t kWeightsFormatVersion = 5;
// Widest foreign feature row (gnn::kMaxForeignFeatureWidth; gnn/export.cc static_asserts it).
inline constexpr int kMaxForeignFeatureWidth = 4096;
// Oldest version ParseWeights still reads (and SerializeWeights still writes, when asked to through
// WeightsFile::format_version, for tests of that compatibility).
inline constexpr uint32_t kMinReadableWeightsFormatVersion = 1;
// tiling::kConfigFeatureSchemaVersion, repeated here because kernels/ does not depend on tiling/
// (as kNumConfigFeatures in kernels/predictor.h); cost/learned_model.cc and gnn/export.cc
// static_assert that the two agree. The config features a Predictor is fed must have this layout.
inline constexpr uint32_t kConfigFeatureSchemaVersion = 1;
// cost::kNumHybridConfigFeatures, repeated here for the same reason (cost/learned_model.cc
// static_asserts that they agree): the width of the hybrid block of a config row.
inline constexpr int kNumHybridConfigFeatures = 16;
// Largest hybrid_threads a file may hold (gnn::ValidateModelOptions' bound).
inline constexpr int kMaxHybridThreads = 256;
inline constexpr int kMaxTensorNameBytes = 256;
inline constexpr int kMaxTensorRank = 4;
// Largest weights file read (1 GiB, checked with stat before reading). The largest architecture the
// header allows in practice (hidden 4096, a few layers) is a few hundred MB; the default model is
// under 1 MB. Every tensor's value count is also checked against the bytes left before allocating.
inline constexpr int64_t kMaxWeightsFileBytes = int64_t{1} << 30;

// Where the config features join the model (mirrors gnn::Join; values are the file encoding).
enum class WeightsJoin : uint32_t { kEarly = 0, kLate = 1 };

// How node embeddings become the graph embedding (mirrors gnn::Reduction; values are the file
// encoding). kLstm: [LSTM final hidden state | mean]; kMean: [element-wise max | mean].
enum class WeightsReduction : uint32_t { kLstm = 0, kMean = 1 };

// The model-architecture part of the header (mirrors gnn::ModelOptions).
struct Architecture {
  WeightsJoin join = WeightsJoin::kLate;
  WeightsReduction reduction = WeightsReduction::kLstm;
  int hidden = 64;            // node embedding width H
  int opcode_embedding = 64;  // opcode embedding width
  int sage_layers = 3;        // GraphSAGE layers
  int head_hidden = 64;       // MLP head hidden width
  // 0: config rows are tiling::ConfigFeatures (kNumConfigFeatures of kernels/predictor.h); N >= 1:
  // followed by the hybrid block computed with the analytical model at N threads.
  int hybrid_threads = 0;
  // The feature schema (gnn::ModelOptions::feature_schema): "" = perfgraph's; otherwise a foreign
  // schema with these widths (0 for perfgraph's).
  std::string feature_schema;
  int foreign_node_features = 0;
  int foreign_config_features = 0;
  bool foreign_schema() const { return !feature_schema.empty(); }
  // Floats per node: graph::kNumNodeFeatures, or foreign_node_features.
  int node_width() const;
  // Floats per config row the model reads: tiling::kNumConfigFeatures, plus
  // kNumHybridConfigFeatures when hybrid_threads > 0; or foreign_config_features.
  int config_width() const;
};

// One named tensor, row-major f32.
struct NamedTensor {
  std::string name;
  std::vector<int64_t> dims;  // empty for a scalar
  std::vector<float> values;  // prod(dims) values
  int64_t num_elements() const;
};

// The decoded file. The schema fields default to this build's values, so a writer only fills
// `architecture` and `tensors`.
struct WeightsFile {
  uint32_t format_version;
  uint32_t feature_schema_version;
  uint32_t num_node_features;
  uint32_t num_opcode_ids;
  uint32_t num_config_features;
  uint32_t config_feature_schema_version;  // 1 when read from a format version 1 or 2 file
  Architecture architecture;
  std::vector<NamedTensor> tensors;

  WeightsFile();
  // The tensor called `name`, or nullptr.
  const NamedTensor* Find(absl::string_view name) const;
};

// Serialises `weights` in the layout above, as version weights.format_version: versions 1 to 4 omit
// the feature schema name (a foreign schema needs version 5), versions 1 to 3 omit the hybrid
// threads, 1 and 2 also the config feature schema version, version 1 also the reduction
// field, any other value gets the current layout (so tests can write files of an unknown version).
// Errors (kInvalidArgument): format_version 1 with a reduction other than kLstm, format_version 1 or
// 2 with a config feature schema version other than 1, format_version 1 to 3 with hybrid_threads
// other than 0 (those versions cannot express it), hybrid_threads outside [0, kMaxHybridThreads];
// a foreign schema whose widths are not those of the header fields;
// naming the tensor: a name that
// is empty or longer than kMaxTensorNameBytes, a rank above kMaxTensorRank, a negative dim, or a
// value count different from prod(dims); a duplicate name.
absl::StatusOr<std::string> SerializeWeights(const WeightsFile& weights);

// Parses bytes produced by SerializeWeights; `source` names the file in messages. Errors as listed
// in the file comment; a file written by a build with another feature schema, config feature schema
// (naming the file, the file's and this build's kConfigFeatureSchemaVersion) or feature counts is
// kFailedPrecondition ("retrain/re-export"), never loaded.
absl::StatusOr<WeightsFile> ParseWeights(absl::string_view bytes, absl::string_view source);

// SerializeWeights + atomic write (temporary file in the same directory, then rename).
// Errors: those of SerializeWeights; kUnavailable / kPermissionDenied for I/O failures naming `path`.
absl::Status WriteWeightsFile(const WeightsFile& weights, absl::string_view path);

// Reads `path` and ParseWeights it. Errors: kNotFound when the file cannot be opened (naming it and
// the OS reason); kInvalidArgument (naming it and its size) for a file above kMaxWeightsFileBytes,
// before reading it; those of ParseWeights.
absl::StatusOr<WeightsFile> ReadWeightsFile(absl::string_view path);

}  // namespace perfgraph::kernels

#endif  // PERFGRAPH_KERNELS_WEIGHTS_H_

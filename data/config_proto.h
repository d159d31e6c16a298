// Conversion between tiling::TileConfig and its dataset form TileConfigProto (data/perfgraph.proto).
//
// A record stores what was measured: the raw TileConfig fields (tile_sizes, tiled_dims,
// reduction_split, vector_width, parallel_loop), their text (TileConfig::ToString) and is_default.
// Config features are derived data: readers recompute them with tiling::ConfigFeatures from the
// decoded kernel and the config rebuilt here, so a change of the feature layout
// (tiling::kConfigFeatureSchemaVersion) never costs a re-measurement. The proto's `features` field is
// a leftover of files written before this rule: ConfigToProto no longer writes it and nothing reads
// it.
//
// Why this lives in data/: the rebuild must be reachable from gnn/ (LoadExamples) and from tools/
// (measure, dataset import, predict, dataset repeat) without LibTorch. tiling/ sits below data/ and
// cannot include the generated protobuf code; gnn/ would pull LibTorch into every record reader; tools/
// is the top of the tree, which gnn/ may not include. data/ already owns the proto and the kernel
// converters (data/kernel_proto.h) and may depend on the schedule vocabulary (tiling/tile_config.h,
// no protobuf, no Halide), so the config converters sit next to the kernel ones.
//
// The generated perfgraph.pb.h is not included here; callers include "data/perfgraph.pb.h".
#ifndef PERFGRAPH_DATA_CONFIG_PROTO_H_
#define PERFGRAPH_DATA_CONFIG_PROTO_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/ir.h"
#include "tiling/tile_config.h"

namespace perfgraph::data {

class Record;           // data/perfgraph.proto
class TileConfigProto;  // data/perfgraph.proto

// Writes `config` into `proto`, replacing its previous contents: tile_sizes and tiled_dims (always
// tiling::kMaxTiledDims entries each, unused slots included), reduction_split, vector_width,
// parallel_loop, text = config.ToString() and is_default. Never writes `features`. Total;
// `proto` must not be null.
void ConfigToProto(const tiling::TileConfig& config, bool is_default, TileConfigProto* proto);

// Rebuilds the TileConfig of `proto` from its raw fields. `context` (e.g. "record 17 of tile.pgd")
// prefixes every error message. Checks that do not need the kernel:
//  - tile_sizes and tiled_dims hold exactly tiling::kMaxTiledDims entries each;
//  - every tile size is in [0, graph::kMaxDimension], every tiled dim in [-1, kMaxRank),
//    reduction_split >= 1, vector_width >= 1, parallel_loop in [-1, tiling::kMaxTiledDims);
//  - when `text` is set it parses (TileConfig::Parse) to the same config.
// A proto with no raw slot fields at all (tile_sizes and tiled_dims both empty, as written by
// hand-made records that only set `text`) is read from its text alone. `features` is ignored.
// Errors: kInvalidArgument naming the context, the config text and the offending field and value
// (also for a proto with neither raw fields nor text: "holds no config"); kDataLoss when the raw
// fields and the text disagree (naming both).
// ConfigFromProto(ConfigToProto(c)) == c for every TileConfig c that passes the checks above.
absl::StatusOr<tiling::TileConfig> ConfigFromProto(const TileConfigProto& proto,
                                                   absl::string_view context);

// The config of `record` for its decoded `kernel` (data::DecodeRecordKernel): ConfigFromProto, then
// tiling::Validate(kernel, config). A TASK_FUSION record whose config is entirely empty (no raw
// fields, no text) is at tiling::Default(kernel): the fusion task measures every kernel at its
// default config (see Record.Task). Errors: those of ConfigFromProto; kInvalidArgument when the
// config is not valid for the kernel (tiling::Validate's message, prefixed by `context`).
absl::StatusOr<tiling::TileConfig> DecodeRecordConfig(const Record& record,
                                                      const graph::Kernel& kernel,
                                                      absl::string_view context);

}  // namespace perfgraph::data

#endif  // PERFGRAPH_DATA_CONFIG_PROTO_H_

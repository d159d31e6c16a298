#include "data/config_proto.h"

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "data/kernel_proto.h"
#include "data/perfgraph.pb.h"
#include "graph/shape.h"

namespace perfgraph::data {
namespace {

// "ConfigFromProto(record 3 of x.pgd): config 'tile=...': " (or "config without text").
std::string Prefix(absl::string_view function, absl::string_view context,
                   const TileConfigProto& proto) {
  return absl::StrCat(function, "(", context, "): config ",
                      proto.text().empty() ? std::string("without text")
                                           : absl::StrCat("'", proto.text(), "'"),
                      ": ");
}

bool HasRawSlots(const TileConfigProto& proto) {
  return proto.tile_sizes_size() > 0 || proto.tiled_dims_size() > 0;
}

}  // namespace

void ConfigToProto(const tiling::TileConfig& config, bool is_default, TileConfigProto* proto) {
  proto->Clear();
  for (int i = 0; i < tiling::kMaxTiledDims; ++i) {
    proto->add_tile_sizes(config.tile[i]);
    proto->add_tiled_dims(config.tiled_dims[i]);
  }
  proto->set_reduction_split(config.reduction_split);
  proto->set_vector_width(config.vector_width);
  proto->set_parallel_loop(config.parallel_loop);
  proto->set_text(config.ToString());
  proto->set_is_default(is_default);
}

absl::StatusOr<tiling::TileConfig> ConfigFromProto(const TileConfigProto& proto,
                                                   absl::string_view context) {
  auto invalid = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(Prefix("ConfigFromProto", context, proto), what));
  };
  std::optional<tiling::TileConfig> from_text;
  if (!proto.text().empty()) {
    absl::StatusOr<tiling::TileConfig> parsed = tiling::TileConfig::Parse(proto.text());
    if (!parsed.ok()) return invalid(parsed.status().message());
    from_text = *parsed;
  }
  if (!HasRawSlots(proto)) {
    if (from_text.has_value()) return *from_text;
    return invalid("holds no config (no tile_sizes, tiled_dims or text)");
  }
  if (proto.tile_sizes_size() != tiling::kMaxTiledDims ||
      proto.tiled_dims_size() != tiling::kMaxTiledDims) {
    return invalid(absl::StrCat("has ", proto.tile_sizes_size(), " tile_sizes and ",
                                proto.tiled_dims_size(), " tiled_dims, expected ",
                                tiling::kMaxTiledDims, " each (one per slot, unused slots included)"));
  }
  tiling::TileConfig config;
  for (int i = 0; i < tiling::kMaxTiledDims; ++i) {
    const int64_t tile = proto.tile_sizes(i);
    if (tile < 0 || tile > graph::kMaxDimension) {
      return invalid(absl::StrCat("tile_sizes[", i, "] = ", tile, " is outside [0, ",
                                  graph::kMaxDimension, "]"));
    }
    const int64_t dim = proto.tiled_dims(i);
    if (dim < -1 || dim >= kMaxRank) {
      return invalid(
          absl::StrCat("tiled_dims[", i, "] = ", dim, " is outside [-1, ", kMaxRank, ")"));
    }
    config.tile[i] = tile;
    config.tiled_dims[i] = static_cast<int>(dim);
  }
  if (proto.reduction_split() < 1) {
    return invalid(absl::StrCat("reduction_split = ", proto.reduction_split(), " is below 1"));
  }
  config.reduction_split = proto.reduction_split();
  if (proto.vector_width() < 1) {
    return invalid(absl::StrCat("vector_width = ", proto.vector_width(), " is below 1"));
  }
  config.vector_width = proto.vector_width();
  if (proto.parallel_loop() < -1 || proto.parallel_loop() >= tiling::kMaxTiledDims) {
    return invalid(absl::StrCat("parallel_loop = ", proto.parallel_loop(), " is outside [-1, ",
                                tiling::kMaxTiledDims, ")"));
  }
  config.parallel_loop = proto.parallel_loop();
  if (from_text.has_value() && *from_text != config) {
    return absl::DataLossError(absl::StrCat(Prefix("ConfigFromProto", context, proto),
                                            "the raw fields say '", config.ToString(),
                                            "' but the text says '", from_text->ToString(), "'"));
  }
  return config;
}

absl::StatusOr<tiling::TileConfig> DecodeRecordConfig(const Record& record,
                                                      const graph::Kernel& kernel,
                                                      absl::string_view context) {
  const TileConfigProto& proto = record.config();
  if (record.task() == Record::TASK_FUSION && !HasRawSlots(proto) && proto.text().empty()) {
    return tiling::Default(kernel);
  }
  absl::StatusOr<tiling::TileConfig> config = ConfigFromProto(proto, context);
  if (!config.ok()) return config.status();
  absl::Status valid = tiling::Validate(kernel, *config);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("DecodeRecordConfig(", context, "): ", valid.message()));
  }
  return config;
}

}  // namespace perfgraph::data

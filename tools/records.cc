#include "tools/records.h"

#include <vector>

#include "data/perfgraph.pb.h"

namespace perfgraph::tools {

void ConfigToProto(const graph::Kernel& kernel, const tiling::TileConfig& config, bool is_default,
                   data::TileConfigProto* proto) {
  proto->Clear();
  for (int i = 0; i < tiling::kMaxTiledDims; ++i) {
    proto->add_tile_sizes(config.tile[i]);
    proto->add_tiled_dims(config.tiled_dims[i]);
  }
  proto->set_reduction_split(config.reduction_split);
  proto->set_vector_width(config.vector_width);
  proto->set_parallel_loop(config.parallel_loop);
  proto->set_text(config.ToString());
  std::vector<float> features(tiling::kNumConfigFeatures);
  tiling::ConfigFeatures(kernel, config, features.data());
  for (float f : features) proto->add_features(f);
  proto->set_is_default(is_default);
}

}  // namespace perfgraph::tools

// Filling dataset records (data/perfgraph.proto) from IR objects; shared by measure and dataset import.
#ifndef PERFGRAPH_TOOLS_RECORDS_H_
#define PERFGRAPH_TOOLS_RECORDS_H_

#include "graph/ir.h"
#include "tiling/tile_config.h"

namespace perfgraph::data {
class TileConfigProto;
}  // namespace perfgraph::data

namespace perfgraph::tools {

// Writes `config` (fields, ToString() text and its tiling::ConfigFeatures for `kernel`) into `proto`.
void ConfigToProto(const graph::Kernel& kernel, const tiling::TileConfig& config, bool is_default,
                   data::TileConfigProto* proto);

}  // namespace perfgraph::tools

#endif  // PERFGRAPH_TOOLS_RECORDS_H_

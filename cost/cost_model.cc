#include "cost/cost_model.h"

namespace perfgraph::cost {

CostModel::~CostModel() = default;

std::string CostModel::OutOfDistribution(const graph::Kernel& kernel) const { return ""; }

int CostBatch::Enqueue(const graph::Kernel& kernel, const tiling::TileConfig& config) {
  queries_.push_back({&kernel, config});
  return static_cast<int>(queries_.size()) - 1;
}

std::vector<absl::StatusOr<double>> CostBatch::Evaluate(CostModel& model) const {
  return model.EstimateNs(queries_);
}

}  // namespace perfgraph::cost

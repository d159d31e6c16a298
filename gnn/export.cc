#include "gnn/export.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gnn/checkpoint.h"
#include "gnn/model.h"
#include "graph/featurize.h"
#include "graph/hlo_opcode.h"
#include "graph/status_macros.h"
#include "kernels/weights.h"
#include "tiling/tile_config.h"

namespace perfgraph::gnn {

static_assert(kernels::kConfigFeatureSchemaVersion == tiling::kConfigFeatureSchemaVersion,
              "kernels::kConfigFeatureSchemaVersion must mirror tiling::kConfigFeatureSchemaVersion");

static_assert(kernels::kMaxHybridThreads == kMaxHybridThreads,
              "kernels::kMaxHybridThreads must mirror gnn::kMaxHybridThreads");
static_assert(kernels::kMaxForeignFeatureWidth == kMaxForeignFeatureWidth,
              "kernels::kMaxForeignFeatureWidth must mirror gnn::kMaxForeignFeatureWidth");

namespace {

absl::Status AddTensor(const std::string& name, const torch::Tensor& value,
                       kernels::WeightsFile& out) {
  if (value.scalar_type() != torch::kFloat) {
    return absl::InvalidArgumentError(absl::StrCat("gnn::Export: tensor '", name, "' has dtype ",
                                                   std::string(c10::toString(value.scalar_type())),
                                                   ", expected float32"));
  }
  if (value.dim() > kernels::kMaxTensorRank) {
    return absl::InvalidArgumentError(absl::StrCat("gnn::Export: tensor '", name, "' has rank ",
                                                   value.dim()));
  }
  torch::Tensor t = value.detach().to(torch::kCPU).contiguous();
  kernels::NamedTensor named;
  named.name = name;
  for (int64_t d : t.sizes()) named.dims.push_back(d);
  named.values.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  out.tensors.push_back(std::move(named));
  return absl::OkStatus();
}

}  // namespace

absl::Status Export(ModelImpl& model, absl::string_view path) {
  kernels::WeightsFile weights;  // schema fields default to this build's values
  weights.num_config_features = tiling::kNumConfigFeatures;
  weights.config_feature_schema_version = tiling::kConfigFeatureSchemaVersion;
  const ModelOptions& o = model.options();
  if (o.foreign_schema()) {
    // Features as given: the schema's name and widths, perfgraph's versions 0.
    weights.feature_schema_version = 0;
    weights.config_feature_schema_version = 0;
    weights.num_node_features = o.num_node_features;
    weights.num_config_features = o.num_config_features;
    weights.architecture.feature_schema = o.feature_schema;
    weights.architecture.foreign_node_features = o.num_node_features;
    weights.architecture.foreign_config_features = o.num_config_features;
  }
  weights.architecture.join =
      o.join == Join::kEarly ? kernels::WeightsJoin::kEarly : kernels::WeightsJoin::kLate;
  weights.architecture.reduction = o.reduction == Reduction::kMean
                                       ? kernels::WeightsReduction::kMean
                                       : kernels::WeightsReduction::kLstm;
  weights.architecture.hidden = o.hidden;
  weights.architecture.opcode_embedding = o.opcode_embedding;
  weights.architecture.sage_layers = o.sage_layers;
  weights.architecture.head_hidden = o.head_hidden;
  weights.architecture.hybrid_threads = o.hybrid_threads;
  RETURN_IF_ERROR(CatchTorch(absl::StrCat("gnn::Export('", path, "')"), [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    for (const auto& item : model.named_parameters(/*recurse=*/true)) {
      RETURN_IF_ERROR(AddTensor(item.key(), item.value(), weights));
    }
    for (const auto& item : model.named_buffers(/*recurse=*/true)) {
      RETURN_IF_ERROR(AddTensor(item.key(), item.value(), weights));
    }
    return absl::OkStatus();
  }));
  return kernels::WriteWeightsFile(weights, path);
}

absl::Status ExportModelFile(absl::string_view model_path, absl::string_view weights_path) {
  ASSIGN_OR_RETURN(std::shared_ptr<ModelImpl> model, LoadModelFile(model_path));
  return Export(*model, weights_path);
}

}  // namespace perfgraph::gnn

// gnn::Export: writes the LibTorch model's weights in the versioned, LibTorch-free weights format of
// kernels/weights.h, which kernels::Predictor (hand-tuned CPU inference) loads. This header does not
// include LibTorch.
//
// Every parameter and buffer of the module is written under its LibTorch dotted name
// ("sage0.norm.weight", "lstm.weight_ih_l0", "node_mean", ...) with its shape, together with the
// feature schema (graph::kFeatureSchemaVersion, kNumNodeFeatures, kNumOpcodeIds,
// tiling::kNumConfigFeatures, tiling::kConfigFeatureSchemaVersion) and the architecture (gnn::ModelOptions, including the reduction; a
// Reduction::kMean model has no "lstm.*" tensors), and a CRC-32.
#ifndef PERFGRAPH_GNN_EXPORT_H_
#define PERFGRAPH_GNN_EXPORT_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace perfgraph::gnn {

class ModelImpl;  // gnn/model.h

// Writes `model` to `path` atomically. Errors: kInvalidArgument when a parameter is not a float
// tensor or has a rank above kernels::kMaxTensorRank (naming it); kInternal when LibTorch fails; the
// I/O errors of kernels::WriteWeightsFile (kUnavailable / kPermissionDenied naming the path).
absl::Status Export(ModelImpl& model, absl::string_view path);

// Loads the model file (checkpoint, gnn/checkpoint.h format) at `model_path` with LoadModelFile and
// exports it to `weights_path`. Errors: those of LoadModelFile and Export.
absl::Status ExportModelFile(absl::string_view model_path, absl::string_view weights_path);

}  // namespace perfgraph::gnn

#endif  // PERFGRAPH_GNN_EXPORT_H_
